package outcomes

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

type sqliteStore struct{ d *sqlite.DB }

// NewSQLiteStore keeps outcomes in the SQLite file (migrations in outcomes/migrations).
func NewSQLiteStore(ctx context.Context, d *sqlite.DB) (Store, error) {
	if err := d.MigrateEmbedded(ctx, migrations, "outcomes_schema"); err != nil {
		return nil, err
	}
	return &sqliteStore{d: d}, nil
}

const (
	sqlInsertCheckin = `INSERT INTO wellbeing_checkins (id, user_id, organisation_id, at, confidence, social, occupation) VALUES (?, ?, ?, ?, ?, ?, ?)`
	sqlCheckinsOf    = `SELECT id, user_id, organisation_id, at, confidence, social, occupation FROM wellbeing_checkins WHERE user_id = ? ORDER BY at DESC, id DESC LIMIT ?`
	sqlCheckinsOrg   = `SELECT id, user_id, organisation_id, at, confidence, social, occupation FROM wellbeing_checkins WHERE organisation_id = ? AND at < ? ORDER BY at, id`

	sqlInsertMilestone = `INSERT INTO milestones (id, participant_id, organisation_id, kind, on_date, note, recorded_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	sqlMilestoneCols   = `SELECT id, participant_id, organisation_id, kind, on_date, note, recorded_by, created_at FROM milestones `
	sqlMilestonesOf    = sqlMilestoneCols + `WHERE participant_id = ? ORDER BY on_date DESC, id DESC LIMIT ?`
	sqlMilestonesOrg   = sqlMilestoneCols + `WHERE organisation_id = ? AND on_date >= ? AND on_date <= ? ORDER BY on_date, id`

	sqlInsertPulse = `INSERT INTO volunteer_pulse (id, user_id, organisation_id, at, secure_in_role, information_good) VALUES (?, ?, ?, ?, ?, ?)`
	sqlPulsesOrg   = `SELECT id, user_id, organisation_id, at, secure_in_role, information_good FROM volunteer_pulse WHERE organisation_id = ? AND at >= ? AND at < ? ORDER BY at, id`
	sqlPulsesOf    = `SELECT id, user_id, organisation_id, at, secure_in_role, information_good FROM volunteer_pulse WHERE user_id = ? ORDER BY at DESC, id DESC LIMIT ?`

	sqlGoals    = `SELECT doc FROM outcome_goals WHERE organisation_id = ?`
	sqlPutGoals = `INSERT INTO outcome_goals (organisation_id, doc) VALUES (?, ?) ON CONFLICT (organisation_id) DO UPDATE SET doc = excluded.doc`

	sqlAnswered = `INSERT INTO outcome_asks (kind, user_id, organisation_id, last_answer_at, asked_at) VALUES (?, ?, ?, ?, 0)
		ON CONFLICT (kind, user_id) DO UPDATE SET organisation_id = excluded.organisation_id,
		last_answer_at = max(last_answer_at, excluded.last_answer_at), asked_at = 0`
	sqlDueAsks  = `SELECT kind, user_id, organisation_id, last_answer_at, asked_at FROM outcome_asks WHERE kind = ? AND asked_at = 0 AND last_answer_at <= ? ORDER BY last_answer_at LIMIT ?`
	sqlMarkAsk  = `UPDATE outcome_asks SET asked_at = ? WHERE kind = ? AND user_id = ?`
	sqlDropAsks = `DELETE FROM outcome_asks WHERE kind IN ('wellbeing', 'pulse') AND user_id = ?`

	sqlEraseCheckins   = `UPDATE wellbeing_checkins SET user_id = ? WHERE user_id = ?`
	sqlEraseMilestones = `UPDATE milestones SET participant_id = ?, note = '' WHERE participant_id = ?`
	sqlEraseRecorder   = `UPDATE milestones SET recorded_by = 'erased' WHERE recorded_by = ?`
	sqlErasePulse      = `UPDATE volunteer_pulse SET user_id = ? WHERE user_id = ?`
	sqlInsertTombstone = `INSERT INTO outcome_tombstones (id, organisation_id, doc) VALUES (?, ?, ?)`
	sqlTombstones      = `SELECT doc FROM outcome_tombstones WHERE organisation_id = ? ORDER BY id`
)

func (s *sqliteStore) InsertCheckin(ctx context.Context, c *Checkin) error {
	_, err := s.d.ExecContext(ctx, sqlInsertCheckin, c.ID, c.UserID, c.OrgID, sqlite.Millis(c.At), c.Confidence, c.Social, c.Occupation)
	return err
}

func (s *sqliteStore) checkins(ctx context.Context, query string, args ...any) ([]Checkin, error) {
	rows, err := s.d.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Checkin{}
	for rows.Next() {
		var c Checkin
		var at int64
		if err := rows.Scan(&c.ID, &c.UserID, &c.OrgID, &at, &c.Confidence, &c.Social, &c.Occupation); err != nil {
			return nil, err
		}
		c.At = sqlite.Time(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *sqliteStore) CheckinsOf(ctx context.Context, userID string, limit int) ([]Checkin, error) {
	return s.checkins(ctx, sqlCheckinsOf, userID, limit)
}

func (s *sqliteStore) CheckinsOfOrg(ctx context.Context, orgID string, before time.Time) ([]Checkin, error) {
	return s.checkins(ctx, sqlCheckinsOrg, orgID, sqlite.Millis(before))
}

func (s *sqliteStore) InsertMilestone(ctx context.Context, m *Milestone) error {
	_, err := s.d.ExecContext(ctx, sqlInsertMilestone, m.ID, m.ParticipantID, m.OrgID, m.Kind, m.On, m.Note, m.RecordedBy, sqlite.Millis(m.CreatedAt))
	return err
}

func (s *sqliteStore) milestones(ctx context.Context, query string, args ...any) ([]Milestone, error) {
	rows, err := s.d.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Milestone{}
	for rows.Next() {
		var m Milestone
		var at int64
		if err := rows.Scan(&m.ID, &m.ParticipantID, &m.OrgID, &m.Kind, &m.On, &m.Note, &m.RecordedBy, &at); err != nil {
			return nil, err
		}
		m.CreatedAt = sqlite.Time(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *sqliteStore) MilestonesOf(ctx context.Context, participantID string, limit int) ([]Milestone, error) {
	return s.milestones(ctx, sqlMilestonesOf, participantID, limit)
}

func (s *sqliteStore) MilestonesOfOrg(ctx context.Context, orgID, from, to string) ([]Milestone, error) {
	return s.milestones(ctx, sqlMilestonesOrg, orgID, from, to)
}

func (s *sqliteStore) InsertPulse(ctx context.Context, p *Pulse) error {
	_, err := s.d.ExecContext(ctx, sqlInsertPulse, p.ID, p.UserID, p.OrgID, sqlite.Millis(p.At), p.SecureInRole, p.InformationGood)
	return err
}

func (s *sqliteStore) PulsesOfOrg(ctx context.Context, orgID string, from, to time.Time) ([]Pulse, error) {
	return s.pulses(ctx, sqlPulsesOrg, orgID, sqlite.Millis(from), sqlite.Millis(to))
}

func (s *sqliteStore) PulsesOf(ctx context.Context, userID string, limit int) ([]Pulse, error) {
	return s.pulses(ctx, sqlPulsesOf, userID, limit)
}

func (s *sqliteStore) pulses(ctx context.Context, query string, args ...any) ([]Pulse, error) {
	rows, err := s.d.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Pulse{}
	for rows.Next() {
		var p Pulse
		var at int64
		if err := rows.Scan(&p.ID, &p.UserID, &p.OrgID, &at, &p.SecureInRole, &p.InformationGood); err != nil {
			return nil, err
		}
		p.At = sqlite.Time(at)
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *sqliteStore) Goals(ctx context.Context, orgID string) (*Goals, error) {
	var doc string
	err := s.d.QueryRowContext(ctx, sqlGoals, orgID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var g Goals
	if err := json.Unmarshal([]byte(doc), &g); err != nil {
		return nil, err
	}
	g.OrgID = orgID
	return &g, nil
}

func (s *sqliteStore) PutGoals(ctx context.Context, g *Goals) error {
	doc, err := json.Marshal(g)
	if err != nil {
		return err
	}
	_, err = s.d.ExecContext(ctx, sqlPutGoals, g.OrgID, string(doc))
	return err
}

func (s *sqliteStore) Answered(ctx context.Context, kind, userID, orgID string, at time.Time) error {
	_, err := s.d.ExecContext(ctx, sqlAnswered, kind, userID, orgID, sqlite.Millis(at))
	return err
}

func (s *sqliteStore) DueAsks(ctx context.Context, kind string, before time.Time, limit int) ([]Schedule, error) {
	rows, err := s.d.QueryContext(ctx, sqlDueAsks, kind, sqlite.Millis(before), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Schedule{}
	for rows.Next() {
		var sc Schedule
		var last, asked int64
		if err := rows.Scan(&sc.Kind, &sc.UserID, &sc.OrgID, &last, &asked); err != nil {
			return nil, err
		}
		sc.LastAnswerAt = sqlite.Time(last)
		out = append(out, sc)
	}
	return out, rows.Err()
}

func (s *sqliteStore) MarkAsked(ctx context.Context, kind, userID string, at time.Time) error {
	_, err := s.d.ExecContext(ctx, sqlMarkAsk, sqlite.Millis(at), kind, userID)
	return err
}

func (s *sqliteStore) Erase(ctx context.Context, userID string, t Tombstone) error {
	doc, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{sqlEraseCheckins, sqlEraseMilestones, sqlErasePulse} {
			if _, err := tx.ExecContext(ctx, q, t.ID, userID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, sqlEraseRecorder, userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlDropAsks, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, sqlInsertTombstone, t.ID, t.OrgID, string(doc))
		return err
	})
}

func (s *sqliteStore) Tombstones(ctx context.Context, orgID string) ([]Tombstone, error) {
	rows, err := s.d.QueryContext(ctx, sqlTombstones, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Tombstone{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var t Tombstone
		if err := json.Unmarshal([]byte(doc), &t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
