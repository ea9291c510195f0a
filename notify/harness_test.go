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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/logtest"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify/fcmfake"
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

// harness is one database, one fake FCM and a fake clock shared by one or
// more services ("servers").
type harness struct {
	t     *testing.T
	db    *db.DB
	fcm   *fcmfake.Server
	clock *clock.Fake
	dir   *testDirectory
	logs  *logtest.Buffer
	tune  Tuning
	cfg   func(*Config)
	// logLevel of the services' logs (Info unless a test wants more).
	logLevel slog.Level
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		t: t, db: dbtest.New(t), fcm: fcmfake.New(), clock: clock.NewFake(t0), dir: newTestDirectory(), logs: &logtest.Buffer{},
		tune: Tuning{IdlePoll: 10 * time.Millisecond, Lookahead: time.Second, FetchGap: time.Millisecond,
			FinishEvery: 20 * time.Millisecond, Lease: time.Minute, SendTimeout: 10 * time.Second},
	}
	t.Cleanup(h.fcm.Close)
	h.dumpLogsOnFailure()
	h.dir.setCoordinators("org1", "coord1")
	h.dir.add("coord1", Recipient{Language: "sv", TimeZone: "Europe/Stockholm"})
	return h
}

// server is one running (or stoppable) Service.
type server struct {
	svc    *Service
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

// newServer makes a Service on handle d (nil: the harness's own handle).
func (h *harness) newServer(d *db.DB, owner string) *server {
	h.t.Helper()
	if d == nil {
		d = h.db
	}
	sender, err := NewFCMSender(context.Background(), FCMConfig{Endpoint: h.fcm.URL, ProjectID: "clavis-test"})
	if err != nil {
		h.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	tune := h.tune
	tune.Owner = owner
	cfg := Config{
		DB: d, Sender: sender, Directory: h.dir, Clock: h.clock, Registerer: reg, Workers: 4, Tuning: tune,
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

// secondHandle opens another client to the same database, with its own
// write gate: as a second server process would.
func (h *harness) secondHandle() *db.DB {
	h.t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(h.db.URI))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	d := &db.DB{Database: client.Database(h.db.Name()), Client: client, Embedded: h.db.Embedded, URI: h.db.URI}
	d.SetGate(db.NewGate(h.db.Embedded))
	return d
}

// person registers a user with one device named "tok-<id>".
func (h *harness) person(id string, quiet bool) string {
	h.t.Helper()
	h.dir.add(id, Recipient{Language: "sv", TimeZone: "Europe/Stockholm", QuietHours: quiet})
	tok := "tok-" + id
	if _, _, err := newDevices(h.db, h.clock).Register(context.Background(), id, tok, "android"); err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// people registers many users with one device each ("tok-<id>") at once.
func (h *harness) people(quiet bool, ids ...string) {
	h.t.Helper()
	docs := make([]any, 0, len(ids))
	for _, id := range ids {
		h.dir.add(id, Recipient{Language: "sv", TimeZone: "Europe/Stockholm", QuietHours: quiet})
		docs = append(docs, Device{Token: "tok-" + id, UserID: id, Platform: "android", RegisteredAt: t0, UpdatedAt: t0})
	}
	if _, err := h.db.Collection("devices").InsertMany(context.Background(), docs); err != nil {
		h.t.Fatal(err)
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

// settle waits until every running pool of the given servers has looked at
// the job collection twice more, so that "nothing was sent" means the
// workers had their chance.
func settle(t *testing.T, servers ...*server) {
	t.Helper()
	for _, s := range servers {
		s.svc.mu.Lock()
		pools := append([]*pool(nil), s.svc.pools...)
		s.svc.mu.Unlock()
		for _, p := range pools {
			start := p.fetches.Load()
			p.kick()
			waitFor(t, "two fetch rounds", func() bool {
				p.kick()
				return p.fetches.Load() >= start+2 && p.quietNow(s.svc.clock.Now())
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

func (h *harness) count(coll string, filter bson.M) int64 {
	h.t.Helper()
	n, err := h.db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
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
			for _, coll := range []string{"push_jobs", "push_claims"} {
				cur, err := h.db.Collection(coll).Find(context.Background(), bson.M{})
				if err != nil {
					continue
				}
				var docs []bson.M
				_ = cur.All(context.Background(), &docs)
				for i, d := range docs {
					if i == 40 {
						h.t.Logf("%s: %d more", coll, len(docs)-i)
						break
					}
					h.t.Logf("%s: %v", coll, d)
				}
			}
		}
	})
}
