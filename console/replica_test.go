package console_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/console"
)

const loginTitle = "Logga in på Clavis"

// on is the same browser (the same cookies: a jar ignores the port)
// talking to another instance.
func (c *client) on(in instance) *client {
	return &client{Client: c.Client, base: in.URL, csrf: c.csrf}
}

// copyTo is another browser holding a copy of c's cookies, talking to in:
// what a logout clears in c stays in the copy.
func (c *client) copyTo(t *testing.T, in instance) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(in.URL + "/console/")
	cks := c.Jar.Cookies(u)
	if len(cks) == 0 {
		t.Fatal("no cookies to copy")
	}
	for _, ck := range cks {
		ck.Path = "/console"
	}
	jar.SetCookies(u, cks)
	return &client{Client: &http.Client{Jar: jar}, base: in.URL, csrf: c.csrf}
}

func (c *client) signedIn(t *testing.T, where string) {
	t.Helper()
	if status, body := c.get(t, "/console/today"); status != 200 || !strings.Contains(body, "Utflykter idag") {
		t.Fatalf("%s: not signed in: %d %.300s", where, status, body)
	}
}

func (c *client) signedOut(t *testing.T, where string) {
	t.Helper()
	if _, body := c.get(t, "/console/today"); !strings.Contains(body, loginTitle) {
		t.Fatalf("%s: still signed in", where)
	}
}

func TestSessionWorksOnAnotherReplica(t *testing.T) {
	e := newEnv(t)
	b := e.instance()
	a := e.signIn(e.Coord)
	onB := a.on(b)
	onB.signedIn(t, "replica B")
	if _, body := onB.get(t, "/console/today"); !strings.Contains(body, `value="`+a.csrf+`"`) {
		t.Fatal("replica B derived another CSRF token for the same session")
	}

	// A change on B needs the token, and the one A handed out will do.
	pending := e.user(auth.RoleVolunteer, e.Org, auth.StatusPending, "Vilma")
	if status, _ := onB.post(t, "/console/members/"+pending.ID+"/vet", url.Values{"note": {"ok"}}); status != 403 {
		t.Fatalf("B without CSRF: %d", status)
	}
	if u, _ := e.Auth.User(context.Background(), pending.ID); u.Status != auth.StatusPending {
		t.Fatal("a refused request vetted the volunteer")
	}
	onB.post(t, "/console/members/"+pending.ID+"/vet", url.Values{"note": {"ok"}, "csrf": {a.csrf}})
	if u, _ := e.Auth.User(context.Background(), pending.ID); u.Status != auth.StatusActive {
		t.Fatalf("B with A's CSRF token did not vet: %s", u.Status)
	}

	// Logout on A ends the session on B as well, even for a copy of the
	// cookie kept from before.
	kept := e.signIn(e.Coord)
	copyOf := kept.copyTo(t, b)
	copyOf.signedIn(t, "the copy on B before logout")
	if status, _ := kept.post(t, "/console/logout", url.Values{"csrf": {kept.csrf}}); status != 200 {
		t.Fatalf("logout on A: %d", status)
	}
	copyOf.signedOut(t, "replica B after logout on A")
	a.signedIn(t, "the first session, untouched by the other's logout")
}

func TestSessionSurvivesARestart(t *testing.T) {
	e := newEnv(t)
	a := e.signIn(e.Coord)
	e.Close()
	restarted := e.instance()
	c := a.on(restarted)
	c.signedIn(t, "after the restart")
	pending := e.user(auth.RoleVolunteer, e.Org, auth.StatusPending, "Vilma")
	c.post(t, "/console/members/"+pending.ID+"/vet", url.Values{"note": {"ok"}, "csrf": {a.csrf}})
	if u, _ := e.Auth.User(context.Background(), pending.ID); u.Status != auth.StatusActive {
		t.Fatalf("the CSRF token from before the restart was refused: %s", u.Status)
	}
	if status, _ := c.post(t, "/console/logout", url.Values{"csrf": {a.csrf}}); status != 200 {
		t.Fatalf("logout after the restart: %d", status)
	}
	c.signedOut(t, "after logout")
}

func TestIdleTimeoutAcrossReplicas(t *testing.T) {
	e := newEnv(t, func(c *console.Config) { c.IdleTimeout = 30 * time.Minute })
	b := e.instance()
	a := e.signIn(e.Coord)
	onB := a.on(b)
	// Use on either replica keeps the session alive: 40 minutes after the
	// sign-in, but never 30 without a request.
	e.Clock.Advance(20 * time.Minute)
	onB.signedIn(t, "B after 20 minutes")
	e.Clock.Advance(20 * time.Minute)
	a.signedIn(t, "A 20 minutes after a request on B")
	e.Clock.Advance(31 * time.Minute)
	onB.signedOut(t, "B after 31 idle minutes")
	e.Clock.Set(e.Clock.Now().Add(-30 * time.Minute)) // not idle by the clock any more: the sign-in was revoked
	a.signedOut(t, "A after the idle end on B")
}

// The cookie is the sign-in's refresh token sealed by the server: a copy
// of it opens the console, but the API's refresh refuses it, so a stolen
// console cookie cannot be turned into API tokens that outlive the
// console's idle timeout. Another deployment's key cannot open it either.
func TestSessionCookieIsNoRefreshToken(t *testing.T) {
	e := newEnv(t)
	a := e.signIn(e.Coord)
	u, _ := url.Parse(e.URL + "/console/")
	var cookie string
	for _, ck := range a.Jar.Cookies(u) {
		if ck.Name == "clavis_console" {
			cookie = ck.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	res, err := http.Post(e.URL+"/v1/auth/refresh", "application/json", strings.NewReader(`{"refresh_token": "`+cookie+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("POST /v1/auth/refresh with the console cookie: %d, want 401 or 422", res.StatusCode)
	}
	a.signedIn(t, "after the refresh attempt")
	if refresh, ok := e.Auth.OpenSignIn(cookie); !ok || refresh == cookie {
		t.Fatalf("the cookie does not open to a refresh token: %v", ok)
	}
	if _, ok := e.Auth.OpenSignIn(cookie[:len(cookie)-2] + "AA"); ok {
		t.Fatal("a changed cookie opened")
	}
}
