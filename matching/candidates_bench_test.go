package matching_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/matching/availability"
)

// BenchmarkCandidatesEndpoint: GET /v1/outings/{id}/candidates through the
// HTTP app (accounts on the embedded FerretDB, matching on SQLite), with 10 000 volunteers spread over
// Halland and Blekinge (around the places of testdata/places.csv), 2 000
// past and future outings and 1 000 ratings. Each iteration sends the
// endpoint once and, in the same run, the same query done the naive way
// (every volunteer of the organisation loaded and filtered in Go, a route
// added for the benchmark); it reports the median and p99 of both and
// their ratio. Before timing, it counts the database round trips of the
// endpoint to the accounts' store at 100 and at 10 000 volunteers and
// fails if they differ (matching's SQLite queries are fixed in number by
// construction: see candidates.go).
//
//	go test -run '^$' -bench BenchmarkCandidatesEndpoint -benchtime 20x ./matching/
func BenchmarkCandidatesEndpoint(b *testing.B) {
	ctx := context.Background()
	env := newBenchApp(b)
	places := benchPlaces(b)
	torg := places[1] // Stora Torg
	if torg.name != "Stora Torg" {
		b.Fatalf("places.csv order changed: %v", torg)
	}
	o, err := env.svc.CreateOuting(ctx, env.participant, matching.OutingRequest{
		Kind: matching.KindCafe, StartsAt: benchNow.Add(50 * time.Hour), EndsAt: benchNow.Add(52 * time.Hour),
		MeetingPoint: matching.MeetingPoint{Lat: torg.lat, Lon: torg.lon, Description: torg.name},
	})
	if err != nil {
		b.Fatal(err)
	}
	path := "/v1/outings/" + o.ID + "/candidates?limit=20"
	naive := "/bench/naive/" + o.ID

	rng := mrand.New(mrand.NewPCG(10, 10000))
	env.seed(b, 100, 0, places, rng)
	small, _ := env.roundTrips(b, path)
	start := time.Now()
	env.seed(b, 9900, 100, places, rng)
	env.seedHistory(b, 2000, 1000, rng)
	b.Logf("seeded 10 000 volunteers, 2 000 outings, 1 000 ratings in %v", time.Since(start).Round(time.Millisecond))
	large, took := env.roundTrips(b, path)
	b.Logf("round trips of the candidates endpoint: %d at 100 volunteers, %d at 10 000 %v; one request at 10 000: %s", len(small), len(large), large, took)
	if !slices.Equal(small, large) {
		b.Fatalf("round trips differ: %v vs %v", small, large)
	}

	// Both answer the same.
	fast, slow := env.get(b, path), env.get(b, naive)
	if fast != slow {
		b.Fatalf("the naive query answers differently:\n%s\n%s", fast, slow)
	}

	var lat, naiveLat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		env.get(b, path)
		lat = append(lat, time.Since(t0))
		t1 := time.Now()
		env.get(b, naive)
		naiveLat = append(naiveLat, time.Since(t1))
	}
	b.StopTimer()
	med, p99 := percentiles(lat)
	nmed, np99 := percentiles(naiveLat)
	b.ReportMetric(float64(med.Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(nmed.Microseconds())/1000, "naive-median-ms")
	b.ReportMetric(float64(np99.Microseconds())/1000, "naive-p99-ms")
	b.ReportMetric(float64(nmed)/float64(med), "naive/cells")
	b.Logf("%d requests each (embedded FerretDB, SQLite): cells median %v p99 %v; naive median %v p99 %v; naive/cells %.2f",
		len(lat), med.Round(time.Millisecond), p99.Round(time.Millisecond), nmed.Round(time.Millisecond), np99.Round(time.Millisecond), float64(nmed)/float64(med))
}

// percentiles returns the median and the 99th percentile (nearest rank).
func percentiles(d []time.Duration) (time.Duration, time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(len(s)-1, i))]
	}
	return rank(0.5), rank(0.99)
}

var benchNow = time.Date(2026, 9, 7, 8, 0, 0, 0, time.UTC) // a Monday, 10:00 in Stockholm

type benchPlace struct {
	name     string
	lat, lon float64
}

func benchPlaces(b *testing.B) []benchPlace {
	f, err := os.Open("testdata/places.csv")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	var out []benchPlace
	for _, r := range rows[1:] {
		lat, _ := strconv.ParseFloat(r[2], 64)
		lon, _ := strconv.ParseFloat(r[3], 64)
		out = append(out, benchPlace{name: r[0], lat: lat, lon: lon})
	}
	return out
}

type benchApp struct {
	d           *db.DB
	st          matching.Store
	srv         *api.Server
	svc         *matching.Service
	org         string
	participant auth.Identity
	token       string
	volunteers  []string

	mu    sync.Mutex
	on    bool
	cmds  []string
	names map[int64]string
	took  []string
}

