// Package expenses keeps what outings cost volunteers (a bus ticket, a
// coffee) from their record to a coordinator's decision and the payout
// export (docs/api.md, "Participant care").
package expenses

import (
	"context"
	"errors"
	"time"
)

// Kind is what an expense was for.
type Kind string

// The kinds of docs/api.md.
const (
	KindBusTicket Kind = "bus_ticket"
	KindCafe      Kind = "cafe"
	KindEntrance  Kind = "entrance"
	KindOther     Kind = "other"
)

// Kinds lists every kind.
var Kinds = []Kind{KindBusTicket, KindCafe, KindEntrance, KindOther}

// Status is where an expense is.
type Status string

// The statuses.
const (
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusRejected Status = "rejected"
)

// Expense is one cost a volunteer recorded for one completed outing.
type Expense struct {
	ID          string `json:"id" bson:"_id"`
	OrgID       string `json:"-" bson:"organisation_id"`
	OutingID    string `json:"outing_id" bson:"outing_id"`
	VolunteerID string `json:"volunteer_id" bson:"volunteer_id"`
	Kind        Kind   `json:"kind" bson:"kind" enum:"bus_ticket cafe entrance other"`
	AmountOre   int64  `json:"amount_ore" bson:"amount_ore" doc:"in öre (1/100 krona)"`
	Note        string `json:"note" bson:"note" allowempty:"true"`
	Status      Status `json:"status" bson:"status" enum:"pending approved rejected"`
	Reason      string `json:"reason,omitempty" bson:"reason,omitempty" doc:"the coordinator's, once decided"`
	// OutingDate is the outing's start: the day the money was spent, which
	// the list's and the export's from/to select on.
	OutingDate time.Time  `json:"outing_date" bson:"outing_date"`
	CreatedAt  time.Time  `json:"created_at" bson:"created_at"`
	DecidedBy  string     `json:"decided_by,omitempty" bson:"decided_by,omitempty"`
	DecidedAt  *time.Time `json:"decided_at,omitempty" bson:"decided_at,omitempty"`
}

// Filter selects an organisation's expenses; From and To bound OutingDate
// ([From, To)); zero bounds are open.
type Filter struct {
	OrgID    string
	Status   Status
	From, To time.Time
}

// Cursor is a position in a list sorted by (outing date, id).
type Cursor struct {
	At time.Time
	ID string
}

// Store is the expenses' persistence; two engines implement it
// (store_sqlite.go, store_mongo.go), held to one contract
// (store_contract_test.go).
type Store interface {
	// Insert stores e if the outing's expenses that are not rejected stay
	// within capOre with it (ErrOverCap otherwise; nothing written), as
	// one decision: two records at once cannot both pass the cap.
	Insert(ctx context.Context, e Expense, capOre int64) error
	// Expense reads one (ErrNotFound).
	Expense(ctx context.Context, id string) (Expense, error)
	// Decide moves a pending expense to approved or rejected (ErrNotFound;
	// ErrDecided when it is not pending), and returns it as stored. A
	// rejected expense stops counting towards the outing's cap.
	Decide(ctx context.Context, id string, to Status, reason, by string, at time.Time) (Expense, error)
	// List returns f's expenses by outing date and id, after the cursor, at most limit.
	List(ctx context.Context, f Filter, after *Cursor, limit int) ([]Expense, error)
	// ApprovedOre sums the approved expenses of an organisation whose
	// outing date is in [from, to).
	ApprovedOre(ctx context.Context, orgID string, from, to time.Time) (int64, error)
	// OutingTotal is the sum of an outing's expenses that are not rejected.
	OutingTotal(ctx context.Context, outingID string) (int64, error)
	// ExpensesOf lists a volunteer's expenses, oldest outing first, at most
	// limit (the personal-data export).
	ExpensesOf(ctx context.Context, volunteerID string, limit int) ([]Expense, error)
	// ForgetVolunteer replaces volunteerID with tombstone and empties the
	// notes of their expenses; amounts, kinds, dates and decisions stay.
	ForgetVolunteer(ctx context.Context, volunteerID, tombstone string) error
}

// The store's errors.
var (
	ErrNotFound = errors.New("expenses store: not found")
	ErrOverCap  = errors.New("expenses store: over the outing's cap")
	ErrDecided  = errors.New("expenses store: already decided")
)
