package expenses

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"math"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

//go:embed migrations/*.sql
var sqliteMigrations embed.FS

type sqliteStore struct{ d *sqlite.DB }

// NewSQLiteStore applies the expenses' migrations to d.
func NewSQLiteStore(ctx context.Context, d *sqlite.DB) (Store, error) {
	if err := d.MigrateEmbedded(ctx, sqliteMigrations, "expenses_schema"); err != nil {
		return nil, err
	}
	return &sqliteStore{d: d}, nil
}

const (
	sqlColumns     = `id, organisation_id, outing_id, volunteer_id, kind, amount_ore, note, status, reason, outing_date, created_at, decided_by, decided_at`
	sqlOutingTotal = `SELECT COALESCE(SUM(amount_ore), 0) FROM expenses WHERE outing_id = ? AND status != 'rejected'`
	sqlList        = `SELECT ` + sqlColumns + ` FROM expenses WHERE organisation_id = ?1 AND (?2 = '' OR status = ?2)
		AND outing_date >= ?3 AND outing_date < ?4 AND (outing_date, id) > (?5, ?6) ORDER BY outing_date, id LIMIT ?7`
	sqlOfVolunteer = `SELECT ` + sqlColumns + ` FROM expenses WHERE volunteer_id = ? ORDER BY outing_date, id LIMIT ?`
	sqlForget      = `UPDATE expenses SET volunteer_id = ?, note = '' WHERE volunteer_id = ?`
	sqlApproved    = `SELECT COALESCE(SUM(amount_ore), 0) FROM expenses WHERE organisation_id = ? AND status = 'approved'
		AND outing_date >= ? AND outing_date < ?`
)

type scanner interface{ Scan(dest ...any) error }

func scanExpense(r scanner) (Expense, error) {
	var e Expense
	var date, created, decided int64
	err := r.Scan(&e.ID, &e.OrgID, &e.OutingID, &e.VolunteerID, &e.Kind, &e.AmountOre, &e.Note, &e.Status, &e.Reason,
		&date, &created, &e.DecidedBy, &decided)
	e.OutingDate, e.CreatedAt = sqlite.Time(date), sqlite.Time(created)
	if decided != 0 {
		at := sqlite.Time(decided)
		e.DecidedAt = &at
	}
	return e, err
}

func (s *sqliteStore) Insert(ctx context.Context, e Expense, capOre int64) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		var total int64
		if err := tx.QueryRowContext(ctx, sqlOutingTotal, e.OutingID).Scan(&total); err != nil {
			return err
		}
		if total+e.AmountOre > capOre {
			return ErrOverCap
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO expenses (`+sqlColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			e.ID, e.OrgID, e.OutingID, e.VolunteerID, string(e.Kind), e.AmountOre, e.Note, string(e.Status), e.Reason,
			sqlite.Millis(e.OutingDate), sqlite.Millis(e.CreatedAt), e.DecidedBy, millisOf(e.DecidedAt))
		return err
	})
}

func (s *sqliteStore) Expense(ctx context.Context, id string) (Expense, error) {
	e, err := scanExpense(s.d.QueryRowContext(ctx, `SELECT `+sqlColumns+` FROM expenses WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Expense{}, ErrNotFound
	}
	return e, err
}

func (s *sqliteStore) Decide(ctx context.Context, id string, to Status, reason, by string, at time.Time) (Expense, error) {
	var out Expense
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		e, err := scanExpense(tx.QueryRowContext(ctx, `SELECT `+sqlColumns+` FROM expenses WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if e.Status != StatusPending {
			return ErrDecided
		}
		if _, err := tx.ExecContext(ctx, `UPDATE expenses SET status = ?, reason = ?, decided_by = ?, decided_at = ? WHERE id = ?`,
			string(to), reason, by, sqlite.Millis(at), id); err != nil {
			return err
		}
		e.Status, e.Reason, e.DecidedBy, e.DecidedAt = to, reason, by, &at
		out = e
		return nil
	})
	return out, err
}

func (s *sqliteStore) List(ctx context.Context, f Filter, after *Cursor, limit int) ([]Expense, error) {
	from, to := bounds(f.From, f.To)
	at, id := int64(math.MinInt64), ""
	if after != nil {
		at, id = sqlite.Millis(after.At), after.ID
	}
	rows, err := s.d.QueryContext(ctx, sqlList, f.OrgID, string(f.Status), from, to, at, id, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Expense{}
	for rows.Next() {
		e, err := scanExpense(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// bounds turns open bounds into the widest stored ones.
func bounds(from, to time.Time) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = sqlite.Millis(from)
	}
	if !to.IsZero() {
		hi = sqlite.Millis(to)
	}
	return lo, hi
}

func (s *sqliteStore) ApprovedOre(ctx context.Context, orgID string, from, to time.Time) (int64, error) {
	lo, hi := bounds(from, to)
	var sum int64
	err := s.d.QueryRowContext(ctx, sqlApproved, orgID, lo, hi).Scan(&sum)
	return sum, err
}

func (s *sqliteStore) OutingTotal(ctx context.Context, outingID string) (int64, error) {
	var sum int64
	err := s.d.QueryRowContext(ctx, sqlOutingTotal, outingID).Scan(&sum)
	return sum, err
}

func millisOf(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return sqlite.Millis(*t)
}

func (s *sqliteStore) ExpensesOf(ctx context.Context, volunteerID string, limit int) ([]Expense, error) {
	rows, err := s.d.QueryContext(ctx, sqlOfVolunteer, volunteerID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Expense{}
	for rows.Next() {
		e, err := scanExpense(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *sqliteStore) ForgetVolunteer(ctx context.Context, volunteerID, tombstone string) error {
	_, err := s.d.ExecContext(ctx, sqlForget, tombstone, volunteerID)
	return err
}
