package expenses

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/internal/personal"
)

// Limits.
const (
	// DefaultMaxPerOuting is CLAVIS_EXPENSE_MAX's default: 300 kr.
	DefaultMaxPerOuting int64 = 30000
	// RecordWithin is how long after an outing's completion its expenses
	// may be recorded.
	RecordWithin  = 30 * 24 * time.Hour
	MaxNoteLength = 500
	// MaxExport bounds one CSV export; a longer period is exported in parts.
	MaxExport = 10000
)

// Outing is what the expenses need to know of an outing.
type Outing struct {
	ID, OrgID, VolunteerID string
	Completed              bool
	CompletedAt, StartsAt  time.Time
}

// Outings finds the outing an expense is for, as who may see it: NotFound
// when who may not know it, Forbidden when who is not its companion.
type Outings interface {
	CompanionOuting(ctx context.Context, who auth.Identity, outingID string) (Outing, error)
}

// Notifier tells a volunteer their expense was decided.
type Notifier interface {
	ExpenseDecided(ctx context.Context, e Expense) error
}

// Config is what the service needs besides its store.
type Config struct {
	Clock   clock.Clock
	Outings Outings
	// Notifier may be nil (nobody is told).
	Notifier Notifier
	// MaxPerOuting is CLAVIS_EXPENSE_MAX in öre (default 30000).
	MaxPerOuting int64
	// Name gives a volunteer's name for the payout export (may be nil).
	Name func(ctx context.Context, userID string) string
}

// Service records, decides, lists and exports expenses.
type Service struct {
	st  Store
	cfg Config
}

