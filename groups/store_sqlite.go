package groups

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

// sqliteStore is the Store on the embedded SQLite file. Enrolment and
// leaving are one write transaction each (BEGIN IMMEDIATE): no two run at
// once, in this process or another, so a group is never overfilled and the
// waiting list keeps its order.
type sqliteStore struct {
	d *sqlite.DB
}

// NewSQLiteStore applies the groups migrations to d and returns its Store.
func NewSQLiteStore(ctx context.Context, d *sqlite.DB) (Store, error) {
	if err := d.MigrateEmbedded(ctx, migrations, "groups_schema"); err != nil {
		return nil, err
	}
	return &sqliteStore{d: d}, nil
}

// The hot queries, named so that TestSQLiteHotQueriesUseIndexes plans them.
const (
	sqlGroupCounts = `SELECT
		(SELECT count(*) FROM group_enrolments WHERE group_id = ?1 AND status = 'enrolled'),
		(SELECT count(*) FROM group_enrolments WHERE group_id = ?1 AND status = 'waiting')`
	sqlOrgGroups        = `SELECT doc, starts_at, ends_at, decided FROM group_defs WHERE organisation_id = ? AND id > ? ORDER BY id LIMIT ?`
	sqlSessions         = `SELECT id, group_id, organisation_id, starts_at, ends_at, status, reason FROM group_sessions WHERE group_id = ? ORDER BY starts_at, id`
	sqlWaitingAhead     = `SELECT count(*) FROM group_enrolments WHERE group_id = ? AND status = 'waiting' AND seq < ?`
	sqlEnrolmentsOf     = `SELECT id, group_id, participant_id, status, seq, at FROM group_enrolments WHERE participant_id = ? AND group_id > ? AND status <> 'left' ORDER BY group_id LIMIT ?`
	sqlGroupEnrolment   = `SELECT id, group_id, participant_id, status, seq, at FROM group_enrolments WHERE group_id = ? AND participant_id = ? ORDER BY seq DESC LIMIT 1`
	sqlMarks            = `SELECT session_id, group_id, participant_id, mark FROM group_marks WHERE group_id = ?`
	sqlEscortByOuting   = `SELECT session_id, group_id, participant_id, outing_id FROM group_escorts WHERE outing_id = ? LIMIT 1`
	sqlEscortsOf        = `SELECT session_id, group_id, participant_id, outing_id FROM group_escorts WHERE participant_id = ? AND group_id = ?`
	sqlPeriodEnrolments = `SELECT e.id, e.group_id, e.participant_id, e.status, e.seq, e.at FROM group_defs g
		JOIN group_enrolments e ON e.group_id = g.id
		WHERE g.organisation_id = ? AND g.starts_at < ? AND g.ends_at > ? AND e.status IN ('enrolled', 'completed', 'not_completed')
		ORDER BY g.id, e.seq LIMIT ?`
	sqlEnrolmentIDsOf = `SELECT id FROM group_enrolments WHERE participant_id = ? ORDER BY id LIMIT ?`
)

func sqlErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case sqlite.IsUnique(err):
		return ErrDuplicate
	}
	return err
}

