package e2e

// The reads of the load run (load/run.sh), without HTTP, on the seeded demo
// data in a SQLite file: the API/store ratio says what Fiber, JSON, token
// checks and the domain code cost on top of the database reads.
//
//   - BenchmarkStoreOutingRequest: the store reads GET /v1/outings/{id}
//     makes for its participant: the account status read the middleware
//     does (auth.Store.User) and matching.Store.Outing.
//   - BenchmarkServiceOuting, BenchmarkServiceOffers: the request's Go
//     code in process (token check, account read, domain call), no HTTP.
//   - TestAPIStoreRatio: the built binary on the same file, GET
//     /v1/outings/{id} from 64 goroutines over HTTP, against the store
//     reads from 64 goroutines; it logs the ratio (goal ≥ 0.8).
//
// Each benchmark runs serially (c1) and with 64 goroutines (c64, as wrk's
// 64 connections). Run them as load/run.sh does:
//
//	go test ./e2e -run '^$' -bench . -benchtime 3s -count 5

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/sqlite"
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

// fixture is the seeded demo database in a data directory and the
// services the server builds on it.
type fixture struct {
	dataDir, keyFile string
	db               *sqlite.DB
	authStore        auth.Store
	matchingStore    matching.Store
	accounts         *auth.Service
	outings          *matching.Service
	matcher          *matching.Matcher

	outingID, participantID      string
	participantTok, volunteerTok string
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	f := &fixture{dataDir: filepath.Join(tb.TempDir(), "data")}
	var err error
	if f.db, err = sqlite.Open(ctx, filepath.Join(f.dataDir, sqlite.FileName)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.db.Close() })
	// A key file, so that the binary started on this data directory accepts
	// the tokens issued here.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	pemKey, err := auth.MarshalPrivateKeyPEM(priv)
	if err != nil {
		tb.Fatal(err)
	}
	f.keyFile = filepath.Join(filepath.Dir(f.dataDir), "jwt.pem")
	if err := os.WriteFile(f.keyFile, pemKey, 0o600); err != nil {
		tb.Fatal(err)
	}
	if f.authStore, err = auth.NewSQLiteStore(ctx, f.db); err != nil {
		tb.Fatal(err)
	}
	if f.accounts, err = auth.New(ctx, auth.Config{Store: f.authStore, Keys: auth.NewKeySet(priv), Clock: clock.Real{}, Hash: auth.TestHashParams}); err != nil {
		tb.Fatal(err)
	}
	if f.matchingStore, err = matching.NewSQLiteStore(ctx, f.db); err != nil {
		tb.Fatal(err)
	}
	runs, err := seed.NewSQLiteRuns(ctx, f.db)
	if err != nil {
		tb.Fatal(err)
	}
	if err := seed.Run(ctx, runs, f.matchingStore, f.accounts, time.Now(), io.Discard); err != nil {
		tb.Fatalf("seed: %v", err)
	}
	if f.outings, err = matching.NewService(ctx, f.matchingStore, matching.Config{Clock: clock.Real{}, Directory: matching.AccountsDirectory(f.accounts)}); err != nil {
		tb.Fatal(err)
	}
	if f.matcher, err = matching.NewMatcher(ctx, f.outings, matching.MatcherConfig{}); err != nil {
		tb.Fatal(err)
	}
	run, err := runs.Run(ctx, "halmstad-demo")
	if err != nil {
		tb.Fatal(err)
	}
	f.outingID, f.participantID = run.Outings[loadOuting], run.Users[loadParticipant]
	if f.outingID == "" || f.participantID == "" {
		tb.Fatalf("seed run has no %s outing or %s: %+v", loadOuting, loadParticipant, run)
	}
	if f.participantTok, err = f.accounts.IssueAccessToken(ctx, f.participantID); err != nil {
		tb.Fatal(err)
	}
	if f.volunteerTok, err = f.accounts.IssueAccessToken(ctx, run.Users[loadVolunteer]); err != nil {
		tb.Fatal(err)
	}
	return f
}

