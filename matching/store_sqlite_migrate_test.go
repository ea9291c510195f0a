package matching

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// A database written before postponement asks were kept (schema 00030)
// upgrades with the asks its histories record, in the column and the
// documents alike.
func TestPostponeAsksMigration(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	migrateBefore(t, d, "00031")
	asked := HistoryEntry{At: contractNow.Add(time.Hour), ActorID: "p1", From: StatusConfirmed, To: StatusConfirmed, Reason: postponeAskedReason + ": to 2026-01-03T10:00:00Z"}
	answered := HistoryEntry{At: contractNow.Add(2 * time.Hour), ActorID: "v1", From: StatusConfirmed, To: StatusConfirmed, Reason: "postponement declined"}
	for id, extra := range map[string][]HistoryEntry{"o1": {asked, answered, asked}, "o2": {answered}} {
		o := contractOuting(id, "p1", contractNow.Add(48*time.Hour), contractNow)
		o.History = append(o.History, extra...)
		doc, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.ExecContext(ctx, `INSERT INTO outings (id, organisation_id, participant_id, volunteer_id, status, starts_at, ends_at,
			created_at, version, has_pending_events, lat, lon, doc, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.OrgID, o.ParticipantID, o.VolunteerID, string(o.Status), sqlite.Millis(o.StartsAt), sqlite.Millis(o.EndsAt),
			sqlite.Millis(o.CreatedAt), o.Version, 0, 0.0, 0.0, string(doc), 0); err != nil {
			t.Fatal(err)
		}
	}
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.ReportRows(ctx, "org1", contractNow, contractNow.Add(time.Hour), nil, 10)
	if err != nil || len(rows) != 2 {
		t.Fatalf("report rows %+v %v", rows, err)
	}
	for _, r := range rows {
		want := map[string]int{"o1": 2, "o2": 0}[r.ID]
		o, err := st.Outing(ctx, r.ID)
		if err != nil || r.PostponeAsks != want || o.PostponeAsks != want {
			t.Errorf("%s: row %d, document %d %v, want %d", r.ID, r.PostponeAsks, o.PostponeAsks, err, want)
		}
	}
}

// migrateBefore applies matching's migrations older than version to d.
func migrateBefore(t *testing.T, d *sqlite.DB, version string) {
	t.Helper()
	sub, err := fs.Sub(sqliteMigrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	prev := fstest.MapFS{}
	names, _ := fs.Glob(sub, "*.sql")
	for _, n := range names {
		if n >= version {
			continue
		}
		raw, err := fs.ReadFile(sub, n)
		if err != nil {
			t.Fatal(err)
		}
		prev[n] = &fstest.MapFile{Data: raw}
	}
	if err := d.Migrate(context.Background(), prev, "matching_schema"); err != nil {
		t.Fatal(err)
	}
}

// A database of schema 00031 gains the participants' history index, and
// the bookings query finds the history written before it through it.
func TestParticipantHistoryMigration(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	migrateBefore(t, d, "00032")
	o := contractOuting("old", "p1", contractNow.Add(-200*24*time.Hour), contractNow.Add(-201*24*time.Hour))
	o.Status, o.VolunteerID = StatusCompleted, "v1"
	a, err := outingArgs(o)
	if err != nil {
		t.Fatal(err)
	}
	args := append(append(append([]any{o.ID}, a[:6]...), sqlite.Millis(o.CreatedAt)), a[6:]...)
	if _, err := d.ExecContext(ctx, sqlInsertOuting, args...); err != nil {
		t.Fatal(err)
	}
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.BookingsOf(ctx, []string{"v1", "v2"}, bookingQuery{load: []span{{contractNow.Add(-time.Hour), contractNow}}, participants: []string{"p1"}})
	if err != nil || len(rows) != 1 || rows[0].ID != "old" || rows[0].Status != StatusCompleted {
		t.Fatalf("bookings %+v %v", rows, err)
	}
	bquery, bargs, _, err := bookingArgs([]string{"v1", "v2"}, bookingQuery{participants: []string{"p1"}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := d.QueryPlan(ctx, bquery, bargs...)
	if err != nil || !strings.Contains(strings.Join(plan, " "), "outings_participant_history") {
		t.Fatalf("plan %v %v", plan, err)
	}
}

// A database of schema 00032 gains its volunteers' rating totals from the
// feedback it holds, and the triggers keep them from there on.
func TestVolunteerRatingsMigration(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	migrateBefore(t, d, "00033")
	for i, r := range []struct {
		role      string
		volunteer string
		rating    int
	}{{"participant", "v1", 5}, {"participant", "v1", 2}, {"participant", "v1", 0}, {"volunteer", "v1", 4}, {"participant", "v2", 3}} {
		if _, err := d.ExecContext(ctx, sqlInsertFeedback, fmt.Sprintf("o%d:p1", i), fmt.Sprintf("o%d", i), "org1", "p1", r.role,
			"p1", r.volunteer, r.rating, "", nil, nil, sqlite.Millis(contractNow)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InsertFeedback(ctx, &Feedback{ID: "o9:p2", OutingID: "o9", OrgID: "org1", AuthorID: "p2", AuthorRole: "participant",
		ParticipantID: "p2", VolunteerID: "v2", Rating: 4, CreatedAt: contractNow}); err != nil {
		t.Fatal(err)
	}
	got, err := st.RatingTotalsOf(ctx, []string{"v1", "v2"}, "p1")
	want := []ratingTotal{{VolunteerID: "v1", Ratings: 2, Sum: 7, RatingsWith: 2, SumWith: 7}, {VolunteerID: "v2", Ratings: 2, Sum: 7, RatingsWith: 1, SumWith: 3}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("totals %+v %v\nwant %+v", got, err, want)
	}
}
