package api

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

// Groups: docs/api.md, "Groups". The rules live in the groups package; the
// escort outings to sessions are made here, from the groups service's
// session times and the matching service, so that outings know no groups.

type groupPlaceBody struct {
	Lat         *float64 `json:"lat" validate:"required,latitude"`
	Lon         *float64 `json:"lon" validate:"required,longitude"`
	Description string   `json:"description,omitempty" validate:"max=300"`
}

type groupSlotBody struct {
	Weekday string `json:"weekday" validate:"required,oneof=mon tue wed thu fri sat sun"`
	Start   string `json:"start" validate:"required" doc:"HH:MM local wall time"`
	End     string `json:"end" validate:"required" doc:"HH:MM local wall time, after start"`
}

type createGroupBody struct {
	Name                string          `json:"name" validate:"required,max=120"`
	Kind                string          `json:"kind" validate:"required,oneof=course theme_group study_circle meeting_place"`
	Description         string          `json:"description,omitempty" validate:"max=2000"`
	Place               *groupPlaceBody `json:"place" validate:"required"`
	TimeZone            string          `json:"time_zone,omitempty" doc:"IANA zone; default the organisation's"`
	FirstDay            string          `json:"first_day" validate:"required" doc:"YYYY-MM-DD"`
	Weeks               int             `json:"weeks" validate:"required" doc:"1 to 104"`
	Weekly              []groupSlotBody `json:"weekly" validate:"required,dive"`
	Capacity            int             `json:"capacity" validate:"required" doc:"at least 1"`
	CompletionThreshold *float64        `json:"completion_threshold,omitempty" doc:"share of held sessions attended to complete, 0 to 1, default 0.75"`
}

type changeSessionBody struct {
	StartsAt string `json:"starts_at,omitempty" doc:"RFC 3339 with offset; in the future"`
	EndsAt   string `json:"ends_at,omitempty" doc:"RFC 3339 with offset; default keeps the length"`
	Status   string `json:"status,omitempty" validate:"omitempty,oneof=cancelled"`
	Reason   string `json:"reason" validate:"required,max=500"`
}

type enrolBody struct {
	ParticipantID string `json:"participant_id,omitempty" doc:"coordinators only: whom to enrol"`
}

type markBody struct {
	ParticipantID string `json:"participant_id" validate:"required"`
	Mark          string `json:"mark" validate:"required,oneof=present absent excused"`
}

type attendanceBody struct {
	Items []markBody `json:"items" validate:"required,max=500,dive"`
}

var (
	groupRolesOrg     = []auth.Role{auth.RoleParticipant, auth.RoleVolunteer, auth.RoleCoordinator}
	groupRolesEnrol   = []auth.Role{auth.RoleParticipant, auth.RoleCoordinator}
	groupRolesCoordin = []auth.Role{auth.RoleCoordinator}
)