func newBenchApp(b *testing.B) *benchApp {
	ctx := context.Background()
	base := dbtest.New(b)
	env := &benchApp{names: map[int64]string{}}
	name := base.Name()
	mon := &event.CommandMonitor{Started: func(_ context.Context, ev *event.CommandStartedEvent) {
		if ev.DatabaseName != name {
			return
		}
		what := ev.CommandName
		if coll, ok := ev.Command.Lookup(ev.CommandName).StringValueOK(); ok {
			what += " " + coll
		}
		env.mu.Lock()
		if env.on {
			env.cmds = append(env.cmds, what)
			env.names[ev.RequestID] = what
		}
		env.mu.Unlock()
	}, Succeeded: func(_ context.Context, ev *event.CommandSucceededEvent) {
		env.mu.Lock()
		if what, ok := env.names[ev.RequestID]; ok {
			env.took = append(env.took, fmt.Sprintf("%s %v", what, ev.Duration.Round(time.Millisecond)))
		}
		env.mu.Unlock()
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(dbtest.URI(b)).SetMonitor(mon).SetTimeout(2 * time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	env.d = &db.DB{Database: client.Database(name), Client: client, Embedded: base.Embedded, URI: base.URI}
	env.d.SetGate(base.Gate())

	clk := clock.NewFake(benchNow)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	// Accounts in MongoDB too: the benchmark bulk-inserts users there.
	accountStore, err := auth.NewMongoStore(ctx, env.d)
	if err != nil {
		b.Fatal(err)
	}
	accounts, err := auth.New(ctx, auth.Config{Store: accountStore, Keys: auth.NewKeySet(key), Clock: clk, Hash: auth.TestHashParams})
	if err != nil {
		b.Fatal(err)
	}
	org, err := accounts.CreateOrganisation(ctx, "Röda Korset Halland och Blekinge", "Europe/Stockholm")
	if err != nil {
		b.Fatal(err)
	}
	env.org = org.ID
	mk := func(role auth.Role, name string) auth.User {
		u, err := accounts.CreateUser(ctx, auth.NewUser{Email: fmt.Sprintf("%s@example.org", role), Password: "correct horse battery staple",
			Name: name, Role: role, OrgID: org.ID, Language: "en", Status: auth.StatusActive})
		if err != nil {
			b.Fatal(err)
		}
		return u
	}
	coord := mk(auth.RoleCoordinator, "Cecilia Berg")
	p := mk(auth.RoleParticipant, "Sara Lind")
	env.participant = auth.Identity{UserID: p.ID, Role: auth.RoleParticipant, OrgID: org.ID, Status: auth.StatusActive}
	if env.token, err = accounts.IssueAccessToken(ctx, coord.ID); err != nil {
		b.Fatal(err)
	}
	if env.st, err = matching.NewSQLiteStore(ctx, sqlitetest.New(b)); err != nil {
		b.Fatal(err)
	}
	env.svc, err = matching.NewService(ctx, env.st, matching.Config{Clock: clk, Directory: matching.AccountsDirectory(accounts)})
	if err != nil {
		b.Fatal(err)
	}
	m, err := matching.NewMatcher(ctx, env.svc, matching.MatcherConfig{})
	if err != nil {
		b.Fatal(err)
	}
	env.srv, err = api.New(api.Deps{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DB: env.d, Auth: accounts, Accounts: accounts,
		Matching: env.svc, Matcher: m, Clock: clk,
		Extra: func(s *api.Server) {
			_ = s.Handle(api.Route{Method: "GET", Path: "/bench/naive/:id", Summary: "benchmark only", Roles: []auth.Role{auth.RoleCoordinator}},
				func(c *fiber.Ctx) error {
					page, err := m.NaiveCandidates(c.UserContext(), api.Caller(c), c.Params("id"), matching.CandidatesQuery{Limit: 20})
					if err != nil {
						return err
					}
					return c.JSON(page)
				})
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	return env
}

// seed inserts n volunteers (accounts and profiles, in bulk) around random
// places, up to 25 km away.
func (env *benchApp) seed(b *testing.B, n, from int, places []benchPlace, rng *mrand.Rand) {
	ctx := context.Background()
	var weekly []availability.SlotSpec
	for _, day := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		if rng.IntN(3) > 0 {
			weekly = append(weekly, availability.SlotSpec{Weekday: day, Start: "08:00", End: "20:00"})
		}
	}
	for lo := 0; lo < n; lo += 1000 {
		hi := min(n, lo+1000)
		var users []any
		var profiles []matching.VolunteerProfile
		for i := lo; i < hi; i++ {
			id := fmt.Sprintf("benchvol%06d", from+i)
			env.volunteers = append(env.volunteers, id)
			pl := places[rng.IntN(len(places))]
			lat := pl.lat + (rng.Float64()*2-1)*0.22 // ±25 km
			lon := pl.lon + (rng.Float64()*2-1)*0.40
			users = append(users, bson.M{"_id": id, "email": id + "@example.org", "password_hash": "", "name": fmt.Sprintf("Volunteer %d", from+i),
				"role": auth.RoleVolunteer, "org_id": env.org, "status": auth.StatusActive, "language": "sv", "created_at": benchNow, "updated_at": benchNow})
			langs := []string{"sv"}
			if rng.IntN(4) == 0 {
				langs = []string{"sv", "en"}
			}
			profiles = append(profiles, matching.VolunteerProfile{
				UserID: id, OrgID: env.org, Status: auth.StatusActive, HasProfile: true,
				Home: matching.GeoPoint{Lat: lat, Lon: lon}, HomeCell: matching.HomeCell(lat, lon),
				TravelRadiusKm: float64(2 + rng.IntN(29)), Languages: langs, Gender: []string{"female", "male", "unspecified"}[rng.IntN(3)],
				Skills: []string{"walking", "conversation", "public_transport"}[:rng.IntN(4)], MaxOutingsPerWeek: 1 + rng.IntN(4),
				Availability: &availability.Spec{TimeZone: "Europe/Stockholm", Weekly: weekly, Exceptions: []availability.Exception{}},
				Commitments:  []matching.Commitment{}, Rev: 1, UpdatedAt: benchNow,
			})
		}
		if _, err := env.d.Collection("users").InsertMany(ctx, users); err != nil {
			b.Fatal(err)
		}
		for _, p := range profiles {
			if _, err := env.st.UpdateVolunteer(ctx, p.UserID, true, func(q *matching.VolunteerProfile) (bool, error) {
				*q = p
				return true, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// seedHistory inserts outings of random volunteers over the last 60 days
// and the next 14 (some with the benchmark's participant), and ratings.
func (env *benchApp) seedHistory(b *testing.B, outings, ratings int, rng *mrand.Rand) {
	ctx := context.Background()
	var docs []matching.Outing
	var fb []matching.Feedback
	for i := range outings {
		v := env.volunteers[rng.IntN(len(env.volunteers))]
		start := benchNow.Add(time.Duration(rng.IntN(74*24)-60*24) * time.Hour).Truncate(time.Hour)
		status := matching.StatusCompleted
		if start.After(benchNow) {
			status = []matching.OutingStatus{matching.StatusConfirmed, matching.StatusPendingApproval}[rng.IntN(2)]
		}
		pid := fmt.Sprintf("benchpart%03d", rng.IntN(300))
		if rng.IntN(10) == 0 {
			pid = env.participant.UserID
		}
		id := fmt.Sprintf("benchouting%06d", i)
		docs = append(docs, matching.Outing{ID: id, ParticipantID: pid, OrgID: env.org, Kind: matching.KindWalk,
			StartsAt: start, EndsAt: start.Add(2 * time.Hour), Status: status, VolunteerID: v, Version: 3,
			CompanionGender: "any", Language: "sv", CreatedAt: start.Add(-48 * time.Hour), UpdatedAt: start,
			History: []matching.HistoryEntry{}, PendingEvents: []matching.Event{}, ExcludedVolunteers: []string{}, DeclinedBy: []string{}})
		if status == matching.StatusCompleted && len(fb) < ratings {
			fb = append(fb, matching.Feedback{ID: id + ":" + pid, OutingID: id, OrgID: env.org, AuthorID: pid, AuthorRole: auth.RoleParticipant,
				ParticipantID: pid, VolunteerID: v, Rating: 1 + rng.IntN(5), CreatedAt: start.Add(3 * time.Hour)})
		}
	}
	for i := range docs {
		if err := env.st.InsertOuting(ctx, &docs[i]); err != nil {
			b.Fatal(err)
		}
	}
	for i := range fb {
		if err := env.st.InsertFeedback(ctx, &fb[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func (env *benchApp) get(b *testing.B, path string) string {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+env.token)
	resp, err := env.srv.App.Test(req, -1)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, body, err)
	}
	return string(body)
}

// roundTrips sends path once and returns the commands it sent and how long
// each took.
func (env *benchApp) roundTrips(b *testing.B, path string) ([]string, string) {
	env.mu.Lock()
	env.cmds, env.took, env.on = nil, nil, true
	clear(env.names)
	env.mu.Unlock()
	t0 := time.Now()
	env.get(b, path)
	total := time.Since(t0)
	env.mu.Lock()
	defer env.mu.Unlock()
	env.on = false
	return slices.Clone(env.cmds), fmt.Sprintf("%v %v", total.Round(time.Millisecond), env.took)
}
