package matching

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/sqlite"
)

// The SQLite engine's profiles, feedback and preferences.
const (
	sqlVolunteerByID   = `SELECT doc FROM volunteer_profiles WHERE user_id = ?`
	sqlUpsertVolunteer = `INSERT INTO volunteer_profiles (user_id, organisation_id, status, has_profile, home_cell,
		home_lat, home_lon, travel_radius_km, rev, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET organisation_id = excluded.organisation_id,
		status = excluded.status, has_profile = excluded.has_profile, home_cell = excluded.home_cell,
		home_lat = excluded.home_lat, home_lon = excluded.home_lon, travel_radius_km = excluded.travel_radius_km,
		rev = excluded.rev, doc = excluded.doc`
	sqlDeleteVolunteer   = `DELETE FROM volunteer_profiles WHERE user_id = ?`
	sqlVolunteersInCells = `SELECT doc FROM volunteer_profiles WHERE ` + whereInCells + ` LIMIT ?5`
	// The box test of VolunteerQuery.Reach (see mayReach), on the index's
	// columns: only the docs of volunteers who may reach the point are read.
	sqlVolunteersReaching = `SELECT doc FROM volunteer_profiles WHERE ` + whereReaching + ` LIMIT ?11`
	// The same two filters answered from the index alone (key and stamp),
	// for the doc cache; sqlVolunteerDocs reads the docs it lacks.
	sqlVolunteerKeysInCells  = `SELECT user_id, doc_stamp FROM volunteer_profiles WHERE ` + whereInCells + ` LIMIT ?5`
	sqlVolunteerKeysReaching = `SELECT user_id, doc_stamp FROM volunteer_profiles WHERE ` + whereReaching + ` LIMIT ?11`
	sqlVolunteerDocs         = `SELECT user_id, doc_stamp, doc FROM volunteer_profiles WHERE user_id IN (SELECT value FROM json_each(?))`
	whereInCells             = `organisation_id = ?1 AND status = ?2
		AND home_cell IN (SELECT value FROM json_each(?3)) AND has_profile >= ?4`
	whereReaching = `organisation_id = ?1 AND status = ?2
		AND home_cell IN (SELECT value FROM json_each(?3)) AND has_profile >= ?4
		AND abs(home_lat - ?5) * ?6 <= travel_radius_km * ?9 + ?10
		AND abs(home_lon - ?7) * ?8 <= travel_radius_km * ?9 + ?10`

	sqlParticipantByID   = `SELECT doc FROM participant_profiles WHERE user_id = ?`
	sqlUpsertParticipant = `INSERT INTO participant_profiles (user_id, organisation_id, rev, doc) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET organisation_id = excluded.organisation_id, rev = excluded.rev, doc = excluded.doc`
	sqlDeleteParticipant = `DELETE FROM participant_profiles WHERE user_id = ?`

	feedbackColumns     = `id, outing_id, organisation_id, author_id, author_role, participant_id, volunteer_id, rating, comment, comfort_before, comfort_after, created_at`
	sqlInsertFeedback   = `INSERT INTO feedback (` + feedbackColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlFeedbackByAuthor = `SELECT ` + feedbackColumns + ` FROM feedback WHERE author_id = ? ORDER BY created_at, id`
	sqlFeedbackOnOuting = `SELECT ` + feedbackColumns + ` FROM feedback WHERE outing_id = ? ORDER BY created_at, id`
	sqlRatings          = `SELECT volunteer_id, participant_id, rating FROM feedback
		WHERE volunteer_id IN (SELECT value FROM json_each(?)) AND author_role = 'participant' LIMIT ?`
	// The candidates' ratings (RatingTotalsOf): a row per volunteer of the
	// totals migration 00033 keeps, and the participant's own ratings.
	sqlRatingTotals = `SELECT t.volunteer_id, t.ratings, t.total FROM json_each(?1) AS v
		JOIN volunteer_ratings AS t ON t.volunteer_id = v.value WHERE t.ratings > 0`
	sqlRatingsGivenBy = `SELECT volunteer_id, rating FROM feedback
		WHERE participant_id = ?1 AND author_role = 'participant' AND rating BETWEEN 1 AND 5`
	sqlEraseFeedbackAuthor      = `UPDATE feedback SET author_id = 'erased', comment = '' WHERE author_id = ?`
	sqlEraseFeedbackParticipant = `UPDATE feedback SET participant_id = 'erased', comment = '' WHERE participant_id = ?`
	sqlEraseFeedbackVolunteer   = `UPDATE feedback SET volunteer_id = 'erased' WHERE volunteer_id = ?`

	sqlPrefsByID   = `SELECT doc FROM preferences WHERE participant_id = ?`
	sqlPrefsOfMany = `SELECT doc FROM preferences WHERE participant_id IN (SELECT value FROM json_each(?))`
	sqlUpsertPrefs = `INSERT INTO preferences (participant_id, organisation_id, rev, doc) VALUES (?, ?, ?, ?)
		ON CONFLICT (participant_id) DO UPDATE SET rev = excluded.rev, doc = excluded.doc`
	sqlDeletePrefs  = `DELETE FROM preferences WHERE participant_id = ?`
	sqlDropPrefVols = `DELETE FROM preference_volunteers WHERE participant_id = ?`
	sqlAddPrefVol   = `INSERT OR IGNORE INTO preference_volunteers (volunteer_id, participant_id) VALUES (?, ?)`
	sqlListingOf    = `SELECT participant_id FROM preference_volunteers WHERE volunteer_id = ?`
)