func (s *sqliteStore) CreateGroup(ctx context.Context, g *Group, sessions []Session) error {
	doc, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return sqlErr(s.d.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO group_defs (id, organisation_id, starts_at, ends_at, decided, doc) VALUES (?, ?, ?, ?, 0, ?)`,
			g.ID, g.OrgID, sqlite.Millis(g.StartsAt), sqlite.Millis(g.EndsAt), string(doc)); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO group_sessions (id, group_id, organisation_id, starts_at, ends_at, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, ss := range sessions {
			if _, err := stmt.ExecContext(ctx, ss.ID, ss.GroupID, ss.OrgID, sqlite.Millis(ss.StartsAt), sqlite.Millis(ss.EndsAt), ss.Status, ss.Reason); err != nil {
				return err
			}
		}
		return nil
	}))
}

// Go field names are the JSON keys of the stored doc; counts are not stored.
func decodeGroup(raw []byte, startsAt, endsAt int64, decided bool) (*Group, error) {
	var g Group
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	g.StartsAt, g.EndsAt, g.Decided = sqlite.Time(startsAt), sqlite.Time(endsAt), decided
	g.EnrolledCount, g.WaitingCount = 0, 0
	return &g, nil
}

func (s *sqliteStore) counts(ctx context.Context, g *Group) error {
	return s.d.QueryRowContext(ctx, sqlGroupCounts, g.ID).Scan(&g.EnrolledCount, &g.WaitingCount)
}

func (s *sqliteStore) Group(ctx context.Context, id string) (*Group, error) {
	var raw []byte
	var from, to int64
	var decided bool
	err := s.d.QueryRowContext(ctx, `SELECT doc, starts_at, ends_at, decided FROM group_defs WHERE id = ?`, id).Scan(&raw, &from, &to, &decided)
	if err != nil {
		return nil, sqlErr(err)
	}
	g, err := decodeGroup(raw, from, to, decided)
	if err != nil {
		return nil, err
	}
	return g, s.counts(ctx, g)
}

func (s *sqliteStore) groupRows(ctx context.Context, query string, args ...any) ([]Group, error) {
	rows, err := s.d.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var raw []byte
		var from, to int64
		var decided bool
		if err := rows.Scan(&raw, &from, &to, &decided); err != nil {
			return nil, err
		}
		g, err := decodeGroup(raw, from, to, decided)
		if err != nil {
			return nil, err
		}
		out = append(out, *g)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := s.counts(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *sqliteStore) OrgGroups(ctx context.Context, orgID, after string, limit int) ([]Group, error) {
	return s.groupRows(ctx, sqlOrgGroups, orgID, after, limit)
}

func (s *sqliteStore) GroupsByID(ctx context.Context, ids []string) ([]Group, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, _ := json.Marshal(ids)
	return s.groupRows(ctx, `SELECT doc, starts_at, ends_at, decided FROM group_defs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`, string(list))
}

func (s *sqliteStore) Decide(ctx context.Context, groupID string, results map[string]string) (bool, error) {
	done := false
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE group_defs SET decided = 1 WHERE id = ? AND decided = 0`, groupID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		done = true
		for pid, status := range results {
			if _, err := tx.ExecContext(ctx, `UPDATE group_enrolments SET status = ? WHERE group_id = ? AND participant_id = ? AND status = 'enrolled'`,
				status, groupID, pid); err != nil {
				return err
			}
		}
		return nil
	})
	return done, sqlErr(err)
}

func scanSessions(rows *sql.Rows) ([]Session, error) {
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var ss Session
		var from, to int64
		if err := rows.Scan(&ss.ID, &ss.GroupID, &ss.OrgID, &from, &to, &ss.Status, &ss.Reason); err != nil {
			return nil, err
		}
		ss.StartsAt, ss.EndsAt = sqlite.Time(from), sqlite.Time(to)
		out = append(out, ss)
	}
	return out, rows.Err()
}

func (s *sqliteStore) Sessions(ctx context.Context, groupID string) ([]Session, error) {
	rows, err := s.d.QueryContext(ctx, sqlSessions, groupID)
	if err != nil {
		return nil, err
	}
	return scanSessions(rows)
}

