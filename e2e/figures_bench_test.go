package e2e

// BenchmarkFigures: the figures of issue 11, SQLite beside FerretDB, on the
// same code. Per engine it builds the four stores the server builds
// (auth, matching, notify, idempotency), seeds them directly through the
// stores (not timed), starts the real Fiber app on a loopback listener and
// sends requests one at a time with net/http, timing each:
//
//   - get: GET /v1/outings/{id} as the participant with many outings;
//   - list: GET /v1/outings (first page) as that participant;
//   - offers: GET /v1/volunteers/me/offers as volunteers near Halmstad;
//   - candidates: GET /v1/outings/{id}/candidates for an open outing in the
//     coming week, as its coordinator;
//   - accept: POST /v1/outings/{id}/accept on that outing by the first of
//     those candidates (the accept re-checks every hard rule);
//   - approve: POST /v1/outings/{id}/approve of that accept.
//
// It lives in e2e because it measures the whole server (stores, services
// and HTTP) on both engines, and e2e's TestMain already runs the test
// FerretDB; the api tests build their env on SQLite only.
//
// Seeding: 100 000 outings over the past year and the next four weeks
// (three organisations; a participant with 2 000 of them) and 10 000
// volunteers with weekly availability, homes around Halmstad and in
// Blekinge. FerretDB seeds at CLAVIS_FIGURES_FERRET_OUTINGS (default 5 000)
// with a participant of 200 outings, and sends 20 requests per read and 4
// rounds instead of 400 and 100 (its candidates take some 40 s each): FerretDB v1 filters in Go after reading
// every document, so at SQLite's size its list reads of a participant with
// 2 000 outings did not finish in an hour, and at 10 000 outings with 50
// reads it had not finished in 15 minutes on a shared machine. The
// sub-benchmark's name says the sizes. Run:
//
//	go test ./e2e -run '^$' -bench BenchmarkFigures -benchtime 1x -timeout 60m -v
//
// CLAVIS_FIGURES_ENGINES=sqlite (or ferretdb) runs one engine only;
// CLAVIS_FIGURES_DATA_DIR=dir seeds SQLite in dir/clavis.db and keeps it,
// a data directory for e2e/load/startup.sh.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/matching/availability"
	"github.com/clavis-app/clavis/notify"
)

// figNow is the benchmark's fixed clock: a Monday, 10:00 in Stockholm.
var figNow = time.Date(2026, 9, 7, 8, 0, 0, 0, time.UTC)

const (
	figVolunteers = 10_000
	figPiaOutings = 2_000 // the participant with many outings
	figReads      = 400   // requests per read operation
	figMinOutings = 200   // the least CLAVIS_FIGURES_*OUTINGS may ask for
	figAccepts    = 100   // candidates → accept → approve rounds (at most)
)

// figStores are one engine's stores, as stores.go builds them.
type figStores struct {
	auth   auth.Store
	match  matching.Store
	notify notify.Store
	idem   api.IdempotencyStore
	ping   api.Pinger
}

