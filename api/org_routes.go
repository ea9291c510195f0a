package api

import (
	"bytes"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

type orgRequest struct {
	Name     string `json:"name" validate:"required,max=100"`
	TimeZone string `json:"time_zone" validate:"required,max=64" doc:"IANA time zone, e.g. Europe/Stockholm"`
}

type orgBody struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"`
}

type coordinatorRequest struct {
	Email    string `json:"email" validate:"required,max=254"`
	Password string `json:"password" validate:"required,min=10,max=1024"`
	Name     string `json:"name" validate:"required,max=100"`
	Language string `json:"language" validate:"required,oneof=sv en"`
}

type approveRequest struct {
	Note string `json:"note,omitempty" validate:"max=1000"`
}

type suspendRequest struct {
	Reason string `json:"reason" validate:"required,max=1000"`
}

type memberList struct {
	Items      []userBody `json:"items"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// volunteerDetail is a coordinator's view of one volunteer.
type volunteerDetail struct {
	User            userBody                       `json:"user"`
	Profile         *matching.VolunteerProfileView `json:"profile,omitempty" doc:"absent until the volunteer sets it"`
	Availability    *matching.AvailabilityView     `json:"availability,omitempty" doc:"absent until the volunteer sets it"`
	OutingsThisWeek int                            `json:"outings_this_week" doc:"pending, confirmed, in-progress and completed outings starting this Monday-to-Sunday week (organisation's time zone)"`
}

func (s *Server) orgRoutes() error {
	admin := []auth.Role{auth.RoleAdmin}
	coord := []auth.Role{auth.RoleCoordinator}
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "POST", Path: "/v1/organisations", Summary: "Create an organisation", Tag: "organisations",
			Roles: admin, Request: orgRequest{}, Response: orgBody{}, Status: fiber.StatusCreated, Idempotent: true}, s.idempotent(s.createOrg)},
		{Route{Method: "POST", Path: "/v1/organisations/:org_id/coordinators", Summary: "Create an active coordinator of an organisation", Tag: "organisations",
			Roles: admin, Request: coordinatorRequest{}, Response: userBody{}, Status: fiber.StatusCreated, Problems: []int{404, 409},
			Idempotent: true}, s.idempotent(s.createCoordinator)},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/members", Summary: "The organisation's members (its coordinators only)", Tag: "organisations",
			Roles: coord, Response: memberList{}, Problems: []int{404, 422},
			Query: map[string]string{"role": "participant, volunteer, coordinator or admin", "status": "pending, active or suspended",
				"limit": "page size, 1-100, default 20", "cursor": "next_cursor of the previous page"},
			QueryTypes:  map[string]any{"role": auth.Role(""), "status": auth.Status("")},
			Description: "Another organisation's id answers 404. Every participant listed is written to the audit log."}, s.listMembers},
		{Route{Method: "POST", Path: "/v1/organisations/:org_id/members/:user_id/approve", Summary: "Approve (vet) a pending member", Tag: "organisations",
			Roles: coord, Request: approveRequest{}, Response: userBody{}, Problems: []int{404, 409},
			Description: "Records who approved and when. The body may be empty."}, s.approveMember},
		{Route{Method: "POST", Path: "/v1/organisations/:org_id/members/:user_id/suspend", Summary: "Suspend a member; their sign-ins end at once", Tag: "organisations",
			Roles: coord, Request: suspendRequest{}, Response: userBody{}, Problems: []int{404, 409}}, s.suspendMember},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/volunteers/:user_id", Summary: "A volunteer's account, profile, availability and outings this week", Tag: "organisations",
			Roles: coord, Response: volunteerDetail{}, Problems: []int{404},
			Description: "profile and availability are null until the volunteer sets them. Another organisation's volunteer, or a member who is no volunteer, answers 404. The read is written to the audit log."},
			s.needsMatching(s.getVolunteer)},
	}
	for _, r := range routes {
		if err := s.Handle(r.r, r.h); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) createOrg(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b orgRequest
	if err := s.bind(c, &b); err != nil {
		return err
	}
	o, err := a.CreateOrganisation(c.UserContext(), b.Name, b.TimeZone)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(orgBody{ID: o.ID, Name: o.Name, TimeZone: o.TimeZone})
}

func (s *Server) createCoordinator(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b coordinatorRequest
	if err := s.bind(c, &b); err != nil {
		return err
	}
	u, err := a.CreateCoordinator(c.UserContext(), pathID(c, "org_id"),
		auth.CoordinatorInput{Email: b.Email, Password: b.Password, Name: b.Name, Language: b.Language})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toUserBody(u, false))
}

func (s *Server) listMembers(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := a.Members(c.UserContext(), Caller(c), pathID(c, "org_id"), auth.MemberFilter{
		Role: auth.Role(c.Query("role")), Status: auth.Status(c.Query("status")), Limit: limit, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	out := memberList{Items: make([]userBody, len(page.Items)), NextCursor: page.NextCursor}
	for i, u := range page.Items {
		out.Items[i] = toUserBody(u, true)
	}
	return c.JSON(out)
}

func (s *Server) approveMember(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b approveRequest
	// The note is optional, so an empty body is an empty note.
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := s.bind(c, &b); err != nil {
			return err
		}
	}
	u, err := a.Approve(c.UserContext(), Caller(c), pathID(c, "org_id"), pathID(c, "user_id"), b.Note)
	if err != nil {
		return err
	}
	return c.JSON(toUserBody(u, true))
}

func (s *Server) suspendMember(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	var b suspendRequest
	if err := s.bind(c, &b); err != nil {
		return err
	}
	u, err := a.Suspend(c.UserContext(), Caller(c), pathID(c, "org_id"), pathID(c, "user_id"), b.Reason)
	if err != nil {
		return err
	}
	return c.JSON(toUserBody(u, true))
}

func (s *Server) getVolunteer(c *fiber.Ctx) error {
	a, err := s.accounts()
	if err != nil {
		return err
	}
	u, err := a.Volunteer(c.UserContext(), Caller(c), pathID(c, "org_id"), pathID(c, "user_id"))
	if err != nil {
		return err
	}
	ov, err := s.deps.Matching.VolunteerOverviewOf(c.UserContext(), Caller(c), u.ID)
	if err != nil {
		return err
	}
	return c.JSON(volunteerDetail{User: toUserBody(u, true), Profile: ov.Profile, Availability: ov.Availability, OutingsThisWeek: ov.OutingsThisWeek})
}
