package matching

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// Every hot query of the SQLite engine is answered from an index: none
// reads a whole table that grows with use. The plans are logged.
func TestSQLiteHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	if _, err := NewSQLiteStore(ctx, d); err != nil {
		t.Fatal(err)
	}
	now := sqlite.Millis(contractNow)
	ids := `["v1","v2","v3"]`
	q := bookingQuery{busy: span{contractNow, contractNow.Add(time.Hour)},
		load: []span{{contractNow.Add(-time.Hour), contractNow}, {contractNow, contractNow.Add(time.Hour)}}, participants: []string{"p1"}}
	bquery, bargs, _, err := bookingArgs([]string{"v1", "v2"}, q)
	if err != nil || bquery != sqlBookings {
		t.Fatal(bquery, err)
	}
	fquery, fargs, _, err := bookingArgs([]string{"v1"}, bookingQuery{busy: q.busy, load: q.load, participants: []string{"p1", "p2"}})
	if err != nil {
		t.Fatal(err)
	}
	box := boxAround(GeoPoint{Lat: 56.67, Lon: 12.86}, 20)
	page := []any{"x", "", int64(math.MaxInt64), "", 21}
	cases := []struct {
		name  string
		query string
		args  []any
	}{
		// (want: the index a query must use, where a worse one would do.)
		{"outing by id", sqlOutingByID, []any{"o1"}},
		{"outing update", sqlUpdateOuting, []any{"org1", "p1", "v1", "open", now, now, 1, 0, 56.0, 12.0, "{}", 0, 0, "o1"}},
		{"participant's page", sqlPageByParticipant, page},
		{"volunteer's page", sqlPageByVolunteer, page},
		{"organisation's page", sqlPageByOrg, page},
		{"report rows (outcome report)", sqlReportRows, []any{"x", int64(0), "", now, 1000}},
		{"pending events", sqlPendingOutingIDs, []any{100}},
		{"started unmatched", sqlStartedUnmatched, []any{now, 200}},
		{"postponements due", sqlPostponementsDue, []any{now, 200}},
		{"due offer checks", sqlDueOfferChecks, []any{now, 100}},
		{"confirmed between", sqlConfirmedBetween, []any{now, now + 1, 5000}},
		{"an organisation's outings starting", sqlOutingsStarting, []any{"org1", `["open","confirmed"]`, now, now + 1, 500}},
		{"outings of a user", sqlOutingsOfUser, []any{"u1"}},
		{"people of an outing", sqlDropPeople, []any{"o1"}},
		{"completed together", sqlCompletedTogether, []any{"v1", "p1"}},
		{"completed outings together (the approvals page)", sqlOutingsTogether, []any{"v1", "p1", 5}},
		{"bookings of a candidate set (busy, weekly and 30-day load, history)", bquery, bargs},
		{"bookings of one volunteer with many participants (offers)", fquery, fargs},
		{"volunteers in cells", sqlVolunteersInCells, []any{"org1", "active", `["c1","c2"]`, 1, 20000}},
		{"volunteers in cells reaching a point", sqlVolunteersReaching, reachArgs(VolunteerQuery{OrgID: "org1", Status: "active",
			WithProfile: true, Limit: 20000, Reach: &GeoPoint{Lat: 56.67, Lon: 12.86}}, `["c1","c2"]`)},
		{"volunteer by id (the weekly count is on its commitments)", sqlVolunteerByID, []any{"v1"}},
		{"ratings of a candidate set", sqlRatings, []any{ids, 50000}},
		{"rating totals of a candidate set", sqlRatingTotals, []any{ids}},
		{"ratings a participant gave", sqlRatingsGivenBy, []any{"p1"}},
		{"feedback by author", sqlFeedbackByAuthor, []any{"u1"}},
		{"feedback on an outing", sqlFeedbackOnOuting, []any{"o1"}},
		{"erase feedback (participant)", sqlEraseFeedbackParticipant, []any{"u1"}},
		{"erase feedback (volunteer)", sqlEraseFeedbackVolunteer, []any{"u1"}},
		{"offer doc", sqlOfferDoc, []any{"o1"}},
		{"offers for a volunteer", sqlOffersFor, []any{"v1"}},
		{"outings offered to a volunteer", sqlOfferedOuting, []any{"v1"}},
		{"offer records of an outing", sqlDropOffers, []any{"o1"}},
		{"open outings near a volunteer", sqlOpenNear, []any{"org1", now, box.MinLat, box.MaxLat, box.MinLon, box.MaxLon, 500}},
		{"open outings near a volunteer (keys for the doc cache)", sqlOpenNearKeys, []any{"org1", now, box.MinLat, box.MaxLat, box.MinLon, box.MaxLon, 500}},
		{"outing docs the cache lacks", sqlOutingDocs, []any{ids}},
		{"volunteers in cells (keys for the doc cache)", sqlVolunteerKeysInCells, []any{"org1", "active", `["c1","c2"]`, 1, 20000}},
		{"volunteers reaching a point (keys for the doc cache)", sqlVolunteerKeysReaching, reachArgs(VolunteerQuery{OrgID: "org1", Status: "active",
			WithProfile: true, Limit: 20000, Reach: &GeoPoint{Lat: 56.67, Lon: 12.86}}, `["c1","c2"]`)},
		{"volunteer docs the cache lacks", sqlVolunteerDocs, []any{ids}},
		{"preferences of many", sqlPrefsOfMany, []any{ids}},
		{"participants listing a volunteer", sqlListingOf, []any{"v1"}},
		{"preference entries of a participant", sqlDropPrefVols, []any{"p1"}},
	}
	want := map[string]string{
		// One range of start times per volunteer, not all their outings.
		sqlBookings:           "COVERING INDEX outings_volunteer_bookings (volunteer_id=? AND starts_at>? AND starts_at<?)",
		sqlCompletedTogether:  "outings_volunteer_bookings (volunteer_id=?)",
		sqlOutingsTogether:    "outings_volunteer_bookings (volunteer_id=?)",
		sqlVolunteersInCells:  "volunteer_profiles_reach (organisation_id=? AND status=? AND home_cell=?",
		sqlVolunteersReaching: "volunteer_profiles_reach (organisation_id=? AND status=? AND home_cell=?",
		sqlReportRows:         "COVERING INDEX outings_report (organisation_id=? AND (created_at,id)>(?,?)",
		sqlRatings:            "COVERING INDEX feedback_by_volunteer (volunteer_id=? AND author_role=?)", sqlOffersFor: "outing_offers USING PRIMARY KEY (volunteer_id=?)",
		sqlRatingTotals:   "SEARCH t USING PRIMARY KEY (volunteer_id=?)",
		sqlRatingsGivenBy: "COVERING INDEX feedback_participant_ratings (participant_id=? AND author_role=?)",

		// The box is tested on the index, before any row is read.
		sqlOpenNear: "outings_open_in_box (organisation_id=? AND status=? AND starts_at>?)",
		// One seek per status on the organisation's index, not the status index.
		sqlOutingsStarting: "(organisation_id=? AND status=? AND starts_at>? AND starts_at<?)",
		// The doc cache's keys come from the index alone: no row is read.
		sqlOpenNearKeys:          "COVERING INDEX outings_open_in_box (organisation_id=? AND status=? AND starts_at>?)",
		sqlVolunteerKeysInCells:  "COVERING INDEX volunteer_profiles_reach (organisation_id=? AND status=? AND home_cell=?",
		sqlVolunteerKeysReaching: "COVERING INDEX volunteer_profiles_reach (organisation_id=? AND status=? AND home_cell=?",
		// Not the status index, which grows with every completed outing.
		sqlPostponementsDue: "outings_postpone_due (postpone_answer_by<?)",
	}
	// The shared history from the participant's completed outings alone.
	wantToo := map[string]string{sqlBookings: "COVERING INDEX outings_participant_history (participant_id=? AND status=?)"}
	growing := []string{"outings", "outing_people", "outing_offers", "volunteer_profiles", "participant_profiles", "feedback", "preferences", "preference_volunteers"}
	for _, c := range cases {
		plan, err := d.QueryPlan(ctx, c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("%s: %v", c.name, plan)
		if bad := sqlite.FullScans(plan, growing...); len(bad) > 0 {
			t.Errorf("%s scans %v", c.name, bad)
		}
		if w, ok := want[c.query]; ok && !strings.Contains(strings.Join(plan, " "), w) {
			t.Errorf("%s: plan %v does not use %s", c.name, plan, w)
		}
		if w, ok := wantToo[c.query]; ok && !strings.Contains(strings.Join(plan, " "), w) {
			t.Errorf("%s: plan %v does not use %s", c.name, plan, w)
		}
	}
}