func BenchmarkFigures(b *testing.B) {
	engines := []struct {
		name    string
		outings int
		rounds  int
		pia     int // outings of the participant with many
		reads   int // requests per read operation
		open    func(b *testing.B) figStores
	}{
		{"sqlite", envInt(b, "CLAVIS_FIGURES_OUTINGS", 100_000), figAccepts, figPiaOutings, figReads, func(b *testing.B) figStores {
			ctx := context.Background()
			d := sqlitetest.New(b)
			if dir := os.Getenv("CLAVIS_FIGURES_DATA_DIR"); dir != "" {
				// Kept for the start-to-ready measurement (e2e/load/startup.sh).
				var err error
				d, err = sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName))
				must(b, err)
				b.Cleanup(func() { _ = d.Close() })
			}
			var s figStores
			var err error
			s.ping = d
			s.auth, err = auth.NewSQLiteStore(ctx, d)
			must(b, err)
			s.match, err = matching.NewSQLiteStore(ctx, d)
			must(b, err)
			s.notify, err = notify.NewSQLiteStore(ctx, d)
			must(b, err)
			s.idem, err = api.NewIdempotencySQLite(ctx, d)
			must(b, err)
			return s
		}},
		// FerretDB's candidates take seconds at 10 000 volunteers and its
		// reads scan: a smaller participant, fewer requests and rounds.
		{"ferretdb", envInt(b, "CLAVIS_FIGURES_FERRET_OUTINGS", 5_000), 4, 200, 20, func(b *testing.B) figStores {
			ctx := context.Background()
			d := dbtest.New(b)
			var s figStores
			var err error
			s.ping = d
			s.auth, err = auth.NewMongoStore(ctx, d)
			must(b, err)
			s.match, err = matching.NewMongoStore(ctx, d)
			must(b, err)
			s.notify, err = notify.NewMongoStore(ctx, d)
			must(b, err)
			s.idem, err = api.NewIdempotencyMongo(ctx, d)
			must(b, err)
			return s
		}},
	}
	only := os.Getenv("CLAVIS_FIGURES_ENGINES")
	for _, eng := range engines {
		if only != "" && !strings.Contains(only, eng.name) {
			continue
		}
		b.Run(fmt.Sprintf("%s/outings=%d/pia=%d/reads=%d/rounds=%d", eng.name, eng.outings, eng.pia, eng.reads, eng.rounds), func(b *testing.B) {
			b.StopTimer()
			f := newFigures(b, eng.open(b))
			f.rounds, f.piaN, f.reads = eng.rounds, min(eng.pia, eng.outings), eng.reads
			t0 := time.Now()
			f.seed(b, eng.outings)
			b.Logf("%s: seeded %d outings, %d volunteers in %v", eng.name, eng.outings, figVolunteers, time.Since(t0).Round(time.Millisecond))
			f.serve(b)
			// One pass whatever b.N: the accepts change the data (run
			// with -benchtime 1x).
			b.StartTimer()
			f.measure(b)
		})
	}
}

// figures is one engine's seeded server and what the requests need.
type figures struct {
	ctx      context.Context
	stores   figStores
	clk      *clock.Fake
	accounts *auth.Service
	svc      *matching.Service
	matcher  *matching.Matcher
	notifier *notify.Service
	base     string
	client   *http.Client

	orgs        []figOrg
	pia         string // the participant with many outings
	piaTok      string
	piaOutings  []string
	volunteers  [][]string // by organisation
	targets     []string   // open outings in the coming week, to accept
	coordTok    string     // coordinator of orgs[0], the targets' organisation
	rounds      int        // how many targets to take through candidates, accept, approve
	lats        map[string]*[]time.Duration
	cpu         map[string]time.Duration
	failed      map[string]int
	piaN        int      // outings of pia
	reads       int      // requests per read operation
	participant []string // of orgs[0]
}

type figOrg struct {
	id, name string
	places   []figPlace
	share    float64 // of volunteers and outings
}

type figPlace struct {
	name     string
	lat, lon float64
}

// The places of matching/testdata/places.csv, by organisation.
var figOrgs = []figOrg{
	{name: "Röda Korset Halmstad", share: 0.5, places: []figPlace{
		{"Halmstad Centralstation", 56.6696, 12.8648}, {"Stora Torg", 56.6744, 12.8578}, {"Halmstad stadsbibliotek", 56.6718, 12.8614},
		{"Tylösand strand", 56.6450, 12.7300}, {"Hallarna köpcentrum", 56.6620, 12.9060}}},
	{name: "Röda Korset Östra Blekinge", share: 0.3, places: []figPlace{
		{"Karlskrona Stortorget", 56.1612, 15.5869}, {"Karlskrona Centralstation", 56.1666, 15.5852},
		{"Ronneby Brunnsskogen", 56.2000, 15.2780}, {"Ronneby Centralstation", 56.2095, 15.2760}}},
	{name: "Röda Korset Västra Blekinge", share: 0.2, places: []figPlace{
		{"Karlshamn Stortorget", 56.1703, 14.8619}, {"Bromölla centrum", 56.0720, 14.4680}, {"Sölvesborg Stortorget", 56.0505, 14.5750}}},
}

