package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
)

func TestStoreSQLite(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testStore(t, sqlitetest.Opener(NewSQLiteStore)) })
}

func TestStoreMongo(t *testing.T) {
	t.Run("mongo", func(t *testing.T) { testStore(t, dbtest.Opener(NewMongoStore)) })
}

// ct0 is the contract suite's "now" (ms precision, UTC, as the domain keeps times).
var ct0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// testJob makes a pending job due at runAt.
func testJob(key, kind, typ, outing, recipient string, start, runAt time.Time) Job {
	return Job{ID: jobID(key), DedupKey: key, Kind: kind, Type: typ, OutingID: outing, OrgID: "org1", Audience: toUser,
		Recipient: recipient, StartsAt: start, Deadline: start, DueAt: runAt, RunAt: runAt, CreatedAt: ct0}
}

func mustEnqueue(t *testing.T, st Store, want int, jobs ...Job) {
	t.Helper()
	n, err := st.EnqueueJobs(context.Background(), jobs)
	if err != nil || n != want {
		t.Fatalf("enqueue: %d new, %v; want %d", n, err, want)
	}
}

func ids(js []Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.ID)
	}
	slices.Sort(out)
	return out
}

func testStore(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	start := ct0.Add(48 * time.Hour)

	t.Run("devices", func(t *testing.T) {
		st := open(t)
		dev, created, err := st.RegisterDevice(ctx, "u1", "tokA", "android", ct0, MaxDevicesPerUser)
		if err != nil || !created || dev.Token != "tokA" || dev.UserID != "u1" || !dev.RegisteredAt.Equal(ct0) {
			t.Fatalf("first registration: %+v %v %v", dev, created, err)
		}
		if _, created, _ := st.RegisterDevice(ctx, "u1", "tokA", "ios", ct0.Add(time.Second), MaxDevicesPerUser); created {
			t.Fatal("the same token again counts as new")
		}
		// The token moves to the latest user.
		if _, created, _ := st.RegisterDevice(ctx, "u2", "tokA", "web", ct0.Add(2*time.Second), MaxDevicesPerUser); !created {
			t.Fatal("a token moving to another user is new for that user")
		}
		if devs, _ := st.DevicesOfUsers(ctx, []string{"u1"}, 10); len(devs) != 0 {
			t.Fatalf("u1 still has %+v", devs)
		}
		devs, err := st.DevicesOfUsers(ctx, []string{"u2", "u1"}, 10)
		if err != nil || len(devs) != 1 || devs[0].UserID != "u2" || devs[0].Platform != "web" || !devs[0].UpdatedAt.Equal(ct0.Add(2*time.Second)) {
			t.Fatalf("u2's devices %+v, %v", devs, err)
		}
		if err := st.DeleteDevice(ctx, "u1", "tokA"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("u1 deleted u2's token: %v", err)
		}
		// At most keep devices; the least recently registered go.
		for i := range MaxDevicesPerUser + 2 {
			if _, _, err := st.RegisterDevice(ctx, "u3", fmt.Sprintf("tok3-%02d", i), "web", ct0.Add(time.Duration(i)*time.Second), MaxDevicesPerUser); err != nil {
				t.Fatal(err)
			}
		}
		devs, _ = st.DevicesOfUsers(ctx, []string{"u3"}, 100)
		if len(devs) != MaxDevicesPerUser {
			t.Fatalf("u3 has %d devices, want %d", len(devs), MaxDevicesPerUser)
		}
		for _, d := range devs {
			if d.Token == "tok3-00" || d.Token == "tok3-01" {
				t.Fatalf("oldest device %s kept", d.Token)
			}
		}
		if devs, _ := st.DevicesOfUsers(ctx, []string{"u2", "u3"}, 5); len(devs) != 5 {
			t.Fatalf("limit 5 gave %d", len(devs))
		}
		if err := st.PruneToken(ctx, "tok3-05"); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteDevice(ctx, "u2", "tokA"); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteDevice(ctx, "u2", "tokA"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if devs, _ := st.DevicesOfUsers(ctx, []string{"u3"}, 100); len(devs) != MaxDevicesPerUser-1 {
			t.Fatalf("after prune u3 has %d", len(devs))
		}
		if err := st.EraseUserDevices(ctx, "u3"); err != nil {
			t.Fatal(err)
		}
		if devs, _ := st.DevicesOfUsers(ctx, []string{"u3"}, 100); len(devs) != 0 {
			t.Fatalf("after erase u3 has %d", len(devs))
		}
	})

	t.Run("token race", func(t *testing.T) {
		// 20 users register one new token at once: it ends with exactly one of them.
		st := open(t)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := st.RegisterDevice(ctx, fmt.Sprintf("r%02d", i), "shared", "ios", ct0, MaxDevicesPerUser); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var users []string
		for i := range 20 {
			u := fmt.Sprintf("r%02d", i)
			devs, _ := st.DevicesOfUsers(ctx, []string{u}, 10)
			if len(devs) > 0 {
				users = append(users, u)
			}
		}
		if len(users) != 1 {
			t.Fatalf("the token belongs to %v, want exactly one user", users)
		}
	})

	t.Run("enqueue is unique by dedup key", func(t *testing.T) {
		st := open(t)
		a := testJob("k-a", kindReminder, matching.EventReminder, "o1", "p1", start, ct0)
		b := testJob("k-b", kindReminder, matching.EventReminder, "o1", "v1", start, ct0)
		mustEnqueue(t, st, 2, a, b)
		mustEnqueue(t, st, 0, a)
		mustEnqueue(t, st, 1, b, testJob("k-c", kindEvent, matching.EventApproved, "o1", "p1", start, ct0))
		// 20 goroutines enqueue the same new key: one row.
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := st.EnqueueJobs(ctx, []Job{testJob("k-race", kindEvent, matching.EventOffer, "o2", "v9", start, ct0)})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		if total != 1 {
			t.Fatalf("racing enqueues created %d jobs, want 1", total)
		}
		// A finished job's key stays taken until the sweep.
		won, err := st.ClaimDueJobs(ctx, "w", ct0, time.Minute, 10)
		if err != nil || len(won) != 4 {
			t.Fatalf("claimed %d, %v", len(won), err)
		}
		for _, j := range won {
			if err := st.FinishJob(ctx, j.Claim, Finish{Outcome: outcomeDelivered, At: ct0}); err != nil {
				t.Fatal(err)
			}
		}
		mustEnqueue(t, st, 0, a, b)
		if err := st.Sweep(ctx, ct0.Add(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.FinishedJob(ctx, a.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("finished job after the sweep: %v", err)
		}
		mustEnqueue(t, st, 1, a)
	})

	t.Run("claim, finish, retry, release", func(t *testing.T) {
		st := open(t)
		due := testJob("due", kindReminder, matching.EventReminder, "o1", "p1", start, ct0.Add(-time.Minute))
		later := testJob("later", kindReminder, matching.EventReminder, "o1", "v1", start, ct0.Add(time.Hour))
		mustEnqueue(t, st, 2, later, due)
		if next, err := st.NextClaimableAt(ctx, ct0); err != nil || !next.Equal(later.RunAt) {
			t.Fatalf("next claimable %s, %v; want %s", next, err, later.RunAt)
		}
		won, err := st.ClaimDueJobs(ctx, "w1", ct0, time.Minute, 10)
		if err != nil || len(won) != 1 || won[0].ID != due.ID {
			t.Fatalf("claim: %v %v", ids(won), err)
		}
		j := won[0]
		if j.Attempt != 1 || j.Claim.Attempt != 1 || j.Claim.Owner != "w1" || j.Claim.Token == "" || !j.Claim.Until.Equal(ct0.Add(time.Minute)) ||
			j.DedupKey != "due" || j.Recipient != "p1" || !j.StartsAt.Equal(start) || !j.RunAt.Equal(due.RunAt) {
			t.Fatalf("claimed job %+v", j)
		}
		if again, _ := st.ClaimDueJobs(ctx, "w2", ct0.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
			t.Fatalf("claimed under a live lease: %v", ids(again))
		}
		// Retry: back at runAt with what the attempt left; the claim is spent.
		runAt := ct0.Add(10 * time.Minute)
		if err := st.RetryJobAt(ctx, j.Claim, runAt, Attempt{Failures: 1, LastError: "unavailable", Delivered: []string{"h1"}}); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishJob(ctx, j.Claim, Finish{Outcome: outcomeDelivered, At: ct0}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("finish after retry with the spent claim: %v", err)
		}
		if got, _ := st.ClaimDueJobs(ctx, "w2", runAt.Add(-time.Millisecond), time.Minute, 10); len(got) != 0 {
			t.Fatalf("claimed before its retry time: %v", ids(got))
		}
		won, err = st.ClaimDueJobs(ctx, "w2", runAt, time.Minute, 10)
		if err != nil || len(won) != 1 {
			t.Fatalf("claim after retry: %v %v", ids(won), err)
		}
		j = won[0]
		if j.Attempt != 2 || j.Failures != 1 || j.LastError != "unavailable" || !slices.Equal(j.Delivered, []string{"h1"}) || !j.RunAt.Equal(runAt) || !j.DueAt.Equal(due.DueAt) {
			t.Fatalf("job after retry %+v", j)
		}
		// Release: claimable again at once, at the same attempt.
		if err := st.ReleaseJob(ctx, j.Claim); err != nil {
			t.Fatal(err)
		}
		won, err = st.ClaimDueJobs(ctx, "w3", runAt, time.Minute, 10)
		if err != nil || len(won) != 1 || won[0].Attempt != 2 {
			t.Fatalf("claim after release: %+v %v", won, err)
		}
		if err := st.FinishJob(ctx, j.Claim, Finish{Outcome: outcomeDelivered, At: runAt}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("finish with a released claim: %v", err)
		}
		if err := st.FinishJob(ctx, won[0].Claim, Finish{Outcome: outcomeGaveUp, LastError: "invalid", At: runAt}); err != nil {
			t.Fatal(err)
		}
		f, err := st.FinishedJob(ctx, due.ID)
		if err != nil || f.Outcome != outcomeGaveUp || f.LastError != "invalid" || f.Attempt != 2 || f.Owner != "w3" || !f.At.Equal(runAt) {
			t.Fatalf("finished %+v, %v", f, err)
		}
		if err := st.FinishJob(ctx, won[0].Claim, Finish{Outcome: outcomeDelivered, At: runAt}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("second finish: %v", err)
		}
		if f2, _ := st.FinishedJob(ctx, due.ID); f2 != f {
			t.Fatalf("second finish changed the outcome: %+v", f2)
		}
		if _, err := st.FinishedJob(ctx, later.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("pending job reported finished: %v", err)
		}
		if got, _ := st.ClaimDueJobs(ctx, "w4", ct0.Add(2*time.Hour), time.Minute, 10); len(got) != 1 || got[0].ID != later.ID {
			t.Fatalf("finished job claimed again, or the other missing: %v", ids(got))
		}
	})

	t.Run("lease expiry and late writes", func(t *testing.T) {
		st := open(t)
		j := testJob("crash", kindEvent, matching.EventOffer, "o1", "v1", start, ct0)
		mustEnqueue(t, st, 1, j)
		first, _ := st.ClaimDueJobs(ctx, "old", ct0, time.Minute, 10)
		if len(first) != 1 {
			t.Fatal("no first claim")
		}
		if got, _ := st.ClaimDueJobs(ctx, "new", ct0.Add(59*time.Second), time.Minute, 10); len(got) != 0 {
			t.Fatal("taken over before the lease ended")
		}
		second, err := st.ClaimDueJobs(ctx, "new", ct0.Add(61*time.Second), time.Minute, 10)
		if err != nil || len(second) != 1 || second[0].Attempt != 2 || second[0].Claim.Owner != "new" {
			t.Fatalf("take-over: %+v %v", second, err)
		}
		old := first[0].Claim
		if err := st.FinishJob(ctx, old, Finish{Outcome: outcomeDelivered, At: ct0.Add(62 * time.Second)}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("late finish: %v", err)
		}
		if err := st.RetryJobAt(ctx, old, ct0.Add(time.Hour), Attempt{Failures: 5}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("late retry: %v", err)
		}
		if err := st.ReleaseJob(ctx, old); err != nil {
			t.Fatalf("late release: %v", err)
		}
		// Nothing changed: the new owner still holds it and finishes it.
		if got, _ := st.ClaimDueJobs(ctx, "third", ct0.Add(62*time.Second), time.Minute, 10); len(got) != 0 {
			t.Fatal("the late release let a third owner in")
		}
		if err := st.FinishJob(ctx, second[0].Claim, Finish{Outcome: outcomeDelivered, At: ct0.Add(63 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if f, _ := st.FinishedJob(ctx, j.ID); f.Owner != "new" || f.Attempt != 2 || f.Outcome != outcomeDelivered {
			t.Fatalf("outcome %+v", f)
		}
	})

	t.Run("20 owners claim at once", func(t *testing.T) {
		st := open(t)
		var jobs []Job
		for i := range 100 {
			jobs = append(jobs, testJob(fmt.Sprintf("race-%03d", i), kindReminder, matching.EventReminder, "o1", fmt.Sprintf("p%d", i),
				start, ct0.Add(-time.Duration(i)*time.Millisecond)))
		}
		mustEnqueue(t, st, 100, jobs...)
		var wg sync.WaitGroup
		var mu sync.Mutex
		byJob := map[string][]string{}
		for w := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("owner-%02d", w)
				for {
					got, err := st.ClaimDueJobs(ctx, owner, ct0, time.Minute, 4)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, j := range got {
						byJob[j.ID] = append(byJob[j.ID], owner)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		owners := map[string]bool{}
		for id, os := range byJob {
			if len(os) != 1 {
				t.Errorf("job %s claimed by %v", id, os)
			}
			owners[os[0]] = true
		}
		t.Logf("100 due jobs, 20 owners: %d jobs claimed, each once; %d owners got some", len(byJob), len(owners))
		if len(byJob) != 100 {
			t.Fatalf("%d of 100 jobs claimed", len(byJob))
		}
	})

	t.Run("outing jobs: reschedule and drop", func(t *testing.T) {
		st := open(t)
		newStart := start.Add(24 * time.Hour)
		mustEnqueue(t, st, 6,
			testJob("r-old-p", kindReminder, matching.EventReminder, "o1", "p1", start, start.Add(-2*time.Hour)),
			testJob("r-new-p", kindReminder, matching.EventReminder, "o1", "p1", newStart, newStart.Add(-2*time.Hour)),
			testJob("c-old", kindCheckin, matching.EventCheckinMissed, "o1", "p1", start, start.Add(10*time.Minute)),
			testJob("offer", kindEvent, matching.EventOffer, "o1", "v1", start, ct0.Add(time.Hour)),
			testJob("approved", kindEvent, matching.EventApproved, "o1", "p1", start, ct0.Add(time.Hour)),
			testJob("other", kindReminder, matching.EventReminder, "o2", "p1", start, start.Add(-2*time.Hour)))
		got, err := st.OutingJobs(ctx, "o1")
		if err != nil || !slices.Equal(ids(got), ids([]Job{{ID: jobID("r-old-p")}, {ID: jobID("r-new-p")}, {ID: jobID("c-old")}})) {
			t.Fatalf("outing jobs %v, %v", ids(got), err)
		}
		// Moved: only the old start's reminders and check-ins go.
		n, err := st.DropOutingJobs(ctx, "o1", Drop{Kinds: []string{kindReminder, kindCheckin}, KeepStart: &newStart})
		if err != nil || n != 2 {
			t.Fatalf("dropped %d, %v; want 2", n, err)
		}
		got, _ = st.OutingJobs(ctx, "o1")
		if len(got) != 1 || got[0].DedupKey != "r-new-p" {
			t.Fatalf("after the move %v", ids(got))
		}
		// One recipient's only: the volunteer's offer is not p1's.
		if n, err := st.DropOutingJobs(ctx, "o1", Drop{EventTypes: []string{matching.EventOffer}, Recipient: "p1"}); err != nil || n != 0 {
			t.Fatalf("dropped %d of p1's offers, %v; want 0", n, err)
		}
		// Cancelled: reminders, check-ins and offers; not the approval, not o2.
		n, err = st.DropOutingJobs(ctx, "o1", Drop{Kinds: []string{kindReminder, kindCheckin}, EventTypes: []string{matching.EventOffer}})
		if err != nil || n != 2 {
			t.Fatalf("dropped %d, %v; want 2", n, err)
		}
		left, _ := st.ClaimDueJobs(ctx, "w", start, time.Minute, 10)
		if !slices.Equal(ids(left), ids([]Job{{ID: jobID("approved")}, {ID: jobID("other")}})) {
			t.Fatalf("left after the drops: %v", ids(left))
		}
		// A claimed job that is dropped cannot be finished.
		if _, err := st.DropOutingJobs(ctx, "o2", Drop{Kinds: []string{kindReminder}}); err != nil {
			t.Fatal(err)
		}
		for _, j := range left {
			err := st.FinishJob(ctx, j.Claim, Finish{Outcome: outcomeDelivered, At: start})
			if j.OutingID == "o2" && !errors.Is(err, ErrLeaseLost) || j.OutingID == "o1" && err != nil {
				t.Fatalf("finish %s: %v", j.DedupKey, err)
			}
		}
	})

	t.Run("export and erase", func(t *testing.T) {
		st := open(t)
		mustEnqueue(t, st, 3,
			testJob("e1", kindReminder, matching.EventReminder, "o1", "p1", start, ct0.Add(time.Hour)),
			testJob("e2", kindEvent, matching.EventApproved, "o1", "p1", start, ct0),
			testJob("e3", kindEvent, matching.EventApproved, "o1", "v1", start, ct0))
		won, _ := st.ClaimDueJobs(ctx, "w", ct0, time.Minute, 10)
		for _, j := range won {
			if j.Recipient == "p1" {
				if err := st.FinishJob(ctx, j.Claim, Finish{Outcome: outcomeDelivered, At: ct0}); err != nil {
					t.Fatal(err)
				}
			}
		}
		p, err := st.PendingJobsOf(ctx, "p1")
		if err != nil || len(p) != 1 || p[0].DedupKey != "e1" {
			t.Fatalf("pending of p1: %v, %v", ids(p), err)
		}
		if err := st.EraseRecipient(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		if p, _ := st.PendingJobsOf(ctx, "p1"); len(p) != 0 {
			t.Fatalf("pending after erase: %v", ids(p))
		}
		if _, err := st.FinishedJob(ctx, jobID("e2")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("history after erase: %v", err)
		}
		if p, _ := st.PendingJobsOf(ctx, "v1"); len(p) != 1 {
			t.Fatalf("v1's job went too: %v", ids(p))
		}
	})

	t.Run("events", func(t *testing.T) {
		st := open(t)
		if seen, err := st.EventSeen(ctx, "ev1"); seen || err != nil {
			t.Fatalf("unseen event: %v %v", seen, err)
		}
		for range 2 {
			if err := st.RecordEvent(ctx, "ev1", ct0); err != nil {
				t.Fatal(err)
			}
		}
		if seen, err := st.EventSeen(ctx, "ev1"); !seen || err != nil {
			t.Fatalf("seen event: %v %v", seen, err)
		}
		if err := st.Sweep(ctx, ct0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if seen, _ := st.EventSeen(ctx, "ev1"); seen {
			t.Fatal("event remembered after the sweep")
		}
	})
}
