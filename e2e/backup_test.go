package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

// TestBackupDuringWritesRestores runs `clavis backup FILE` beside a server
// under a write load, restores the copy into a new data directory and
// starts a server on it: every write acknowledged before the backup began
// must be there (later ones may be, as far as the copy's snapshot goes), and
// the copy must pass PRAGMA integrity_check.
func TestBackupDuringWritesRestores(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two servers and a backup under load (about 15 s)")
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	env := baseEnv(t, dir, "CLAVIS_DATA_DIR="+dataDir)
	s := startServer(t, dir, "server", env)
	t.Cleanup(func() { s.stop(t) })
	s.waitReady(t)
	const workers = 4
	c := newCommunity(t, "backup", workers, workers, s)
	l := newLedger()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); runLoad(ctx, s, c, l, workers) }()
	time.Sleep(1500 * time.Millisecond)
	before := l.snapshot()
	ackedBefore := l.acked.Load()
	backupFile := filepath.Join(dir, "backup", "clavis-backup.db")
	if err := os.MkdirAll(filepath.Dir(backupFile), 0o700); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	code, stdout, stderr := runClavis(t, dir, env, "backup", backupFile)
	took := time.Since(began)
	ackedDuring := l.acked.Load() - ackedBefore
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	if code != 0 {
		t.Fatalf("clavis backup: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	t.Logf("clavis backup (%v, while the load ran): %s", took.Round(time.Millisecond), strings.TrimSpace(stdout))
	if ackedDuring == 0 {
		t.Errorf("no write was acknowledged while the backup ran: the test did not back up during writes")
	}
	if len(l.problems) > 0 {
		t.Errorf("%d writes were refused during the load, first: %s", len(l.problems), l.problems[0])
	}

	// Restore: the copy becomes clavis.db of a new data directory.
	restored := filepath.Join(dir, "restored")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(backupFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, sqlite.FileName), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	integrity(t, filepath.Join(restored, sqlite.FileName))
	r := startServer(t, dir, "restored", append(env, "CLAVIS_DATA_DIR="+restored))
	t.Cleanup(func() { r.stop(t) })
	r.waitReady(t)

	// Acknowledged before the backup began: there, in that state or a later
	// legal one (a transition acknowledged during the backup may be in).
	pre := map[string]*record{}
	for id, st := range before {
		pre[id] = &record{status: st}
	}
	counts := check(t, r, c, pre, func(rec *record, got string) bool { return reachable(rec.status, got) })
	// Acknowledged after it began: in the copy or not, never half.
	later, present := 0, 0
	for id := range l.snapshot() {
		if _, ok := before[id]; ok {
			continue
		}
		later++
		if st, _, err := r.do("GET", "/v1/outings/"+id, c.coord, nil); err == nil && st == 200 {
			present++
		}
	}
	t.Logf("%d writes acknowledged before the backup began (%d outings): all in the restored copy: %s; %d writes acknowledged while it ran; of the %d outings created from then on, %d are in the copy",
		ackedBefore, len(before), formatCounts(counts), ackedDuring, later, present)
	// The restored server writes too.
	var me struct{ Name string }
	r.call(t, "PATCH", "/v1/me", c.participants[0].token, map[string]any{"name": "Restored Pia"}, 200, &me)
}
