package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

const (
	sessionCookie = "clavis_console"
	preCookie     = "clavis_console_pre" // the sign-in form's CSRF token, before a session exists
	langCookie    = "clavis_console_lang"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// session is one signed-in browser. Nothing of it lives in this process:
// the cookie holds the auth sign-in's refresh token, sealed by auth (so a
// copied cookie cannot be spent at /v1/auth/refresh), which the store knows
// by its hash, so every replica and a restarted server accept it, and a
// logout (revoking the sign-in) ends it everywhere. The token is never
// spent, only checked; the idle deadline is the sign-in's last-seen time in
// the store. The account's standing is read again on every request, so a
// suspension ends the session at the next one.
type session struct {
	userID  string
	csrf    string
	refresh string // the auth sign-in's refresh token, opened from the cookie
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// csrfOf derives the session's CSRF token from its secret, so that every
// replica computes the same one without storing it, and a page (or a
// script injected into one) that sees the token learns nothing of the
// HttpOnly cookie.
func csrfOf(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("clavis console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) setCookie(f *fiber.Ctx, name, value string, expire bool) {
	ck := &fiber.Cookie{Name: name, Value: value, Path: Prefix, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: c.cfg.SecureCookie || f.Protocol() == "https"}
	if expire {
		ck.Expires = time.Unix(1, 0)
		ck.MaxAge = -1
	}
	f.Cookie(ck)
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func sentToken(f *fiber.Ctx) string {
	if h := f.Get(csrfHeader); h != "" {
		return h
	}
	return f.FormValue(csrfField)
}

const localsSession, localsUser = "console.session", "console.user"

// requireSession lets through only a live session of an active coordinator
// or admin, and checks the CSRF token of every request that changes
// something.
func (c *Console) requireSession(f *fiber.Ctx) error {
	cookie := f.Cookies(sessionCookie)
	if cookie == "" {
		return c.toLogin(f)
	}
	ctx := f.UserContext()
	refresh, ok := c.cfg.Accounts.OpenSignIn(cookie)
	if !ok {
		c.setCookie(f, sessionCookie, "", true)
		return c.toLogin(f)
	}
	userID, err := c.cfg.Accounts.ResumeSignIn(ctx, refresh, c.cfg.IdleTimeout)
	if fault.KindOf(err) == fault.Unauthenticated {
		c.setCookie(f, sessionCookie, "", true)
		return c.toLogin(f)
	}
	if err != nil {
		c.log.Warn("console: reading the session failed", "error", err.Error())
		return c.fail(f, fiber.StatusInternalServerError, "err.internal")
	}
	sess := &session{userID: userID, csrf: csrfOf(cookie), refresh: refresh}
	u, err := c.cfg.Accounts.User(ctx, userID)
	if err != nil || u.Status != auth.StatusActive || !allowedRole(u.Role) {
		_ = c.cfg.Accounts.Logout(ctx, userID, refresh)
		c.setCookie(f, sessionCookie, "", true)
		return c.toLogin(f)
	}
	if f.Method() != fiber.MethodGet && f.Method() != fiber.MethodHead && !sameToken(sess.csrf, sentToken(f)) {
		return c.fail(f, fiber.StatusForbidden, "err.csrf")
	}
	f.Locals(localsSession, sess)
	f.Locals(localsUser, u)
	if u.Role == auth.RoleAdmin && f.Path() != Prefix+"/logout" {
		// The pages are an organisation's, and the domain services serve
		// them to its coordinators only: an admin gets told so, not a 403.
		return c.render(f, fiber.StatusOK, "admin", nil, "")
	}
	return f.Next()
}

func allowedRole(r auth.Role) bool { return r == auth.RoleCoordinator || r == auth.RoleAdmin }

// toLogin sends the browser to the sign-in page; an htmx request gets a
// header telling htmx to load it as a whole page.
func (c *Console) toLogin(f *fiber.Ctx) error {
	to := Prefix + "/login"
	if f.Method() == fiber.MethodGet && !strings.HasPrefix(f.Path(), Prefix+"/today/list") {
		to += "?next=" + url.QueryEscape(f.OriginalURL())
	}
	if f.Get("HX-Request") != "" {
		f.Set("HX-Redirect", to)
		return f.SendStatus(fiber.StatusUnauthorized)
	}
	return f.Redirect(to, fiber.StatusSeeOther)
}

func identityOf(f *fiber.Ctx) auth.Identity {
	u, _ := f.Locals(localsUser).(auth.User)
	return auth.Identity{UserID: u.ID, Role: u.Role, OrgID: u.OrgID, Status: u.Status}
}

func (c *Console) loginPage(f *fiber.Ctx) error {
	pre := randomToken()
	c.setCookie(f, preCookie, pre, false)
	return c.render(f, fiber.StatusOK, "login", loginData{CSRF: pre, Next: safeNext(f.Query("next"))}, "")
}

type loginData struct {
	CSRF, Next, Email, Error string
}

// safeNext keeps the after-sign-in redirect inside the console.
func safeNext(n string) string {
	if !strings.HasPrefix(n, Prefix+"/") || strings.HasPrefix(n, "//") || strings.Contains(n, "\\") {
		return Prefix + "/today"
	}
	return n
}

func (c *Console) login(f *fiber.Ctx) error {
	if !sameToken(f.Cookies(preCookie), f.FormValue(csrfField)) {
		return c.fail(f, fiber.StatusForbidden, "err.csrf")
	}
	email, password := f.FormValue("email"), f.FormValue("password")
	next := safeNext(f.FormValue("next"))
	again := func(status int, key string) error {
		pre := randomToken()
		c.setCookie(f, preCookie, pre, false)
		return c.render(f, status, "login", loginData{CSRF: pre, Next: next, Email: email, Error: key}, "")
	}
	ctx := f.UserContext()
	tok, err := c.cfg.Accounts.Login(ctx, email, password, c.cfg.ClientAddr(f))
	switch {
	case err == nil:
	case fault.KindOf(err) == fault.RateLimited:
		if fe, ok := fault.As(err); ok && fe.RetryAfter > 0 {
			f.Set(fiber.HeaderRetryAfter, itoa(fe.RetryAfter))
		}
		return again(fiber.StatusTooManyRequests, "login.throttled")
	case fault.KindOf(err) == fault.Forbidden:
		return again(fiber.StatusForbidden, "login.suspended")
	case fault.KindOf(err) == fault.Unauthenticated || fault.KindOf(err) == fault.Validation:
		return again(fiber.StatusUnauthorized, "login.wrong")
	default:
		return c.fail(f, fiber.StatusInternalServerError, "err.internal")
	}
	claims, err := c.cfg.Accounts.VerifyAccessToken(tok.AccessToken)
	if err != nil {
		return c.fail(f, fiber.StatusInternalServerError, "err.internal")
	}
	u, err := c.cfg.Accounts.User(ctx, claims.UserID)
	if err != nil || !allowedRole(u.Role) || u.Status != auth.StatusActive {
		// Right password, wrong kind of account: end the sign-in just made.
		_ = c.cfg.Accounts.Logout(ctx, claims.UserID, tok.RefreshToken)
		return again(fiber.StatusForbidden, "login.notcoordinator")
	}
	c.setCookie(f, sessionCookie, c.cfg.Accounts.SealSignIn(tok.RefreshToken), false)
	c.setCookie(f, preCookie, "", true)
	if u.Language == "en" || u.Language == "sv" {
		if f.Cookies(langCookie) == "" {
			c.setCookie(f, langCookie, u.Language, false)
		}
	}
	return f.Redirect(next, fiber.StatusSeeOther)
}

func (c *Console) logout(f *fiber.Ctx) error {
	sess, _ := f.Locals(localsSession).(*session)
	c.setCookie(f, sessionCookie, "", true)
	if sess != nil {
		// The cookie may have been copied: only revoking the sign-in makes
		// it useless on every replica, so a failure is not hidden.
		if err := c.cfg.Accounts.Logout(f.UserContext(), sess.userID, sess.refresh); err != nil {
			c.log.Warn("console: ending the sign-in failed", "error", err.Error())
			return c.fail(f, fiber.StatusInternalServerError, "err.internal")
		}
	}
	return f.Redirect(Prefix+"/login", fiber.StatusSeeOther)
}

// setLang switches the language; it changes only a display cookie.
func (c *Console) setLang(f *fiber.Ctx) error {
	l := f.Params("lang")
	if l != "sv" && l != "en" {
		return c.fail(f, fiber.StatusNotFound, "err.notfound")
	}
	c.setCookie(f, langCookie, l, false)
	return f.Redirect(safeNext(f.Query("back")), fiber.StatusSeeOther)
}
