package matching

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

//go:embed migrations/*.sql
var sqliteMigrations embed.FS

// sqliteStore is matching's SQLite engine. Every read-modify-write runs in
// one write transaction (BEGIN IMMEDIATE), which serialises writers in this
// process and in any other on the same file; no in-process lock is needed.
type sqliteStore struct {
	d *sqlite.DB
	// Decoded docs of the candidates' prefilter and the offers' query.
	profiles *docCache[VolunteerProfile]
	outings  *docCache[Outing]
}

// NewSQLiteStore applies matching's migrations to d.
func NewSQLiteStore(ctx context.Context, d *sqlite.DB) (Store, error) {
	if err := d.MigrateEmbedded(ctx, sqliteMigrations, "matching_schema"); err != nil {
		return nil, err
	}
	return &sqliteStore{d: d, profiles: newDocCache[VolunteerProfile](maxCachedProfiles), outings: newDocCache[Outing](maxCachedOutings)}, nil
}

// txKey carries the write transaction of a decision in ctx, so that store
// calls made from TransitionOuting's decide join it.
type txKey struct{ s *sqliteStore }

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q is the transaction ctx carries, or the database.
func (s *sqliteStore) q(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{s}).(*sql.Tx); ok {
		return tx
	}
	return s.d.DB
}

// write runs fn in the transaction ctx carries, or in a new one.
func (s *sqliteStore) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if tx, ok := ctx.Value(txKey{s}).(*sql.Tx); ok {
		return fn(ctx, tx)
	}
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		return fn(context.WithValue(ctx, txKey{s}, tx), tx)
	})
}

