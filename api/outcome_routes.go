package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/outcomes"
)

// Outcomes: docs/api.md, "Outcomes"; the figures: docs/outcomes.md.

type checkinBody struct {
	Confidence int `json:"confidence" validate:"required,min=1,max=5" doc:"How confident do you feel going out on your own? 1-5 (Hur trygg känner du dig med att gå ut på egen hand?)"`
	Social     int `json:"social" validate:"required,min=1,max=5" doc:"How socially active do you feel? 1-5 (Hur socialt aktiv känner du dig?)"`
	Occupation int `json:"occupation" validate:"required,min=1,max=5" doc:"How much meaningful occupation do you have? 1-5 (Hur mycket meningsfull sysselsättning har du?)"`
}

type milestoneBody struct {
	Kind string `json:"kind" validate:"required,oneof=work_practice job study meaningful_occupation"`
	On   string `json:"on" validate:"required" doc:"YYYY-MM-DD, not in the future"`
	Note string `json:"note,omitempty" validate:"max=500"`
}

type pulseBody struct {
	SecureInRole    int `json:"secure_in_role" validate:"required,min=1,max=5" doc:"I feel secure in my role, 1-5 (Jag känner mig trygg i min roll)"`
	InformationGood int `json:"information_good" validate:"required,min=1,max=5" doc:"The information I get is good, 1-5 (Informationen jag får är bra)"`
}

type goalsBody struct {
	Participants            *int     `json:"participants" validate:"required,min=0,max=1000000"`
	GroupCompletionRate     *float64 `json:"group_completion_rate" validate:"required,min=0,max=1"`
	ConfidenceImprovedShare *float64 `json:"confidence_improved_share" validate:"required,min=0,max=1"`
	SocialImprovedShare     *float64 `json:"social_improved_share" validate:"required,min=0,max=1"`
	MilestonePeople         *int     `json:"milestone_people" validate:"required,min=0,max=1000000"`
}

const reportDoc = "from and to are dates (both included, UTC days), at most 5 years apart. With Accept: text/csv, or at …/outcomes.csv, " +
	"the same figures as CSV: figure,gender,value, one row per figure and gender (gender \"all\" for totals). Definitions: docs/outcomes.md."

