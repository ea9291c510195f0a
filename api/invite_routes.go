package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
)

// Invites: docs/api.md, "Invite codes". A coordinator hands a code out (on
// paper, by text message); registration with it joins the organisation.

type inviteRequest struct {
	Role      string    `json:"role" validate:"required,oneof=participant volunteer"`
	ExpiresAt time.Time `json:"expires_at" validate:"required" doc:"RFC 3339, in the future, at most 90 days ahead"`
	MaxUses   int       `json:"max_uses" validate:"required,min=1,max=500"`
}

type inviteBody struct {
	Code      string    `json:"code" doc:"10 characters from 23456789ABCDEFGHJKLMNPQRSTUVWXYZ; registration ignores case, spaces and dashes"`
	Role      string    `json:"role" validate:"oneof=participant volunteer"`
	ExpiresAt time.Time `json:"expires_at"`
	MaxUses   int       `json:"max_uses"`
	Uses      int       `json:"uses"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

type inviteList struct {
	Items      []inviteBody `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

func toInviteBody(inv auth.Invite) inviteBody {
	return inviteBody{Code: inv.Code, Role: string(inv.Role), ExpiresAt: inv.ExpiresAt, MaxUses: inv.MaxUses, Uses: inv.Uses,
		CreatedAt: inv.CreatedAt, CreatedBy: inv.CreatedBy}
}

func (s *Server) inviteRoutes() error {
	coord := []auth.Role{auth.RoleCoordinator}
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "POST", Path: "/v1/organisations/:org_id/invites", Summary: "Create an invite code for participants or volunteers", Tag: "organisations",
			Roles: coord, Request: inviteRequest{}, Response: inviteBody{}, Status: fiber.StatusCreated, Idempotent: true, Problems: []int{404},
			Description: "Another organisation's id answers 404."}, s.idempotent(s.createInvite)},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/invites", Summary: "The organisation's invite codes, by code", Tag: "organisations",
			Roles: coord, Response: inviteList{}, Problems: []int{404, 422},
			Query: map[string]string{"limit": "page size, 1-100, default 20", "cursor": "next_cursor of the previous page"}}, s.listInvites},
		{Route{Method: "DELETE", Path: "/v1/organisations/:org_id/invites/:code", Summary: "Withdraw an invite code", Tag: "organisations",
			Roles: coord, Status: fiber.StatusNoContent, Problems: []int{404},
			Description: "Accounts already registered with it stay."}, s.deleteInvite},
	}
	for _, r := range routes {
		if err := s.Handle(r.r, r.h); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) createInvite(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b inviteRequest
	if err := s.bind(c, &b); err != nil {
		return err
	}
	inv, err := a.CreateInvite(c.UserContext(), Caller(c), pathID(c, "org_id"),
		auth.InviteInput{Role: auth.Role(b.Role), ExpiresAt: b.ExpiresAt, MaxUses: b.MaxUses})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toInviteBody(inv))
}

func (s *Server) listInvites(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := a.Invites(c.UserContext(), Caller(c), pathID(c, "org_id"), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	out := inviteList{Items: make([]inviteBody, len(page.Items)), NextCursor: page.NextCursor}
	for i, inv := range page.Items {
		out.Items[i] = toInviteBody(inv)
	}
	return c.JSON(out)
}

func (s *Server) deleteInvite(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	if err := a.DeleteInvite(c.UserContext(), Caller(c), pathID(c, "org_id"), pathID(c, "code")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