// New returns the service over st.
func New(st Store, cfg Config) (*Service, error) {
	if st == nil || cfg.Outings == nil {
		return nil, errors.New("expenses: a store and the outings are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.MaxPerOuting <= 0 {
		cfg.MaxPerOuting = DefaultMaxPerOuting
	}
	return &Service{st: st, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC().Truncate(time.Millisecond) }

// Input is the body of POST /v1/outings/{id}/expenses.
type Input struct {
	Kind      Kind
	AmountOre int64
	Note      string
}

// Record stores who's expense for a completed outing they were the
// companion of, within 30 days of its completion and the outing's cap.
func (s *Service) Record(ctx context.Context, who auth.Identity, outingID string, in Input) (Expense, error) {
	if who.Role != auth.RoleVolunteer {
		return Expense{}, fault.Forbiddenf("only the outing's volunteer records its expenses")
	}
	var errs []fault.FieldError
	if !slices.Contains(Kinds, in.Kind) {
		errs = append(errs, fault.FieldError{Field: "kind", Message: "must be one of: bus_ticket, cafe, entrance, other"})
	}
	if in.AmountOre <= 0 {
		errs = append(errs, fault.FieldError{Field: "amount_ore", Message: "must be more than 0"})
	} else if in.AmountOre > s.cfg.MaxPerOuting {
		errs = append(errs, fault.FieldError{Field: "amount_ore", Message: fmt.Sprintf("must be at most %d (the cap per outing)", s.cfg.MaxPerOuting)})
	}
	in.Note = strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(in.Note) > MaxNoteLength {
		errs = append(errs, fault.FieldError{Field: "note", Message: "must be at most 500 characters"})
	}
	if len(errs) > 0 {
		return Expense{}, fault.Invalid(errs...)
	}
	o, err := s.cfg.Outings.CompanionOuting(ctx, who, outingID)
	if err != nil {
		return Expense{}, err
	}
	now := s.now()
	if !o.Completed {
		return Expense{}, fault.StateConflictf("expenses are recorded for completed outings")
	}
	if now.Sub(o.CompletedAt) > RecordWithin {
		return Expense{}, fault.StateConflictf("expenses are recorded within 30 days of the outing; this one was completed on %s", o.CompletedAt.Format("2006-01-02"))
	}
	e := Expense{ID: ids.New(), OrgID: o.OrgID, OutingID: o.ID, VolunteerID: who.UserID, Kind: in.Kind, AmountOre: in.AmountOre,
		Note: in.Note, Status: StatusPending, OutingDate: o.StartsAt.UTC().Truncate(time.Millisecond), CreatedAt: now}
	switch err := s.st.Insert(ctx, e, s.cfg.MaxPerOuting); {
	case errors.Is(err, ErrOverCap):
		total, _ := s.st.OutingTotal(ctx, o.ID)
		return Expense{}, fault.InvalidField("amount_ore", fmt.Sprintf("would bring the outing's expenses over the cap of %d öre (%d already recorded)", s.cfg.MaxPerOuting, total))
	case err != nil:
		return Expense{}, fault.Wrap(err, "store expense")
	}
	return e, nil
}

// Decide approves or rejects a pending expense (coordinators of its
// organisation); the volunteer is told. A rejection needs a reason.
func (s *Service) Decide(ctx context.Context, who auth.Identity, id string, approve bool, reason string) (Expense, error) {
	if who.Role != auth.RoleCoordinator {
		return Expense{}, fault.Forbiddenf("only coordinators decide expenses")
	}
	reason = strings.TrimSpace(reason)
	if !approve && reason == "" {
		return Expense{}, fault.InvalidField("reason", "is required")
	}
	if utf8.RuneCountInString(reason) > MaxNoteLength {
		return Expense{}, fault.InvalidField("reason", "must be at most 500 characters")
	}
	e, err := s.st.Expense(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && e.OrgID != who.OrgID) {
		return Expense{}, fault.NotFoundf("no such expense")
	}
	if err != nil {
		return Expense{}, fault.Wrap(err, "read expense")
	}
	to := StatusApproved
	if !approve {
		to = StatusRejected
	}
	e, err = s.st.Decide(ctx, id, to, reason, who.UserID, s.now())
	switch {
	case errors.Is(err, ErrDecided):
		return Expense{}, fault.StateConflictf("the expense is already decided")
	case errors.Is(err, ErrNotFound):
		return Expense{}, fault.NotFoundf("no such expense")
	case err != nil:
		return Expense{}, fault.Wrap(err, "decide expense")
	}
	if s.cfg.Notifier != nil {
		if err := s.cfg.Notifier.ExpenseDecided(ctx, e); err != nil {
			return Expense{}, fault.Wrap(err, "tell the volunteer")
		}
	}
	return e, nil
}

// Query is a list's filter as the API takes it.
type Query struct {
	Status   string
	From, To string // dates, YYYY-MM-DD, in UTC; To is inclusive
	Limit    int
	Cursor   string
}

// Page is one page of a list.
type Page struct {
	Items      []Expense `json:"items"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

func (s *Service) filter(who auth.Identity, orgID string, q Query) (Filter, error) {
	if who.Role != auth.RoleCoordinator {
		return Filter{}, fault.Forbiddenf("only coordinators list expenses")
	}
	if who.OrgID != orgID {
		return Filter{}, fault.NotFoundf("no such organisation")
	}
	f := Filter{OrgID: orgID, Status: Status(q.Status)}
	var errs []fault.FieldError
	if q.Status != "" && !slices.Contains([]Status{StatusPending, StatusApproved, StatusRejected}, f.Status) {
		errs = append(errs, fault.FieldError{Field: "status", Message: "must be one of: pending, approved, rejected"})
	}
	day := func(field, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			errs = append(errs, fault.FieldError{Field: field, Message: "must be a date, YYYY-MM-DD"})
		}
		return t
	}
	f.From, f.To = day("from", q.From), day("to", q.To)
	if !f.To.IsZero() {
		f.To = f.To.AddDate(0, 0, 1)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs = append(errs, fault.FieldError{Field: "to", Message: "must not be before from"})
	}
	if len(errs) > 0 {
		return Filter{}, fault.Invalid(errs...)
	}
	return f, nil
}

// List is a page of an organisation's expenses by outing date (coordinators).
func (s *Service) List(ctx context.Context, who auth.Identity, orgID string, q Query) (Page, error) {
	f, err := s.filter(who, orgID, q)
	if err != nil {
		return Page{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 100 {
		return Page{}, fault.InvalidField("limit", "must be from 1 to 100")
	}
	var after *Cursor
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		after = &c
	}
	rows, err := s.st.List(ctx, f, after, limit+1)
	if err != nil {
		return Page{}, fault.Wrap(err, "list expenses")
	}
	p := Page{Items: rows}
	if len(rows) > limit {
		p.Items = rows[:limit]
		last := p.Items[limit-1]
		p.NextCursor = encodeCursor(Cursor{At: last.OutingDate, ID: last.ID})
	}
	return p, nil
}

// CSVHeader is the payout export's first line.
var CSVHeader = []string{"expense_id", "outing_id", "outing_date", "volunteer_id", "volunteer_name", "kind", "amount_ore", "amount_kr", "note", "status", "decided_at"}

// ExportCSV writes the organisation's expenses for q (the approved ones
// unless q names a status) as CSV for payout, at most MaxExport rows (a
// Conflict beyond: export a shorter period).
func (s *Service) ExportCSV(ctx context.Context, who auth.Identity, orgID string, q Query, w io.Writer) error {
	if q.Status == "" {
		q.Status = string(StatusApproved)
	}
	f, err := s.filter(who, orgID, q)
	if err != nil {
		return err
	}
	rows, err := s.st.List(ctx, f, nil, MaxExport+1)
	if err != nil {
		return fault.Wrap(err, "list expenses")
	}
	if len(rows) > MaxExport {
		return fault.New(fault.Conflict, "more than %d expenses in this period: export a shorter one", MaxExport)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, e := range rows {
		name := ""
		if s.cfg.Name != nil {
			name = s.cfg.Name(ctx, e.VolunteerID)
		}
		decided := ""
		if e.DecidedAt != nil {
			decided = e.DecidedAt.Format(time.RFC3339)
		}
		if err := cw.Write([]string{e.ID, e.OutingID, e.OutingDate.Format(time.DateOnly), e.VolunteerID, cell(name), string(e.Kind),
			strconv.FormatInt(e.AmountOre, 10), fmt.Sprintf("%d.%02d", e.AmountOre/100, e.AmountOre%100), cell(e.Note), string(e.Status), decided}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell keeps a spreadsheet from reading free text as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ApprovedOre is the sum of an organisation's approved expenses whose
// outing took place in [from, to), for the outcome report.
func (s *Service) ApprovedOre(ctx context.Context, orgID string, from, to time.Time) (int64, error) {
	n, err := s.st.ApprovedOre(ctx, orgID, from, to)
	return n, fault.Wrap(err, "sum approved expenses")
}

func encodeCursor(c Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMilli(), 10) + "." + c.ID))
}

func decodeCursor(s string) (Cursor, error) {
	bad := fault.InvalidField("cursor", "is not a cursor this list gave out")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	ms, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, bad
	}
	return Cursor{At: time.UnixMilli(n).UTC(), ID: id}, nil
}

// exportLimit bounds one volunteer's expenses in their data export.
const exportLimit = 5000

// PersonalHook exports a volunteer's expenses and, on erasure, keeps them
// as payout records (amounts, kinds, dates and decisions are accounting
// vouchers an organisation must keep) while the volunteer's id gives way
// to an anonymous tombstone and their notes go.
func (s *Service) PersonalHook() personal.Hook {
	return personal.Hook{
		Name: "expenses",
		Export: func(ctx context.Context, userID string) (any, error) {
			list, err := s.st.ExpensesOf(ctx, userID, exportLimit)
			if err != nil {
				return nil, fault.Wrap(err, "export expenses")
			}
			return map[string]any{"expenses": list}, nil
		},
		Erase: func(ctx context.Context, userID string) error {
			return fault.Wrap(s.st.ForgetVolunteer(ctx, userID, "erased-"+ids.New()), "erase expenses")
		},
	}
}