func (s *Server) outcomeRoutes() error {
	coord := []auth.Role{auth.RoleCoordinator}
	listQuery := map[string]string{"limit": "1 to 100, default 50"}
	period := map[string]string{"from": "first day, YYYY-MM-DD", "to": "last day, YYYY-MM-DD"}
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "POST", Path: "/v1/participants/me/wellbeing", Summary: "Answer the wellbeing check-in (the first answer is the baseline)", Tag: "outcomes",
			Roles: []auth.Role{auth.RoleParticipant}, Request: checkinBody{}, Response: outcomes.Checkin{}, Status: fiber.StatusCreated,
			Description: "Optional; never blocks anything. Push wellbeing.due comes every CLAVIS_WELLBEING_EVERY after the last answer, never twice unanswered."},
			func(c *fiber.Ctx) error {
				var b checkinBody
				if err := s.bind(c, &b); err != nil {
					return err
				}
				v, err := s.deps.Outcomes.AddCheckin(c.UserContext(), Caller(c), outcomes.CheckinInput{Confidence: b.Confidence, Social: b.Social, Occupation: b.Occupation})
				if err != nil {
					return err
				}
				return c.Status(fiber.StatusCreated).JSON(v)
			}},
		{Route{Method: "GET", Path: "/v1/participants/me/wellbeing", Summary: "The caller's check-ins, newest first", Tag: "outcomes",
			Roles: []auth.Role{auth.RoleParticipant}, Response: outcomes.CheckinList{}, Query: listQuery, Problems: []int{422}},
			func(c *fiber.Ctx) error {
				limit, err := queryListLimit(c)
				if err != nil {
					return err
				}
				return sendView[outcomes.CheckinList](c)(s.deps.Outcomes.MyCheckins(c.UserContext(), Caller(c), limit))
			}},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/participants/:participant_id/wellbeing", Summary: "A participant's check-ins (their coordinators)", Tag: "outcomes",
			Roles: coord, Response: outcomes.CheckinList{}, Query: listQuery, Problems: []int{404, 422}},
			func(c *fiber.Ctx) error {
				limit, err := queryListLimit(c)
				if err != nil {
					return err
				}
				return sendView[outcomes.CheckinList](c)(s.deps.Outcomes.ParticipantCheckins(c.UserContext(), Caller(c), pathID(c, "org_id"), pathID(c, "participant_id"), limit))
			}},
		{Route{Method: "POST", Path: "/v1/organisations/:org_id/participants/:participant_id/milestones", Summary: "Record a participant's milestone", Tag: "outcomes",
			Roles: coord, Request: milestoneBody{}, Response: outcomes.Milestone{}, Status: fiber.StatusCreated, Problems: []int{404}},
			func(c *fiber.Ctx) error {
				var b milestoneBody
				if err := s.bind(c, &b); err != nil {
					return err
				}
				v, err := s.deps.Outcomes.AddMilestone(c.UserContext(), Caller(c), pathID(c, "org_id"), pathID(c, "participant_id"), outcomes.MilestoneInput{Kind: b.Kind, On: b.On, Note: b.Note})
				if err != nil {
					return err
				}
				return c.Status(fiber.StatusCreated).JSON(v)
			}},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/participants/:participant_id/milestones", Summary: "A participant's milestones, latest first", Tag: "outcomes",
			Roles: coord, Response: outcomes.MilestoneList{}, Query: listQuery, Problems: []int{404, 422}},
			func(c *fiber.Ctx) error {
				limit, err := queryListLimit(c)
				if err != nil {
					return err
				}
				return sendView[outcomes.MilestoneList](c)(s.deps.Outcomes.Milestones(c.UserContext(), Caller(c), pathID(c, "org_id"), pathID(c, "participant_id"), limit))
			}},
		{Route{Method: "POST", Path: "/v1/volunteers/me/pulse", Summary: "Answer the volunteer pulse", Tag: "outcomes",
			Roles: []auth.Role{auth.RoleVolunteer}, Request: pulseBody{}, Response: outcomes.Pulse{}, Status: fiber.StatusCreated,
			Description: "Push pulse.due comes every 12 weeks."},
			func(c *fiber.Ctx) error {
				var b pulseBody
				if err := s.bind(c, &b); err != nil {
					return err
				}
				v, err := s.deps.Outcomes.AddPulse(c.UserContext(), Caller(c), outcomes.PulseInput{SecureInRole: b.SecureInRole, InformationGood: b.InformationGood})
				if err != nil {
					return err
				}
				return c.Status(fiber.StatusCreated).JSON(v)
			}},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/goals", Summary: "The organisation's goals (CLAVIS's until changed)", Tag: "outcomes",
			Roles: coord, Response: outcomes.Goals{}, Problems: []int{404}},
			func(c *fiber.Ctx) error {
				return sendView[outcomes.Goals](c)(s.deps.Outcomes.GoalsOf(c.UserContext(), Caller(c), pathID(c, "org_id")))
			}},
		{Route{Method: "PUT", Path: "/v1/organisations/:org_id/goals", Summary: "Change the organisation's goals", Tag: "outcomes",
			Roles: coord, Request: goalsBody{}, Response: outcomes.Goals{}, Problems: []int{404}},
			func(c *fiber.Ctx) error {
				var b goalsBody
				if err := s.bind(c, &b); err != nil {
					return err
				}
				return sendView[outcomes.Goals](c)(s.deps.Outcomes.PutGoals(c.UserContext(), Caller(c), pathID(c, "org_id"), outcomes.Goals{
					Participants: *b.Participants, GroupCompletionRate: *b.GroupCompletionRate, ConfidenceImprovedShare: *b.ConfidenceImprovedShare,
					SocialImprovedShare: *b.SocialImprovedShare, MilestonePeople: *b.MilestonePeople}))
			}},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/reports/outcomes", Summary: "The outcome report of a period", Tag: "outcomes",
			Roles: []auth.Role{auth.RoleCoordinator, auth.RoleAdmin}, Response: outcomes.Report{}, Query: period, Problems: []int{404, 422}, Description: reportDoc},
			func(c *fiber.Ctx) error { return s.outcomeReport(c, acceptsCSV(c)) }},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/reports/outcomes.csv", Summary: "The outcome report of a period, as CSV", Tag: "outcomes",
			Roles: []auth.Role{auth.RoleCoordinator, auth.RoleAdmin}, Produces: "text/csv", Query: period, Problems: []int{404, 422}, Description: reportDoc},
			func(c *fiber.Ctx) error { return s.outcomeReport(c, true) }},
	}
	for _, r := range routes {
		if err := s.Handle(r.r, s.needsOutcomes(r.h)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) needsOutcomes(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.deps.Outcomes == nil {
			return fiber.NewError(fiber.StatusServiceUnavailable, "outcomes are not configured")
		}
		return h(c)
	}
}

// queryListLimit reads ?limit= for outcomes' lists (default 50); the
// service checks the range.
func queryListLimit(c *fiber.Ctx) (int, error) {
	if c.Query("limit") == "" {
		return 0, nil
	}
	return queryLimit(c)
}

func acceptsCSV(c *fiber.Ctx) bool {
	accept := c.Get(fiber.HeaderAccept)
	return strings.Contains(accept, "text/csv") && c.Accepts("application/json", "text/csv") == "text/csv"
}

func (s *Server) outcomeReport(c *fiber.Ctx, csv bool) error {
	r, err := s.deps.Outcomes.Report(c.UserContext(), Caller(c), pathID(c, "org_id"), c.Query("from"), c.Query("to"))
	if err != nil {
		return err
	}
	if !csv {
		return c.JSON(r)
	}
	body, err := r.CSV()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="outcomes-`+r.From+`-`+r.To+`.csv"`)
	return c.Send(body)
}
