package e2e

// The reads of the load run (load/run.sh), without HTTP, on the seeded demo
// data in the test binary's embedded FerretDB (SQLite): the API/driver
// ratio says what Fiber, JSON, authentication and the domain code cost on
// top of the database round trips.
//
//   - BenchmarkDriverOutingByID: one findOne {_id} on outings, the read at
//     the heart of GET /v1/outings/{id}.
//   - BenchmarkDriverOutingRequest, BenchmarkDriverOffersRequest: every
//     database command the request makes (recorded with the driver's
//     command monitor while the real services answer it once), replayed
//     with Database.RunCommand, replies left as raw BSON.
//   - BenchmarkServiceOuting, BenchmarkServiceOffers: the request's Go
//     code in process (token check, account read, domain call), no HTTP.
//
// Each runs serially (c1) and with 64 goroutines (c64, as wrk's 64
// connections). Run them as load/run.sh does:
//
//	go test ./e2e -run '^$' -bench . -benchtime 3s -count 5

import (
	"context"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/seed"
)

// loadOuting is the seeded outing load/run.sh reads, and loadParticipant
// and loadVolunteer the seed's keys of the callers it reads as.
const (
	loadOuting      = "cafe-open"
	loadParticipant = "pia"
	loadVolunteer   = "vera"
)

// fixture is the seeded demo database and the services the server builds
// on it, plus a recording of every command sent through its client.
type fixture struct {
	d        *db.DB
	accounts *auth.Service
	outings  *matching.Service
	matcher  *matching.Matcher

	outingID                     string
	participantTok, volunteerTok string

	mu        sync.Mutex
	recording bool
	recorded  []bson.Raw
}

func newFixture(b *testing.B) *fixture {
	b.Helper()
	ctx := context.Background()
	seeded := dbtest.New(b)
	keys, err := auth.GenerateKeySet()
	if err != nil {
		b.Fatal(err)
	}
	seededStore, err := auth.NewMongoStore(ctx, seeded)
	if err != nil {
		b.Fatal(err)
	}
	seedAccounts, err := auth.New(ctx, auth.Config{Store: seededStore, Keys: keys, Clock: clock.Real{}, Hash: auth.TestHashParams})
	if err != nil {
		b.Fatal(err)
	}
	seededMatching, err := matching.NewMongoStore(ctx, seeded)
	if err != nil {
		b.Fatal(err)
	}
	if err := seed.Run(ctx, seed.NewMongoRuns(seeded), seededMatching, seedAccounts, time.Now(), io.Discard); err != nil {
		b.Fatalf("seed: %v", err)
	}

	// A client of our own, so the monitor sees only this fixture's commands.
	f := &fixture{}
	client, err := mongo.Connect(options.Client().ApplyURI(dbtest.URI(b)).SetMonitor(&event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.recording {
				f.recorded = append(f.recorded, slices.Clone(e.Command))
			}
		},
	}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	f.d = &db.DB{Database: client.Database(seeded.Name()), Client: client, Embedded: seeded.Embedded, URI: seeded.URI}
	f.d.SetGate(db.NewGate(seeded.Embedded))
	fixtureStore, err := auth.NewMongoStore(ctx, f.d)
	if err != nil {
		b.Fatal(err)
	}
	if f.accounts, err = auth.New(ctx, auth.Config{Store: fixtureStore, Keys: keys, Clock: clock.Real{}, Hash: auth.TestHashParams}); err != nil {
		b.Fatal(err)
	}
	fMatching, err := matching.NewMongoStore(ctx, f.d)
	if err != nil {
		b.Fatal(err)
	}
	if f.outings, err = matching.NewService(ctx, fMatching, matching.Config{Clock: clock.Real{}, Directory: matching.AccountsDirectory(f.accounts)}); err != nil {
		b.Fatal(err)
	}
	if f.matcher, err = matching.NewMatcher(ctx, f.outings, matching.MatcherConfig{}); err != nil {
		b.Fatal(err)
	}

	var run struct {
		Users   map[string]string `bson:"users"`
		Outings map[string]string `bson:"outings"`
	}
	if err := f.d.Collection(seed.CollRuns).FindOne(ctx, bson.M{}).Decode(&run); err != nil {
		b.Fatalf("read seed run: %v", err)
	}
	f.outingID = run.Outings[loadOuting]
	if f.participantTok, err = f.accounts.IssueAccessToken(ctx, run.Users[loadParticipant]); err != nil {
		b.Fatal(err)
	}
	if f.volunteerTok, err = f.accounts.IssueAccessToken(ctx, run.Users[loadVolunteer]); err != nil {
		b.Fatal(err)
	}
	if f.outingID == "" {
		b.Fatalf("seed has no %s outing", loadOuting)
	}
	return f
}

