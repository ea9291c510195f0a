package api_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/matching/availability"
)

// realPlace is a row of matching/testdata/places.csv (real places in
// Halmstad and Blekinge).
type realPlace struct {
	Name, Town, Kind string
	Lat, Lon         float64
}

func loadRealPlaces(t testing.TB) map[string]realPlace {
	t.Helper()
	f, err := os.Open("../matching/testdata/places.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("places.csv: %v", err)
	}
	out := map[string]realPlace{}
	for _, r := range rows[1:] {
		lat, err1 := strconv.ParseFloat(r[2], 64)
		lon, err2 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("places.csv: bad row %v", r)
		}
		out[r[0]] = realPlace{Name: r[0], Town: r[1], Lat: lat, Lon: lon, Kind: r[4]}
	}
	return out
}

// profiledVolunteer is an active volunteer with availability all week and
// a profile at home with radius km.
func profiledVolunteer(e *testEnv, org string, home realPlace, radius float64, languages ...string) person {
	e.tb().Helper()
	v := newPerson(e, auth.RoleVolunteer, org)
	status, body := e.Call("PUT", "/v1/volunteers/me/availability", v.Token, everyDay)
	e.Want(status, body, 200)
	if len(languages) == 0 {
		languages = []string{"sv", "en"}
	}
	status, body = e.Call("PUT", "/v1/volunteers/me/profile", v.Token, map[string]any{
		"home": map[string]any{"lat": home.Lat, "lon": home.Lon}, "travel_radius_km": radius, "languages": languages,
		"gender": "female", "skills": []string{"public_transport"}, "max_outings_per_week": 3})
	e.Want(status, body, 200)
	return v
}

// requestAt asks for a two-hour outing at a real place through HTTP.
func requestAt(e *testEnv, p person, pl realPlace, start time.Time) matching.OutingView {
	e.tb().Helper()
	status, body := e.Call("POST", "/v1/outings", p.Token, map[string]any{
		"kind": pl.Kind, "note": "I get anxious on crowded buses",
		"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(2 * time.Hour).Format(time.RFC3339),
		"meeting_point": map[string]any{"lat": pl.Lat, "lon": pl.Lon, "description": pl.Name + ", by the entrance"},
	})
	e.Want(status, body, 201)
	var v matching.OutingView
	e.Decode(body, &v)
	return v
}

