package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/logtest"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify/fcmfake"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// stockholm is where the test organisations are.
var stockholm = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		panic(err)
	}
	return loc
}()

// t0 is a Monday, 10:00 in Stockholm: daytime, no quiet hours, no DST change near.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, stockholm)

// testDirectory is the in-test stand-in for the accounts service.
type testDirectory struct {
	mu     sync.Mutex
	people map[string]Recipient
	coords map[string][]string
}

func newTestDirectory() *testDirectory {
	return &testDirectory{people: map[string]Recipient{}, coords: map[string][]string{}}
}

func (d *testDirectory) add(id string, r Recipient) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.people[id] = r
}

func (d *testDirectory) setCoordinators(org string, ids ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.coords[org] = ids
}

func (d *testDirectory) CoordinatorsOf(_ context.Context, org string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.coords[org]...), nil
}

func (d *testDirectory) Recipient(_ context.Context, id string) (Recipient, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.people[id]
	if !ok {
		return Recipient{}, fault.NotFoundf("no such user")
	}
	return r, nil
}

// testOutings is the in-test stand-in for matching's confirmed outings.
type testOutings struct {
	mu   sync.Mutex
	list []OutingRef
}

func (o *testOutings) ConfirmedOutingsBetween(_ context.Context, from, to time.Time) ([]OutingRef, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []OutingRef
	for _, r := range o.list {
		if !r.StartsAt.Before(from) && r.StartsAt.Before(to) {
			out = append(out, r)
		}
	}
	return out, nil
}

// harness is one database file, one fake FCM and a fake clock shared by
// one or more services ("servers").
type harness struct {
	t  *testing.T
	db *sqlite.DB
	st Store
	// reopen, when set, opens a second store on the same database (Mongo).
	reopen func() Store
	fcm    *fcmfake.Server
	clock  *clock.Fake
	dir    *testDirectory
	logs   *logtest.Buffer
	tune   Tuning
	cfg    func(*Config)
	// logLevel of the services' logs (Info unless a test wants more).
	logLevel slog.Level
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		t: t, db: sqlitetest.New(t), fcm: fcmfake.New(), clock: clock.NewFake(t0), dir: newTestDirectory(), logs: &logtest.Buffer{},
		tune: Tuning{IdlePoll: 10 * time.Millisecond, Lease: time.Minute, SendTimeout: 10 * time.Second},
	}
	h.st = h.store(h.db)
	t.Cleanup(h.fcm.Close)
	h.dumpLogsOnFailure()
	h.dir.setCoordinators("org1", "coord1")
	h.dir.add("coord1", Recipient{Language: "sv", TimeZone: "Europe/Stockholm"})
	return h
}

// newMongoHarness is a harness on FerretDB through the Mongo engine; a
// second store is a second client with its own write gate.
func newMongoHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	d := dbtest.New(t)
	h.db = nil
	h.st = openMongoStore(t, d)
	h.reopen = func() Store {
		client, err := mongo.Connect(options.Client().ApplyURI(d.URI))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
		d2 := &db.DB{Database: client.Database(d.Name()), Client: client, Embedded: d.Embedded, URI: d.URI}
		d2.SetGate(db.NewGate(d.Embedded))
		return openMongoStore(t, d2)
	}
	return h
}

