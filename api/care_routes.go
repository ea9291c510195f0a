package api

import (
	"bytes"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

// Participant care: docs/api.md, "Participant care". Postponing, the
// what-to-expect card, stopping early and calling for help; the rules live
// in matching (postpone.go, care.go), the organisation's contact in auth.

type postponeBody struct {
	StartsAt string `json:"starts_at" validate:"required" doc:"RFC 3339 with offset; within 90 days"`
	EndsAt   string `json:"ends_at" validate:"required" doc:"RFC 3339 with offset; at most 12 hours after starts_at"`
	Reason   string `json:"reason,omitempty" validate:"max=500"`
}

type recogniseBody struct {
	Text string `json:"text" validate:"max=140" doc:"how to recognise the companion today, e.g. a green scarf; empty clears it"`
}

type contactBody struct {
	Name  string `json:"name" validate:"required,max=100"`
	Phone string `json:"phone" validate:"required,max=30"`
}

type stopBody struct {
	NeededBy string `json:"needed_by" validate:"required,oneof=participant volunteer" doc:"who needed to end the outing"`
	Reason   string `json:"reason,omitempty" validate:"max=500"`
}

type helpBody struct {
	Note string `json:"note,omitempty" validate:"max=500"`
}

type helpAnswer struct {
	Status string `json:"status" doc:"always \"coordinators alerted\""`
}

type expectContact struct {
	Name  string `json:"name" allowempty:"true"`
	Phone string `json:"phone" allowempty:"true"`
}

// expectCard is the what-to-expect card.
type expectCard struct {
	Companion    matching.CompanionCard `json:"companion"`
	MeetingPoint matching.PointView     `json:"meeting_point"`
	StartsAt     time.Time              `json:"starts_at"`
	EndsAt       time.Time              `json:"ends_at"`
	Contact      expectContact          `json:"contact" doc:"whom to call: the organisation's contact (empty until coordinators set it)"`
}

func (s *Server) careRoutes() error {
	pc := []auth.Role{auth.RoleParticipant, auth.RoleCoordinator}
	conflict := []int{404, 409}
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "POST", Path: "/v1/outings/:id/postpone", Summary: "Ask to move a confirmed outing to a new time", Tag: "care",
			Roles: pc, Request: postponeBody{}, Response: matching.OutingView{}, Problems: conflict,
			Description: "The companion is asked first (push outing.postpone_asked) and has until postponement.answer_by (CLAVIS_POSTPONE_WAIT, never past the new start). The old time's reminders stop at once. A second postponement while one waits: 409. Nothing of it counts as a cancellation or a no-show."},
			s.needsMatching(s.postpone)},
		{Route{Method: "POST", Path: "/v1/outings/:id/postpone/accept", Summary: "Say yes to the new time (the companion)", Tag: "care",
			Roles: outingRolesVolunteer, Response: matching.OutingView{}, Problems: conflict,
			Description: "The outing stays confirmed at the new time; its reminders move with it (push outing.postponed)."},
			s.needsMatching(s.outingAction(func(c *fiber.Ctx, who auth.Identity, id string) (matching.OutingView, error) {
				return s.deps.Matching.PostponeAccept(c.UserContext(), who, id)
			}))},
		{Route{Method: "POST", Path: "/v1/outings/:id/postpone/decline", Summary: "Say no to the new time (the companion)", Tag: "care",
			Roles: outingRolesVolunteer, Response: matching.OutingView{}, Problems: conflict,
			Description: "The outing reopens at the new time and is offered to other volunteers; the participant is told kindly (outing.reopened)."},
			s.needsMatching(s.outingAction(func(c *fiber.Ctx, who auth.Identity, id string) (matching.OutingView, error) {
				return s.deps.Matching.PostponeDecline(c.UserContext(), who, id)
			}))},
		{Route{Method: "GET", Path: "/v1/outings/:id/expect", Summary: "The what-to-expect card of a confirmed outing", Tag: "care",
			Roles: outingRolesAll, Response: expectCard{}, Problems: conflict,
			Description: "For the participant and coordinators; the companion gets 403, any other volunteer 404. Before the outing is confirmed: 409."},
			s.needsMatching(s.expect)},
		{Route{Method: "PUT", Path: "/v1/outings/:id/recognise", Summary: "Say how to recognise you today (the companion)", Tag: "care",
			Roles: outingRolesVolunteer, Request: recogniseBody{}, Response: matching.OutingView{}, Problems: conflict},
			s.needsMatching(s.recognise)},
		{Route{Method: "PUT", Path: "/v1/organisations/:org_id/contact", Summary: "Set whom participants call about an outing", Tag: "care",
			Roles: outingRolesCoordinator, Request: contactBody{}, Response: auth.OrgContact{}, Problems: []int{404}},
			s.setContact},
		{Route{Method: "POST", Path: "/v1/outings/:id/stop", Summary: "End an outing in progress early", Tag: "care",
			Roles: outingRolesPair, Request: stopBody{}, Response: matching.OutingView{}, Problems: conflict, Idempotent: true,
			Description: "The outing is completed with ended_early: true and coordinators are told at once (outing.ended_early). Send an Idempotency-Key: a press repeated offline is one stop."},
			s.needsMatching(s.idempotent(s.stop))},
		{Route{Method: "POST", Path: "/v1/outings/:id/help", Summary: "Call for help during an outing", Tag: "care",
			Roles: outingRolesPair, Request: helpBody{}, Response: helpAnswer{}, Status: fiber.StatusAccepted, Problems: conflict, Idempotent: true,
			Description: "Coordinators get a high-priority push (outing.help) naming the outing; they open it for its meeting point. The status stays; every press is in the history. Send an Idempotency-Key: a press repeated offline is one alert."},
			s.needsMatching(s.idempotent(s.help))},
	}
	for _, r := range routes {
		if _, ok := r.r.Response.(matching.OutingView); ok {
			r.r.ETag = true
		}
		if err := s.Handle(r.r, r.h); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) postpone(c *fiber.Ctx) error {
	var b postponeBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	start, err := parseTimeField("starts_at", b.StartsAt)
	if err != nil {
		return err
	}
	end, err := parseTimeField("ends_at", b.EndsAt)
	if err != nil {
		return err
	}
	v, err := s.deps.Matching.Postpone(c.UserContext(), Caller(c), pathID(c, "id"), matching.PostponeInput{StartsAt: start, EndsAt: end, Reason: b.Reason})
	if err != nil {
		return err
	}
	return sendOuting(c, v)
}