func sqliteErr(err error) error {
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

// The SQL of the hot queries, named so that TestSQLiteHotQueriesUseIndexes
// explains the very strings the engine runs.
const (
	sqlOutingByID   = `SELECT doc FROM outings WHERE id = ?`
	sqlInsertOuting = `INSERT INTO outings (id, organisation_id, participant_id, volunteer_id, status, starts_at, ends_at,
		created_at, version, has_pending_events, lat, lon, doc, confirmed_at, postpone_asks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlUpdateOuting = `UPDATE outings SET organisation_id = ?, participant_id = ?, volunteer_id = ?, status = ?,
		starts_at = ?, ends_at = ?, version = ?, has_pending_events = ?, lat = ?, lon = ?, doc = ?, confirmed_at = ?, postpone_asks = ? WHERE id = ?`
	sqlAddPerson        = `INSERT OR IGNORE INTO outing_people (user_id, outing_id) VALUES (?, ?)`
	sqlDropPeople       = `DELETE FROM outing_people WHERE outing_id = ?`
	sqlPendingOutingIDs = `SELECT id FROM outings WHERE has_pending_events = 1 LIMIT ?`
	sqlStartedUnmatched = `SELECT id FROM outings WHERE status IN ('open', 'pending_approval') AND starts_at <= ? LIMIT ?`
	sqlDueOfferChecks   = `SELECT id FROM outings WHERE status = 'open' AND offer_check_at <= ?1 AND starts_at > ?1 LIMIT ?2`
	sqlConfirmedBetween = `SELECT id, organisation_id, participant_id, volunteer_id, starts_at, ends_at FROM outings
		WHERE status = 'confirmed' AND starts_at >= ? AND starts_at < ? ORDER BY starts_at, id LIMIT ?`
	sqlOutingsOfUser = `SELECT o.doc FROM outing_people p JOIN outings o ON o.id = p.outing_id
		WHERE p.user_id = ? ORDER BY o.created_at, o.id`
	// INDEXED BY: without statistics the planner would take the status
	// index, which grows with every completed outing; one volunteer's
	// outings are few.
	sqlCompletedTogether = `SELECT 1 FROM outings INDEXED BY outings_volunteer_bookings
		WHERE volunteer_id = ? AND participant_id = ? AND status = 'completed' LIMIT 1`
	sqlOutingsTogether = `SELECT doc FROM outings INDEXED BY outings_volunteer_bookings
		WHERE volunteer_id = ?1 AND participant_id = ?2 AND status = 'completed' ORDER BY starts_at DESC, id DESC LIMIT ?3`
	// See BookingsOf. For many volunteers: each one's outings starting in
	// one range of times (a ?8..?9 range that is empty skips it before any
	// seek), then the participants' completed outings with anyone (history
	// = 1), which BookingsOf filters by volunteer.
	sqlBookings = `SELECT o.id, o.volunteer_id, o.participant_id, o.status, o.starts_at, o.ends_at, 0 AS history
		FROM json_each(?1) AS v JOIN outings AS o INDEXED BY outings_volunteer_bookings
		ON o.volunteer_id = v.value AND o.starts_at >= ?8 AND o.starts_at < ?9
		WHERE ?8 < ?9
		AND ((o.status IN ('pending_approval', 'confirmed', 'in_progress') AND o.starts_at < ?2 AND o.ends_at > ?3)
		  OR (o.status IN ('pending_approval', 'confirmed', 'in_progress', 'completed')
		      AND ((o.starts_at >= ?4 AND o.starts_at < ?5) OR (o.starts_at >= ?6 AND o.starts_at < ?7))))
		UNION ALL
		SELECT id, volunteer_id, participant_id, status, starts_at, ends_at, 1 FROM outings INDEXED BY outings_participant_history
		WHERE participant_id IN (SELECT value FROM json_each(?10)) AND status = 'completed'
		LIMIT ?11`
	// For a volunteer's offers (one volunteer, the participants of many
	// outings): every outing of the volunteer once, tested for all three.
	sqlBookingsOfFew = `SELECT id, volunteer_id, participant_id, status, starts_at, ends_at, 0 FROM outings INDEXED BY outings_volunteer_bookings
		WHERE volunteer_id IN (SELECT value FROM json_each(?1))
		AND ((status IN ('pending_approval', 'confirmed', 'in_progress') AND starts_at < ?2 AND ends_at > ?3)
		  OR (status IN ('pending_approval', 'confirmed', 'in_progress', 'completed')
		      AND ((starts_at >= ?4 AND starts_at < ?5) OR (starts_at >= ?6 AND starts_at < ?7)))
		  OR (status = 'completed' AND participant_id IN (SELECT value FROM json_each(?8))))
		LIMIT ?9`
)

// Outing lists, newest first, after a (created_at, id) position; a first
// page starts after (MaxInt64, ”).
const (
	sqlPageByParticipant = `SELECT doc FROM outings WHERE participant_id = ?1 AND (?2 = '' OR status = ?2)
		AND (created_at, id) < (?3, ?4) ORDER BY created_at DESC, id DESC LIMIT ?5`
	sqlPageByVolunteer = `SELECT doc FROM outings WHERE volunteer_id = ?1 AND (?2 = '' OR status = ?2)
		AND (created_at, id) < (?3, ?4) ORDER BY created_at DESC, id DESC LIMIT ?5`
	sqlReportRows = `SELECT o.id, o.participant_id, o.volunteer_id, o.status, o.created_at, o.starts_at, o.ends_at, o.confirmed_at,
		o.postpone_asks, f.comfort_before, f.comfort_after
		FROM outings AS o LEFT JOIN feedback AS f ON f.outing_id = o.id AND f.author_role = 'participant'
		WHERE o.organisation_id = ?1 AND (o.created_at, o.id) > (?2, ?3) AND o.created_at < ?4
		ORDER BY o.created_at, o.id LIMIT ?5`
	sqlPageByOrg = `SELECT doc FROM outings WHERE organisation_id = ?1 AND (?2 = '' OR status = ?2)
		AND (created_at, id) < (?3, ?4) ORDER BY created_at DESC, id DESC LIMIT ?5`
)

func (s *sqliteStore) outingIn(ctx context.Context, q querier, id string) (*Outing, error) {
	var doc []byte
	if err := q.QueryRowContext(ctx, sqlOutingByID, id).Scan(&doc); err != nil {
		return nil, sqliteErr(err)
	}
	var o Outing
	if err := json.Unmarshal(doc, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

func outingArgs(o *Outing) ([]any, error) {
	doc, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	return []any{o.OrgID, o.ParticipantID, o.VolunteerID, string(o.Status), sqlite.Millis(o.StartsAt), sqlite.Millis(o.EndsAt),
		o.Version, boolInt(o.HasPendingEvents), o.MeetingPoint.Lat, o.MeetingPoint.Lon, string(doc), sqlite.Millis(o.ConfirmedAt()),
		o.PostponeAsks}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *sqliteStore) InsertOuting(ctx context.Context, o *Outing) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		a, err := outingArgs(o)
		if err != nil {
			return err
		}
		args := append([]any{o.ID}, a[:6]...)
		args = append(args, sqlite.Millis(o.CreatedAt))
		args = append(args, a[6:]...)
		if _, err := tx.ExecContext(ctx, sqlInsertOuting, args...); err != nil {
			return sqliteErr(err)
		}
		return addPeople(ctx, tx, o)
	})
}

func addPeople(ctx context.Context, tx *sql.Tx, o *Outing) error {
	for _, id := range outingPeople(o) {
		if _, err := tx.ExecContext(ctx, sqlAddPerson, id, o.ID); err != nil {
			return err
		}
	}
	return nil
}

// saveOuting writes o over its row (inside a write transaction).
func saveOuting(ctx context.Context, tx *sql.Tx, o *Outing) error {
	args, err := outingArgs(o)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, sqlUpdateOuting, append(args, o.ID)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqliteStore) Outing(ctx context.Context, id string) (*Outing, error) {
	return s.outingIn(ctx, s.q(ctx), id)
}

func (s *sqliteStore) TransitionOuting(ctx context.Context, id string, now time.Time, decide func(context.Context, *Outing) (Move, error)) (*Outing, Move, error) {
	var before *Outing
	var move Move
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		o, err := s.outingIn(ctx, tx, id)
		if err != nil {
			return err
		}
		before = o
		m, err := decide(ctx, o)
		if err != nil {
			return err
		}
		move = m
		if !moveWrites(m) {
			return nil
		}
		after := applyMove(*o, m, now)
		if err := saveOuting(ctx, tx, &after); err != nil {
			return err
		}
		return addPeople(ctx, tx, &after)
	})
	if err != nil {
		return nil, Move{}, err
	}
	return before, move, nil
}

func (s *sqliteStore) UpdateOuting(ctx context.Context, id string, change func(*Outing) (bool, error)) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		o, err := s.outingIn(ctx, tx, id)
		if err != nil {
			return err
		}
		if ok, err := change(o); err != nil || !ok {
			return err
		}
		if err := saveOuting(ctx, tx, o); err != nil {
			return err
		}
		// Ids may have gone (erasure): rebuild the outing's people.
		if _, err := tx.ExecContext(ctx, sqlDropPeople, id); err != nil {
			return err
		}
		return addPeople(ctx, tx, o)
	})
}

func (s *sqliteStore) OutingsPage(ctx context.Context, f OutingFilter, limit int, after *pageCursor) ([]Outing, *pageCursor, error) {
	query, key := sqlPageByOrg, f.OrgID
	switch {
	case f.ParticipantID != "":
		query, key = sqlPageByParticipant, f.ParticipantID
	case f.VolunteerID != "":
		query, key = sqlPageByVolunteer, f.VolunteerID
	}
	at, id := int64(math.MaxInt64), ""
	if after != nil {
		at, id = sqlite.Millis(after.at), after.id
	}
	out, err := s.outingDocs(ctx, query, key, string(f.Status), at, id, limit+1)
	if err != nil || len(out) <= limit {
		return out, nil, err
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &pageCursor{at: last.CreatedAt, id: last.ID}, nil
}

func (s *sqliteStore) outingDocs(ctx context.Context, query string, args ...any) ([]Outing, error) {
	rows, err := s.q(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Outing
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var o Outing
		if err := json.Unmarshal(doc, &o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (s *sqliteStore) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.q(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (s *sqliteStore) OutingIDsWithPendingEvents(ctx context.Context, limit int) ([]string, error) {
	return s.strings(ctx, sqlPendingOutingIDs, limit)
}

func (s *sqliteStore) StartedUnmatchedOutingIDs(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.strings(ctx, sqlStartedUnmatched, sqlite.Millis(now), limit)
}

func (s *sqliteStore) OutingsDueForOfferCheck(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.strings(ctx, sqlDueOfferChecks, sqlite.Millis(now), limit)
}

func (s *sqliteStore) PendingEvents(ctx context.Context, id string) ([]Event, bool, error) {
	o, err := s.Outing(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return o.PendingEvents, o.HasPendingEvents, nil
}

func (s *sqliteStore) RemoveDeliveredEvents(ctx context.Context, id string, eventIDs []string) error {
	gone := make(map[string]bool, len(eventIDs))
	for _, e := range eventIDs {
		gone[e] = true
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		o, err := s.outingIn(ctx, tx, id)
		if err != nil {
			return err
		}
		left := o.PendingEvents[:0:0]
		for _, e := range o.PendingEvents {
			if !gone[e.ID] {
				left = append(left, e)
			}
		}
		if len(left) == len(o.PendingEvents) && o.HasPendingEvents == (len(left) > 0) {
			return nil
		}
		o.PendingEvents, o.HasPendingEvents = left, len(left) > 0
		return saveOuting(ctx, tx, o)
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (s *sqliteStore) ConfirmedOutingsBetween(ctx context.Context, from, to time.Time, limit int) ([]ConfirmedOuting, error) {
	rows, err := s.q(ctx).QueryContext(ctx, sqlConfirmedBetween, sqlite.Millis(from), sqlite.Millis(to), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ConfirmedOuting{}
	for rows.Next() {
		var c ConfirmedOuting
		var start, end int64
		if err := rows.Scan(&c.ID, &c.OrgID, &c.ParticipantID, &c.VolunteerID, &start, &end); err != nil {
			return nil, err
		}
		c.StartsAt, c.EndsAt = sqlite.Time(start), sqlite.Time(end)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *sqliteStore) OutingsOfUser(ctx context.Context, userID string) ([]Outing, error) {
	return s.outingDocs(ctx, sqlOutingsOfUser, userID)
}

func (s *sqliteStore) CompletedOutingsTogether(ctx context.Context, participantID, volunteerID string, limit int) ([]Outing, error) {
	return s.outingDocs(ctx, sqlOutingsTogether, volunteerID, participantID, limit)
}

func (s *sqliteStore) HasCompletedOutingTogether(ctx context.Context, participantID, volunteerID string) (bool, error) {
	var one int
	err := s.q(ctx).QueryRowContext(ctx, sqlCompletedTogether, volunteerID, participantID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// bookingArgs are the query BookingsOf runs for q and its arguments (two
// load windows; an unused one is empty), and the volunteers without repeats.
func bookingArgs(volunteerIDs []string, q bookingQuery) (string, []any, []string, error) {
	if len(q.load) > 2 {
		return "", nil, nil, errors.New("matching: at most two load windows")
	}
	volunteerIDs = distinct(volunteerIDs)
	who, err := json.Marshal(volunteerIDs)
	if err != nil {
		return "", nil, nil, err
	}
	parts, err := json.Marshal(nonNil(q.participants))
	if err != nil {
		return "", nil, nil, err
	}
	load := append(slices.Clone(q.load), span{}, span{})
	args := []any{string(who), sqlite.Millis(q.busy.to), sqlite.Millis(q.busy.from),
		sqlite.Millis(load[0].from), sqlite.Millis(load[0].to), sqlite.Millis(load[1].from), sqlite.Millis(load[1].to)}
	if len(volunteerIDs) <= len(q.participants) {
		return sqlBookingsOfFew, append(args, string(parts), maxBookingRows), volunteerIDs, nil
	}
	lo, hi := bookingRange(q)
	return sqlBookings, append(args, lo, hi, string(parts), maxBookingRows), volunteerIDs, nil
}

// bookingRange is the smallest range of starts_at (Unix ms, [lo, hi))
// holding every outing q asks for by time; lo == hi when none. A live
// outing overlapping q.busy starts at most MaxOutingLength before it: every
// way of setting an outing's times (create, reschedule, postpone) keeps it
// that long at most. Between the windows lie only the volunteers' future
// outings (the busy and weekly windows are around a start, the 30-day one
// ends now), which are few: one range reads nearly nothing more than three.
func bookingRange(q bookingQuery) (lo, hi int64) {
	spans := slices.Clone(q.load)
	if q.busy.to.After(q.busy.from) {
		spans = append(spans, span{q.busy.from.Add(-MaxOutingLength), q.busy.to})
	}
	first := true
	for _, w := range spans {
		if !w.to.After(w.from) {
			continue
		}
		from, to := sqlite.Millis(w.from), sqlite.Millis(w.to)
		if first {
			lo, hi, first = from, to, false
			continue
		}
		lo, hi = min(lo, from), max(hi, to)
	}
	return lo, hi
}

func distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (s *sqliteStore) ConcurrentReads(ctx context.Context) bool { return !s.inTx(ctx) }

// BookingsOf reads each volunteer's outings in one range of start times
// (one seek per volunteer on their index, instead of all their outings as
// when the shared history was one more branch of an OR), and the shared
// history from the smaller side: for a candidate set (many volunteers, one
// participant) the participant's completed outings, filtered by volunteer
// here; an outing found twice is kept once. For a volunteer's offers (one
// volunteer, the participants of many outings) reading all of the
// volunteer's outings once is cheaper still (sqlBookingsOfFew).
func (s *sqliteStore) BookingsOf(ctx context.Context, volunteerIDs []string, q bookingQuery) ([]bookingRow, error) {
	query, args, volunteerIDs, err := bookingArgs(volunteerIDs, q)
	if err != nil {
		return nil, err
	}
	rows, err := s.q(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bookingRow
	var history []bookingRow
	var wanted map[string]bool
	for rows.Next() {
		var r bookingRow
		var start, end int64
		var fromHistory bool
		if err := rows.Scan(&r.ID, &r.VolunteerID, &r.ParticipantID, &r.Status, &start, &end, &fromHistory); err != nil {
			return nil, err
		}
		r.StartsAt, r.EndsAt = sqlite.Time(start), sqlite.Time(end)
		if !fromHistory {
			out = append(out, r)
			continue
		}
		if wanted == nil {
			wanted = make(map[string]bool, len(volunteerIDs))
			for _, id := range volunteerIDs {
				wanted[id] = true
			}
		}
		if wanted[r.VolunteerID] {
			history = append(history, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(history) == 0 {
		return out, nil
	}
	seen := make(map[string]bool, len(out))
	for _, r := range out {
		seen[r.ID] = true
	}
	for _, r := range history {
		if !seen[r.ID] {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *sqliteStore) ReportRows(ctx context.Context, orgID string, from, to time.Time, after *pageCursor, limit int) ([]ReportOuting, error) {
	at, id := sqlite.Millis(from)-1, "\uffff"
	if after != nil {
		at, id = sqlite.Millis(after.at), after.id
	}
	rows, err := s.q(ctx).QueryContext(ctx, sqlReportRows, orgID, at, id, sqlite.Millis(to), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReportOuting
	for rows.Next() {
		var r ReportOuting
		var created, start, end, confirmed int64
		var before, after sql.NullInt64
		if err := rows.Scan(&r.ID, &r.ParticipantID, &r.VolunteerID, &r.Status, &created, &start, &end, &confirmed, &r.PostponeAsks, &before, &after); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].ID == r.ID {
			continue // a second participant feedback row (the first counts)
		}
		r.CreatedAt, r.StartsAt, r.EndsAt, r.ConfirmedAt = sqlite.Time(created), sqlite.Time(start), sqlite.Time(end), sqlite.Time(confirmed)
		r.ComfortBefore, r.ComfortAfter = int(before.Int64), int(after.Int64)
		out = append(out, r)
	}
	return out, rows.Err()
}