// Migration 00002 fills the reach columns of profiles stored before it from
// their docs: its UPDATE, run again on zeroed columns, gives back what the
// store's writes put there.
func TestSQLiteReachColumnsFromDocs(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateVolunteer(ctx, "v1", true, func(p *VolunteerProfile) (bool, error) {
		p.OrgID, p.Status, p.HasProfile, p.Home, p.TravelRadiusKm = "org1", "active", true, GeoPoint{Lat: 56.6744, Lon: 12.8578}, 12
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	src, err := sqliteMigrations.ReadFile("migrations/00002_volunteer_reach.sql")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	update := text[strings.Index(text, "UPDATE volunteer_profiles"):]
	update = update[:strings.Index(update, ";")]
	db := st.(*sqliteStore).d
	if _, err := db.ExecContext(ctx, `UPDATE volunteer_profiles SET home_lat = 0, home_lon = 0, travel_radius_km = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, update); err != nil {
		t.Fatal(err)
	}
	var lat, lon, r float64
	if err := db.QueryRowContext(ctx, `SELECT home_lat, home_lon, travel_radius_km FROM volunteer_profiles WHERE user_id = 'v1'`).Scan(&lat, &lon, &r); err != nil {
		t.Fatal(err)
	}
	if lat != 56.6744 || lon != 12.8578 || r != 12 {
		t.Fatalf("from the doc: %v %v %v", lat, lon, r)
	}
}

// Migration 00030 fills confirmed_at of existing outings from their
// history, to the millisecond.
func TestConfirmedAtBackfill(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	o := contractOuting("o1", "p1", contractNow.Add(48*time.Hour), contractNow)
	at := contractNow.Add(17*time.Minute + 123*time.Millisecond)
	o.History = append(o.History, HistoryEntry{At: at, ActorID: "c1", From: StatusPendingApproval, To: StatusConfirmed})
	if err := st.InsertOuting(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertOuting(ctx, contractOuting("o2", "p1", contractNow.Add(48*time.Hour), contractNow)); err != nil {
		t.Fatal(err)
	}
	raw, err := sqliteMigrations.ReadFile("migrations/00030_outing_confirmed_at.sql")
	if err != nil {
		t.Fatal(err)
	}
	up := string(raw)
	backfill := up[strings.Index(up, "UPDATE outings"):]
	backfill = backfill[:strings.Index(backfill, ";\n")+1]
	if _, err := d.ExecContext(ctx, `UPDATE outings SET confirmed_at = 7`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, backfill); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int64{"o1": at.UnixMilli(), "o2": 0} {
		var got int64
		if err := d.QueryRowContext(ctx, `SELECT confirmed_at FROM outings WHERE id = ?`, id).Scan(&got); err != nil || got != want {
			t.Errorf("%s: confirmed_at %d %v, want %d", id, got, err, want)
		}
	}
}

// Inside a write transaction (a decision of TransitionOuting) reads join
// it on its one connection: the candidates' reads must then not run at once.
func TestSQLiteReadsInAWriteAreNotConcurrent(t *testing.T) {
	ctx := context.Background()
	st, err := NewSQLiteStore(ctx, sqlitetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InsertOuting(ctx, contractOuting("o1", "p1", contractNow.Add(time.Hour), contractNow)); err != nil {
		t.Fatal(err)
	}
	inside := true
	if _, _, err := st.TransitionOuting(ctx, "o1", contractNow, func(ctx context.Context, o *Outing) (Move, error) {
		inside = st.ConcurrentReads(ctx)
		return Move{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if inside || !st.ConcurrentReads(ctx) {
		t.Fatalf("concurrent reads: %v inside a write, %v outside", inside, st.ConcurrentReads(ctx))
	}
}

// The shared history comes from the side with fewer ids: the participant's
// outings for a candidate set; for a volunteer's offers, all of the
// volunteer's outings (reading the completed outings of every participant
// near them, with anyone, made the offers list six times slower in
// BenchmarkFigures).
func TestSQLiteBookingsHistoryFromTheSmallerSide(t *testing.T) {
	for _, c := range []struct {
		volunteers, participants []string
		want                     string
	}{
		{[]string{"v1", "v2", "v3"}, []string{"p1"}, sqlBookings},
		{[]string{"v1"}, []string{"p1", "p2", "p3"}, sqlBookingsOfFew},
		{[]string{"v1"}, nil, sqlBookings},
	} {
		query, _, _, err := bookingArgs(c.volunteers, bookingQuery{participants: c.participants})
		if err != nil || query != c.want {
			t.Errorf("%d volunteers, %d participants: %.60s (%v)", len(c.volunteers), len(c.participants), query, err)
		}
	}
}
