package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

// Matching: docs/api.md, "GET /v1/outings/{id}/candidates" and
// "GET /v1/volunteers/me/offers". The ranking lives in matching.Matcher.

func (s *Server) candidateRoutes() error {
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "GET", Path: "/v1/outings/:id/candidates", Summary: "The outing's candidates, best first, and why (coordinator)", Tag: "matching",
			Roles: []auth.Role{auth.RoleCoordinator}, Response: matching.CandidatesPage{}, Problems: []int{404, 409, 422},
			Query: map[string]string{
				"limit":            "1 to 100, default 20",
				"cursor":           "next_cursor of the previous page",
				"include_excluded": "true: also list (first page only) the active volunteers within 50 km who are not candidates, nearest first, each with the first hard rule they fail",
				"lang":             "sv or en: the language of reasons and messages (default: the coordinator's)",
			},
			Description: "Only volunteers who pass every hard rule (active and vetted, the organisation's, available for the whole outing plus travel time, " +
				"no overlapping outing, within their travel radius, language and gender wishes, under their weekly cap, not declined or rejected, " +
				"not marked never-again by the participant). score is 0-100, the weighted mean of parts (each 0-1); reasons say why. " +
				"Another organisation's outing: 404. An outing that is no longer looking for or holding a companion: 409."},
			s.getCandidates},
		{Route{Method: "GET", Path: "/v1/volunteers/me/offers", Summary: "Open outings the caller is a candidate for, best fit first (volunteer)", Tag: "matching",
			Roles: []auth.Role{auth.RoleVolunteer}, Response: matching.OfferPage{}, Problems: []int{422},
			Query: map[string]string{"limit": "1 to 100, default 20", "cursor": "next_cursor of the previous page"},
			Description: "Each outing in the limited view (an area instead of the meeting point, the participant's first name, no note) with its score. " +
				"Empty until the volunteer has set a profile and availability."},
			s.getOffers},
	}
	for _, r := range routes {
		if err := s.Handle(r.r, s.needsMatcher(r.h)); err != nil {
			return err
		}
	}
	return nil
}

// needsMatcher answers 503 when the app was built without the matcher.
func (s *Server) needsMatcher(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.deps.Matcher == nil {
			return fiber.NewError(fiber.StatusServiceUnavailable, "matching is not configured")
		}
		return h(c)
	}
}

// queryBool reads ?name=true|false (absent: false).
func queryBool(c *fiber.Ctx, name string) (bool, error) {
	switch c.Query(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fault.InvalidField(name, "must be true or false")
}

func (s *Server) getCandidates(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	withExcluded, err := queryBool(c, "include_excluded")
	if err != nil {
		return err
	}
	page, err := s.deps.Matcher.Candidates(c.UserContext(), Caller(c), pathID(c, "id"), matching.CandidatesQuery{
		Lang: c.Query("lang"), Limit: limit, Cursor: c.Query("cursor"), IncludeExcluded: withExcluded,
	})
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) getOffers(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Matcher.Offers(c.UserContext(), Caller(c), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(page)
}
