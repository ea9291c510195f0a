package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

// Outings: docs/api.md, "Outings". Handlers decode, take the caller, call the
// matching service and encode; the rules live in matching.

type createOutingBody struct {
	ParticipantID   string            `json:"participant_id,omitempty" doc:"coordinators only: whom the outing is for"`
	Kind            string            `json:"kind,omitempty" validate:"omitempty,oneof=bus_trip cafe walk errand activity other" doc:"required, except for a group session (then activity)"`
	Note            string            `json:"note,omitempty" validate:"max=1000"`
	StartsAt        string            `json:"starts_at,omitempty" doc:"RFC 3339 with offset; required, except for a group session (its times)"`
	EndsAt          string            `json:"ends_at,omitempty" doc:"RFC 3339 with offset; required, except for a group session (its times)"`
	MeetingPoint    *meetingPointBody `json:"meeting_point" validate:"required"`
	CompanionGender string            `json:"companion_gender,omitempty" validate:"omitempty,oneof=any female male"`
	Language        string            `json:"language,omitempty" validate:"omitempty,oneof=sv en"`
	GroupSessionID  string            `json:"group_session_id,omitempty" doc:"a companion to this group session (the participant holds a place in its group)"`
	GroupID         string            `json:"group_id,omitempty" doc:"with every_session: a companion to every future session of this group"`
	EverySession    bool              `json:"every_session,omitempty"`
}

type meetingPointBody struct {
	Lat         *float64 `json:"lat" validate:"required,latitude"`
	Lon         *float64 `json:"lon" validate:"required,longitude"`
	Description string   `json:"description,omitempty" validate:"max=300"`
}

type reasonBody struct {
	Reason string `json:"reason" validate:"required,max=500"`
}

type feedbackBody struct {
	Rating        int    `json:"rating" validate:"required,min=1,max=5"`
	Comment       string `json:"comment,omitempty" validate:"max=1000"`
	ComfortBefore *int   `json:"comfort_before,omitempty" validate:"omitempty,min=1,max=5" doc:"participants only"`
	ComfortAfter  *int   `json:"comfort_after,omitempty" validate:"omitempty,min=1,max=5" doc:"participants only"`
}

type historyPage struct {
	Items []matching.HistoryEntry `json:"items"`
}

var (
	outingRolesAll         = []auth.Role{auth.RoleParticipant, auth.RoleVolunteer, auth.RoleCoordinator}
	outingRolesVolunteer   = []auth.Role{auth.RoleVolunteer}
	outingRolesCoordinator = []auth.Role{auth.RoleCoordinator}
	outingRolesPair        = []auth.Role{auth.RoleParticipant, auth.RoleVolunteer}
)