type candidatesJSON struct {
	Items []struct {
		VolunteerID string             `json:"volunteer_id"`
		Name        string             `json:"name"`
		Score       float64            `json:"score"`
		DistanceKm  float64            `json:"distance_km"`
		Parts       map[string]float64 `json:"parts"`
		Reasons     []string           `json:"reasons"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
	Excluded   []struct {
		VolunteerID string `json:"volunteer_id"`
		Name        string `json:"name"`
		Rule        string `json:"rule"`
		Message     string `json:"message"`
	} `json:"excluded"`
}

func TestCandidatesEndpointWithRealPlaces(t *testing.T) {
	e := newTestEnv(t)
	places := loadRealPlaces(t)
	org := e.Org("Röda Korset Halmstad")
	other := e.Org("Röda Korset Karlskrona")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	cOther := newPerson(e, auth.RoleCoordinator, other)

	library := profiledVolunteer(e, org, places["Halmstad stadsbibliotek"], 5)       // 0.3 km from Stora Torg
	mall := profiledVolunteer(e, org, places["Hallarna köpcentrum"], 10)             // about 3 km
	beach := profiledVolunteer(e, org, places["Tylösand strand"], 3)                 // about 9 km: beyond 3 km
	english := profiledVolunteer(e, org, places["Halmstad Centralstation"], 5, "en") // near, but no Swedish
	profiledVolunteer(e, org, places["Karlskrona Stortorget"], 50)                   // Blekinge: never near
	profiledVolunteer(e, other, places["Stora Torg"], 5)                             // another organisation

	o := requestAt(e, p, places["Stora Torg"], e.Clock.Now().Add(50*time.Hour))
	path := "/v1/outings/" + o.ID + "/candidates"

	status, body := e.Call("GET", path+"?include_excluded=true&lang=en", c.Token, nil)
	e.Want(status, body, 200)
	var got candidatesJSON
	e.Decode(body, &got)
	var ids []string
	for _, it := range got.Items {
		ids = append(ids, it.VolunteerID)
		if it.Name != "Vera Holm" || it.Score <= 0 || it.Score > 100 || len(it.Reasons) == 0 || len(it.Parts) != 6 {
			t.Fatalf("item %+v", it)
		}
		for _, part := range []string{"distance", "continuity", "slack", "fairness", "feedback", "skills"} {
			if v, ok := it.Parts[part]; !ok || v < 0 || v > 1 {
				t.Fatalf("part %s = %v in %s", part, v, body)
			}
		}
	}
	if !slices.Equal(ids, []string{library.ID, mall.ID}) {
		t.Fatalf("candidates %v, want library %s then mall %s: %s", ids, library.ID, mall.ID, body)
	}
	if d := got.Items[0].DistanceKm; d > 0.5 || !strings.HasPrefix(got.Items[0].Reasons[0], fmt.Sprintf("%.1f km from the meeting point", d)) {
		t.Fatalf("nearest: %v km, reasons %v", d, got.Items[0].Reasons)
	}
	rules := map[string]string{}
	for _, x := range got.Excluded {
		rules[x.VolunteerID] = x.Rule
	}
	if want := map[string]string{beach.ID: "too_far", english.ID: "language"}; fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Fatalf("excluded %v, want %v: %s", rules, want, body)
	}

	// The coordinator's language (sv) by default; no excluded list unless asked.
	status, body = e.Call("GET", path, c.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), "km från mötesplatsen") || strings.Contains(string(body), `"excluded"`) {
		t.Fatalf("default answer: %s", body)
	}
	// A coordinator who reads English gets English, exclusions included.
	status, body = e.Call("PATCH", "/v1/me", c.Token, map[string]any{"language": "en"})
	e.Want(status, body, 200)
	status, body = e.Call("GET", path+"?include_excluded=true", c.Token, nil)
	e.Want(status, body, 200)
	for _, want := range []string{"km from the meeting point", "the meeting point is beyond their travel radius", "does not speak the requested language"} {
		if !strings.Contains(string(body), want) || strings.Contains(string(body), "mötesplatsen") {
			t.Fatalf("english coordinator: no %q: %s", want, body)
		}
	}
	// Bounded and paged.
	status, body = e.Call("GET", path+"?limit=1", c.Token, nil)
	e.Want(status, body, 200)
	var first candidatesJSON
	e.Decode(body, &first)
	if len(first.Items) != 1 || first.NextCursor == "" {
		t.Fatalf("limit=1: %s", body)
	}
	status, body = e.Call("GET", path+"?limit=1&cursor="+first.NextCursor, c.Token, nil)
	e.Want(status, body, 200)
	var second candidatesJSON
	e.Decode(body, &second)
	if len(second.Items) != 1 || second.Items[0].VolunteerID != mall.ID || second.NextCursor != "" {
		t.Fatalf("second page: %s", body)
	}
	for _, bad := range []string{"?limit=0", "?limit=101", "?include_excluded=yes", "?lang=de", "?cursor=xyz"} {
		status, body = e.Call("GET", path+bad, c.Token, nil)
		e.Want(status, body, 422)
	}

	// Who may ask: another organisation's coordinator does not learn the
	// outing exists; volunteers and participants may not ask.
	status, body = e.Call("GET", path, cOther.Token, nil)
	e.Want(status, body, 404)
	status, body = e.Call("GET", path, library.Token, nil)
	e.Want(status, body, 403)
	status, body = e.Call("GET", path, p.Token, nil)
	e.Want(status, body, 403)
	status, body = e.Call("GET", "/v1/outings/"+strings.Repeat("0", 24)+"/candidates", c.Token, nil)
	e.Want(status, body, 404)
}

func TestOffersEndpointLimitedViewAndStaleAccept(t *testing.T) {
	e := newTestEnv(t)
	places := loadRealPlaces(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org) // Pia Lindqvist
	q := newPerson(e, auth.RoleParticipant, org)
	v := profiledVolunteer(e, org, places["Halmstad stadsbibliotek"], 10)
	start := e.Clock.Now().Add(50 * time.Hour)
	a := requestAt(e, p, places["Stora Torg"], start)
	b := requestAt(e, q, places["Halmstad Centralstation"], start.Add(30*time.Minute))
	requestAt(e, q, places["Karlskrona Stortorget"], start.Add(24*time.Hour)) // beyond the radius

	status, body := e.Call("GET", "/v1/volunteers/me/offers", v.Token, nil)
	e.Want(status, body, 200)
	text := string(body)
	for _, secret := range []string{"anxious", "Lindqvist", "by the entrance", `"meeting_point"`, `"note"`,
		strconv.FormatFloat(places["Stora Torg"].Lat, 'f', -1, 64), strconv.FormatFloat(places["Halmstad Centralstation"].Lon, 'f', -1, 64)} {
		if strings.Contains(text, secret) {
			t.Fatalf("the offers list shows %q: %s", secret, text)
		}
	}
	var page struct {
		Items []struct {
			ID              string  `json:"id"`
			Score           float64 `json:"score"`
			Limited         bool    `json:"limited"`
			ParticipantName string  `json:"participant_name"`
			Area            *struct {
				Lat, Lon float64
			} `json:"area"`
		} `json:"items"`
	}
	e.Decode(body, &page)
	if len(page.Items) != 2 {
		t.Fatalf("offers: %s", body)
	}
	for _, it := range page.Items {
		if !it.Limited || it.Area == nil || it.Score <= 0 || it.ParticipantName != "Pia" || (it.ID != a.ID && it.ID != b.ID) {
			t.Fatalf("offer %+v", it)
		}
	}

	// Taking one makes the other, at the same time, a stale offer: 409.
	status, body = e.Call("POST", "/v1/outings/"+a.ID+"/accept", v.Token, nil)
	e.Want(status, body, 200)
	status, body = e.Call("POST", "/v1/outings/"+b.ID+"/accept", v.Token, nil)
	e.Want(status, body, 409)
	status, body = e.Call("GET", "/v1/volunteers/me/offers", v.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("offers after taking one at that time: %s", body)
	}
	// A volunteer too far away is not a candidate: 403.
	far := profiledVolunteer(e, org, places["Tylösand strand"], 2)
	status, body = e.Call("POST", "/v1/outings/"+b.ID+"/accept", far.Token, nil)
	e.Want(status, body, 403)
}

func TestPreferencesEndpoints(t *testing.T) {
	e := newTestEnv(t)
	places := loadRealPlaces(t)
	org := e.Org("Röda Korset Halmstad")
	other := e.Org("Röda Korset Karlskrona")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	v := profiledVolunteer(e, org, places["Halmstad stadsbibliotek"], 10)
	w := profiledVolunteer(e, org, places["Stora Torg"], 10)
	foreign := profiledVolunteer(e, other, places["Stora Torg"], 10)

	status, body := e.Call("PUT", "/v1/participants/me/volunteers/"+v.ID, p.Token, map[string]any{"preference": "never"})
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"preference":"never"`) || !strings.Contains(string(body), `"name":"Vera"`) {
		t.Fatalf("put: %s", body)
	}
	status, body = e.Call("PUT", "/v1/participants/me/volunteers/"+w.ID, p.Token, map[string]any{"preference": "preferred"})
	e.Want(status, body, 422) // no completed outing together
	if e.Problem(body).Errors[0].Field != "preference" {
		t.Fatalf("problem %s", body)
	}
	status, body = e.Call("PUT", "/v1/participants/me/volunteers/"+w.ID, p.Token, map[string]any{"preference": "always"})
	e.Want(status, body, 422)
	status, body = e.Call("PUT", "/v1/participants/me/volunteers/"+foreign.ID, p.Token, map[string]any{"preference": "never"})
	e.Want(status, body, 404)

	status, body = e.Call("GET", "/v1/participants/me/volunteers", p.Token, nil)
	e.Want(status, body, 200)
	var list matching.PreferencePage
	e.Decode(body, &list)
	if len(list.Items) != 1 || list.Items[0].VolunteerID != v.ID || list.Items[0].Preference != "never" {
		t.Fatalf("list %s", body)
	}

	o := requestAt(e, p, places["Stora Torg"], e.Clock.Now().Add(50*time.Hour))
	status, body = e.Call("GET", "/v1/outings/"+o.ID+"/candidates?include_excluded=true", c.Token, nil)
	e.Want(status, body, 200)
	var cands candidatesJSON
	e.Decode(body, &cands)
	if len(cands.Items) != 1 || cands.Items[0].VolunteerID != w.ID || len(cands.Excluded) != 1 || cands.Excluded[0].Rule != "blocked" {
		t.Fatalf("candidates with a never-again: %s", body)
	}
	// The blocked volunteer is not told why.
	status, body = e.Call("POST", "/v1/outings/"+o.ID+"/accept", v.Token, nil)
	e.Want(status, body, 403)
	if strings.Contains(string(body), "participant") {
		t.Fatalf("the refusal tells the volunteer about the participant's choice: %s", body)
	}

	status, body = e.Call("DELETE", "/v1/participants/me/volunteers/"+v.ID, p.Token, nil)
	e.Want(status, body, 204)
	status, body = e.Call("GET", "/v1/participants/me/volunteers", p.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("list after delete: %s", body)
	}
	status, body = e.Call("POST", "/v1/outings/"+o.ID+"/accept", v.Token, nil)
	e.Want(status, body, 200)
}