func scanJSON[T any](row *sql.Row) (*T, error) {
	var doc []byte
	if err := row.Scan(&doc); err != nil {
		return nil, sqliteErr(err)
	}
	v := new(T)
	if err := json.Unmarshal(doc, v); err != nil {
		return nil, err
	}
	return v, nil
}

func queryJSON[T any](ctx context.Context, q querier, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(doc, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// --- volunteers ---

func (s *sqliteStore) Volunteer(ctx context.Context, userID string) (*VolunteerProfile, error) {
	return scanJSON[VolunteerProfile](s.q(ctx).QueryRowContext(ctx, sqlVolunteerByID, userID))
}

func saveVolunteer(ctx context.Context, q querier, p *VolunteerProfile) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, sqlUpsertVolunteer, p.UserID, p.OrgID, string(p.Status), boolInt(p.HasProfile), p.HomeCell,
		p.Home.Lat, p.Home.Lon, p.TravelRadiusKm, p.Rev, string(doc))
	return err
}

func (s *sqliteStore) UpdateVolunteer(ctx context.Context, userID string, create bool, change func(*VolunteerProfile) (bool, error)) (*VolunteerProfile, error) {
	var out *VolunteerProfile
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		p, err := scanJSON[VolunteerProfile](tx.QueryRowContext(ctx, sqlVolunteerByID, userID))
		if errors.Is(err, ErrNotFound) && create {
			p, err = &VolunteerProfile{UserID: userID}, nil
		}
		if err != nil {
			return err
		}
		ok, err := change(p)
		if err != nil {
			return err
		}
		out = p
		if !ok {
			return nil
		}
		p.Rev++
		return saveVolunteer(ctx, tx, p)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *sqliteStore) SetVolunteerStatus(ctx context.Context, userID string, status auth.Status) error {
	_, err := s.UpdateVolunteer(ctx, userID, false, func(p *VolunteerProfile) (bool, error) {
		p.Status = status
		return true, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (s *sqliteStore) VolunteersInCells(ctx context.Context, q VolunteerQuery) ([]VolunteerProfile, error) {
	cells, err := json.Marshal(nonNil(q.Cells))
	if err != nil {
		return nil, err
	}
	query, keys, args := sqlVolunteersInCells, sqlVolunteerKeysInCells, []any{q.OrgID, string(q.Status), string(cells), boolInt(q.WithProfile), q.Limit}
	if q.Reach != nil {
		query, keys, args = sqlVolunteersReaching, sqlVolunteerKeysReaching, reachArgs(q, string(cells))
	}
	if !s.inTx(ctx) {
		ps, err := s.cachedInCells(ctx, q, keys)
		if !errors.Is(err, errStale) {
			return ps, err
		}
	}
	return queryJSON[VolunteerProfile](ctx, s.q(ctx), query, args...)
}

// cachedInCells answers VolunteersInCells from the doc cache. From two
// cells on, the keys query runs in two halves at once on two connections:
// it was a third of a candidates request at 10 000 volunteers. The index
// gives a query's rows cell by cell in ascending order, so the halves
// (the lower cells, then the upper) put together are the whole query's
// rows in its order, and the limit is taken of them.
func (s *sqliteStore) cachedInCells(ctx context.Context, q VolunteerQuery, keys string) ([]VolunteerProfile, error) {
	part := func(cells []string) ([]VolunteerProfile, error) {
		raw, err := json.Marshal(cells)
		if err != nil {
			return nil, err
		}
		args := []any{q.OrgID, string(q.Status), string(raw), boolInt(q.WithProfile), q.Limit}
		if q.Reach != nil {
			args = reachArgs(q, string(raw))
		}
		return cachedDocs(ctx, s.q(ctx), s.profiles, keys, args, sqlVolunteerDocs)
	}
	cells := slices.Sorted(slices.Values(distinct(q.Cells)))
	if len(cells) < 2 {
		return part(nonNil(cells))
	}
	var upper []VolunteerProfile
	var upperErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		upper, upperErr = part(cells[len(cells)/2:])
	}()
	lower, err := part(cells[:len(cells)/2])
	<-done
	if err == nil {
		err = upperErr
	}
	if err != nil {
		return nil, err
	}
	out := append(lower, upper...)
	return out[:min(len(out), q.Limit)], nil
}

func reachArgs(q VolunteerQuery, cells string) []any {
	latKm, lonKm := reachScale(*q.Reach)
	return []any{q.OrgID, string(q.Status), cells, boolInt(q.WithProfile),
		q.Reach.Lat, latKm, q.Reach.Lon, lonKm, reachSlackFactor, reachSlackKm, q.Limit}
}

func (s *sqliteStore) DeleteVolunteer(ctx context.Context, userID string) error {
	_, err := s.q(ctx).ExecContext(ctx, sqlDeleteVolunteer, userID)
	return err
}

// --- participants ---

func (s *sqliteStore) Participant(ctx context.Context, userID string) (*ParticipantProfile, error) {
	return scanJSON[ParticipantProfile](s.q(ctx).QueryRowContext(ctx, sqlParticipantByID, userID))
}

func (s *sqliteStore) UpdateParticipant(ctx context.Context, userID string, change func(*ParticipantProfile)) (*ParticipantProfile, error) {
	var out *ParticipantProfile
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		p, err := scanJSON[ParticipantProfile](tx.QueryRowContext(ctx, sqlParticipantByID, userID))
		if errors.Is(err, ErrNotFound) {
			p, err = &ParticipantProfile{UserID: userID}, nil
		}
		if err != nil {
			return err
		}
		change(p)
		p.Rev++
		doc, err := json.Marshal(p)
		if err != nil {
			return err
		}
		out = p
		_, err = tx.ExecContext(ctx, sqlUpsertParticipant, p.UserID, p.OrgID, p.Rev, string(doc))
		return err
	})
	return out, err
}