func newFigures(b *testing.B, st figStores) *figures {
	ctx := context.Background()
	f := &figures{ctx: ctx, stores: st, clk: clock.NewFake(figNow)}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	must(b, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.accounts, err = auth.New(ctx, auth.Config{Store: st.auth, Keys: auth.NewKeySet(key), Clock: f.clk, Hash: auth.TestHashParams, Logger: log})
	must(b, err)
	f.svc, err = matching.NewService(ctx, st.match, matching.Config{Clock: f.clk, Directory: matching.AccountsDirectory(f.accounts), Logger: log})
	must(b, err)
	f.matcher, err = matching.NewMatcher(ctx, f.svc, matching.MatcherConfig{Logger: log})
	must(b, err)
	f.notifier, err = notify.New(ctx, notify.Config{Store: st.notify, Sender: notify.LogSender{Log: log},
		Directory: notify.AccountsDirectory(f.accounts), Clock: f.clk, Logger: log})
	must(b, err)
	return f
}

// seed fills the stores through their methods; n outings in all.
func (f *figures) seed(b *testing.B, n int) {
	ctx := f.ctx
	rng := mrand.New(mrand.NewPCG(11, 100_000))
	week := func() []availability.SlotSpec {
		var w []availability.SlotSpec
		for _, day := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
			if rng.IntN(3) > 0 {
				w = append(w, availability.SlotSpec{Weekday: day, Start: "08:00", End: "20:00"})
			}
		}
		return w
	}
	user := func(id, org string, role auth.Role) auth.UserRecord {
		return auth.UserRecord{User: auth.User{ID: id, Email: id + "@example.org", Name: "Namn " + id, Role: role, OrgID: org,
			Status: auth.StatusActive, Language: "sv", CreatedAt: figNow.AddDate(-1, 0, 0)}, UpdatedAt: figNow.AddDate(-1, 0, 0)}
	}
	var users []auth.UserRecord
	var profiles []matching.VolunteerProfile
	participants := make([][]string, len(figOrgs))
	f.volunteers = make([][]string, len(figOrgs))
	for oi := range figOrgs {
		o := figOrgs[oi]
		org, err := f.accounts.CreateOrganisation(ctx, o.name, "Europe/Stockholm")
		must(b, err)
		o.id = org.ID
		f.orgs = append(f.orgs, o)
		coord := fmt.Sprintf("coord%d", oi)
		users = append(users, user(coord, o.id, auth.RoleCoordinator))
		for i := range int(3000 * o.share) {
			id := fmt.Sprintf("part%d-%04d", oi, i)
			participants[oi] = append(participants[oi], id)
			users = append(users, user(id, o.id, auth.RoleParticipant))
		}
		for i := range int(figVolunteers * o.share) {
			id := fmt.Sprintf("vol%d-%05d", oi, i)
			f.volunteers[oi] = append(f.volunteers[oi], id)
			users = append(users, user(id, o.id, auth.RoleVolunteer))
			pl := o.places[rng.IntN(len(o.places))]
			lat := pl.lat + (rng.Float64()*2-1)*0.22 // ±25 km
			lon := pl.lon + (rng.Float64()*2-1)*0.40
			langs := []string{"sv"}
			if rng.IntN(4) == 0 {
				langs = []string{"sv", "en"}
			}
			profiles = append(profiles, matching.VolunteerProfile{UserID: id, OrgID: o.id, Status: auth.StatusActive, HasProfile: true,
				Home: matching.GeoPoint{Lat: lat, Lon: lon}, HomeCell: matching.HomeCell(lat, lon), TravelRadiusKm: float64(5 + rng.IntN(26)),
				Languages: langs, Gender: []string{"female", "male", "unspecified"}[rng.IntN(3)],
				Skills: []string{"walking", "conversation", "public_transport"}[:rng.IntN(4)], MaxOutingsPerWeek: 1 + rng.IntN(4),
				Availability: &availability.Spec{TimeZone: "Europe/Stockholm", Weekly: week(), Exceptions: []availability.Exception{}},
				Commitments:  []matching.Commitment{}, Rev: 1, UpdatedAt: figNow.AddDate(0, -1, 0)})
		}
	}
	f.pia = participants[0][0]
	f.participant = participants[0]
	parallel(b, len(users), func(i int) error { return f.stores.auth.InsertUser(ctx, users[i]) })
	parallel(b, len(profiles), func(i int) error {
		p := profiles[i]
		_, err := f.stores.match.UpdateVolunteer(ctx, p.UserID, true, func(q *matching.VolunteerProfile) (bool, error) { *q = p; return true, nil })
		return err
	})

	// Outings: 365 days back to 28 ahead, by organisation share; the
	// participant with many outings has figPiaOutings of them.
	outings := make([]matching.Outing, 0, n+figAccepts)
	var feedback []matching.Feedback
	kinds := []matching.OutingKind{matching.KindCafe, matching.KindWalk, matching.KindErrand, matching.KindActivity}
	for i := range n {
		oi := pickOrg(rng.Float64())
		o := f.orgs[oi]
		pid := participants[oi][rng.IntN(len(participants[oi]))]
		if i < f.piaN {
			oi, o, pid = 0, f.orgs[0], f.pia
		}
		start := figNow.Add(time.Duration(rng.IntN(393*24)-365*24) * time.Hour).Truncate(time.Hour)
		if h := start.In(stockholm(b)).Hour(); h < 9 || h > 18 {
			start = start.Add(time.Duration(12-h) * time.Hour)
		}
		status := matching.StatusCompleted
		if start.Before(figNow) {
			switch r := rng.IntN(100); {
			case r < 12:
				status = matching.StatusCancelled
			case r < 20:
				status = matching.StatusExpired
			}
		} else {
			switch r := rng.IntN(100); {
			case r < 25:
				status = matching.StatusOpen
			case r < 40:
				status = matching.StatusPendingApproval
			case r < 95:
				status = matching.StatusConfirmed
			default:
				status = matching.StatusCancelled
			}
		}
		vid := ""
		switch status {
		case matching.StatusCompleted, matching.StatusConfirmed, matching.StatusPendingApproval:
			vid = f.volunteers[oi][rng.IntN(len(f.volunteers[oi]))]
		}
		pl := o.places[rng.IntN(len(o.places))]
		out := figOuting(fmt.Sprintf("out%06d", i), o.id, pid, kinds[rng.IntN(len(kinds))], start, status, vid, pl)
		outings = append(outings, out)
		if i < f.piaN {
			f.piaOutings = append(f.piaOutings, out.ID)
		}
		if status == matching.StatusCompleted && rng.IntN(3) == 0 {
			feedback = append(feedback, matching.Feedback{ID: out.ID + ":" + pid, OutingID: out.ID, OrgID: o.id, AuthorID: pid,
				AuthorRole: auth.RoleParticipant, ParticipantID: pid, VolunteerID: vid, Rating: 1 + rng.IntN(5), CreatedAt: start.Add(3 * time.Hour)})
		}
	}
	// The outings to accept: open, in Halmstad, in the coming week, each at
	// its own hour between 10:00 and 17:00 so that accepts do not clash.
	for i := range figAccepts {
		day, hour := 1+i%6, 10+(i/6)%7
		start := time.Date(2026, 9, 7+day, hour, 0, 0, 0, stockholm(b))
		pl := f.orgs[0].places[i%len(f.orgs[0].places)]
		out := figOuting(fmt.Sprintf("target%03d", i), f.orgs[0].id, f.participant[1+i], matching.KindCafe, start, matching.StatusOpen, "", pl)
		outings = append(outings, out)
		f.targets = append(f.targets, out.ID)
	}
	t0 := time.Now()
	parallel(b, len(outings), func(i int) error { return f.stores.match.InsertOuting(ctx, &outings[i]) })
	b.Logf("inserted %d outings in %v", len(outings), time.Since(t0).Round(time.Millisecond))
	parallel(b, len(feedback), func(i int) error { return f.stores.match.InsertFeedback(ctx, &feedback[i]) })

	var err error
	f.piaTok, err = f.accounts.IssueAccessToken(ctx, f.pia)
	must(b, err)
	f.coordTok, err = f.accounts.IssueAccessToken(ctx, "coord0")
	must(b, err)
}

