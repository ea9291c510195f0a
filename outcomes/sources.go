package outcomes

import (
	"context"
	"time"
)

// The report reads other packages' facts through these interfaces, which
// main implements with adapters: outcomes never touches their tables.

// ErasedID is how the outings' owner marks an erased person (matching's
// ErasedActor); outcomes' tombstones say which erased person it was.
const ErasedID = "erased"

// OutingFact is one outing as the report counts it.
type OutingFact struct {
	ID            string
	ParticipantID string // ErasedID after an erasure
	VolunteerID   string // "" when none was ever confirmed; ErasedID after an erasure
	Status        string // open, pending_approval, confirmed, in_progress, completed, cancelled, expired
	CreatedAt     time.Time
	StartsAt      time.Time
	EndsAt        time.Time
	// MatchedAt is when the outing was first confirmed (zero: never).
	MatchedAt time.Time
	// Postponed: a postponement was asked at least once, whatever the
	// companion answered.
	Postponed bool
	// ComfortBefore and ComfortAfter are the participant's own 1–5 answers
	// in their feedback (0: not given).
	ComfortBefore, ComfortAfter int
}

// Outings reads matching's outings.
type Outings interface {
	// OutingFacts lists an organisation's outings requested in [from, to).
	OutingFacts(ctx context.Context, orgID string, from, to time.Time) ([]OutingFact, error)
	// OutingRolesOf lists the outings a person took part in as participant
	// or volunteer (erasure: before their id is stripped from them).
	OutingRolesOf(ctx context.Context, userID string) ([]OutingRole, error)
}

// Roles in OutingRole.
const (
	RoleParticipant = "participant"
	RoleVolunteer   = "volunteer"
	// RoleEnrolment marks a group enrolment id in a tombstone's list.
	RoleEnrolment = "enrolment"
)

// People reads a participant's stated gender from their profile ("" when
// they have no profile).
type People interface {
	ParticipantGender(ctx context.Context, userID string) (string, error)
}

// GroupEnrolment is one participant's enrolment in a group that ran in the
// period (the groups package decides which; see docs/outcomes.md).
type GroupEnrolment struct {
	// EnrolmentID identifies the enrolment; an erased participant's
	// enrolments keep it (their ParticipantID becomes ErasedID).
	EnrolmentID   string
	ParticipantID string
	// Completed: the participant completed the group.
	Completed bool
}

// Groups reads the groups package's enrolments (optional).
type Groups interface {
	GroupFigures(ctx context.Context, orgID string, from, to time.Time) ([]GroupEnrolment, error)
	// EnrolmentIDsOf lists a participant's enrolment ids (erasure: outcomes
	// runs before groups strips the id and keeps which were theirs).
	EnrolmentIDsOf(ctx context.Context, participantID string) ([]string, error)
}

// Expenses reads the sum of the expenses approved in [from, to), in öre (optional).
type Expenses interface {
	ApprovedExpensesOre(ctx context.Context, orgID string, from, to time.Time) (int64, error)
}
