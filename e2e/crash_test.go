package e2e

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

// TestKill9DuringWritesLosesNothing sends SIGKILL to the server in the
// middle of a write load, three times, restarting it on the same data
// directory each time. Every write that got a 2xx must be there after the
// restart, an unanswered one may be there or not, and no outing may be in
// a state the state machine cannot reach. A commit in WAL mode is in the
// -wal file before the 2xx is sent, so a killed process loses nothing the
// kernel was given.
func TestKill9DuringWritesLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server under load and kills it three times (about 30 s)")
	}
	dir := t.TempDir()
	env := baseEnv(t, dir, "CLAVIS_DATA_DIR="+filepath.Join(dir, "data"))
	s := startServer(t, dir, "server", env)
	t.Cleanup(func() { s.stop(t) })
	s.waitReady(t)
	const workers = 4
	c := newCommunity(t, "crash", workers, workers, s)
	l := newLedger()

	// A write may be acknowledged or unanswered; what it last saw decides.
	allowed := func(r *record, got string) bool { return got == r.status || (r.inflight != "" && got == r.inflight) }
	for round := 1; round <= 3; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		before, unansweredBefore := l.acked.Load(), l.unanswered.Load()
		go func() { defer close(done); runLoad(ctx, s, c, l, workers) }()
		time.Sleep(time.Duration(1500+rand.IntN(1500)) * time.Millisecond)
		s.kill(t)
		<-done
		cancel()
		if l.acked.Load() == before {
			t.Fatalf("round %d: no write was acknowledged before the kill:\n%s", round, s.logs())
		}

		s = startServer(t, dir, "server", env)
		s.waitReady(t)
		counts := check(t, s, c, l.outings, allowed)
		if t.Failed() {
			t.Fatalf("round %d: server log:\n%s", round, s.logs())
		}
		// The next round starts from what the server now says about the
		// writes that were never answered.
		inflight, committed := 0, 0
		for id, r := range l.outings {
			if r.inflight != "" {
				var o outingView
				s.call(t, "GET", "/v1/outings/"+id, c.coord, nil, 200, &o)
				inflight++
				if o.Status == r.inflight {
					committed++
				}
				r.status, r.inflight = o.Status, ""
			}
		}
		t.Logf("round %d: SIGKILL after %d acknowledged writes (%d in all); %d requests unanswered, %d of them transitions of known outings (%d of those committed); after restart all %d acknowledged outings read back: %s",
			round, l.acked.Load()-before, l.acked.Load(), l.unanswered.Load()-unansweredBefore, inflight, committed, len(l.outings), formatCounts(counts))
	}
	if len(l.problems) > 0 {
		t.Errorf("%d writes were refused during the load, first: %s", len(l.problems), l.problems[0])
	}
	s.stop(t)
	integrity(t, filepath.Join(dir, "data", sqlite.FileName))
}

// integrity runs PRAGMA integrity_check on the database file at path.
func integrity(t *testing.T, path string) {
	t.Helper()
	d, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var res string
	if err := d.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatal(err)
	}
	if res != "ok" {
		t.Fatalf("integrity_check of %s: %s", path, res)
	}
	t.Logf("PRAGMA integrity_check of %s: %s", filepath.Base(path), res)
}
