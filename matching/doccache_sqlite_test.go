package matching

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching/availability"
)

// The doc cache answers a repeated prefilter without decoding a doc, and
// sees at once what another store on the same file (another process) or a
// plain SQL write changed, and what it deleted.
func TestSQLiteDocCacheProfiles(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	at := GeoPoint{Lat: 56.6744, Lon: 12.8578}
	for _, id := range []string{"v1", "v2", "v3"} {
		if _, err := st.UpdateVolunteer(ctx, id, true, func(p *VolunteerProfile) (bool, error) {
			p.OrgID, p.Status, p.HasProfile, p.Home, p.HomeCell = "org1", auth.StatusActive, true, at, HomeCell(at.Lat, at.Lon)
			p.TravelRadiusKm, p.Languages, p.Gender, p.MaxOutingsPerWeek = 10, []string{"sv"}, "female", 2
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	cache := st.(*sqliteStore).profiles
	q := VolunteerQuery{OrgID: "org1", Status: auth.StatusActive, Cells: CellsCovering(at.Lat, at.Lon, MaxTravelRadiusKm), WithProfile: true, Limit: 100, Reach: &at}
	langs := func(want int64) map[string][]string {
		t.Helper()
		before := cache.decoded.Load()
		ps, err := st.VolunteersInCells(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := cache.decoded.Load() - before; got != want {
			t.Errorf("decoded %d docs, want %d", got, want)
		}
		out := map[string][]string{}
		for _, p := range ps {
			out[p.UserID] = p.Languages
		}
		return out
	}
	if got := langs(3); len(got) != 3 {
		t.Fatalf("first read: %v", got)
	}
	langs(0)
	if _, err := other.UpdateVolunteer(ctx, "v2", false, func(p *VolunteerProfile) (bool, error) {
		p.Languages = []string{"sv", "en"}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := langs(1); !slices.Equal(got["v2"], []string{"sv", "en"}) {
		t.Errorf("after another store's write: %v", got)
	}
	if _, err := d.ExecContext(ctx, `UPDATE volunteer_profiles SET doc = json_set(doc, '$.Languages', json('["en"]')) WHERE user_id = 'v3'`); err != nil {
		t.Fatal(err)
	}
	if got := langs(1); !slices.Equal(got["v3"], []string{"en"}) {
		t.Errorf("after a plain SQL write: %v", got)
	}
	if err := other.DeleteVolunteer(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if got := langs(0); len(got) != 2 || got["v1"] != nil {
		t.Errorf("after a delete: %v", got)
	}
	if err := other.SetVolunteerStatus(ctx, "v2", auth.StatusSuspended); err != nil {
		t.Fatal(err)
	}
	if got := langs(0); len(got) != 1 || got["v3"] == nil {
		t.Errorf("after a suspension: %v", got)
	}
}

func TestSQLiteDocCacheOpenOutings(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"o1", "o2", "o3"} {
		if err := st.InsertOuting(ctx, contractOuting(id, "p1", contractNow.Add(time.Duration(24+i)*time.Hour), contractNow)); err != nil {
			t.Fatal(err)
		}
	}
	cache := st.(*sqliteStore).outings
	box := boxAround(GeoPoint{Lat: 56.6744, Lon: 12.8578}, 10)
	notes := func(want int64) []string {
		t.Helper()
		before := cache.decoded.Load()
		os, err := st.OpenOutingsNear(ctx, "org1", box, contractNow, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got := cache.decoded.Load() - before; got != want {
			t.Errorf("decoded %d docs, want %d", got, want)
		}
		var out []string
		for _, o := range os {
			out = append(out, o.ID+":"+o.Note)
		}
		return out
	}
	if got := notes(3); !slices.Equal(got, []string{"o1:note", "o2:note", "o3:note"}) {
		t.Fatalf("first read: %v", got)
	}
	notes(0)
	if err := st.UpdateOuting(ctx, "o2", func(o *Outing) (bool, error) { o.Note = "changed"; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if got := notes(1); !slices.Equal(got, []string{"o1:note", "o2:changed", "o3:note"}) {
		t.Errorf("after a write: %v", got)
	}
	// A status written with its doc leaves the list; the order is the query's.
	if _, err := d.ExecContext(ctx, `UPDATE outings SET status = 'cancelled', doc = json_set(doc, '$.Status', 'cancelled') WHERE id = 'o1'`); err != nil {
		t.Fatal(err)
	}
	if got := notes(0); !slices.Equal(got, []string{"o2:changed", "o3:note"}) {
		t.Errorf("after a cancel: %v", got)
	}
}

// A cached profile's availability is compiled once for every request that
// ranks it, and again after the profile changed.
func TestSQLiteDocCacheCompilesWeekOnce(t *testing.T) {
	ctx := context.Background()
	st, err := NewSQLiteStore(ctx, sqlitetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	at := GeoPoint{Lat: 56.6744, Lon: 12.8578}
	set := func(end string) {
		t.Helper()
		if _, err := st.UpdateVolunteer(ctx, "v1", true, func(p *VolunteerProfile) (bool, error) {
			p.OrgID, p.Status, p.HasProfile, p.Home, p.HomeCell, p.TravelRadiusKm = "org1", auth.StatusActive, true, at, HomeCell(at.Lat, at.Lon), 10
			p.Availability = &availability.Spec{TimeZone: "Europe/Stockholm", Weekly: []availability.SlotSpec{{Weekday: "mon", Start: "08:00", End: end}}}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	q := VolunteerQuery{OrgID: "org1", Status: auth.StatusActive, Cells: CellsCovering(at.Lat, at.Lon, MaxTravelRadiusKm), WithProfile: true, Limit: 10}
	week := func() *availability.Week {
		t.Helper()
		ps, err := st.VolunteersInCells(ctx, q)
		if err != nil || len(ps) != 1 {
			t.Fatalf("%v %v", ps, err)
		}
		return ps[0].Week()
	}
	set("12:00")
	w1 := week()
	if w1 == nil || w1 != week() {
		t.Fatalf("compiled again for a profile that did not change: %p %p", w1, week())
	}
	set("18:00")
	w2 := week()
	mon := time.Date(2026, 6, 1, 15, 0, 0, 0, time.UTC) // 17:00 in Stockholm
	if w2 == w1 || !w2.Covers(mon, mon.Add(30*time.Minute)) || w1.Covers(mon, mon.Add(30*time.Minute)) {
		t.Errorf("the changed availability was not compiled anew")
	}
}

// Migration 00004 on a database of the previous schema: rows already there
// get a stamp, and the cached reads find them.
func TestSQLiteDocStampsFromPreviousSchema(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	old := fstest.MapFS{}
	for _, name := range []string{"00001_init.sql", "00002_volunteer_reach.sql", "00003_open_outings_box.sql"} {
		src, err := sqliteMigrations.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: src}
	}
	if err := d.Migrate(ctx, old, "matching_schema"); err != nil {
		t.Fatal(err)
	}
	o := contractOuting("o1", "p1", contractNow.Add(24*time.Hour), contractNow)
	args, err := outingArgs(o)
	if err != nil {
		t.Fatal(err)
	}
	// The columns of that schema (later ones, such as confirmed_at, left out).
	const insertPrevious = `INSERT INTO outings (id, organisation_id, participant_id, volunteer_id, status, starts_at, ends_at,
		created_at, version, has_pending_events, lat, lon, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	if _, err := d.ExecContext(ctx, insertPrevious, append([]any{o.ID}, append(append(args[:6:6], sqlite.Millis(o.CreatedAt)), args[6:11]...)...)...); err != nil {
		t.Fatal(err)
	}
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var zero int
	if err := d.QueryRowContext(ctx, `SELECT count(*) FROM outings WHERE doc_stamp = 0`).Scan(&zero); err != nil || zero != 0 {
		t.Fatalf("%d outings without a stamp (%v)", zero, err)
	}
	os, err := st.OpenOutingsNear(ctx, "org1", boxAround(GeoPoint{Lat: 56.6744, Lon: 12.8578}, 10), contractNow, 10)
	if err != nil || len(os) != 1 || os[0].Note != "note" {
		t.Fatalf("after the migration: %v %v", os, err)
	}
}

// The cached prefilter runs its keys query in two halves of the cells: put
// together they are the uncached query's rows, in its order, to its limit.
func TestSQLiteCachedPrefilterInHalves(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	at := GeoPoint{Lat: 56.6744, Lon: 12.8578}
	cells := CellsCovering(at.Lat, at.Lon, MaxTravelRadiusKm)
	for i := range 60 {
		home := GeoPoint{Lat: at.Lat + float64(i%7-3)*0.06, Lon: at.Lon + float64(i%11-5)*0.08}
		if _, err := st.UpdateVolunteer(ctx, fmt.Sprintf("v%02d", i), true, func(p *VolunteerProfile) (bool, error) {
			p.OrgID, p.Status, p.HasProfile, p.Home, p.HomeCell = "org1", auth.StatusActive, true, home, HomeCell(home.Lat, home.Lon)
			p.TravelRadiusKm, p.Languages, p.Gender, p.MaxOutingsPerWeek = float64(5+i%40), []string{"sv"}, "female", 2
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(ps []VolunteerProfile) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.UserID)
		}
		return out
	}
	distinctCells := map[string]bool{}
	for _, reach := range []*GeoPoint{nil, &at} {
		for _, limit := range []int{100, 7} {
			q := VolunteerQuery{OrgID: "org1", Status: auth.StatusActive, Cells: cells, WithProfile: true, Limit: limit, Reach: reach}
			raw, _ := json.Marshal(cells)
			query, args := sqlVolunteersInCells, []any{"org1", "active", string(raw), 1, limit}
			if reach != nil {
				query, args = sqlVolunteersReaching, reachArgs(q, string(raw))
			}
			want, err := queryJSON[VolunteerProfile](ctx, d.DB, query, args...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.VolunteersInCells(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), ids(want)) || len(want) == 0 {
				t.Errorf("reach %v, limit %d: %v\nwant %v", reach != nil, limit, ids(got), ids(want))
			}
			for _, p := range want {
				distinctCells[p.HomeCell] = true
			}
		}
	}
	if len(distinctCells) < 3 {
		t.Fatalf("homes in %d cells: the halves are not put to the test", len(distinctCells))
	}
}