func (s *Server) outingRoutes() error {
	conflict := []int{404, 409}
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "POST", Path: "/v1/outings", Summary: "Ask for a companion for an outing", Tag: "outings",
			Roles: []auth.Role{auth.RoleParticipant, auth.RoleCoordinator}, Request: createOutingBody{}, Response: groupOutingView{},
			Status: fiber.StatusCreated, Idempotent: true, Problems: []int{409}, Location: true,
			Description: "An active participant asks for themself; a coordinator names participant_id. In the past, ending before it starts, or longer than 12 h: 422. With group_session_id (or group_id and every_session: true) the outing is an activity at the session's times, one per session; the answer's outings lists them all."},
			s.idempotent(s.createOuting)},
		{Route{Method: "GET", Path: "/v1/outings", Summary: "The caller's outings, newest first", Tag: "outings",
			Roles: outingRolesAll, Response: matching.OutingPage{}, Problems: []int{422},
			Query:       map[string]string{"status": "only outings in this status", "limit": "1 to 100, default 20", "cursor": "next_cursor of the previous page"},
			QueryTypes:  map[string]any{"status": matching.OutingStatus("")},
			Description: "Participant: own outings; volunteer: outings they accepted; coordinator: the organisation's."},
			s.listOutings},
		{Route{Method: "GET", Path: "/v1/outings/:id", Summary: "An outing as the caller may see it", Tag: "outings",
			Roles: outingRolesAll, Response: matching.OutingView{}, Problems: []int{404},
			Description: "A volunteer who is not the approved companion gets the limited view: an area instead of the meeting point, the participant's first name, no note."},
			s.getOuting},
		{Route{Method: "POST", Path: "/v1/outings/:id/accept", Summary: "Accept an open outing (volunteer)", Tag: "outings",
			Roles: outingRolesVolunteer, Response: matching.OutingView{}, Problems: conflict},
			s.outingAction(func(c *fiber.Ctx, who auth.Identity, id string) (matching.OutingView, error) {
				return s.deps.Matching.Accept(c.UserContext(), who, id)
			})},
		{Route{Method: "POST", Path: "/v1/outings/:id/decline", Summary: "Decline an offered outing (volunteer)", Tag: "outings",
			Roles: outingRolesVolunteer, Status: fiber.StatusNoContent, Problems: conflict},
			s.declineOuting},
		{Route{Method: "POST", Path: "/v1/outings/:id/approve", Summary: "Approve the volunteer who accepted (coordinator)", Tag: "outings",
			Roles: outingRolesCoordinator, Response: matching.OutingView{}, Problems: conflict},
			s.outingAction(func(c *fiber.Ctx, who auth.Identity, id string) (matching.OutingView, error) {
				return s.deps.Matching.Approve(c.UserContext(), who, id)
			})},
		{Route{Method: "POST", Path: "/v1/outings/:id/reject", Summary: "Reject the volunteer who accepted; the outing reopens (coordinator)", Tag: "outings",
			Roles: outingRolesCoordinator, Request: reasonBody{}, Response: matching.OutingView{}, Problems: conflict},
			s.outingReasonAction(func(c *fiber.Ctx, who auth.Identity, id, reason string) (matching.OutingView, error) {
				return s.deps.Matching.Reject(c.UserContext(), who, id, reason)
			})},
		{Route{Method: "POST", Path: "/v1/outings/:id/cancel", Summary: "Cancel an outing", Tag: "outings",
			Roles: outingRolesAll, Request: reasonBody{}, Response: matching.OutingView{}, Problems: conflict,
			Description: "The companion's cancel of a pending or confirmed outing reopens it instead, unless it starts within the hour."},
			s.outingReasonAction(func(c *fiber.Ctx, who auth.Identity, id, reason string) (matching.OutingView, error) {
				return s.deps.Matching.Cancel(c.UserContext(), who, id, reason)
			})},
		{Route{Method: "POST", Path: "/v1/outings/:id/check-in", Summary: "Check in, from 30 minutes before the start", Tag: "outings",
			Roles: outingRolesPair, Response: matching.OutingView{}, Problems: conflict},
			s.outingAction(func(c *fiber.Ctx, who auth.Identity, id string) (matching.OutingView, error) {
				return s.deps.Matching.CheckIn(c.UserContext(), who, id)
			})},
		{Route{Method: "POST", Path: "/v1/outings/:id/complete", Summary: "Mark an outing completed", Tag: "outings",
			Roles: outingRolesAll, Response: matching.OutingView{}, Problems: conflict},
			s.outingAction(func(c *fiber.Ctx, who auth.Identity, id string) (matching.OutingView, error) {
				return s.deps.Matching.Complete(c.UserContext(), who, id)
			})},
		{Route{Method: "POST", Path: "/v1/outings/:id/feedback", Summary: "Give feedback on a completed outing, once", Tag: "outings",
			Roles: outingRolesPair, Request: feedbackBody{}, Response: matching.Feedback{}, Status: fiber.StatusCreated,
			Idempotent: true, Problems: conflict},
			s.idempotent(s.giveFeedback)},
		{Route{Method: "GET", Path: "/v1/outings/:id/history", Summary: "An outing's transitions, oldest first (coordinator)", Tag: "outings",
			Roles: outingRolesCoordinator, Response: historyPage{}, Problems: []int{404}},
			s.outingHistory},
		{Route{Method: "GET", Path: "/v1/outings/:id/feedback", Summary: "An outing's feedback, oldest first", Tag: "outings",
			Roles: outingRolesAll, Response: matching.FeedbackList{}, Problems: []int{404},
			Description: "Coordinators see all of it (audited); the participant and the companion see only their own."},
			s.outingFeedback},
	}
	for _, r := range routes {
		if r.r.Method == "POST" && strings.HasPrefix(r.r.Path, "/v1/outings/:id/") && !strings.HasSuffix(r.r.Path, "/feedback") {
			r.r.Description = strings.TrimSpace(r.r.Description + " " + ifMatchDoc)
			r.r.IfMatch = true
		}
		// sendOuting sets it on every outing answer.
		_, r.r.ETag = r.r.Response.(matching.OutingView)
		if err := s.Handle(r.r, s.needsMatching(r.h)); err != nil {
			return err
		}
	}
	return nil
}

const ifMatchDoc = `Optional If-Match: "<version>" (the ETag of the outing): act only if the outing is still at that version, else 409; of two people acting on what they both saw, exactly one wins.`

// needsMatching answers 503 when the app was built without the matching
// service (a test app of another area).
func (s *Server) needsMatching(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.deps.Matching == nil {
			return fiber.NewError(fiber.StatusServiceUnavailable, "outings are not configured")
		}
		return h(c)
	}
}

