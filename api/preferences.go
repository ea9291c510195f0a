package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

// A participant's preferred and never-again volunteers (issue 6; docs/api.md,
// "Preferences"). A preferred volunteer ranks higher for the
// participant's outings; a never-again volunteer is never offered them.

type preferenceBody struct {
	Preference string `json:"preference" validate:"required,oneof=preferred never"`
}

func (s *Server) preferenceRoutes() error {
	participant := []auth.Role{auth.RoleParticipant}
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "GET", Path: "/v1/participants/me/volunteers", Summary: "The caller's preferred and never-again volunteers, newest first (participant)", Tag: "matching",
			Roles: participant, Response: matching.PreferencePage{}, Problems: []int{422},
			Query: map[string]string{"limit": "1 to 100, default 20", "cursor": "next_cursor of the previous page"}},
			s.listPreferences},
		{Route{Method: "PUT", Path: "/v1/participants/me/volunteers/:volunteer_id", Summary: "Mark a volunteer as preferred or never again (participant)", Tag: "matching",
			Roles: participant, Request: preferenceBody{}, Response: matching.PreferenceView{}, Problems: []int{404},
			Description: "preferred: the volunteer ranks higher for the caller's outings; allowed after a completed outing together (else 422). " +
				"never: the volunteer is never offered the caller's outings (the hard rule \"blocked\"), and is not told why. " +
				"Setting one replaces the other. A volunteer who is not of the caller's organisation: 404."},
			s.putPreference},
		{Route{Method: "DELETE", Path: "/v1/participants/me/volunteers/:volunteer_id", Summary: "Forget the caller's preference about a volunteer (participant)", Tag: "matching",
			Roles: participant, Status: fiber.StatusNoContent, Problems: []int{404},
			Description: "204 also when no preference was set; a volunteer who is not of the caller's organisation: 404."},
			s.deletePreference},
	}
	for _, r := range routes {
		if err := s.Handle(r.r, s.needsMatcher(r.h)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) listPreferences(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Matcher.Preferences(c.UserContext(), Caller(c), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) putPreference(c *fiber.Ctx) error {
	var b preferenceBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	v, err := s.deps.Matcher.SetPreference(c.UserContext(), Caller(c), pathID(c, "volunteer_id"), b.Preference)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) deletePreference(c *fiber.Ctx) error {
	if err := s.deps.Matcher.DeletePreference(c.UserContext(), Caller(c), pathID(c, "volunteer_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