func figOuting(id, org, pid string, kind matching.OutingKind, start time.Time, status matching.OutingStatus, vid string, pl figPlace) matching.Outing {
	created := start.Add(-5 * 24 * time.Hour)
	if created.After(figNow) {
		created = figNow.Add(-time.Hour)
	}
	return matching.Outing{ID: id, ParticipantID: pid, OrgID: org, Kind: kind, StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		MeetingPoint: matching.MeetingPoint{Lat: pl.lat, Lon: pl.lon, Description: pl.name}, CompanionGender: "any", Language: "sv",
		Status: status, VolunteerID: vid, Version: 3, CreatedAt: created, CreatedBy: pid, UpdatedAt: created,
		History: []matching.HistoryEntry{}, PendingEvents: []matching.Event{}, ExcludedVolunteers: []string{}, DeclinedBy: []string{}}
}

func pickOrg(r float64) int {
	for i, o := range figOrgs {
		if r < o.share {
			return i
		}
		r -= o.share
	}
	return len(figOrgs) - 1
}

// serve starts the real app on a loopback port.
func (f *figures) serve(b *testing.B) {
	srv, err := api.New(api.Deps{
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), DB: f.stores.ping, Clock: f.clk,
		Auth: f.accounts, Accounts: f.accounts, Matching: f.svc, Matcher: f.matcher,
		Idempotency: f.stores.idem, Devices: f.notifier.Devices(),
	})
	must(b, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(b, err)
	go func() { _ = srv.App.Listener(ln) }()
	b.Cleanup(func() { _ = srv.App.ShutdownWithTimeout(5 * time.Second) })
	f.base = "http://" + ln.Addr().String()
	f.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
}