func (s *sqliteStore) DeleteParticipant(ctx context.Context, userID string) error {
	_, err := s.q(ctx).ExecContext(ctx, sqlDeleteParticipant, userID)
	return err
}

// --- feedback ---

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func (s *sqliteStore) InsertFeedback(ctx context.Context, f *Feedback) error {
	_, err := s.q(ctx).ExecContext(ctx, sqlInsertFeedback, f.ID, f.OutingID, f.OrgID, f.AuthorID, string(f.AuthorRole),
		f.ParticipantID, f.VolunteerID, f.Rating, f.Comment, nullInt(f.ComfortBefore), nullInt(f.ComfortAfter), sqlite.Millis(f.CreatedAt))
	return sqliteErr(err)
}

func (s *sqliteStore) feedbackWhere(ctx context.Context, query, arg string) ([]Feedback, error) {
	rows, err := s.q(ctx).QueryContext(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Feedback{}
	for rows.Next() {
		var f Feedback
		var before, after sql.NullInt64
		var at int64
		if err := rows.Scan(&f.ID, &f.OutingID, &f.OrgID, &f.AuthorID, &f.AuthorRole, &f.ParticipantID, &f.VolunteerID,
			&f.Rating, &f.Comment, &before, &after, &at); err != nil {
			return nil, err
		}
		if before.Valid {
			v := int(before.Int64)
			f.ComfortBefore = &v
		}
		if after.Valid {
			v := int(after.Int64)
			f.ComfortAfter = &v
		}
		f.CreatedAt = sqlite.Time(at)
		out = append(out, f)
	}
	return out, rows.Err()
}

func (s *sqliteStore) FeedbackByAuthor(ctx context.Context, authorID string) ([]Feedback, error) {
	return s.feedbackWhere(ctx, sqlFeedbackByAuthor, authorID)
}

func (s *sqliteStore) FeedbackOnOuting(ctx context.Context, outingID string) ([]Feedback, error) {
	return s.feedbackWhere(ctx, sqlFeedbackOnOuting, outingID)
}

func (s *sqliteStore) RatingsOf(ctx context.Context, volunteerIDs []string) ([]ratingRow, error) {
	who, err := json.Marshal(volunteerIDs)
	if err != nil {
		return nil, err
	}
	rows, err := s.q(ctx).QueryContext(ctx, sqlRatings, string(who), maxRatingRows)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ratingRow
	for rows.Next() {
		var r ratingRow
		if err := rows.Scan(&r.VolunteerID, &r.ParticipantID, &r.Rating); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqliteStore) RatingTotalsOf(ctx context.Context, volunteerIDs []string, participantID string) ([]ratingTotal, error) {
	who, err := json.Marshal(distinct(volunteerIDs))
	if err != nil {
		return nil, err
	}
	rows, err := s.q(ctx).QueryContext(ctx, sqlRatingTotals, string(who))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ratingTotal
	for rows.Next() {
		var t ratingTotal
		if err := rows.Scan(&t.VolunteerID, &t.Ratings, &t.Sum); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil || participantID == "" || len(out) == 0 {
		return out, err
	}
	at := make(map[string]int, len(out))
	for i := range out {
		at[out[i].VolunteerID] = i
	}
	given, err := s.q(ctx).QueryContext(ctx, sqlRatingsGivenBy, participantID)
	if err != nil {
		return nil, err
	}
	defer given.Close()
	for given.Next() {
		var volunteer string
		var rating int
		if err := given.Scan(&volunteer, &rating); err != nil {
			return nil, err
		}
		// Every rating is in its volunteer's totals: one not found is of
		// a volunteer not asked about.
		if i, ok := at[volunteer]; ok {
			out[i].RatingsWith++
			out[i].SumWith += rating
		}
	}
	return out, given.Err()
}

func (s *sqliteStore) EraseFeedbackOf(ctx context.Context, userID string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range []string{sqlEraseFeedbackAuthor, sqlEraseFeedbackParticipant, sqlEraseFeedbackVolunteer} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		return nil
	})
}

// --- preferences ---

func (s *sqliteStore) Preferences(ctx context.Context, participantID string) (*prefsDoc, error) {
	d, err := scanJSON[prefsDoc](s.q(ctx).QueryRowContext(ctx, sqlPrefsByID, participantID))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return d, err
}

func (s *sqliteStore) PreferencesOfMany(ctx context.Context, participantIDs []string) (map[string]*prefsDoc, error) {
	out := make(map[string]*prefsDoc, len(participantIDs))
	if len(participantIDs) == 0 {
		return out, nil
	}
	ids, err := json.Marshal(participantIDs)
	if err != nil {
		return nil, err
	}
	docs, err := queryJSON[prefsDoc](ctx, s.q(ctx), sqlPrefsOfMany, string(ids))
	if err != nil {
		return nil, err
	}
	for i := range docs {
		out[docs[i].ParticipantID] = &docs[i]
	}
	return out, nil
}

func (s *sqliteStore) UpdatePreferences(ctx context.Context, participantID, orgID string, change func(*prefsDoc) (bool, error)) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		d, err := scanJSON[prefsDoc](tx.QueryRowContext(ctx, sqlPrefsByID, participantID))
		if errors.Is(err, ErrNotFound) {
			d, err = &prefsDoc{ParticipantID: participantID, OrgID: orgID, Entries: []prefEntry{}, VolunteerIDs: []string{}}, nil
		}
		if err != nil {
			return err
		}
		if ok, err := change(d); err != nil || !ok {
			return err
		}
		d.Rev++
		doc, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlUpsertPrefs, participantID, d.OrgID, d.Rev, string(doc)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlDropPrefVols, participantID); err != nil {
			return err
		}
		for _, e := range d.Entries {
			if _, err := tx.ExecContext(ctx, sqlAddPrefVol, e.VolunteerID, participantID); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sqliteStore) DeletePreferences(ctx context.Context, participantID string) error {
	_, err := s.q(ctx).ExecContext(ctx, sqlDeletePrefs, participantID)
	return err
}

func (s *sqliteStore) ParticipantsListing(ctx context.Context, volunteerID string) ([]string, error) {
	return s.strings(ctx, sqlListingOf, volunteerID)
}
