// Package outcomes records what the organisations are paid to show:
// wellbeing check-ins, milestones, the volunteers' pulse and goals, and
// computes the funder's report from them and from the outings, groups and
// expenses other packages keep (read through the narrow interfaces below,
// which main wires). Definitions of every figure: docs/outcomes.md.
package outcomes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/internal/personal"
)

// Genders a participant may state for follow-up.
var Genders = []string{"female", "male", "other", "unspecified"}

// Milestone kinds.
var MilestoneKinds = []string{"work_practice", "job", "study", "meaningful_occupation"}

// Defaults.
const (
	DefaultWellbeingEvery = 28 * 24 * time.Hour
	PulseEvery            = 12 * 7 * 24 * time.Hour
	MaxPeriod             = 5*366*24*time.Hour + 24*time.Hour
	DefaultListLimit      = 50
	MaxListLimit          = 100
	MaxNoteLength         = 500
)

// Push types.
const (
	PushWellbeingDue = "wellbeing.due"
	PushPulseDue     = "pulse.due"
)

// Member is what outcomes needs of an account.
type Member struct {
	ID     string
	Role   auth.Role
	OrgID  string
	Status auth.Status
}

// Members reads accounts (main wires the accounts service). A missing
// account is a fault.NotFound or any error that Members' caller maps so.
type Members interface {
	Member(ctx context.Context, userID string) (Member, error)
}

// Pusher queues a durable push to one person (notify implements it). The
// dedup key makes a repeated call harmless; quiet hours are the pusher's.
type Pusher interface {
	PushToUser(ctx context.Context, pushType, orgID, userID, dedupKey string) error
}

// Config wires a Service. Outings and People are required for reports;
// Groups and Expenses are optional (nil: their figures are zero).
type Config struct {
	Store    Store
	Clock    clock.Clock
	Logger   *slog.Logger
	Members  Members
	Outings  Outings
	People   People
	Groups   Groups
	Expenses Expenses
	Pusher   Pusher
	// WellbeingEvery is CLAVIS_WELLBEING_EVERY (default 28 days).
	WellbeingEvery time.Duration
}

// Service is the outcomes domain.
type Service struct {
	cfg Config
	st  Store
	log *slog.Logger
}

// New makes the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("outcomes: no store")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WellbeingEvery <= 0 {
		cfg.WellbeingEvery = DefaultWellbeingEvery
	}
	return &Service{cfg: cfg, st: cfg.Store, log: cfg.Logger}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC().Truncate(time.Millisecond) }

// CheckinInput is the body of POST /v1/participants/me/wellbeing.
type CheckinInput struct{ Confidence, Social, Occupation int }

func oneToFive(errs []fault.FieldError, field string, v int) []fault.FieldError {
	if v < 1 || v > 5 {
		errs = append(errs, fault.FieldError{Field: field, Message: "must be from 1 to 5"})
	}
	return errs
}

// AddCheckin records the caller's answers; the first is their baseline.
func (s *Service) AddCheckin(ctx context.Context, who auth.Identity, in CheckinInput) (Checkin, error) {
	if who.Role != auth.RoleParticipant {
		return Checkin{}, fault.Forbiddenf("only participants answer check-ins")
	}
	var errs []fault.FieldError
	errs = oneToFive(errs, "confidence", in.Confidence)
	errs = oneToFive(errs, "social", in.Social)
	errs = oneToFive(errs, "occupation", in.Occupation)
	if len(errs) > 0 {
		return Checkin{}, fault.Invalid(errs...)
	}
	c := Checkin{ID: ids.New(), UserID: who.UserID, OrgID: who.OrgID, At: s.now(), Confidence: in.Confidence, Social: in.Social, Occupation: in.Occupation}
	if err := s.st.InsertCheckin(ctx, &c); err != nil {
		return Checkin{}, fault.Wrap(err, "store check-in")
	}
	if err := s.st.Answered(ctx, KindWellbeing, who.UserID, who.OrgID, c.At); err != nil {
		return Checkin{}, fault.Wrap(err, "schedule next check-in")
	}
	return c, nil
}

// CheckinList is a list of check-ins, newest first.
type CheckinList struct {
	Items []Checkin `json:"items"`
}

func listLimit(limit int) (int, error) {
	if limit == 0 {
		return DefaultListLimit, nil
	}
	if limit < 1 || limit > MaxListLimit {
		return 0, fault.InvalidField("limit", "must be a whole number from 1 to 100")
	}
	return limit, nil
}

// MyCheckins lists the caller's own answers.
func (s *Service) MyCheckins(ctx context.Context, who auth.Identity, limit int) (CheckinList, error) {
	if who.Role != auth.RoleParticipant {
		return CheckinList{}, fault.Forbiddenf("only participants answer check-ins")
	}
	n, err := listLimit(limit)
	if err != nil {
		return CheckinList{}, err
	}
	items, err := s.st.CheckinsOf(ctx, who.UserID, n)
	return CheckinList{Items: items}, fault.Wrap(err, "read check-ins")
}