// storeOuting is the store reads of GET /v1/outings/{id} by its participant.
func (f *fixture) storeOuting(ctx context.Context) error {
	if _, err := f.authStore.User(ctx, f.participantID); err != nil {
		return err
	}
	_, err := f.matchingStore.Outing(ctx, f.outingID)
	return err
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

func BenchmarkStoreOutingRequest(b *testing.B) {
	f := newFixture(b)
	serialAndC64(b, f.storeOuting)
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

// rate runs op from 64 goroutines for d and returns completed ops per second.
func rate(t *testing.T, d time.Duration, op func(context.Context) error) float64 {
	r, _ := rateN(t, d, op)
	return r
}

// rateN is rate and the number of completed ops.
func rateN(t *testing.T, d time.Duration, op func(context.Context) error) (float64, int64) {
	t.Helper()
	var n, failed atomic.Int64
	var firstErr atomic.Value
	ctx := context.Background()
	stop := time.Now().Add(d)
	began := time.Now()
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := op(ctx); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d operations failed, first: %v", failed.Load(), failed.Load()+n.Load(), firstErr.Load())
	}
	return float64(n.Load()) / time.Since(began).Seconds(), n.Load()
}

// cpuOf is the CPU time (user and system) process pid has used so far,
// from /proc; 0 where there is no /proc.
func cpuOf(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	// utime and stime, fields 14 and 15 of proc(5), in clock ticks (100/s).
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100)
}

func perOp(cpu time.Duration, n int64) float64 {
	return float64(cpu.Microseconds()) / float64(max(n, 1))
}

// TestAPIStoreRatio compares GET /v1/outings/{id} through the built server
// (a real listener; Fiber, JSON, token check, domain code) with the same
// store reads called directly, both from 64 goroutines on one file.
func TestAPIStoreRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for about 10 s")
	}
	if raceEnabled {
		t.Skip("the race detector slows this process's SQLite driver, not the server's: run without -race")
	}
	f := newFixture(t)
	dir := filepath.Dir(f.dataDir)
	s := startServer(t, dir, "server", []string{"CLAVIS_DATA_DIR=" + f.dataDir, "CLAVIS_JWT_KEY_FILE=" + f.keyFile, "LOG_LEVEL=warn"})
	t.Cleanup(func() { s.stop(t) })
	s.waitReady(t)
	httpGet := func(context.Context) error {
		st, raw, err := s.do("GET", "/v1/outings/"+f.outingID, f.participantTok, nil)
		if err == nil && st != 200 {
			t.Errorf("GET /v1/outings/%s: %d %s", f.outingID, st, raw)
		}
		return err
	}
	const d = 3 * time.Second
	_ = rate(t, time.Second, httpGet) // warm the connections and the server
	pid, me := s.cmd.Process.Pid, os.Getpid()
	srv0, cli0 := cpuOf(pid), cpuOf(me)
	api, nAPI := rateN(t, d, httpGet)
	srvCPU, cliCPU := cpuOf(pid)-srv0, cpuOf(me)-cli0
	st0 := cpuOf(me)
	store, nStore := rateN(t, d, f.storeOuting)
	storeCPU := cpuOf(me) - st0
	service := rate(t, d, f.getOuting)
	verify := rate(t, d, func(context.Context) error { _, err := f.accounts.VerifyAccessToken(f.participantTok); return err })
	t.Logf("GET /v1/outings/{id} as its participant, 64 goroutines, %v each on %d CPUs: HTTP %.0f req/s; store reads (auth.Store.User + matching.Store.Outing) %.0f/s; service in process (Authenticate + Service.Outing) %.0f/s",
		d, runtime.NumCPU(), api, store, service)
	t.Logf("token signature check alone (auth.Service.VerifyAccessToken) %.0f/s", verify)
	t.Logf("API/store ratio %.2f (goal ≥ 0.8); API/service ratio %.2f", api/store, api/service)
	// The same cores run the client: what each side spends per request says
	// how much of the gap is the server's (ticks of 10 ms; 0 without /proc).
	if srvCPU > 0 && storeCPU > 0 {
		t.Logf("CPU per request: server %.0f µs, this process's HTTP client %.0f µs; store reads alone %.0f µs per op: server-CPU ratio (store/server) %.2f",
			perOp(srvCPU, nAPI), perOp(cliCPU, nAPI), perOp(storeCPU, nStore), perOp(storeCPU, nStore)/perOp(srvCPU, nAPI))
	}
}