func openMongoStore(t *testing.T, d *db.DB) Store {
	t.Helper()
	st, err := NewMongoStore(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// server is one running (or stoppable) Service.
type server struct {
	svc    *Service
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

func (h *harness) store(d *sqlite.DB) Store {
	h.t.Helper()
	st, err := NewSQLiteStore(context.Background(), d)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// newServer makes a Service on store st (nil: the harness's own).
func (h *harness) newServer(st Store, owner string) *server {
	h.t.Helper()
	if st == nil {
		st = h.st
	}
	sender, err := NewFCMSender(context.Background(), FCMConfig{Endpoint: h.fcm.URL, ProjectID: "clavis-test"})
	if err != nil {
		h.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	tune := h.tune
	tune.Owner = owner
	cfg := Config{
		Store: st, Sender: sender, Directory: h.dir, Clock: h.clock, Registerer: reg, Workers: 4, Tuning: tune,
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(h.logs), &slog.HandlerOptions{Level: h.logLevel})),
	}
	if h.cfg != nil {
		h.cfg(&cfg)
	}
	svc, err := New(context.Background(), cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return &server{svc: svc, reg: reg}
}

func (s *server) start() *server {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.svc.Run(ctx)
	}()
	return s
}

func (s *server) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

// secondStore opens the same database again, with its own connection
// pool (and, on Mongo, its own write gate): as a second server process would.
func (h *harness) secondStore() Store {
	h.t.Helper()
	if h.reopen != nil {
		return h.reopen()
	}
	d, err := sqlite.Open(context.Background(), h.db.Path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = d.Close() })
	return h.store(d)
}

// person registers a user with one device named "tok-<id>".
func (h *harness) person(id string, quiet bool) string {
	h.t.Helper()
	h.dir.add(id, Recipient{Language: "sv", TimeZone: "Europe/Stockholm", QuietHours: quiet})
	tok := "tok-" + id
	if _, _, err := NewDevices(h.st, h.clock).Register(context.Background(), id, tok, "android"); err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// people registers many users with one device each ("tok-<id>") at once.
func (h *harness) people(quiet bool, ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		h.dir.add(id, Recipient{Language: "sv", TimeZone: "Europe/Stockholm", QuietHours: quiet})
		if _, _, err := h.st.RegisterDevice(context.Background(), id, "tok-"+id, "android", t0, MaxDevicesPerUser); err != nil {
			h.t.Fatal(err)
		}
	}
}

var eventSeq atomic.Int64

// approved is the approval event of an outing of org1.
func approved(outing, participant, volunteer string, start time.Time) matching.Event {
	return matching.Event{ID: fmt.Sprintf("ev-%d", eventSeq.Add(1)), Type: matching.EventApproved, OutingID: outing, OrgID: "org1",
		StartsAt: start, EndsAt: start.Add(2 * time.Hour), ParticipantID: participant, VolunteerID: volunteer,
		Recipients: []string{participant, volunteer}}
}

func event(typ, outing, participant, volunteer string, start time.Time, recipients ...string) matching.Event {
	return matching.Event{ID: fmt.Sprintf("ev-%d", eventSeq.Add(1)), Type: typ, OutingID: outing, OrgID: "org1",
		StartsAt: start, EndsAt: start.Add(2 * time.Hour), ParticipantID: participant, VolunteerID: volunteer, Recipients: recipients}
}

// waitFor polls cond until it holds; the deadline only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until every worker of the given servers has found nothing
// due twice more, so that "nothing was sent" means the workers had their
// chance, and what was due has been sent and recorded.
func settle(t *testing.T, servers ...*server) {
	t.Helper()
	for _, s := range servers {
		for _, p := range s.svc.running() {
			start := make([]int64, len(p.idle))
			for i := range p.idle {
				start[i] = p.idle[i].Load()
			}
			waitFor(t, "two idle looks per worker", func() bool {
				p.kick()
				for i := range p.idle {
					if p.idle[i].Load() < start[i]+2 {
						return false
					}
				}
				return true
			})
		}
	}
}

// messagesOfType returns the accepted messages with data.type typ.
func (h *harness) messagesOfType(typ string) []fcmfake.Message {
	var out []fcmfake.Message
	for _, m := range h.fcm.Messages() {
		if m.Data["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

// count counts push_jobs rows matching where (SQL).
func (h *harness) count(where string, args ...any) int64 {
	h.t.Helper()
	var n int64
	if err := h.db.QueryRow("SELECT count(*) FROM push_jobs WHERE "+where, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// job reads the one job matching where (SQL).
func (h *harness) job(where string, args ...any) Job {
	h.t.Helper()
	rows, err := h.db.Query("SELECT "+jobColumns+" FROM push_jobs WHERE "+where, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	js, err := scanJobs(rows)
	if err != nil || len(js) != 1 {
		h.t.Fatalf("jobs where %s: %d, %v", where, len(js), err)
	}
	return js[0]
}

// pending counts pending jobs matching where (SQL).
func (h *harness) pending(where string, args ...any) int64 {
	h.t.Helper()
	return h.count("outcome = '' AND "+where, args...)
}

func counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

func mustConsume(t *testing.T, s *server, e matching.Event) {
	t.Helper()
	if err := s.svc.Consume(context.Background(), e); err != nil {
		t.Fatalf("consume %s: %v", e.Type, err)
	}
}

func (h *harness) dumpLogsOnFailure() {
	h.t.Cleanup(func() {
		if h.t.Failed() {
			h.t.Logf("service logs:\n%s", h.logs.String())
			h.t.Logf("clock: %s", h.clock.Now().UTC())
			if h.db == nil {
				return
			}
			rows, err := h.db.Query(`SELECT id, kind, type, outing_id, recipient, run_at, attempt, lease_owner, lease_until, outcome
				FROM push_jobs ORDER BY run_at LIMIT 40`)
			if err != nil {
				return
			}
			defer rows.Close()
			for rows.Next() {
				var id, kind, typ, outing, rcpt, owner, outcome string
				var runAt, attempt, until int64
				if rows.Scan(&id, &kind, &typ, &outing, &rcpt, &runAt, &attempt, &owner, &until, &outcome) == nil {
					h.t.Logf("push_jobs: %s %s %s %s to %q run %s attempt %d lease %q until %s outcome %q", id, kind, typ, outing, rcpt,
						sqlite.Time(runAt).Format(time.RFC3339), attempt, owner, sqlite.Time(until).Format(time.RFC3339), outcome)
				}
			}
		}
	})
}
