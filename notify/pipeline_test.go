package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify/fcmfake"
)

// A confirmed outing: "approved" at once to both, then each reminder once,
// in the recipient's language, at its offset before start, then nothing.
func TestApprovalAndRemindersArriveOnceEach(t *testing.T) {
	h := newHarness(t)
	h.person("p1", true)
	h.person("v1", false)
	h.dir.add("v1", Recipient{Language: "en", TimeZone: "Europe/Stockholm"})
	s := h.newServer(nil, "a").start()
	defer s.stop()

	start := t0.Add(3 * 24 * time.Hour).Add(4 * time.Hour) // Thursday 14:00
	mustConsume(t, s, approved("o1", "p1", "v1", start))
	waitFor(t, "approved pushes", func() bool { return len(h.messagesOfType("outing.approved")) == 2 })
	settle(t, s)
	if n := h.pending("kind = 'reminder'"); n != 4 {
		t.Fatalf("%d reminder jobs, want 4 (2 offsets × 2 people)", n)
	}

	// Just before the 24 h reminder: nothing yet.
	h.clock.Set(start.Add(-24*time.Hour - time.Second))
	settle(t, s)
	if got := len(h.messagesOfType("outing.reminder")); got != 0 {
		t.Fatalf("%d reminders before their time", got)
	}
	h.clock.Set(start.Add(-24 * time.Hour))
	waitFor(t, "24 h reminders", func() bool { return len(h.messagesOfType("outing.reminder")) >= 2 })
	settle(t, s)
	h.clock.Set(start.Add(-2 * time.Hour))
	waitFor(t, "2 h reminders", func() bool { return len(h.messagesOfType("outing.reminder")) >= 4 })
	// Let the results be written before the clock jumps past their leases.
	settle(t, s)
	h.clock.Set(start.Add(-time.Hour))
	settle(t, s)

	got := map[string]int{}
	for _, m := range h.messagesOfType("outing.reminder") {
		got[m.Token+" "+m.Notification.Body]++
	}
	// The 2 h reminder also says the what-to-expect card is ready.
	want := map[string]int{
		"tok-p1 Din aktivitet är torsdag 5 mars kl. 14:00.":                                                  1,
		"tok-p1 Din aktivitet är torsdag 5 mars kl. 14:00. Ditt kort om vad du kan vänta dig finns i appen.": 1,
		"tok-v1 Your outing is on Thursday 5 March at 14:00.":                                                1,
		"tok-v1 Your outing is on Thursday 5 March at 14:00. Your what-to-expect card is ready in the app.":  1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("reminders %v, want %v", got, want)
	}
	if n := h.pending("kind = 'reminder'"); n != 0 {
		t.Fatalf("%d reminder jobs left after sending", n)
	}
	if n := counter(t, s.svc.metrics.sent.WithLabelValues("outing.reminder")); n != 4 {
		t.Fatalf("sent metric %v", n)
	}
	// Finished jobs stay (their dedup keys stop a re-delivered event) until
	// the sweep.
	if n := h.count("outcome = 'delivered'"); n != 6 {
		t.Fatalf("%d delivered jobs, want 6 (2 approved, 4 reminders)", n)
	}
	if err := s.svc.st.Sweep(context.Background(), h.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := h.count("outcome <> ''"); n != 0 {
		t.Fatalf("%d finished jobs left after the sweep", n)
	}
}

// Exactly once: 1 000 reminder jobs, two worker pools with their own
// connection pools on one database file (two servers); each reminder
// reaches the fake FCM exactly once.
func TestExactlyOnceWithTwoServers(t *testing.T) {
	exactlyOnce(t, newHarness(t), 250)
}

// The same on FerretDB through the Mongo engine (two clients, two write
// gates), with fewer outings: the embedded store is slow under -race.
func TestExactlyOnceWithTwoServersMongo(t *testing.T) {
	exactlyOnce(t, newMongoHarness(t), 25)
}

func exactlyOnce(t *testing.T, h *harness, outings int) {
	h.tune.BatchSize = 50
	a := h.newServer(nil, "server-a")
	b := h.newServer(h.secondStore(), "server-b")
	start := t0.Add(48 * time.Hour).Add(3 * time.Hour) // Wednesday 13:00
	want := 4 * outings
	var ps, vs []string
	for i := range outings {
		ps, vs = append(ps, fmt.Sprintf("p%d", i)), append(vs, fmt.Sprintf("v%d", i))
	}
	h.people(true, ps...)
	h.people(false, vs...)
	setup := time.Now()
	for i := range outings {
		p, v := ps[i], vs[i]
		srv := a
		if i%2 == 1 {
			srv = b
		}
		mustConsume(t, srv, approved(fmt.Sprintf("o%d", i), p, v, start.Add(time.Duration(i)*time.Second)))
	}
	if h.db != nil {
		if n := h.pending("kind = 'reminder'"); n != int64(want) {
			t.Fatalf("%d reminder jobs, want %d", n, want)
		}
	}
	t.Logf("%d approvals consumed in %s", outings, time.Since(setup).Round(time.Millisecond))
	// Both reminders of every outing are due at once.
	h.clock.Set(start.Add(-time.Hour - time.Minute))
	began := time.Now()
	a.start()
	b.start()
	defer a.stop()
	defer b.stop()
	waitFor(t, "all reminders", func() bool { return len(h.messagesOfType("outing.reminder")) >= want })
	settle(t, a, b)
	elapsed := time.Since(began)

	perPush := map[string]int{}
	for _, m := range h.messagesOfType("outing.reminder") {
		perPush[m.Data["push_id"]]++
	}
	doubles := 0
	for _, n := range perPush {
		if n != 1 {
			doubles++
		}
	}
	sentA := counter(t, a.svc.metrics.sent.WithLabelValues("outing.reminder"))
	sentB := counter(t, b.svc.metrics.sent.WithLabelValues("outing.reminder"))
	t.Logf("exactly once: %d reminder messages, %d distinct push ids, %d sent more than once; server A sent %v, server B %v; %s",
		len(h.messagesOfType("outing.reminder")), len(perPush), doubles, sentA, sentB, elapsed.Round(time.Millisecond))
	if len(perPush) != want || doubles != 0 || len(h.messagesOfType("outing.reminder")) != want {
		t.Fatalf("want %d distinct reminders each once; got %d distinct, %d doubled", want, len(perPush), doubles)
	}
	if sentA == 0 || sentB == 0 {
		t.Logf("note: one server did all the work (A %v, B %v)", sentA, sentB)
	}
	for id := range perPush {
		if f, err := h.st.FinishedJob(context.Background(), id); err != nil || f.Outcome != outcomeDelivered {
			t.Fatalf("push %s: %+v, %v; want delivered", id, f, err)
		}
	}
	if h.db != nil {
		if n := h.pending("kind = 'reminder'"); n != 0 {
			t.Fatalf("%d reminder jobs left", n)
		}
	}
}

// Crash: a worker claims a job and dies before finishing. After its lease
// runs out another server delivers the job, and the dead worker's late
// writes change nothing.
func TestCrashedWorkersJobIsDeliveredOnceAfterItsLease(t *testing.T) {
	h := newHarness(t)
	h.person("p1", false)
	start := t0.Add(4 * time.Hour)
	ctx := context.Background()
	// Server A: only used to create the job and to play the dying worker.
	a := h.newServer(nil, "dying-worker")
	mustConsume(t, a, event(matching.EventOffer, "o1", "p0", "", start, "p1"))
	won, err := a.svc.st.ClaimDueJobs(ctx, "dying-worker", h.clock.Now(), time.Minute, 10)
	if err != nil || len(won) != 1 {
		t.Fatalf("claim: %v, %d won", err, len(won))
	}
	dead := won[0].Claim
	t.Logf("worker %q claimed job %s attempt %d, lease until %s; it dies now", dead.Owner, dead.JobID, dead.Attempt, dead.Until.Format(time.TimeOnly))

	// Server B runs. While the lease lasts it must leave the job alone.
	b := h.newServer(h.secondStore(), "survivor").start()
	defer b.stop()
	settle(t, b)
	if n := h.fcm.Attempts("tok-p1"); n != 0 {
		t.Fatalf("job sent %d times while another worker's lease was valid", n)
	}
	h.clock.Advance(30 * time.Second)
	settle(t, b)
	if n := h.fcm.Attempts("tok-p1"); n != 0 {
		t.Fatalf("job sent %d times before the lease ran out", n)
	}
	// The lease runs out: B takes the job over (attempt 2) and delivers it.
	h.clock.Advance(31 * time.Second)
	waitFor(t, "delivery after the lease", func() bool { return h.fcm.Attempts("tok-p1") == 1 })
	settle(t, b)
	out, err := b.svc.st.FinishedJob(ctx, dead.JobID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the lease: delivered by %q at attempt %d (outcome %s)", out.Owner, out.Attempt, out.Outcome)
	if out.Owner != "survivor" || out.Attempt != 2 || out.Outcome != outcomeDelivered {
		t.Fatalf("outcome %+v", out)
	}

	// The dead worker wakes up and writes its result late.
	err = a.svc.st.FinishJob(ctx, dead, Finish{Outcome: outcomeGaveUp, LastError: "late", At: h.clock.Now()})
	t.Logf("late finish by the dead worker: %v", err)
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("late finish: %v, want ErrLeaseLost", err)
	}
	if err := a.svc.st.RetryJobAt(ctx, dead, h.clock.Now().Add(time.Hour), Attempt{Failures: 1, LastError: "late"}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("late retry: %v, want ErrLeaseLost", err)
	}
	after, err := b.svc.st.FinishedJob(ctx, dead.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if after != out || h.pending("1 = 1") != 0 || h.fcm.Attempts("tok-p1") != 1 {
		t.Fatalf("the late write changed something: %+v", after)
	}
	t.Logf("after the late writes: outcome still %s by %q, nothing pending, FCM saw %d send", after.Outcome, after.Owner, h.fcm.Attempts("tok-p1"))
}

// Restart: jobs are scheduled, the server stops (some sent, some not yet
// due), a new server starts on the same data, and every reminder arrives
// exactly once.
func TestRemindersSurviveARestart(t *testing.T) {
	h := newHarness(t)
	first := h.newServer(nil, "before-restart").start()
	start := t0.Add(30 * time.Hour)
	for i := range 10 {
		p, v := fmt.Sprintf("p%d", i), fmt.Sprintf("v%d", i)
		h.person(p, false)
		h.person(v, false)
		// Outings an hour apart: their 24 h reminders fall in different hours.
		mustConsume(t, first, approved(fmt.Sprintf("o%d", i), p, v, start.Add(time.Duration(i)*time.Hour)))
	}
	// The first five outings' 24 h reminders become due.
	h.clock.Set(start.Add(-24*time.Hour + 4*time.Hour + time.Minute))
	waitFor(t, "first 24 h reminders", func() bool { return len(h.messagesOfType("outing.reminder")) == 10 })
	settle(t, first)
	h.clock.Set(start.Add(-24*time.Hour + 4*time.Hour + 55*time.Minute))
	settle(t, first)
	first.stop()
	if n := len(h.messagesOfType("outing.reminder")); n != 10 {
		t.Fatalf("%d reminders before the restart, want 10", n)
	}
	// A clean stop leaves no waiting job under a lease.
	if n := h.pending("lease_until > ?", sqlite.Millis(h.clock.Now())); n != 0 {
		t.Fatalf("%d waiting jobs still leased after a clean stop", n)
	}
	if !strings.Contains(h.logs.String(), "push workers stopped") {
		t.Fatal("no stop logged")
	}

	second := h.newServer(h.secondStore(), "after-restart").start()
	defer second.stop()
	h.clock.Set(start.Add(-3 * time.Hour))
	waitFor(t, "all 24 h reminders", func() bool { return len(h.messagesOfType("outing.reminder")) >= 20 })
	settle(t, second)
	for i := range 10 {
		h.clock.Set(start.Add(time.Duration(i)*time.Hour - 2*time.Hour))
		waitFor(t, "2 h reminders", func() bool { return len(h.messagesOfType("outing.reminder")) >= 20+2*(i+1) })
		settle(t, second)
	}
	settle(t, second)
	perPush := map[string]int{}
	for _, m := range h.messagesOfType("outing.reminder") {
		perPush[m.Data["push_id"]]++
	}
	for id, n := range perPush {
		if n != 1 {
			t.Errorf("push %s arrived %d times", id, n)
		}
	}
	if len(perPush) != 40 {
		t.Fatalf("%d distinct reminders, want 40", len(perPush))
	}
}

// Error classification through the whole path: an unregistered token is
// pruned and never tried again; a 429 waits at least Retry-After; a 503 is
// retried with growing backoff and then succeeds.
func TestClassificationPrunesWaitsAndRetries(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a").start()
	defer s.stop()
	start := t0.Add(6 * time.Hour)
	devices := s.svc.devices
	ctx := context.Background()

	// UNREGISTERED: the dead token is pruned, the good one delivered.
	h.person("p1", false)
	if _, _, err := devices.Register(ctx, "p1", "tok-p1-old", "ios"); err != nil {
		t.Fatal(err)
	}
	h.fcm.FailAlways("tok-p1-old", fcmfake.Unregistered)
	mustConsume(t, s, event(matching.EventReopened, "o1", "p1", "", start, "p1"))
	waitFor(t, "reopened push", func() bool { return len(h.messagesOfType("outing.reopened")) == 1 })
	settle(t, s)
	if devs, _ := devices.ofUsers(ctx, []string{"p1"}, 10); len(devs) != 1 || devs[0].Token != "tok-p1" {
		t.Fatalf("devices after UNREGISTERED: %+v", devs)
	}
	if counter(t, s.svc.metrics.pruned) != 1 || counter(t, s.svc.metrics.failed.WithLabelValues("unregistered")) != 1 {
		t.Fatal("pruning not counted")
	}
	// A later push to the same person never tries the pruned token.
	mustConsume(t, s, event(matching.EventCancelled, "o1", "p1", "", start, "p1"))
	waitFor(t, "cancelled push", func() bool { return len(h.messagesOfType("outing.cancelled")) == 1 })
	settle(t, s)
	if n := h.fcm.Attempts("tok-p1-old"); n != 1 {
		t.Fatalf("pruned token attempted %d times, want 1", n)
	}

	// 429 with Retry-After: 120 s: not before that.
	h.person("p2", false)
	h.fcm.FailNext("tok-p2", fcmfake.QuotaExceeded(120))
	mustConsume(t, s, event(matching.EventRejected, "o2", "", "p2", start, "p2"))
	waitFor(t, "first 429", func() bool { return h.fcm.Attempts("tok-p2") == 1 })
	settle(t, s)
	j := h.job("recipient = 'p2'")
	if wait := j.RunAt.Sub(h.clock.Now()); wait < 120*time.Second {
		t.Fatalf("after a 429 with Retry-After 120 the job runs again in %s", wait)
	}
	if !strings.HasPrefix(j.LastError, "quota_exceeded") || j.Failures != 1 || j.Attempt != 1 {
		t.Fatalf("job after 429: %+v", j)
	}
	h.clock.Advance(119 * time.Second)
	settle(t, s)
	if n := h.fcm.Attempts("tok-p2"); n != 1 {
		t.Fatalf("retried %d times before Retry-After passed", n-1)
	}
	h.clock.Set(j.RunAt)
	waitFor(t, "delivery after Retry-After", func() bool { return len(h.messagesOfType("outing.rejected")) == 1 })

	// 503 twice, then success: backoff grows (with jitter) between tries.
	h.person("p3", false)
	h.fcm.FailNext("tok-p3", fcmfake.Unavailable, fcmfake.Unavailable)
	mustConsume(t, s, event(matching.EventCancelled, "o3", "p3", "", start, "p3"))
	var waits []time.Duration
	for try := 1; try <= 2; try++ {
		waitFor(t, "a 503", func() bool { return h.fcm.Attempts("tok-p3") == try })
		settle(t, s)
		j = h.job("recipient = 'p3'")
		waits = append(waits, j.RunAt.Sub(h.clock.Now()))
		h.clock.Set(j.RunAt)
	}
	waitFor(t, "delivery after two 503s", func() bool { return len(h.messagesOfType("outing.cancelled")) == 2 })
	settle(t, s)
	t.Logf("503 backoff: %v", waits)
	base := 15 * time.Second
	if waits[0] < base/2 || waits[0] > base || waits[1] < base || waits[1] > 2*base {
		t.Fatalf("backoff %v, want [7.5s..15s] then [15s..30s]", waits)
	}
	if n := counter(t, s.svc.metrics.retries.WithLabelValues("unavailable")); n != 2 {
		t.Fatalf("retries metric %v, want 2", n)
	}
	if n := h.fcm.Attempts("tok-p3"); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

// A job that keeps failing is given up after MaxAttempts, with a metric and
// an error log line the operator sees.
func TestJobDiesAfterMaxAttempts(t *testing.T) {
	h := newHarness(t)
	h.tune.MaxAttempts = 3
	s := h.newServer(nil, "a").start()
	defer s.stop()
	h.person("p1", false)
	h.fcm.FailAlways("tok-p1", fcmfake.Internal)
	mustConsume(t, s, event(matching.EventCancelled, "o1", "p1", "", t0.Add(24*time.Hour), "p1"))
	for try := 1; try <= 3; try++ {
		waitFor(t, "an attempt", func() bool { return h.fcm.Attempts("tok-p1") == try })
		settle(t, s)
		h.clock.Advance(time.Hour)
	}
	settle(t, s)
	if n := counter(t, s.svc.metrics.dead); n != 1 {
		t.Fatalf("dead metric %v", n)
	}
	if n := h.count("outcome = ?", outcomeDead); n != 1 || h.pending("1 = 1") != 0 {
		t.Fatalf("dead job not recorded (%d) or still queued", n)
	}
	if !strings.Contains(h.logs.String(), "level=ERROR msg=\"push job dead: giving up on it\"") {
		t.Fatalf("no operator log line:\n%s", h.logs.String())
	}
	if n := h.fcm.Attempts("tok-p1"); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

// A moved outing gets reminders for its new time only; a cancelled one
// gets none after the cancellation.
func TestMovedAndCancelledOutings(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a").start()
	defer s.stop()
	h.person("p1", false)
	h.person("v1", false)
	h.person("p2", false)
	h.person("v2", false)
	oldStart := t0.Add(48 * time.Hour).Add(4 * time.Hour) // Wednesday 14:00
	newStart := oldStart.Add(26 * time.Hour)              // Thursday 16:00
	mustConsume(t, s, approved("moved", "p1", "v1", oldStart))
	mustConsume(t, s, approved("cancelled", "p2", "v2", oldStart))
	mustConsume(t, s, event(matching.EventRescheduled, "moved", "p1", "v1", newStart))
	mustConsume(t, s, event(matching.EventCancelled, "cancelled", "p2", "v2", oldStart, "p2"))
	waitFor(t, "cancellation push", func() bool { return len(h.messagesOfType("outing.cancelled")) == 1 })
	settle(t, s)

	// Walk the clock through every reminder time of both the old and new start.
	for _, at := range []time.Time{oldStart.Add(-24 * time.Hour), oldStart.Add(-2 * time.Hour), oldStart.Add(time.Hour),
		newStart.Add(-24 * time.Hour), newStart.Add(-2 * time.Hour)} {
		h.clock.Set(at)
		settle(t, s)
	}
	var bodies []string
	for _, m := range h.messagesOfType("outing.reminder") {
		bodies = append(bodies, m.Token+": "+m.Notification.Body)
		if m.Data["outing_id"] != "moved" {
			t.Errorf("reminder for %s after it was cancelled", m.Data["outing_id"])
		}
		if !strings.Contains(m.Notification.Body, "torsdag 5 mars kl. 16:00") {
			t.Errorf("reminder for the old time: %q", m.Notification.Body)
		}
	}
	if len(bodies) != 4 {
		t.Fatalf("reminders %v, want 4 for the new time only", bodies)
	}
	// The check-in watch moved too: at the new start + 10 min, not the old.
	if n := h.pending("kind = 'checkin' AND outing_id = 'cancelled'"); n != 0 {
		t.Fatalf("%d check-in jobs left for a cancelled outing", n)
	}
	if n := h.pending("kind = 'checkin' AND outing_id = 'moved' AND run_at = ?", sqlite.Millis(newStart.Add(10*time.Minute))); n != 2 {
		t.Fatalf("%d check-in jobs at the new time, want 2", n)
	}
}

// Quiet hours: no push to a participant 22:00–07:00 (deferred to 07:00,
// not dropped), except a reminder for an outing within 3 hours.
func TestQuietHoursDeferButDoNotDrop(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a").start()
	defer s.stop()
	h.person("p1", true)
	h.person("v1", false)
	h.clock.Set(time.Date(2026, 3, 2, 23, 0, 0, 0, stockholm))
	start := time.Date(2026, 3, 3, 14, 0, 0, 0, stockholm)
	mustConsume(t, s, approved("o1", "p1", "v1", start))
	waitFor(t, "volunteer's approval push", func() bool { return h.fcm.Attempts("tok-v1") == 1 })
	settle(t, s)
	if n := h.fcm.Attempts("tok-p1"); n != 0 {
		t.Fatalf("participant pushed at 23:00 (%d)", n)
	}
	h.clock.Set(time.Date(2026, 3, 3, 6, 59, 0, 0, stockholm))
	settle(t, s)
	if n := h.fcm.Attempts("tok-p1"); n != 0 {
		t.Fatalf("participant pushed at 06:59 (%d)", n)
	}
	h.clock.Set(time.Date(2026, 3, 3, 7, 0, 0, 0, stockholm))
	waitFor(t, "deferred approval at 07:00", func() bool { return h.fcm.Attempts("tok-p1") == 1 })
	settle(t, s)
	if n := counter(t, s.svc.metrics.deferred); n != 1 {
		t.Fatalf("deferred metric %v", n)
	}

	// An outing at 01:00: its 2 h reminder goes at 23:00 despite quiet hours.
	h.person("p2", true)
	night := time.Date(2026, 3, 4, 1, 0, 0, 0, stockholm)
	mustConsume(t, s, approved("o2", "p2", "", night))
	h.clock.Set(night.Add(-2 * time.Hour))
	waitFor(t, "urgent reminder in quiet hours", func() bool {
		for _, m := range h.messagesOfType("outing.reminder") {
			if m.Token == "tok-p2" {
				return true
			}
		}
		return false
	})
}

// No check-in CLAVIS_CHECKIN_GRACE after start: the participant (gently) and
// the coordinators (plainly) hear; a checked-in outing sends nothing.
func TestCheckinMissedAlertsParticipantAndCoordinators(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a").start()
	defer s.stop()
	h.person("p1", false)
	h.person("p2", false)
	h.person("v1", false)
	tokCoord := h.person("coord1", false)
	start := t0.Add(2 * time.Hour)
	mustConsume(t, s, approved("late", "p1", "v1", start))
	mustConsume(t, s, approved("ontime", "p2", "v1", start))
	mustConsume(t, s, event(matching.EventCheckedIn, "ontime", "p2", "v1", start))
	h.clock.Set(start.Add(9 * time.Minute))
	settle(t, s)
	if n := len(h.messagesOfType("outing.checkin_missed")); n != 0 {
		t.Fatalf("%d check-in alerts before the grace ran out", n)
	}
	h.clock.Set(start.Add(10 * time.Minute))
	waitFor(t, "check-in alerts", func() bool { return len(h.messagesOfType("outing.checkin_missed")) == 2 })
	settle(t, s)
	for _, m := range h.messagesOfType("outing.checkin_missed") {
		switch m.Token {
		case "tok-p1":
			if m.Notification.Title != "Är du på väg?" {
				t.Errorf("participant got %q", m.Notification.Title)
			}
		case tokCoord:
			if m.Notification.Title != "Ingen incheckning än" {
				t.Errorf("coordinator got %q", m.Notification.Title)
			}
		default:
			t.Errorf("check-in alert to %s", m.Token)
		}
		if m.Data["outing_id"] != "late" {
			t.Errorf("alert for %s, which was checked in", m.Data["outing_id"])
		}
	}
}

// Consume is idempotent by event id: a re-delivered event adds nothing.
func TestConsumeIsIdempotent(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a")
	h.person("p1", false)
	h.person("v1", false)
	e := approved("o1", "p1", "v1", t0.Add(72*time.Hour))
	mustConsume(t, s, e)
	before := h.count("1 = 1")
	mustConsume(t, s, e)
	mustConsume(t, s, e)
	if after := h.count("1 = 1"); after != before || before != 8 {
		t.Fatalf("jobs %d after one delivery, %d after three; want 8 (2 approved, 4 reminders, 2 check-in)", before, after)
	}
	s.start()
	defer s.stop()
	waitFor(t, "approved pushes", func() bool { return len(h.messagesOfType("outing.approved")) >= 2 })
	settle(t, s)
	if n := len(h.messagesOfType("outing.approved")); n != 2 {
		t.Fatalf("%d approval pushes, want 2", n)
	}
	// The same event after its pushes went: still nothing new.
	mustConsume(t, s, e)
	settle(t, s)
	if n := len(h.messagesOfType("outing.approved")); n != 2 {
		t.Fatalf("%d approval pushes after a late re-delivery, want 2", n)
	}
}

// The reconciler gives a confirmed outing without jobs its reminders and
// check-in watch, once, and never for a time already past.
func TestReconcilerFillsMissingJobs(t *testing.T) {
	h := newHarness(t)
	outings := &testOutings{}
	h.cfg = func(c *Config) { c.Outings = outings }
	s := h.newServer(nil, "a")
	h.person("p1", false)
	h.person("v1", false)
	outings.list = []OutingRef{
		{ID: "soon", OrgID: "org1", ParticipantID: "p1", VolunteerID: "v1", StartsAt: t0.Add(3 * time.Hour), EndsAt: t0.Add(5 * time.Hour)},
		{ID: "later", OrgID: "org1", ParticipantID: "p1", VolunteerID: "v1", StartsAt: t0.Add(30 * time.Hour), EndsAt: t0.Add(32 * time.Hour)},
		{ID: "far", OrgID: "org1", ParticipantID: "p1", VolunteerID: "v1", StartsAt: t0.Add(60 * time.Hour), EndsAt: t0.Add(62 * time.Hour)},
	}
	n, err := s.svc.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// soon: 2 h reminders (24 h is past) ×2 + check-in ×2; later: 4 + 2; far: beyond 48 h.
	if n != 10 {
		t.Fatalf("reconciler created %d jobs, want 10", n)
	}
	if n, _ := s.svc.Reconcile(context.Background()); n != 0 {
		t.Fatalf("second run created %d", n)
	}
	if c := h.pending("outing_id = 'soon' AND kind = 'reminder'"); c != 2 {
		t.Fatalf("%d reminders for the outing 3 h away, want 2 (the 24 h one is past)", c)
	}
	s.start()
	defer s.stop()
	h.clock.Set(t0.Add(time.Hour))
	waitFor(t, "2 h reminders", func() bool { return len(h.messagesOfType("outing.reminder")) == 2 })
	// Running again after they were sent does not bring them back.
	if n, _ := s.svc.Reconcile(context.Background()); n != 0 {
		t.Fatalf("reconciler re-created %d jobs", n)
	}
	settle(t, s)
	if n := len(h.messagesOfType("outing.reminder")); n != 2 {
		t.Fatalf("%d reminders", n)
	}
}

// Offers go to the volunteers named in the event; an approval drops the
// offers still waiting; accept goes to the organisation's coordinators.
func TestOfferAndAcceptRecipients(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a").start()
	defer s.stop()
	for _, id := range []string{"v1", "v2", "v3", "p1"} {
		h.person(id, false)
	}
	tokCoord := h.person("coord1", false)
	start := t0.Add(24 * time.Hour)
	mustConsume(t, s, event(matching.EventOffer, "o1", "p1", "", start, "v1", "v2", "v3"))
	waitFor(t, "offers", func() bool { return len(h.messagesOfType("outing.offer")) == 3 })
	mustConsume(t, s, event(matching.EventAccepted, "o1", "p1", "v2", start))
	waitFor(t, "accepted", func() bool { return len(h.messagesOfType("outing.accepted")) == 1 })
	if m := h.messagesOfType("outing.accepted")[0]; m.Token != tokCoord || m.Notification.Title != "Väntar på ditt godkännande" {
		t.Fatalf("accepted push %+v", m)
	}
}

func TestDevicesRegistry(t *testing.T) {
	h := newHarness(t)
	d := NewDevices(h.st, h.clock)
	ctx := context.Background()
	_, created, err := d.Register(ctx, "u1", "tokA", "android")
	if err != nil || !created {
		t.Fatalf("first registration: created %v, %v", created, err)
	}
	if _, created, _ = d.Register(ctx, "u1", "tokA", "android"); created {
		t.Fatal("the same token again counts as new")
	}
	// The token moves to the latest user who registers it.
	if _, created, _ = d.Register(ctx, "u2", "tokA", "ios"); !created {
		t.Fatal("a token moving to another user is new for that user")
	}
	if devs, _ := d.ofUsers(ctx, []string{"u1"}, 10); len(devs) != 0 {
		t.Fatalf("u1 still has %v", devs)
	}
	if err := d.Unregister(ctx, "u1", "tokA"); err == nil {
		t.Fatal("u1 unregistered u2's token")
	}
	// Several devices per user, at most MaxDevicesPerUser (oldest forgotten).
	for i := range MaxDevicesPerUser + 2 {
		h.clock.Advance(time.Second)
		if _, _, err := d.Register(ctx, "u3", fmt.Sprintf("tok3-%02d", i), "web"); err != nil {
			t.Fatal(err)
		}
	}
	devs, _ := d.ofUsers(ctx, []string{"u3"}, 100)
	if len(devs) != MaxDevicesPerUser {
		t.Fatalf("u3 has %d devices", len(devs))
	}
	for _, dv := range devs {
		if dv.Token == "tok3-00" || dv.Token == "tok3-01" {
			t.Fatalf("oldest device %s kept", dv.Token)
		}
	}
	if err := d.Unregister(ctx, "u2", "tokA"); err != nil {
		t.Fatal(err)
	}
	if err := d.Unregister(ctx, "u2", "tokA"); err == nil {
		t.Fatal("second unregister succeeded")
	}
}

// Erasing a user removes their devices and pending pushes; export shows them.
func TestPersonalHook(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a")
	h.person("p1", false)
	h.person("v1", false)
	mustConsume(t, s, approved("o1", "p1", "v1", t0.Add(72*time.Hour)))
	hook := s.svc.PersonalHook()
	exp, err := hook.Export(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	m := exp.(map[string]any)
	if devs := m["devices"].([]ExportedDevice); len(devs) != 1 || devs[0].TokenEnd != "…tok-p1" && devs[0].TokenEnd != "tok-p1" {
		t.Fatalf("export devices %+v", devs)
	}
	if pending := m["pending_pushes"].([]PendingPush); len(pending) != 4 { // approved, 2 reminders, check-in
		t.Fatalf("export pending %+v", pending)
	}
	if err := hook.Erase(context.Background(), "p1"); err != nil {
		t.Fatal(err)
	}
	if devs, err := h.st.DevicesOfUsers(context.Background(), []string{"p1"}, 10); err != nil || len(devs) != 0 {
		t.Fatalf("%d devices left (%v)", len(devs), err)
	}
	if n := h.count("recipient = 'p1'"); n != 0 {
		t.Fatalf("%d jobs left", n)
	}
	if n := h.count("recipient = 'v1'"); n != 3 {
		t.Fatalf("the volunteer's jobs went too (%d left)", n)
	}
}