// ---- round trips ----

// roundTrips is a second app on the same database as e, built on a client
// whose command monitor counts every command sent to this test's database.
type roundTrips struct {
	srv  *api.Server
	mu   sync.Mutex
	cmds []string
	on   bool
}

func newRoundTrips(t *testing.T, e *testEnv) *roundTrips {
	t.Helper()
	ctx := context.Background()
	r := &roundTrips{}
	name := e.DB.Name()
	mon := &event.CommandMonitor{Started: func(_ context.Context, ev *event.CommandStartedEvent) {
		if ev.DatabaseName != name {
			return
		}
		// The command and the collection it reads, e.g. "find outings".
		what := ev.CommandName
		if coll, ok := ev.Command.Lookup(ev.CommandName).StringValueOK(); ok {
			what += " " + coll
		}
		r.mu.Lock()
		if r.on {
			r.cmds = append(r.cmds, what)
		}
		r.mu.Unlock()
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(dbtest.URI(t)).SetMonitor(mon))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	md := &db.DB{Database: client.Database(name), Client: client, Embedded: e.DB.Embedded, URI: e.DB.URI}
	md.SetGate(e.DB.Gate())
	accounts, err := auth.New(ctx, auth.Config{Store: e.AuthStore, Keys: auth.NewKeySet(e.SigningKey), Clock: e.Clock, Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := matching.NewService(ctx, e.Matching, matching.Config{Clock: e.Clock, Directory: matching.AccountsDirectory(accounts)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := matching.NewMatcher(ctx, svc, matching.MatcherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r.srv, err = api.New(api.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DB: md, Auth: accounts, Accounts: accounts,
		Matching: svc, Matcher: m, Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// call sends one request and returns its status and the commands it sent.
func (r *roundTrips) call(t *testing.T, path, token string) (int, []byte, []string) {
	t.Helper()
	r.mu.Lock()
	r.cmds, r.on = nil, true
	r.mu.Unlock()
	resp, body := doRequest(t, r.srv, "GET", path, token, nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return resp.StatusCode, body, slices.Clone(r.cmds)
}

// seedVolunteers inserts n active volunteers of org (accounts and
// profiles: accounts through the accounts' store, profiles in bulk straight
// into their collection with the fields the store writes) with homes within about 40 km of lat, lon, each available
// 07:00–21:00 on day. One slot rather than seven keeps the documents small:
// under -race the embedded FerretDB records a stack trace for every
// sub-document it handles, and seeding 10 000 week-long profiles took 26 s.
func seedVolunteers(tb testing.TB, e *testEnv, st matching.Store, org string, n, from int, lat, lon float64, day time.Weekday, rng *rand.Rand) []string {
	tb.Helper()
	ctx := context.Background()
	weekday := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[day]
	spec := &availability.Spec{TimeZone: "Europe/Stockholm", Weekly: []availability.SlotSpec{{Weekday: weekday, Start: "07:00", End: "21:00"}},
		Exceptions: []availability.Exception{}}
	now := testNow
	users := make([]auth.UserRecord, 0, n)
	profiles := make([]matching.VolunteerProfile, 0, n)
	ids := make([]string, 0, n)
	for i := range n {
		id := fmt.Sprintf("seedvol%06d", from+i)
		ids = append(ids, id)
		users = append(users, auth.UserRecord{User: auth.User{ID: id, Email: id + "@example.org", Name: fmt.Sprintf("Volunteer %d", from+i),
			Role: auth.RoleVolunteer, OrgID: org, Status: auth.StatusActive, Language: "sv", CreatedAt: now}, UpdatedAt: now})
		hLat := lat + (rng.Float64()*2-1)*0.36 // ±40 km north-south
		hLon := lon + (rng.Float64()*2-1)*0.65 // ±40 km east-west at 56°N
		profiles = append(profiles, matching.VolunteerProfile{
			UserID: id, OrgID: org, Status: auth.StatusActive, HasProfile: true,
			Home: matching.GeoPoint{Lat: hLat, Lon: hLon}, HomeCell: matching.HomeCell(hLat, hLon),
			TravelRadiusKm: float64(3 + rng.IntN(28)), Languages: []string{"sv"}, Gender: "female",
			Skills: []string{"walking"}, MaxOutingsPerWeek: 3, Availability: spec, Commitments: []matching.Commitment{},
			Rev: 1, UpdatedAt: now,
		})
	}
	for from := 0; from < n; from += 1000 {
		to := min(n, from+1000)
		for _, u := range users[from:to] {
			if err := e.AuthStore.InsertUser(ctx, u); err != nil {
				tb.Fatal(err)
			}
		}
		for _, p := range profiles[from:to] {
			if _, err := st.UpdateVolunteer(ctx, p.UserID, true, func(q *matching.VolunteerProfile) (bool, error) {
				*q = p
				return true, nil
			}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return ids
}

// The candidates and offers endpoints make the same number of database
// round trips at 100 volunteers as at 10 000. Under -race this test takes
// about 40 s on two cores, half of it seeding and half the candidates
// request at 10 000 (the embedded FerretDB scans and decodes every profile).
func TestCandidatesAndOffersRoundTripsAreFixed(t *testing.T) {
	const large = 10_000
	e := newTestEnv(t)
	rt := newRoundTrips(t, e)
	places := loadRealPlaces(t)
	torg := places["Stora Torg"]
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	// A volunteer with some history: a completed outing with p, rated.
	v := profiledVolunteer(e, org, places["Halmstad stadsbibliotek"], 10)
	svc := matchingOf(e)
	ctx := context.Background()
	past := createOuting(e, p, e.Clock.Now().Add(2*time.Hour))
	done(t)(svc.Accept(ctx, v.Who, past))
	done(t)(svc.Approve(ctx, c.Who, past))
	e.Clock.Advance(2 * time.Hour)
	done(t)(svc.CheckIn(ctx, p.Who, past))
	done(t)(svc.Complete(ctx, p.Who, past))
	if _, err := svc.GiveFeedback(ctx, p.Who, past, matching.FeedbackInput{Rating: 5}); err != nil {
		t.Fatal(err)
	}
	renew(e, &p, &c, &v)
	o := requestAt(e, p, torg, e.Clock.Now().Add(50*time.Hour))
	requestAt(e, p, places["Hallarna köpcentrum"], e.Clock.Now().Add(74*time.Hour))

	rng := rand.New(rand.NewPCG(6, 6))
	measure := func(size int) (cands, offers []string) {
		t.Helper()
		status, body, cands := rt.call(t, "/v1/outings/"+o.ID+"/candidates?include_excluded=true&limit=100", c.Token)
		e.Want(status, body, 200)
		var got candidatesJSON
		e.Decode(body, &got)
		if len(got.Items) == 0 || len(got.Excluded) == 0 {
			t.Fatalf("at %d volunteers: %d candidates, %d excluded", size, len(got.Items), len(got.Excluded))
		}
		status, body, offers = rt.call(t, "/v1/volunteers/me/offers", v.Token)
		e.Want(status, body, 200)
		if !strings.Contains(string(body), o.ID) {
			t.Fatalf("at %d volunteers: offers %s", size, body)
		}
		t.Logf("%5d volunteers: candidates %d round trips %v; offers %d round trips %v", size, len(cands), cands, len(offers), offers)
		return cands, offers
	}
	sto, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	day := o.StartsAt.In(sto).Weekday()
	seedVolunteers(t, e, e.Matching, org, 99, 0, torg.Lat, torg.Lon, day, rng)
	smallC, smallO := measure(100)
	t0 := time.Now()
	seedVolunteers(t, e, e.Matching, org, large-100, 99, torg.Lat, torg.Lon, day, rng)
	t.Logf("seeded %d more volunteers in %v", large-100, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	largeC, largeO := measure(large)
	t.Logf("measured at %d in %v", large, time.Since(t0).Round(time.Millisecond))
	if !slices.Equal(smallC, largeC) || !slices.Equal(smallO, largeO) {
		t.Fatalf("round trips differ:\ncandidates %v vs %v\noffers %v vs %v", smallC, largeC, smallO, largeO)
	}
	if len(smallC) > 10 || len(smallO) > 8 {
		t.Fatalf("more round trips than designed: candidates %v, offers %v", smallC, smallO)
	}
}