func parseTimeField(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fault.InvalidField(field, "must be an RFC 3339 time with offset, such as 2026-06-04T14:00:00+02:00")
	}
	return t, nil
}

func (s *Server) createOuting(c *fiber.Ctx) error {
	var b createOutingBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	if b.GroupSessionID != "" || b.GroupID != "" || b.EverySession {
		return s.createGroupOutings(c, b)
	}
	var missing []fault.FieldError
	for _, f := range [][2]string{{"kind", b.Kind}, {"starts_at", b.StartsAt}, {"ends_at", b.EndsAt}} {
		if f[1] == "" {
			missing = append(missing, fault.FieldError{Field: f[0], Message: "is required"})
		}
	}
	if len(missing) > 0 {
		return fault.Invalid(missing...)
	}
	start, err := parseTimeField("starts_at", b.StartsAt)
	if err != nil {
		return err
	}
	end, err := parseTimeField("ends_at", b.EndsAt)
	if err != nil {
		return err
	}
	req := matching.OutingRequest{
		ParticipantID: b.ParticipantID, Kind: matching.OutingKind(b.Kind), Note: b.Note,
		StartsAt: start, EndsAt: end, CompanionGender: b.CompanionGender, Language: b.Language,
		MeetingPoint: matching.MeetingPoint{Lat: *b.MeetingPoint.Lat, Lon: *b.MeetingPoint.Lon, Description: b.MeetingPoint.Description},
	}
	v, err := s.deps.Matching.CreateOuting(c.UserContext(), Caller(c), req)
	if err != nil {
		return err
	}
	c.Location("/v1/outings/" + v.ID)
	return sendOuting(c.Status(fiber.StatusCreated), v)
}

func (s *Server) listOutings(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Matching.Outings(c.UserContext(), Caller(c), c.Query("status"), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return c.JSON(page)
}

func (s *Server) getOuting(c *fiber.Ctx) error {
	v, err := s.deps.Matching.Outing(c.UserContext(), Caller(c), pathID(c, "id"))
	if err != nil {
		return err
	}
	return sendOuting(c, v)
}

// ifMatch applies an If-Match: "<version>" header: the transition happens
// only if the outing is still at that version (409 otherwise), so that of
// two people acting on what they both saw exactly one wins.
func ifMatch(c *fiber.Ctx) error {
	raw := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if raw == "" {
		return nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(raw, "W/"), `"`), 10, 64)
	if err != nil || v < 1 {
		return fault.InvalidField("If-Match", `must be an outing version as its ETag gives it, such as "3"`)
	}
	c.SetUserContext(matching.ExpectVersion(c.UserContext(), v))
	return nil
}

// sendOuting answers with the outing and its version as ETag.
func sendOuting(c *fiber.Ctx, v matching.OutingView) error {
	c.Set(fiber.HeaderETag, `"`+strconv.FormatInt(v.Version, 10)+`"`)
	return c.JSON(v)
}

func (s *Server) outingAction(do func(c *fiber.Ctx, who auth.Identity, id string) (matching.OutingView, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := ifMatch(c); err != nil {
			return err
		}
		v, err := do(c, Caller(c), pathID(c, "id"))
		if err != nil {
			return err
		}
		return sendOuting(c, v)
	}
}

func (s *Server) outingReasonAction(do func(c *fiber.Ctx, who auth.Identity, id, reason string) (matching.OutingView, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var b reasonBody
		if err := s.bind(c, &b); err != nil {
			return err
		}
		if err := ifMatch(c); err != nil {
			return err
		}
		v, err := do(c, Caller(c), pathID(c, "id"), b.Reason)
		if err != nil {
			return err
		}
		return sendOuting(c, v)
	}
}

func (s *Server) declineOuting(c *fiber.Ctx) error {
	if err := ifMatch(c); err != nil {
		return err
	}
	if err := s.deps.Matching.Decline(c.UserContext(), Caller(c), pathID(c, "id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) giveFeedback(c *fiber.Ctx) error {
	var b feedbackBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	f, err := s.deps.Matching.GiveFeedback(c.UserContext(), Caller(c), pathID(c, "id"), matching.FeedbackInput{
		Rating: b.Rating, Comment: b.Comment, ComfortBefore: b.ComfortBefore, ComfortAfter: b.ComfortAfter,
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(f)
}

func (s *Server) outingHistory(c *fiber.Ctx) error {
	h, err := s.deps.Matching.History(c.UserContext(), Caller(c), pathID(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(historyPage{Items: h})
}

func (s *Server) outingFeedback(c *fiber.Ctx) error {
	l, err := s.deps.Matching.FeedbackOn(c.UserContext(), Caller(c), pathID(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(l)
}