// ParticipantCheckins lists a participant's answers for a coordinator of their organisation.
func (s *Service) ParticipantCheckins(ctx context.Context, who auth.Identity, orgID, participantID string, limit int) (CheckinList, error) {
	if err := s.participantOf(ctx, who, orgID, participantID); err != nil {
		return CheckinList{}, err
	}
	n, err := listLimit(limit)
	if err != nil {
		return CheckinList{}, err
	}
	items, err := s.st.CheckinsOf(ctx, participantID, n)
	return CheckinList{Items: items}, fault.Wrap(err, "read check-ins")
}

// coordinatorOf: a coordinator of another organisation learns nothing of
// this one (404, as the accounts' organisation routes answer).
func coordinatorOf(who auth.Identity, orgID string) error {
	if who.Role != auth.RoleCoordinator {
		return fault.Forbiddenf("only the organisation's coordinators may do this")
	}
	if who.OrgID != orgID {
		return fault.NotFoundf("no such organisation")
	}
	return nil
}

func (s *Service) participantOf(ctx context.Context, who auth.Identity, orgID, participantID string) error {
	if err := coordinatorOf(who, orgID); err != nil {
		return err
	}
	m, err := s.cfg.Members.Member(ctx, participantID)
	if err != nil || m.Role != auth.RoleParticipant || m.OrgID != orgID {
		if err != nil && fault.KindOf(err) != fault.NotFound {
			return fault.Wrap(err, "read participant")
		}
		return fault.NotFoundf("no such participant in this organisation")
	}
	return nil
}

// MilestoneInput is the body of the milestone POST.
type MilestoneInput struct {
	Kind, On, Note string
}

// AddMilestone records a participant's step, dated today or earlier.
func (s *Service) AddMilestone(ctx context.Context, who auth.Identity, orgID, participantID string, in MilestoneInput) (Milestone, error) {
	if err := s.participantOf(ctx, who, orgID, participantID); err != nil {
		return Milestone{}, err
	}
	now := s.now()
	var errs []fault.FieldError
	if !oneOf(in.Kind, MilestoneKinds) {
		errs = append(errs, fault.FieldError{Field: "kind", Message: "must be one of: work_practice, job, study, meaningful_occupation"})
	}
	// Dates are the organisation's calendar; the latest calendar on Earth
	// (UTC+14) keeps "today" valid wherever the coordinator is.
	if d, err := time.Parse(time.DateOnly, in.On); err != nil {
		errs = append(errs, fault.FieldError{Field: "on", Message: "must be a date, YYYY-MM-DD"})
	} else if d.Format(time.DateOnly) > now.Add(14*time.Hour).Format(time.DateOnly) {
		errs = append(errs, fault.FieldError{Field: "on", Message: "must not be in the future"})
	}
	if len([]rune(in.Note)) > MaxNoteLength {
		errs = append(errs, fault.FieldError{Field: "note", Message: "must be at most 500 characters"})
	}
	if len(errs) > 0 {
		return Milestone{}, fault.Invalid(errs...)
	}
	m := Milestone{ID: ids.New(), ParticipantID: participantID, OrgID: orgID, Kind: in.Kind, On: in.On, Note: in.Note, RecordedBy: who.UserID, CreatedAt: now}
	if err := s.st.InsertMilestone(ctx, &m); err != nil {
		return Milestone{}, fault.Wrap(err, "store milestone")
	}
	return m, nil
}

// MilestoneList is a participant's milestones, latest first.
type MilestoneList struct {
	Items []Milestone `json:"items"`
}

// Milestones lists a participant's milestones for a coordinator.
func (s *Service) Milestones(ctx context.Context, who auth.Identity, orgID, participantID string, limit int) (MilestoneList, error) {
	if err := s.participantOf(ctx, who, orgID, participantID); err != nil {
		return MilestoneList{}, err
	}
	n, err := listLimit(limit)
	if err != nil {
		return MilestoneList{}, err
	}
	items, err := s.st.MilestonesOf(ctx, participantID, n)
	return MilestoneList{Items: items}, fault.Wrap(err, "read milestones")
}

// PulseInput is the body of POST /v1/volunteers/me/pulse.
type PulseInput struct{ SecureInRole, InformationGood int }

// AddPulse records a volunteer's pulse answers.
func (s *Service) AddPulse(ctx context.Context, who auth.Identity, in PulseInput) (Pulse, error) {
	if who.Role != auth.RoleVolunteer {
		return Pulse{}, fault.Forbiddenf("only volunteers answer the pulse")
	}
	var errs []fault.FieldError
	errs = oneToFive(errs, "secure_in_role", in.SecureInRole)
	errs = oneToFive(errs, "information_good", in.InformationGood)
	if len(errs) > 0 {
		return Pulse{}, fault.Invalid(errs...)
	}
	p := Pulse{ID: ids.New(), UserID: who.UserID, OrgID: who.OrgID, At: s.now(), SecureInRole: in.SecureInRole, InformationGood: in.InformationGood}
	if err := s.st.InsertPulse(ctx, &p); err != nil {
		return Pulse{}, fault.Wrap(err, "store pulse")
	}
	return p, fault.Wrap(s.st.Answered(ctx, KindPulse, who.UserID, who.OrgID, p.At), "schedule next pulse")
}