// getOuting is what GET /v1/outings/{id} does below HTTP.
func (f *fixture) getOuting(ctx context.Context) error {
	who, err := f.accounts.Authenticate(ctx, f.participantTok)
	if err != nil {
		return err
	}
	_, err = f.outings.Outing(ctx, who, f.outingID)
	return err
}

// getOffers is what GET /v1/volunteers/me/offers does below HTTP.
func (f *fixture) getOffers(ctx context.Context) (int, error) {
	who, err := f.accounts.Authenticate(ctx, f.volunteerTok)
	if err != nil {
		return 0, err
	}
	page, err := f.matcher.Offers(ctx, who, 20, "")
	return len(page.Items), err
}

// record runs call once and returns the commands it sent, ready to be
// replayed: session, cluster time and database fields are the driver's
// to add again.
func (f *fixture) record(b *testing.B, call func(context.Context) error) []bson.D {
	b.Helper()
	f.mu.Lock()
	f.recording, f.recorded = true, nil
	f.mu.Unlock()
	err := call(context.Background())
	f.mu.Lock()
	raws := f.recorded
	f.recording, f.recorded = false, nil
	f.mu.Unlock()
	if err != nil {
		b.Fatal(err)
	}
	var out []bson.D
	var names []string
	for _, raw := range raws {
		var cmd bson.D
		if err := bson.Unmarshal(raw, &cmd); err != nil {
			b.Fatal(err)
		}
		cmd = slices.DeleteFunc(cmd, func(e bson.E) bool {
			switch e.Key {
			case "lsid", "$db", "$clusterTime", "$readPreference", "txnNumber", "signature":
				return true
			}
			return false
		})
		filter := "{}"
		for _, e := range cmd {
			if e.Key == "filter" {
				if j, err := bson.MarshalExtJSON(e.Value, false, false); err == nil {
					filter = string(j)
				}
			}
		}
		names = append(names, cmd[0].Key+" "+cmd[0].Value.(string)+" "+filter)
		// A replay must only read: anything else would change the data it
		// measures (and would not be "the same reads").
		if cmd[0].Key != "find" {
			b.Fatalf("request sent %q, not a read; commands: %v", cmd[0].Key, names)
		}
		out = append(out, cmd)
	}
	b.Logf("request = %d commands:\n\t%s", len(out), strings.Join(names, "\n\t"))
	return out
}

func (f *fixture) replay(ctx context.Context, cmds []bson.D) error {
	for _, c := range cmds {
		if _, err := f.d.RunCommand(ctx, c).Raw(); err != nil {
			return err
		}
	}
	return nil
}

// serialAndC64 runs op once per iteration serially, then from 64 goroutines.
func serialAndC64(b *testing.B, op func(context.Context) error) {
	b.Run("c1", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := op(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("c64", func(b *testing.B) {
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if err := op(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkDriverOutingByID(b *testing.B) {
	f := newFixture(b)
	coll := f.d.Collection("outings")
	serialAndC64(b, func(ctx context.Context) error {
		_, err := coll.FindOne(ctx, bson.M{"_id": f.outingID}).Raw()
		return err
	})
}

func BenchmarkDriverOutingRequest(b *testing.B) {
	f := newFixture(b)
	cmds := f.record(b, f.getOuting)
	serialAndC64(b, func(ctx context.Context) error { return f.replay(ctx, cmds) })
}

func BenchmarkDriverOffersRequest(b *testing.B) {
	f := newFixture(b)
	cmds := f.record(b, func(ctx context.Context) error { _, err := f.getOffers(ctx); return err })
	serialAndC64(b, func(ctx context.Context) error { return f.replay(ctx, cmds) })
}

func BenchmarkServiceOuting(b *testing.B) {
	f := newFixture(b)
	serialAndC64(b, f.getOuting)
}

func BenchmarkServiceOffers(b *testing.B) {
	f := newFixture(b)
	n, err := f.getOffers(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s has %d offers", loadVolunteer, n)
	serialAndC64(b, func(ctx context.Context) error { _, err := f.getOffers(ctx); return err })
}
