package api

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

var allRoles = []auth.Role{auth.RoleParticipant, auth.RoleVolunteer, auth.RoleCoordinator, auth.RoleAdmin}

// userBody is docs/api.md's user object. Vetting and suspension details are
// filled only for coordinators' views of their members.
type userBody struct {
	ID             string     `json:"id"`
	Email          string     `json:"email"`
	Name           string     `json:"name"`
	Role           string     `json:"role" enum:"participant volunteer coordinator admin"`
	OrganisationID string     `json:"organisation_id"`
	Status         string     `json:"status" enum:"pending active suspended"`
	Language       string     `json:"language" enum:"sv en"`
	CreatedAt      time.Time  `json:"created_at"`
	VettedBy       string     `json:"vetted_by,omitempty"`
	VettedAt       *time.Time `json:"vetted_at,omitempty"`
	VettingNote    string     `json:"vetting_note,omitempty"`
	SuspendedAt    *time.Time `json:"suspended_at,omitempty"`
	SuspendedBy    string     `json:"suspended_by,omitempty"`
	Reason         string     `json:"suspension_reason,omitempty"`
}

func toUserBody(u auth.User, memberView bool) userBody {
	b := userBody{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), OrganisationID: u.OrgID,
		Status: string(u.Status), Language: u.Language, CreatedAt: u.CreatedAt}
	if u.Vetting != nil {
		at := u.Vetting.At
		b.VettedAt = &at
		if memberView {
			b.VettedBy, b.VettingNote = u.Vetting.By, u.Vetting.Note
		}
	}
	// A reinstated member's old suspension stays stored (and exported) but
	// is not shown as if it were current.
	if memberView && u.Suspension != nil && u.Status == auth.StatusSuspended {
		at := u.Suspension.At
		b.SuspendedAt, b.SuspendedBy, b.Reason = &at, u.Suspension.By, u.Suspension.Reason
	}
	return b
}

type registerBody struct {
	Email          string `json:"email" validate:"required,max=254"`
	Password       string `json:"password" validate:"required,min=10,max=1024"`
	Name           string `json:"name" validate:"required,max=100"`
	Role           string `json:"role" validate:"required,oneof=participant volunteer"`
	OrganisationID string `json:"organisation_id,omitempty" validate:"max=64" doc:"required unless invite_code is given"`
	InviteCode     string `json:"invite_code,omitempty" validate:"max=32" doc:"a coordinator's invite code; names the organisation and must allow the role"`
	Language       string `json:"language" validate:"required,oneof=sv en"`
}

type loginBody struct {
	Email    string `json:"email" validate:"required"`
	Password string `json:"password" validate:"required"`
}

type tokenBody struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type" enum:"Bearer"`
	ExpiresIn    int    `json:"expires_in"`
}

type refreshBody struct {
	RefreshToken string `json:"refresh_token" validate:"required"`
}

type patchMeBody struct {
	Name     *string `json:"name,omitempty" validate:"omitempty,max=100"`
	Language *string `json:"language,omitempty" validate:"omitempty,oneof=sv en"`
}

// accounts returns the accounts service, or an internal error in a server
// built without one (some foundation tests).
func (s *Server) accounts() (*auth.Service, error) {
	if s.deps.Accounts == nil {
		return nil, fault.Wrap(errors.New("api.Deps.Accounts is nil"), "accounts are not configured")
	}
	return s.deps.Accounts, nil
}

