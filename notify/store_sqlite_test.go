package notify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
)

// Every query the SQLite engine runs on a growing table reads through an
// index, planned on a database with some rows so that ANALYZE-free plans
// are the ones the engine gets.
func TestSQLiteHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []Job
	for i := range 50 {
		jobs = append(jobs, testJob(fmt.Sprintf("k%d", i), kindReminder, matching.EventReminder, fmt.Sprintf("o%d", i%5), fmt.Sprintf("u%d", i), ct0, ct0))
		if _, _, err := st.RegisterDevice(ctx, fmt.Sprintf("u%d", i), fmt.Sprintf("t%d", i), "ios", ct0, MaxDevicesPerUser); err != nil {
			t.Fatal(err)
		}
	}
	mustEnqueue(t, st, 50, jobs...)
	now := sqlite.Millis(ct0)
	queries := []struct {
		name, query string
		args        []any
	}{
		{"any due job", qAnyDue, []any{now}},
		{"claim due jobs", qClaimDue, []any{"w", "tok", now, now, now, 10}},
		{"next due time", qNextDue, []any{now}},
		{"finish a job", qFinish, []any{"delivered", "", now, "id", "tok"}},
		{"retry a job", qRetry, []any{now, now, 1, "", "[]", "id", "tok"}},
		{"release a job", qRelease, []any{"id", "tok"}},
		{"jobs of an outing", qOutingJobs, []any{"o1"}},
		{"delete a job", qDeleteJob, []any{"id"}},
		{"finished job", qFinishedJob, []any{"id"}},
		{"pending jobs of a user", qPendingOf, []any{"u1"}},
		{"erase a user's jobs", qEraseJobs, []any{"u1"}},
		{"sweep finished jobs", qSweepJobs, []any{now}},
		{"sweep events", qSweepEvents, []any{now}},
		{"event dedup lookup", qEventSeen, []any{"ev1"}},
		{"device by token", qDeviceByToken, []any{"t1"}},
		{"devices of users", qDevicesOfUsers, []any{`["u1","u2"]`, 20}},
		{"trim a user's devices", qTrimDevices, []any{"u1", MaxDevicesPerUser}},
		{"delete own device", qDeleteDevice, []any{"t1", "u1"}},
		{"prune a token", qPruneToken, []any{"t1"}},
		{"erase a user's devices", qEraseDevices, []any{"u1"}},
	}
	for _, q := range queries {
		plan, err := d.QueryPlan(ctx, q.query, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		t.Logf("%s: %v", q.name, plan)
		if bad := sqlite.FullScans(plan, "push_jobs", "devices", "push_events"); len(bad) > 0 {
			t.Errorf("%s scans a whole table: %v", q.name, bad)
		}
	}
}

// Two handles on one file (two connection pools, as two processes) claim
// the same due jobs: each job goes to exactly one.
func TestSQLiteClaimsAcrossHandles(t *testing.T) {
	ctx := context.Background()
	a := sqlitetest.New(t)
	b, err := sqlite.Open(ctx, a.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sa, err := NewSQLiteStore(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := NewSQLiteStore(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []Job
	for i := range 300 {
		jobs = append(jobs, testJob(fmt.Sprintf("x%d", i), kindReminder, matching.EventReminder, "o", fmt.Sprintf("u%d", i), ct0, ct0))
	}
	mustEnqueue(t, sa, 300, jobs...)
	got := make(chan []string, 2)
	begin := make(chan struct{})
	for _, st := range []Store{sa, sb} {
		go func() {
			<-begin
			var mine []string
			for {
				js, err := st.ClaimDueJobs(ctx, "w", ct0, time.Minute, 1)
				if err != nil {
					t.Error(err)
				}
				if len(js) == 0 {
					got <- mine
					return
				}
				mine = append(mine, ids(js)...)
			}
		}()
	}
	close(begin)
	seen := map[string]int{}
	first, second := <-got, <-got
	for _, id := range append(first, second...) {
		seen[id]++
	}
	t.Logf("handle A claimed %d, handle B %d, distinct %d", len(first), len(second), len(seen))
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %s claimed %d times", id, n)
		}
	}
	if len(seen) != 300 {
		t.Fatalf("%d of 300 claimed", len(seen))
	}
}
