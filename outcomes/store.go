package outcomes

import (
	"context"
	"errors"
	"time"
)

// Store is outcomes' persistence: check-ins, milestones, pulse answers,
// goals, the push schedule and the tombstones that keep past reports whole
// after an erasure. Two engines implement it (store_sqlite.go,
// store_mongo.go); store_contract_test.go holds both to the same behaviour.
type Store interface {
	InsertCheckin(ctx context.Context, c *Checkin) error
	// CheckinsOf lists a person's check-ins newest first, at most limit.
	CheckinsOf(ctx context.Context, userID string, limit int) ([]Checkin, error)
	// CheckinsOfOrg lists an organisation's check-ins made before `before`,
	// oldest first: a report needs each person's baseline, however old.
	CheckinsOfOrg(ctx context.Context, orgID string, before time.Time) ([]Checkin, error)

	InsertMilestone(ctx context.Context, m *Milestone) error
	// MilestonesOf lists a participant's milestones, latest date first.
	MilestonesOf(ctx context.Context, participantID string, limit int) ([]Milestone, error)
	// MilestonesOfOrg lists an organisation's milestones dated from..to (YYYY-MM-DD, both included).
	MilestonesOfOrg(ctx context.Context, orgID, from, to string) ([]Milestone, error)

	InsertPulse(ctx context.Context, p *Pulse) error
	// PulsesOf lists a volunteer's pulse answers, newest first, at most limit (export).
	PulsesOf(ctx context.Context, userID string, limit int) ([]Pulse, error)
	// PulsesOfOrg lists an organisation's pulse answers given in [from, to).
	PulsesOfOrg(ctx context.Context, orgID string, from, to time.Time) ([]Pulse, error)

	// Goals reads an organisation's goals (ErrNotFound when never set).
	Goals(ctx context.Context, orgID string) (*Goals, error)
	PutGoals(ctx context.Context, g *Goals) error

	// Answered records that userID answered kind at `at`: the next ask is
	// counted from it and the outstanding ask, if any, is settled.
	Answered(ctx context.Context, kind, userID, orgID string, at time.Time) error
	// DueAsks lists the schedules of kind last answered (or started) at or
	// before `before` that have no unanswered ask, at most limit.
	DueAsks(ctx context.Context, kind string, before time.Time, limit int) ([]Schedule, error)
	// MarkAsked records an ask sent at `at` (unanswered until Answered).
	MarkAsked(ctx context.Context, kind, userID string, at time.Time) error

	// Erase replaces userID by t.ID in every fact outcomes keeps, drops
	// milestone notes about them, removes their schedules and stores the
	// tombstone with the outings it stands for; in one write.
	Erase(ctx context.Context, userID string, t Tombstone) error
	// Tombstones lists an organisation's tombstones.
	Tombstones(ctx context.Context, orgID string) ([]Tombstone, error)
}

// ErrNotFound: no such record.
var ErrNotFound = errors.New("outcomes store: not found")

// Checkin is one wellbeing answer. Health data: read only by the person
// and their coordinators, reported only in aggregate.
type Checkin struct {
	ID         string    `bson:"_id" json:"id"`
	UserID     string    `bson:"user_id" json:"-"`
	OrgID      string    `bson:"organisation_id" json:"-"`
	At         time.Time `bson:"at" json:"at"`
	Confidence int       `bson:"confidence" json:"confidence"`
	Social     int       `bson:"social" json:"social"`
	Occupation int       `bson:"occupation" json:"occupation"`
}

// Milestone is a step a coordinator records for a participant.
type Milestone struct {
	ID            string    `bson:"_id" json:"id"`
	ParticipantID string    `bson:"participant_id" json:"participant_id"`
	OrgID         string    `bson:"organisation_id" json:"organisation_id"`
	Kind          string    `bson:"kind" json:"kind" enum:"work_practice job study meaningful_occupation"`
	On            string    `bson:"on" json:"on" doc:"YYYY-MM-DD"`
	Note          string    `bson:"note,omitempty" json:"note,omitempty"`
	RecordedBy    string    `bson:"recorded_by" json:"recorded_by"`
	CreatedAt     time.Time `bson:"created_at" json:"created_at"`
}

// Pulse is a volunteer's answer to the two pulse questions.
type Pulse struct {
	ID              string    `bson:"_id" json:"id"`
	UserID          string    `bson:"user_id" json:"-"`
	OrgID           string    `bson:"organisation_id" json:"-"`
	At              time.Time `bson:"at" json:"at"`
	SecureInRole    int       `bson:"secure_in_role" json:"secure_in_role"`
	InformationGood int       `bson:"information_good" json:"information_good"`
}

// Goals are an organisation's targets.
type Goals struct {
	OrgID                   string    `bson:"_id" json:"organisation_id"`
	Participants            int       `bson:"participants" json:"participants"`
	GroupCompletionRate     float64   `bson:"group_completion_rate" json:"group_completion_rate"`
	ConfidenceImprovedShare float64   `bson:"confidence_improved_share" json:"confidence_improved_share"`
	SocialImprovedShare     float64   `bson:"social_improved_share" json:"social_improved_share"`
	MilestonePeople         int       `bson:"milestone_people" json:"milestone_people"`
	UpdatedAt               time.Time `bson:"updated_at" json:"updated_at"`
}

// Schedule is when a person was last asked and last answered one kind of
// question (KindWellbeing, KindPulse).
type Schedule struct {
	Kind         string
	UserID       string
	OrgID        string
	LastAnswerAt time.Time
	AskedAt      time.Time // zero: no ask outstanding
}

// Tombstone stands for an erased person in an organisation's figures: a
// random id with no way back to the account, the gender they had given
// (reports count by gender) and the outings they took part in, by role.
type Tombstone struct {
	ID       string       `bson:"_id"`
	OrgID    string       `bson:"organisation_id"`
	Gender   string       `bson:"gender"`
	ErasedAt time.Time    `bson:"erased_at"`
	Outings  []OutingRole `bson:"outings"`
}

// OutingRole is one outing a person took part in, as participant or
// volunteer, or (RoleEnrolment) one of their group enrolments.
type OutingRole struct {
	OutingID string `bson:"outing_id"`
	Role     string `bson:"role"`
}

// Question kinds of the schedule.
const (
	KindWellbeing = "wellbeing"
	KindPulse     = "pulse"
)
