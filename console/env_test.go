package console_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/console"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/matching/availability"
)

// testNow: a Wednesday, 11:00 in Stockholm.
var testNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

const password = "correct horse battery staple"

// env is the real binary's wiring on one SQLite file: accounts, matching,
// the API app with the console mounted, served on a loopback port.
type env struct {
	t         testing.TB
	Clock     *clock.Fake
	Auth      *auth.Service
	AuthStore auth.Store
	Outings   *matching.Service
	Matcher   *matching.Matcher
	Console   *console.Console
	URL       string
	Org       string
	OtherOrg  string
	Coord     person
	// Close stops the first instance's server (a restart, with instance).
	Close func()
	db    *sqlite.DB
	priv  ed25519.PrivateKey
	opts  []envOpt
	// hook adds services on the env's database before each instance's
	// console is built (domains_test.go); e's services are the first
	// instance's by then.
	hook func(e *env, db *sqlite.DB, c *console.Config)
}

type person struct {
	ID, Email, Name string
	Who             auth.Identity
}

var seq atomic.Int64

type envOpt func(*console.Config)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	return newEnvWith(t, nil, opts...)
}

// newEnvWith is newEnv with a hook that may add services on the env's
// database before the console is built (domains_test.go).
func newEnvWith(t testing.TB, hook func(e *env, db *sqlite.DB, c *console.Config), opts ...envOpt) *env {
	t.Helper()
	e := &env{t: t, Clock: clock.NewFake(testNow), db: sqlitetest.New(t), opts: opts, hook: hook}
	_, e.priv, _ = ed25519.GenerateKey(rand.Reader)
	in := e.instance()
	e.Auth, e.AuthStore, e.Outings, e.Matcher, e.Console, e.URL, e.Close = in.Auth, in.AuthStore, in.Outings, in.Matcher, in.Console, in.URL, in.Close
	ctx := context.Background()
	o, err := e.Auth.CreateOrganisation(ctx, "Röda Korset Halmstad", "Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	e.Org = o.ID
	o2, err := e.Auth.CreateOrganisation(ctx, "Stadsmissionen Lund", "Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	e.OtherOrg = o2.ID
	e.Coord = e.user(auth.RoleCoordinator, e.Org, auth.StatusActive, "Cora Berg")
	return e
}

// instance is one server process: its own services and console on env's
// database and signing key, served on a port of its own. Two of them are
// two replicas; closing one and starting another is a restart.
type instance struct {
	Auth      *auth.Service
	AuthStore auth.Store
	Outings   *matching.Service
	Matcher   *matching.Matcher
	Console   *console.Console
	URL       string
	Close     func()
}

func (e *env) instance() instance {
	t := e.t
	t.Helper()
	ctx := context.Background()
	var in instance
	ast, err := auth.NewSQLiteStore(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	in.AuthStore = ast
	if in.Auth, err = auth.New(ctx, auth.Config{Store: ast, Keys: auth.NewKeySet(e.priv), Clock: e.Clock, Hash: auth.TestHashParams}); err != nil {
		t.Fatal(err)
	}
	mst, err := matching.NewSQLiteStore(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	if in.Outings, err = matching.NewService(ctx, mst, matching.Config{Clock: e.Clock, Directory: matching.AccountsDirectory(in.Auth)}); err != nil {
		t.Fatal(err)
	}
	in.Auth.OnStatusChange(in.Outings.VolunteerStatusHook)
	if in.Matcher, err = matching.NewMatcher(ctx, in.Outings, matching.MatcherConfig{}); err != nil {
		t.Fatal(err)
	}
	cfg := console.Config{Accounts: in.Auth, Outings: in.Outings, Matcher: in.Matcher, Clock: e.Clock,
		IdleTimeout: 24 * time.Hour, Poll: 300 * time.Millisecond, ClientAddr: api.ClientIP}
	if e.hook != nil {
		if e.Auth == nil {
			e.Auth, e.AuthStore, e.Outings, e.Matcher = in.Auth, in.AuthStore, in.Outings, in.Matcher
		}
		e.hook(e, e.db, &cfg)
	}
	for _, o := range e.opts {
		o(&cfg)
	}
	if in.Console, err = console.New(cfg); err != nil {
		t.Fatal(err)
	}
	idem, err := api.NewIdempotencySQLite(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DB: e.db, Auth: in.Auth, Accounts: in.Auth,
		Clock: e.Clock, Idempotency: idem, Matching: in.Outings, Matcher: in.Matcher,
		Extra: func(s *api.Server) { in.Console.Mount(s.App) }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.App.Listener(ln) }()
	var once sync.Once
	in.Close = func() { once.Do(func() { _ = srv.App.ShutdownWithTimeout(2 * time.Second) }) }
	t.Cleanup(in.Close)
	in.URL = "http://" + ln.Addr().String()
	return in
}

func (e *env) user(role auth.Role, org string, status auth.Status, name string) person {
	e.t.Helper()
	email := fmt.Sprintf("%s-%d@example.org", role, seq.Add(1))
	u, err := e.Auth.CreateUser(context.Background(), auth.NewUser{Email: email, Password: password, Name: name,
		Role: role, OrgID: org, Language: "sv", Status: status})
	if err != nil {
		e.t.Fatalf("create %s: %v", role, err)
	}
	return person{ID: u.ID, Email: email, Name: name, Who: auth.Identity{UserID: u.ID, Role: role, OrgID: org, Status: status}}
}

// Stora Torg, Halmstad.
const torgLat, torgLon = 56.6744, 12.8578

// volunteer is an active volunteer near Stora Torg, free all week.
func (e *env) volunteer(name string, km float64) person {
	e.t.Helper()
	v := e.user(auth.RoleVolunteer, e.Org, auth.StatusActive, name)
	ctx := context.Background()
	var weekly []availability.SlotSpec
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		weekly = append(weekly, availability.SlotSpec{Weekday: d, Start: "00:00", End: "24:00"})
	}
	if _, err := e.Outings.PutAvailability(ctx, v.Who, availability.Spec{TimeZone: "Europe/Stockholm", Weekly: weekly, Exceptions: []availability.Exception{}}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.Outings.PutVolunteerProfile(ctx, v.Who, matching.VolunteerProfileInput{
		Home: matching.GeoPoint{Lat: torgLat + km/111, Lon: torgLon}, TravelRadiusKm: 20, Languages: []string{"sv", "en"},
		Gender: "female", Skills: []string{}, MaxOutingsPerWeek: 21,
	}); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// outing asks for a café outing for p starting at start (the clock must be before it).
func (e *env) outing(p person, start time.Time) string {
	e.t.Helper()
	v, err := e.Outings.CreateOuting(context.Background(), e.Coord.Who, matching.OutingRequest{
		ParticipantID: p.ID, Kind: matching.KindCafe, Note: "Vill sitta nära dörren", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		MeetingPoint: matching.MeetingPoint{Lat: torgLat, Lon: torgLon, Description: "Stora Torg, vid fontänen"},
	})
	if err != nil {
		e.t.Fatalf("create outing: %v", err)
	}
	return v.ID
}

func (e *env) must(_ matching.OutingView, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// accepted is an outing v has accepted, waiting for approval.
func (e *env) accepted(p, v person, start time.Time) string {
	e.t.Helper()
	id := e.outing(p, start)
	e.must(e.Outings.Accept(context.Background(), v.Who, id))
	return id
}

// confirmed is an approved outing.
func (e *env) confirmed(p, v person, start time.Time) string {
	e.t.Helper()
	id := e.accepted(p, v, start)
	e.must(e.Outings.Approve(context.Background(), e.Coord.Who, id))
	return id
}

// past runs a whole outing of p and v a week before now: requested,
// accepted, approved, checked in, completed, with the participant's comfort
// before and after. The clock ends where it was.
func (e *env) past(p, v person, daysAgo int, before, after int) string {
	e.t.Helper()
	ctx := context.Background()
	now := e.Clock.Now()
	start := now.Add(-time.Duration(daysAgo) * 24 * time.Hour)
	e.Clock.Set(start.Add(-48 * time.Hour))
	id := e.confirmed(p, v, start)
	e.Clock.Set(start.Add(-5 * time.Minute))
	e.must(e.Outings.CheckIn(ctx, p.Who, id))
	e.Clock.Set(start.Add(2*time.Hour + time.Minute))
	e.must(e.Outings.Complete(ctx, e.Coord.Who, id))
	if _, err := e.Outings.GiveFeedback(ctx, p.Who, id, matching.FeedbackInput{Rating: 5, Comment: "Det gick bra", ComfortBefore: &before, ComfortAfter: &after}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.Outings.GiveFeedback(ctx, v.Who, id, matching.FeedbackInput{Rating: 4}); err != nil {
		e.t.Fatal(err)
	}
	e.Clock.Set(now)
	return id
}

// client is a signed-in HTTP client (no browser) and its CSRF token.
type client struct {
	*http.Client
	base, csrf string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (e *env) signIn(p person) *client {
	e.t.Helper()
	return e.signInTo(p, "Utflykter idag")
}

func (e *env) signInTo(p person, landing string) *client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{Client: &http.Client{Jar: jar}, base: e.URL}
	_, body := c.get(e.t, "/console/login")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no csrf on the login page: %s", body)
	}
	status, body := c.post(e.t, "/console/login", url.Values{"csrf": {m[1]}, "email": {p.Email}, "password": {password}})
	if status != 200 || !strings.Contains(body, landing) {
		e.t.Fatalf("sign in: %d %s", status, body)
	}
	m = csrfRe.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no csrf after sign-in: %s", body)
	}
	c.csrf = m[1]
	return c
}

func (c *client) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(c.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) post(t testing.TB, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(c.base+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