func (s *sqliteStore) Session(ctx context.Context, id string) (*Session, error) {
	rows, err := s.d.QueryContext(ctx, `SELECT id, group_id, organisation_id, starts_at, ends_at, status, reason FROM group_sessions WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	list, err := scanSessions(rows)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotFound
	}
	return &list[0], nil
}

func (s *sqliteStore) UpdateSession(ctx context.Context, ss Session, groupStarts, groupEnds time.Time) error {
	return sqlErr(s.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE group_sessions SET starts_at = ?, ends_at = ?, status = ?, reason = ? WHERE id = ?`,
			sqlite.Millis(ss.StartsAt), sqlite.Millis(ss.EndsAt), ss.Status, ss.Reason, ss.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE group_defs SET starts_at = ?, ends_at = ? WHERE id = ?`,
			sqlite.Millis(groupStarts), sqlite.Millis(groupEnds), ss.GroupID)
		return err
	}))
}

func (s *sqliteStore) Enrol(ctx context.Context, e Enrolment, capacity int) (Enrolment, error) {
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		var enrolled, waiting int
		if err := tx.QueryRowContext(ctx, sqlGroupCounts, e.GroupID).Scan(&enrolled, &waiting); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `UPDATE group_defs SET seq = seq + 1 WHERE id = ? RETURNING seq`, e.GroupID).Scan(&e.Seq); err != nil {
			return err
		}
		e.Status, e.Position = Enrolled, 0
		if enrolled >= capacity || waiting > 0 {
			e.Status, e.Position = Waiting, waiting+1
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO group_enrolments (id, group_id, participant_id, status, seq, at) VALUES (?, ?, ?, ?, ?, ?)`,
			e.ID, e.GroupID, e.ParticipantID, e.Status, e.Seq, sqlite.Millis(e.At))
		return err
	})
	return e, sqlErr(err)
}

func scanEnrolment(row interface{ Scan(...any) error }) (Enrolment, error) {
	var e Enrolment
	var at int64
	err := row.Scan(&e.ID, &e.GroupID, &e.ParticipantID, &e.Status, &e.Seq, &at)
	e.At = sqlite.Time(at)
	return e, err
}

func (s *sqliteStore) Leave(ctx context.Context, groupID, participantID string, at time.Time) (Enrolment, *Enrolment, error) {
	var left Enrolment
	var promoted *Enrolment
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		var err error
		left, err = scanEnrolment(tx.QueryRowContext(ctx, `SELECT id, group_id, participant_id, status, seq, at FROM group_enrolments
			WHERE group_id = ? AND participant_id = ? AND status IN ('enrolled', 'waiting')`, groupID, participantID))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE group_enrolments SET status = 'left' WHERE id = ?`, left.ID); err != nil {
			return err
		}
		was := left.Status
		left.Status = Left
		if was != Enrolled {
			return nil
		}
		next, err := scanEnrolment(tx.QueryRowContext(ctx, `SELECT id, group_id, participant_id, status, seq, at FROM group_enrolments
			WHERE group_id = ? AND status = 'waiting' ORDER BY seq LIMIT 1`, groupID))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE group_enrolments SET status = 'enrolled', at = ? WHERE id = ?`, sqlite.Millis(at), next.ID); err != nil {
			return err
		}
		next.Status, next.At = Enrolled, at.UTC()
		promoted = &next
		return nil
	})
	if err != nil {
		return Enrolment{}, nil, sqlErr(err)
	}
	return left, promoted, nil
}

func (s *sqliteStore) position(ctx context.Context, e *Enrolment) error {
	if e.Status != Waiting {
		return nil
	}
	if err := s.d.QueryRowContext(ctx, sqlWaitingAhead, e.GroupID, e.Seq).Scan(&e.Position); err != nil {
		return err
	}
	e.Position++
	return nil
}

func (s *sqliteStore) Enrolment(ctx context.Context, groupID, participantID string) (*Enrolment, error) {
	e, err := scanEnrolment(s.d.QueryRowContext(ctx, sqlGroupEnrolment, groupID, participantID))
	if err != nil {
		return nil, sqlErr(err)
	}
	return &e, s.position(ctx, &e)
}