// DefaultGoals are CLAVIS's goals in its application to the European Social Fund.
func DefaultGoals(orgID string) Goals {
	return Goals{OrgID: orgID, Participants: 100, GroupCompletionRate: 0.5, ConfidenceImprovedShare: 0.5, SocialImprovedShare: 0.25, MilestonePeople: 10}
}

func (s *Service) goals(ctx context.Context, orgID string) (Goals, error) {
	g, err := s.st.Goals(ctx, orgID)
	if errors.Is(err, ErrNotFound) {
		return DefaultGoals(orgID), nil
	}
	if err != nil {
		return Goals{}, fault.Wrap(err, "read goals")
	}
	return *g, nil
}

// GoalsOf reads an organisation's goals (CLAVIS's until changed).
func (s *Service) GoalsOf(ctx context.Context, who auth.Identity, orgID string) (Goals, error) {
	if err := coordinatorOf(who, orgID); err != nil {
		return Goals{}, err
	}
	return s.goals(ctx, orgID)
}

// PutGoals replaces an organisation's goals.
func (s *Service) PutGoals(ctx context.Context, who auth.Identity, orgID string, g Goals) (Goals, error) {
	if err := coordinatorOf(who, orgID); err != nil {
		return Goals{}, err
	}
	var errs []fault.FieldError
	if g.Participants < 0 || g.Participants > 1_000_000 {
		errs = append(errs, fault.FieldError{Field: "participants", Message: "must be from 0 to 1000000"})
	}
	if g.MilestonePeople < 0 || g.MilestonePeople > 1_000_000 {
		errs = append(errs, fault.FieldError{Field: "milestone_people", Message: "must be from 0 to 1000000"})
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"group_completion_rate", g.GroupCompletionRate}, {"confidence_improved_share", g.ConfidenceImprovedShare}, {"social_improved_share", g.SocialImprovedShare}} {
		if !(f.v >= 0 && f.v <= 1) {
			errs = append(errs, fault.FieldError{Field: f.name, Message: "must be from 0 to 1"})
		}
	}
	if len(errs) > 0 {
		return Goals{}, fault.Invalid(errs...)
	}
	g.OrgID, g.UpdatedAt = orgID, s.now()
	if err := s.st.PutGoals(ctx, &g); err != nil {
		return Goals{}, fault.Wrap(err, "store goals")
	}
	return g, nil
}

func oneOf(v string, set []string) bool {
	for _, x := range set {
		if v == x {
			return true
		}
	}
	return false
}

func randomTombstone() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "erased-" + hex.EncodeToString(b)
}

// PersonalHook is outcomes' part of export and erasure. main registers it
// AFTER matching's, so that it runs first on erasure (personal.Registry
// erases in reverse order) and still finds the person's outings.
func (s *Service) PersonalHook() personal.Hook {
	return personal.Hook{Name: "outcomes", Export: s.export, Erase: s.erase}
}

// Export is what outcomes keeps about a person.
type Export struct {
	Checkins   []Checkin   `json:"wellbeing_checkins"`
	Milestones []Milestone `json:"milestones"`
	Pulse      []Pulse     `json:"volunteer_pulse"`
}

func (s *Service) export(ctx context.Context, userID string) (any, error) {
	c, err := s.st.CheckinsOf(ctx, userID, 10_000)
	if err != nil {
		return nil, err
	}
	m, err := s.st.MilestonesOf(ctx, userID, 10_000)
	if err != nil {
		return nil, err
	}
	p, err := s.st.PulsesOf(ctx, userID, 10_000)
	if err != nil {
		return nil, err
	}
	return Export{Checkins: c, Milestones: m, Pulse: p}, nil
}

// erase keeps the person's facts for past reports under a random
// tombstone: the gender they gave and the outings they took part in are
// what the figures count by; everything that names them goes.
func (s *Service) erase(ctx context.Context, userID string) error {
	m, err := s.cfg.Members.Member(ctx, userID)
	if err != nil {
		return err
	}
	t := Tombstone{ID: randomTombstone(), OrgID: m.OrgID, Gender: "unspecified", ErasedAt: s.now(), Outings: []OutingRole{}}
	if m.Role == auth.RoleParticipant && s.cfg.People != nil {
		if g, err := s.cfg.People.ParticipantGender(ctx, userID); err != nil {
			return err
		} else if oneOf(g, Genders) {
			t.Gender = g
		}
	}
	if s.cfg.Outings != nil {
		roles, err := s.cfg.Outings.OutingRolesOf(ctx, userID)
		if err != nil {
			return err
		}
		t.Outings = append(t.Outings, roles...)
	}
	if s.cfg.Groups != nil && m.Role == auth.RoleParticipant {
		enrolments, err := s.cfg.Groups.EnrolmentIDsOf(ctx, userID)
		if err != nil {
			return err
		}
		for _, id := range enrolments {
			t.Outings = append(t.Outings, OutingRole{OutingID: id, Role: RoleEnrolment})
		}
	}
	return s.st.Erase(ctx, userID, t)
}