func (s *Server) authRoutes() error {
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "POST", Path: "/v1/auth/register", Summary: "Create a participant or volunteer account (pending until a coordinator approves it)",
			Tag: "accounts", Request: registerBody{}, Response: userBody{}, Status: fiber.StatusCreated, Problems: []int{409, 429},
			Description: "Give organisation_id or a coordinator's invite_code (or both, naming the same organisation). An unknown organisation, or an invite code that is unknown, expired, used up or for another role: 422."}, s.register},
		{Route{Method: "POST", Path: "/v1/auth/login", Summary: "Sign in with email and password", Tag: "accounts",
			Request: loginBody{}, Response: tokenBody{}, Problems: []int{401, 403, 429},
			Description: "Unknown email and wrong password answer the same 401. More than 5 failures per email in 15 minutes, or 20 per client address in a minute, answer 429 with Retry-After."}, s.login},
		{Route{Method: "POST", Path: "/v1/auth/refresh", Summary: "Exchange a refresh token for a new pair", Tag: "accounts",
			Request: refreshBody{}, Response: tokenBody{}, Problems: []int{401},
			Description: "Each refresh token works once; presenting a used one ends that whole sign-in (401)."}, s.refreshTokens},
		{Route{Method: "POST", Path: "/v1/auth/logout", Summary: "End the sign-in the refresh token belongs to", Tag: "accounts",
			Roles: allRoles, AllowPending: true, Request: refreshBody{}, Status: fiber.StatusNoContent}, s.logout},
		{Route{Method: "GET", Path: "/v1/me", Summary: "The caller's account", Tag: "accounts",
			Roles: allRoles, AllowPending: true, Response: userBody{}}, s.getMe},
		{Route{Method: "PATCH", Path: "/v1/me", Summary: "Change the caller's name or language", Tag: "accounts",
			Roles: allRoles, AllowPending: true, Request: patchMeBody{}, Response: userBody{}}, s.patchMe},
		{Route{Method: "GET", Path: "/v1/me/export", Summary: "Everything Clavis stores about the caller (GDPR art. 15)", Tag: "accounts",
			Roles: allRoles, AllowPending: true, Response: map[string]any{}}, s.exportMe},
		{Route{Method: "DELETE", Path: "/v1/me", Summary: "Erase the caller's account and personal data (GDPR art. 17)", Tag: "accounts",
			Roles: allRoles, AllowPending: true, Status: fiber.StatusNoContent,
			Description: "Open outings are cancelled; finished outings are kept without personal data."}, s.deleteMe},
	}
	for _, r := range routes {
		if err := s.Handle(r.r, r.h); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) register(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b registerBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	u, err := a.Register(c.UserContext(), auth.Registration{Email: b.Email, Password: b.Password, Name: b.Name,
		Role: auth.Role(b.Role), OrgID: b.OrganisationID, InviteCode: b.InviteCode, Language: b.Language, Addr: ClientIP(c)})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toUserBody(u, false))
}

func (s *Server) sendTokens(c *fiber.Ctx, t auth.Tokens) error {
	// Token responses must never be cached (RFC 6749 §5.1).
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(tokenBody{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: "Bearer", ExpiresIn: t.ExpiresIn})
}

func (s *Server) login(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b loginBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	t, err := a.Login(c.UserContext(), b.Email, b.Password, ClientIP(c))
	if err != nil {
		return err
	}
	return s.sendTokens(c, t)
}

func (s *Server) refreshTokens(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b refreshBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	t, err := a.Refresh(c.UserContext(), b.RefreshToken)
	if err != nil {
		return err
	}
	return s.sendTokens(c, t)
}

func (s *Server) logout(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b refreshBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	if err := a.Logout(c.UserContext(), Caller(c).UserID, b.RefreshToken); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) getMe(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	u, err := a.User(c.UserContext(), Caller(c).UserID)
	if err != nil {
		return err
	}
	return c.JSON(toUserBody(u, false))
}

func (s *Server) patchMe(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b patchMeBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	u, err := a.UpdateMe(c.UserContext(), Caller(c).UserID, b.Name, b.Language)
	if err != nil {
		return err
	}
	return c.JSON(toUserBody(u, false))
}

func (s *Server) exportMe(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	out, err := a.Export(c.UserContext(), Caller(c).UserID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

func (s *Server) deleteMe(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	if err := a.Erase(c.UserContext(), Caller(c).UserID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