func (s *sqliteStore) enrolmentRows(ctx context.Context, query string, args ...any) ([]Enrolment, error) {
	rows, err := s.d.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []Enrolment
	for rows.Next() {
		e, err := scanEnrolment(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Positions on one group's page count up from the first waiting one's.
	pos := map[string]int{}
	for i := range out {
		e := &out[i]
		if e.Status != Waiting {
			continue
		}
		if p, ok := pos[e.GroupID]; ok {
			e.Position = p + 1
		} else if err := s.position(ctx, e); err != nil {
			return nil, err
		}
		pos[e.GroupID] = e.Position
	}
	return out, nil
}

func (s *sqliteStore) Enrolments(ctx context.Context, groupID string, afterSeq int64, limit int) ([]Enrolment, error) {
	return s.enrolmentRows(ctx, `SELECT id, group_id, participant_id, status, seq, at FROM group_enrolments
		WHERE group_id = ? AND seq > ? ORDER BY seq LIMIT ?`, groupID, afterSeq, limit)
}

func (s *sqliteStore) EnrolmentsOf(ctx context.Context, participantID, after string, limit int) ([]Enrolment, error) {
	return s.enrolmentRows(ctx, sqlEnrolmentsOf, participantID, after, limit)
}

func (s *sqliteStore) EraseParticipant(ctx context.Context, participantID, tombstone string) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`UPDATE group_enrolments SET participant_id = ?2 WHERE participant_id = ?1`,
			`UPDATE group_marks SET participant_id = ?2 WHERE participant_id = ?1`, `DELETE FROM group_escorts WHERE participant_id = ?1`} {
			if _, err := tx.ExecContext(ctx, q, participantID, tombstone); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sqliteStore) PeriodEnrolments(ctx context.Context, orgID string, from, to time.Time, limit int) ([]Enrolment, error) {
	return s.enrolmentRows(ctx, sqlPeriodEnrolments, orgID, sqlite.Millis(to), sqlite.Millis(from), limit)
}

func (s *sqliteStore) EnrolmentIDsOf(ctx context.Context, participantID string, limit int) ([]string, error) {
	rows, err := s.d.QueryContext(ctx, sqlEnrolmentIDsOf, participantID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (s *sqliteStore) PutMarks(ctx context.Context, marks []Mark) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO group_marks (session_id, participant_id, group_id, mark) VALUES (?, ?, ?, ?)
			ON CONFLICT (session_id, participant_id) DO UPDATE SET mark = excluded.mark`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, m := range marks {
			if _, err := stmt.ExecContext(ctx, m.SessionID, m.ParticipantID, m.GroupID, m.Mark); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sqliteStore) Marks(ctx context.Context, groupID string) ([]Mark, error) {
	rows, err := s.d.QueryContext(ctx, sqlMarks, groupID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Mark
	for rows.Next() {
		var m Mark
		if err := rows.Scan(&m.SessionID, &m.GroupID, &m.ParticipantID, &m.Mark); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *sqliteStore) LinkEscort(ctx context.Context, l EscortLink) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO group_escorts (session_id, participant_id, outing_id, group_id) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, l.SessionID, l.ParticipantID, l.OutingID, l.GroupID)
		return err
	})
}

func (s *sqliteStore) escortRows(ctx context.Context, query string, args ...any) ([]EscortLink, error) {
	rows, err := s.d.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EscortLink
	for rows.Next() {
		var l EscortLink
		if err := rows.Scan(&l.SessionID, &l.GroupID, &l.ParticipantID, &l.OutingID); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (s *sqliteStore) Escorts(ctx context.Context, sessionID string) ([]EscortLink, error) {
	return s.escortRows(ctx, `SELECT session_id, group_id, participant_id, outing_id FROM group_escorts WHERE session_id = ?`, sessionID)
}

func (s *sqliteStore) EscortsOf(ctx context.Context, groupID, participantID string) ([]EscortLink, error) {
	return s.escortRows(ctx, sqlEscortsOf, participantID, groupID)
}

func (s *sqliteStore) EscortByOuting(ctx context.Context, outingID string) (*EscortLink, error) {
	links, err := s.escortRows(ctx, sqlEscortByOuting, outingID)
	if err != nil {
		return nil, err
	}
	if len(links) == 0 {
		return nil, ErrNotFound
	}
	return &links[0], nil
}