func (s *Server) expect(c *fiber.Ctx) error {
	card, err := s.deps.Matching.Expect(c.UserContext(), Caller(c), pathID(c, "id"))
	if err != nil {
		return err
	}
	out := expectCard{Companion: card.Companion, MeetingPoint: card.MeetingPoint, StartsAt: card.View.StartsAt, EndsAt: card.View.EndsAt}
	if s.deps.Accounts != nil {
		contact, err := s.deps.Accounts.OrgContactOf(c.UserContext(), card.OrgID)
		if err != nil {
			return err
		}
		out.Contact = expectContact{Name: contact.Name, Phone: contact.Phone}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

func (s *Server) recognise(c *fiber.Ctx) error {
	var b recogniseBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	v, err := s.deps.Matching.SetRecognise(c.UserContext(), Caller(c), pathID(c, "id"), b.Text)
	if err != nil {
		return err
	}
	return sendOuting(c, v)
}

func (s *Server) setContact(c *fiber.Ctx) error {
	var b contactBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	contact, err := s.deps.Accounts.SetOrgContact(c.UserContext(), Caller(c), pathID(c, "org_id"), b.Name, b.Phone)
	if err != nil {
		return err
	}
	return c.JSON(contact)
}

func (s *Server) stop(c *fiber.Ctx) error {
	var b stopBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	v, err := s.deps.Matching.Stop(c.UserContext(), Caller(c), pathID(c, "id"), b.NeededBy, b.Reason)
	if err != nil {
		return err
	}
	return sendOuting(c, v)
}

func (s *Server) help(c *fiber.Ctx) error {
	var b helpBody
	// The note is optional, and so is the body: a press sends nothing else.
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := s.bind(c, &b); err != nil {
			return err
		}
	}
	if err := s.deps.Matching.Help(c.UserContext(), Caller(c), pathID(c, "id"), b.Note); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(helpAnswer{Status: "coordinators alerted"})
}