// call sends one request and returns its status, body and duration.
func (f *figures) call(b *testing.B, method, path, token string) (int, []byte, time.Duration) {
	req, err := http.NewRequest(method, f.base+path, bytes.NewReader(nil))
	must(b, err)
	req.Header.Set("Authorization", "Bearer "+token)
	t0 := time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", method, path, err)
	}
	body, err := io.ReadAll(resp.Body)
	took := time.Since(t0)
	_ = resp.Body.Close()
	must(b, err)
	return resp.StatusCode, body, took
}

// want sends one request of operation op, checks its status and records
// its latency and the CPU time this process (client, server and, for
// FerretDB, the database) spent on it.
func (f *figures) want(b *testing.B, method, path, token string, status int, op string) []byte {
	body, ok := f.try(b, method, path, token, status, op)
	if !ok {
		b.Fatalf("%s %s: want %d: %s", method, path, status, body)
	}
	return body
}

// try is want that counts a wrong status as a failure of op instead of
// stopping (FerretDB's candidates time out under load).
func (f *figures) try(b *testing.B, method, path, token string, status int, op string) ([]byte, bool) {
	if f.lats[op] == nil {
		// b.Logf shows only at the end: a line on stderr says how far a
		// long run (FerretDB's) has come.
		fmt.Fprintf(os.Stderr, "%s figures: measuring %s\n", time.Now().Format(time.TimeOnly), op)
		f.lats[op] = &[]time.Duration{}
	}
	c0 := processCPU()
	got, body, took := f.call(b, method, path, token)
	f.cpu[op] += processCPU() - c0
	if got != status {
		f.failed[op]++
		fmt.Fprintf(os.Stderr, "%s figures: %s %s: %d after %v, want %d: %s\n", time.Now().Format(time.TimeOnly), method, path, got, took.Round(time.Millisecond), status, body)
		return body, false
	}
	*f.lats[op] = append(*f.lats[op], took)
	return body, true
}