func (s *Server) groupRoutes() error {
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "POST", Path: "/v1/organisations/:org_id/groups", Summary: "Create a group or course with its sessions (coordinator)", Tag: "groups",
			Roles: groupRolesCoordin, Request: createGroupBody{}, Response: groups.GroupView{}, Status: fiber.StatusCreated, Idempotent: true,
			Problems: []int{404}, Location: true,
			Description: "Sessions are made from the weekly slots in the group's time zone, at the same local time across daylight-saving changes. Overlapping or backward slots, 0 or more than 104 weeks, capacity < 1, a threshold outside 0-1: 422."},
			s.idempotent(s.createGroup)},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/groups", Summary: "An organisation's groups", Tag: "groups",
			Roles: groupRolesEnrol, Response: groups.GroupPage{}, Problems: []int{404, 422},
			Query:       map[string]string{"limit": "1 to 100, default 20", "cursor": "next_cursor of the previous page"},
			Description: "Coordinators see every group; active participants of the organisation see those planned or running."},
			s.listGroups},
		{Route{Method: "GET", Path: "/v1/groups/:id", Summary: "A group", Tag: "groups",
			Roles: groupRolesOrg, Response: groups.GroupView{}, Problems: []int{404}},
			s.getGroup},
		{Route{Method: "GET", Path: "/v1/groups/:id/sessions", Summary: "A group's sessions, earliest first", Tag: "groups",
			Roles: groupRolesOrg, Response: groups.SessionPage{}, Problems: []int{404, 422},
			Query: map[string]string{"limit": "1 to 100, default 20", "cursor": "next_cursor of the previous page"}},
			s.listSessions},
		{Route{Method: "PATCH", Path: "/v1/groups/:id/sessions/:session_id", Summary: "Move or cancel a session (coordinator)", Tag: "groups",
			Roles: groupRolesCoordin, Request: changeSessionBody{}, Response: groups.SessionView{}, Problems: []int{404, 409},
			Description: "Enrolled participants are told (group.session_moved or group.session_cancelled) and their reminders move; escort outings to the session move with it, keeping their companion, or are cancelled. Into the past: 422; a session over or cancelled: 409."},
			s.changeSession},
		{Route{Method: "POST", Path: "/v1/groups/:id/enrolments", Summary: "Enrol in a group, or join its waiting list", Tag: "groups",
			Roles: groupRolesEnrol, Request: enrolBody{}, Response: groups.EnrolmentView{}, Status: fiber.StatusCreated, Idempotent: true,
			Problems:    []int{404, 409},
			Description: "A participant enrols themself (the body may be empty); a coordinator names participant_id. A full group answers waiting with position. Already enrolled or waiting: 409 conflict; a finished group: 409 state-conflict."},
			s.idempotent(s.enrol)},
		{Route{Method: "GET", Path: "/v1/groups/:id/enrolments", Summary: "Who is enrolled or waiting (coordinator)", Tag: "groups",
			Roles: groupRolesCoordin, Response: groups.EnrolmentPage{}, Problems: []int{404, 422},
			Query: map[string]string{"limit": "1 to 100, default 20", "cursor": "next_cursor of the previous page"}},
			s.listEnrolments},
		{Route{Method: "DELETE", Path: "/v1/groups/:id/enrolments/:participant_id", Summary: "Leave a group (that participant, coordinator)", Tag: "groups",
			Roles: groupRolesEnrol, Status: fiber.StatusNoContent, Problems: []int{404},
			Description: "Never needs a reason. The first on the waiting list gets the place and is told (group.promoted)."},
			s.leaveGroup},
		{Route{Method: "PUT", Path: "/v1/groups/:id/sessions/:session_id/attendance", Summary: "Mark attendance at a session that has begun (coordinator)", Tag: "groups",
			Roles: groupRolesCoordin, Request: attendanceBody{}, Response: groups.Attendance{}, Problems: []int{404, 409}},
			s.putAttendance},
		{Route{Method: "GET", Path: "/v1/participants/me/groups", Summary: "The caller's enrolments with their groups (participant)", Tag: "groups",
			Roles: []auth.Role{auth.RoleParticipant}, Response: groups.MyGroupPage{}, Problems: []int{422},
			Query: map[string]string{"limit": "1 to 100, default 20", "cursor": "next_cursor of the previous page"}},
			s.myGroups},
	}
	for _, r := range routes {
		if err := s.Handle(r.r, s.needsGroups(r.h)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) needsGroups(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.deps.Groups == nil {
			return fiber.NewError(fiber.StatusServiceUnavailable, "groups are not configured")
		}
		return h(c)
	}
}

func (s *Server) createGroup(c *fiber.Ctx) error {
	var b createGroupBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	in := groups.GroupInput{Name: b.Name, Kind: b.Kind, Description: b.Description, TimeZone: b.TimeZone, FirstDay: b.FirstDay,
		Weeks: b.Weeks, Capacity: b.Capacity, CompletionThreshold: b.CompletionThreshold,
		Place: groups.Place{Lat: *b.Place.Lat, Lon: *b.Place.Lon, Description: b.Place.Description}}
	for _, sl := range b.Weekly {
		in.Weekly = append(in.Weekly, groups.Slot{Weekday: sl.Weekday, Start: sl.Start, End: sl.End})
	}
	g, err := s.deps.Groups.CreateGroup(c.UserContext(), Caller(c), pathID(c, "org_id"), in)
	if err != nil {
		return err
	}
	c.Location("/v1/groups/" + g.ID)
	return c.Status(fiber.StatusCreated).JSON(g)
}

func (s *Server) listGroups(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Groups.Groups(c.UserContext(), Caller(c), pathID(c, "org_id"), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) getGroup(c *fiber.Ctx) error {
	g, err := s.deps.Groups.Group(c.UserContext(), Caller(c), pathID(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(g)
}

func (s *Server) listSessions(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Groups.Sessions(c.UserContext(), Caller(c), pathID(c, "id"), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) changeSession(c *fiber.Ctx) error {
	var b changeSessionBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	ch := groups.SessionChange{Cancel: b.Status == "cancelled", Reason: b.Reason}
	if b.Status == "cancelled" && (b.StartsAt != "" || b.EndsAt != "") {
		return fault.InvalidField("status", "a cancelled session takes no new times")
	}
	for _, f := range []struct {
		name, v string
		dst     **time.Time
	}{{"starts_at", b.StartsAt, &ch.StartsAt}, {"ends_at", b.EndsAt, &ch.EndsAt}} {
		if f.v == "" {
			continue
		}
		t, err := parseTimeField(f.name, f.v)
		if err != nil {
			return err
		}
		*f.dst = &t
	}
	who := Caller(c)
	ctx := c.UserContext()
	changed, err := s.deps.Groups.ChangeSession(ctx, who, pathID(c, "id"), pathID(c, "session_id"), ch)
	if err != nil {
		return err
	}
	s.followSession(ctx, who, changed, b.Reason)
	return c.JSON(changed.Session)
}

// followSession moves or cancels the escort outings of a changed session.
// The session's change stands either way: an outing that cannot follow
// (already under way, cancelled, changed meanwhile) is logged.
func (s *Server) followSession(ctx context.Context, who auth.Identity, ch groups.Changed, reason string) {
	if s.deps.Matching == nil {
		return
	}
	for _, l := range ch.Escorts {
		var err error
		if ch.Cancelled {
			_, err = s.deps.Matching.Cancel(ctx, who, l.OutingID, reason)
		} else {
			_, err = s.deps.Matching.Reschedule(ctx, who, l.OutingID, ch.Session.StartsAt, ch.Session.EndsAt, reason)
		}
		if err != nil && fault.KindOf(err) != fault.StateConflict {
			s.log.Warn("escort outing did not follow its session", "outing_id", l.OutingID, "session_id", ch.Session.ID, "error", err.Error())
		}
	}
}

func (s *Server) enrol(c *fiber.Ctx) error {
	var b enrolBody
	if len(c.Body()) > 0 {
		if err := s.bind(c, &b); err != nil {
			return err
		}
	}
	e, err := s.deps.Groups.Enrol(c.UserContext(), Caller(c), pathID(c, "id"), b.ParticipantID)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(e)
}

func (s *Server) listEnrolments(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Groups.Enrolments(c.UserContext(), Caller(c), pathID(c, "id"), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) leaveGroup(c *fiber.Ctx) error {
	if err := s.deps.Groups.Leave(c.UserContext(), Caller(c), pathID(c, "id"), pathID(c, "participant_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) putAttendance(c *fiber.Ctx) error {
	var b attendanceBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	items := make([]groups.MarkInput, len(b.Items))
	for i, m := range b.Items {
		items[i] = groups.MarkInput{ParticipantID: m.ParticipantID, Mark: m.Mark}
	}
	a, err := s.deps.Groups.PutAttendance(c.UserContext(), Caller(c), pathID(c, "id"), pathID(c, "session_id"), items)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) myGroups(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Groups.MyGroups(c.UserContext(), Caller(c), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// ---- escorts to group sessions (POST /v1/outings) ----

// groupOutingView is the answer to an escort request: the outing to the
// first session, and with every_session all of them.
type groupOutingView struct {
	matching.OutingView
	Outings []matching.OutingView `json:"outings,omitempty" doc:"every_session: one outing per future session, soonest first (the first is the one above)"`
}

// createGroupOutings makes an ordinary activity outing per session asked
// for and links each to its session. The volunteer who accompanied the
// participant to the latest earlier session is offered each first; with
// nobody known, see groups/continuity.go.
func (s *Server) createGroupOutings(c *fiber.Ctx, b createOutingBody) error {
	if s.deps.Groups == nil {
		return fiber.NewError(fiber.StatusServiceUnavailable, "groups are not configured")
	}
	switch {
	case b.GroupSessionID != "" && (b.GroupID != "" || b.EverySession):
		return fault.InvalidField("group_id", "give group_session_id, or group_id with every_session, not both")
	case b.GroupID != "" && !b.EverySession:
		return fault.InvalidField("every_session", "must be true with group_id")
	case b.GroupID == "" && b.EverySession:
		return fault.InvalidField("group_id", "is required with every_session")
	case b.StartsAt != "" || b.EndsAt != "":
		return fault.InvalidField("starts_at", "comes from the session; leave starts_at and ends_at out")
	case b.Kind != "" && b.Kind != string(matching.KindActivity):
		return fault.InvalidField("kind", "is activity for a group session")
	case b.MeetingPoint == nil:
		return fault.InvalidField("meeting_point", "is required")
	}
	who := Caller(c)
	ctx := c.UserContext()
	target, err := s.deps.Groups.EscortTargets(ctx, who, b.ParticipantID, b.GroupSessionID, b.GroupID)
	if err != nil {
		return err
	}
	first, err := s.lastCompanion(ctx, who, target)
	if err != nil {
		return err
	}
	var made []matching.OutingView
	for i, ss := range target.Sessions {
		// With nobody known yet, a later session's offers wait for the
		// companion of the one before (groups.EscortSink offers it to them
		// first), at most until that session begins.
		var hold time.Time
		if first == "" && i > 0 {
			hold = target.Sessions[i-1].StartsAt
		}
		v, err := s.deps.Matching.CreateOuting(ctx, who, matching.OutingRequest{
			ParticipantID: b.ParticipantID, Kind: matching.KindActivity, Note: b.Note, StartsAt: ss.StartsAt, EndsAt: ss.EndsAt,
			CompanionGender: b.CompanionGender, Language: b.Language, OfferFirst: first, HoldOffersUntil: hold,
			MeetingPoint: matching.MeetingPoint{Lat: *b.MeetingPoint.Lat, Lon: *b.MeetingPoint.Lon, Description: b.MeetingPoint.Description},
		})
		if err != nil {
			return err
		}
		if err := s.deps.Groups.LinkEscort(ctx, target.GroupID, ss.ID, target.ParticipantID, v.ID); err != nil {
			return err
		}
		made = append(made, v)
	}
	out := groupOutingView{OutingView: made[0]}
	if b.EverySession {
		out.Outings = made
	}
	c.Location("/v1/outings/" + made[0].ID)
	return sendGroupOuting(c.Status(fiber.StatusCreated), out)
}

func sendGroupOuting(c *fiber.Ctx, v groupOutingView) error {
	c.Set(fiber.HeaderETag, `"`+strconv.FormatInt(v.Version, 10)+`"`)
	return c.JSON(v)
}

// lastCompanion is the volunteer who went with the participant to the
// latest session before the first one asked for, if any.
func (s *Server) lastCompanion(ctx context.Context, who auth.Identity, t groups.EscortTarget) (string, error) {
	earlier, err := s.deps.Groups.EarlierEscorts(ctx, t.GroupID, t.ParticipantID, t.Sessions[0].StartsAt)
	if err != nil {
		return "", err
	}
	for i, id := range earlier {
		if i == 5 {
			break // look back a few sessions, not the whole course
		}
		o, err := s.deps.Matching.Outing(ctx, who, id)
		if err != nil {
			continue
		}
		switch o.Status {
		case matching.StatusConfirmed, matching.StatusInProgress, matching.StatusCompleted:
			if o.VolunteerID != "" {
				return o.VolunteerID, nil
			}
		}
	}
	return "", nil
}