// processCPU is the CPU time (user and system) this process has used. On
// a machine shared with other work the wall times above wait for a core;
// CPU time per request is what one request costs, whatever the load.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (f *figures) measure(b *testing.B) {
	f.lats, f.cpu, f.failed = map[string]*[]time.Duration{}, map[string]time.Duration{}, map[string]int{}
	lats := f.lats
	lat := func(op string) *[]time.Duration { return lats[op] }
	// A few unmeasured requests open the connection and warm the caches.
	for range 5 {
		f.call(b, "GET", "/v1/outings/"+f.piaOutings[0], f.piaTok)
	}
	for i := range f.reads {
		f.want(b, "GET", "/v1/outings/"+f.piaOutings[(i*7919)%len(f.piaOutings)], f.piaTok, 200, "get")
	}
	for range f.reads {
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		body := f.want(b, "GET", "/v1/outings", f.piaTok, 200, "list")
		if err := json.Unmarshal(body, &page); err != nil || len(page.Items) != 20 {
			b.Fatalf("list: %d items, %v", len(page.Items), err)
		}
	}
	// Offers of volunteers around Halmstad; their tokens are made first.
	var volToks []string
	for _, v := range f.volunteers[0][:50] {
		tok, err := f.accounts.IssueAccessToken(f.ctx, v)
		must(b, err)
		volToks = append(volToks, tok)
	}
	offered := 0
	for i := range f.reads {
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		body := f.want(b, "GET", "/v1/volunteers/me/offers", volToks[i%len(volToks)], 200, "offers")
		if err := json.Unmarshal(body, &page); err != nil {
			b.Fatal(err)
		}
		offered += len(page.Items)
	}
	b.Logf("offers: %.1f items per answer on average", float64(offered)/float64(f.reads))
	// The path a coordinator takes: candidates of an open outing in the
	// coming week, the first candidate accepts, the coordinator approves.
	for _, id := range f.targets[:f.rounds] {
		var page struct {
			Items []struct {
				VolunteerID string `json:"volunteer_id"`
			} `json:"items"`
		}
		body, ok := f.try(b, "GET", "/v1/outings/"+id+"/candidates", f.coordTok, 200, "candidates")
		if !ok {
			continue
		}
		if err := json.Unmarshal(body, &page); err != nil || len(page.Items) == 0 {
			b.Fatalf("candidates of %s: %s %v", id, body, err)
		}
		tok, err := f.accounts.IssueAccessToken(f.ctx, page.Items[0].VolunteerID)
		must(b, err)
		f.want(b, "POST", "/v1/outings/"+id+"/accept", tok, 200, "accept")
		f.want(b, "POST", "/v1/outings/"+id+"/approve", f.coordTok, 200, "approve")
		b.Logf("round %s: candidates %v", id, (*lat("candidates"))[len(*lat("candidates"))-1].Round(time.Millisecond))
	}
	var lines []string
	for _, op := range []string{"get", "list", "offers", "candidates", "accept", "approve"} {
		l := *lats[op]
		p50, p99 := pct(l, 0.50), pct(l, 0.99)
		b.ReportMetric(ms(p50), op+"-p50-ms")
		b.ReportMetric(ms(p99), op+"-p99-ms")
		cpu := ms(f.cpu[op]) / float64(len(l))
		b.ReportMetric(cpu, op+"-cpu-ms/req")
		lines = append(lines, fmt.Sprintf("%-10s n=%3d p50 %7.2f ms  p99 %7.2f ms  CPU %7.2f ms/request  failed %d", op, len(l), ms(p50), ms(p99), cpu, f.failed[op]))
	}
	b.Logf("one client, one request at a time (CPU: this whole process, client and server):\n%s", strings.Join(lines, "\n"))
}

// pct is the p-th percentile by nearest rank.
func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.999999) - 1
	return s[max(0, min(len(s)-1, i))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// parallel runs do(0..n-1) on four goroutines and fails on the first error.
func parallel(b *testing.B, n int, do func(i int) error) {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				if err := do(i); err != nil {
					errs <- fmt.Errorf("item %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

var stockholmOnce = sync.OnceValues(func() (*time.Location, error) { return time.LoadLocation("Europe/Stockholm") })

func stockholm(b *testing.B) *time.Location {
	loc, err := stockholmOnce()
	must(b, err)
	return loc
}

func envInt(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < figMinOutings {
			b.Fatalf("%s=%q: want a number ≥ %d", name, v, figMinOutings)
		}
		return n
	}
	return def
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
