package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify/fcmfake"
)

// Throughput: 10 000 messages to the fake FCM through the sender (message
// building, SendEach in calls of 500, per-token classification) against a
// bare loop over the SDK's SendEach with ready-made messages, on the same
// client. Each iteration runs 6 rounds of both, alternating which goes
// first; reported are the medians of the rounds: messages/s of each and
// their ratio (goal ≥ 0.9).
//
//	go test ./notify -run '^$' -bench SenderThroughput -benchtime 1x
func BenchmarkSenderThroughput(b *testing.B) {
	const n, rounds = 10_000, 6
	fcm := fcmfake.New()
	defer fcm.Close()
	s, err := NewFCMSender(context.Background(), FCMConfig{Endpoint: fcm.URL, ProjectID: "clavis-bench"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	msgs := make([]Message, n)
	bare := make([]*messaging.Message, n)
	for i := range msgs {
		msgs[i] = Message{Token: fmt.Sprintf("tok-%05d", i), RecipientID: fmt.Sprintf("u%d", i), Type: matching.EventReminder,
			OutingID: fmt.Sprintf("o%d", i/2), PushID: fmt.Sprintf("p%d", i), Title: "Påminnelse",
			Body: "Din aktivitet är torsdag 5 mars kl. 14:00.", Deadline: now.Add(2 * time.Hour)}
		bare[i] = fcmMessage(msgs[i], now)
	}
	ctx := context.Background()
	runOurs := func() time.Duration {
		t := time.Now()
		res := s.Send(ctx, time.Now(), msgs)
		d := time.Since(t)
		for _, r := range res {
			if r.Verdict != Delivered {
				b.Fatalf("sender: %+v", r)
			}
		}
		fcm.Reset()
		return d
	}
	runSDK := func() time.Duration {
		t := time.Now()
		for start := 0; start < n; start += 500 {
			br, err := s.client.SendEach(ctx, bare[start:start+500])
			if err != nil || br.FailureCount > 0 {
				b.Fatalf("SendEach: %v", err)
			}
		}
		d := time.Since(t)
		fcm.Reset()
		return d
	}
	runOurs() // warm the connection pool before timing
	runSDK()
	var oursRates, sdkRates, ratios []float64
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			var ours, sdk time.Duration
			// Alternate the order so that neither side always runs on a warmer system.
			if r%2 == 0 {
				ours, sdk = runOurs(), runSDK()
			} else {
				sdk, ours = runSDK(), runOurs()
			}
			oursRates = append(oursRates, n/ours.Seconds())
			sdkRates = append(sdkRates, n/sdk.Seconds())
			ratios = append(ratios, sdk.Seconds()/ours.Seconds())
		}
	}
	b.StopTimer()
	b.ReportMetric(median(oursRates), "sender_msgs/s")
	b.ReportMetric(median(sdkRates), "sdk_msgs/s")
	b.ReportMetric(median(ratios), "ratio")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// Reminder lateness on the SQLite store: 5 000 reminders due within the
// same minute (spread evenly over it), one device each, real clock, default
// tuning; lateness is the fake FCM's arrival time minus the due time.
// Reported per worker count: p50, p99 and max lateness in ms (goal p99 < 1 s).
//
//	go test ./notify -run '^$' -bench ReminderLateness -benchtime 1x -timeout 30m
//
// CLAVIS_BENCH_WORKERS=n runs only n workers; CLAVIS_BENCH_LOG=1 shows the
// service's debug log (fetch, batch and delete timings).
func BenchmarkReminderLateness(b *testing.B) {
	counts := []int{1, 4, 16}
	if w := os.Getenv("CLAVIS_BENCH_WORKERS"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil {
			b.Fatal(err)
		}
		counts = []int{n}
	}
	for _, workers := range counts {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for range b.N {
				p50, p99, worst := lateness(b, workers, 5000, time.Minute)
				b.ReportMetric(float64(p50.Milliseconds()), "p50_ms")
				b.ReportMetric(float64(p99.Milliseconds()), "p99_ms")
				b.ReportMetric(float64(worst.Milliseconds()), "max_ms")
			}
		})
	}
}

func lateness(b *testing.B, workers, n int, spread time.Duration) (p50, p99, worst time.Duration) {
	b.Helper()
	ctx := context.Background()
	st, err := NewSQLiteStore(ctx, sqlitetest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	fcm := fcmfake.New()
	defer fcm.Close()
	dir := newTestDirectory()
	sender, err := NewFCMSender(ctx, FCMConfig{Endpoint: fcm.URL})
	if err != nil {
		b.Fatal(err)
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("CLAVIS_BENCH_LOG") != "" {
		logOut = os.Stderr
	}
	svc, err := New(ctx, Config{Store: st, Sender: sender, Directory: dir, Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug})), Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	// Setup: n people with a device each, and n reminder jobs due over one
	// minute starting a little later (so the service is up and has looked).
	for i := range n {
		id := fmt.Sprintf("u%05d", i)
		dir.add(id, Recipient{Language: "sv", TimeZone: "Europe/Stockholm"})
		if _, _, err := st.RegisterDevice(ctx, id, "tok-"+id, "android", time.Now(), MaxDevicesPerUser); err != nil {
			b.Fatal(err)
		}
	}
	first := time.Now().Add(15 * time.Second).Truncate(time.Second)
	due := map[string]time.Time{}
	jobs := make([]Job, 0, n)
	for i := range n {
		runAt := first.Add(spread * time.Duration(i) / time.Duration(n))
		start := runAt.Add(2 * time.Hour)
		id := fmt.Sprintf("u%05d", i)
		key := fmt.Sprintf("reminder|o%d|user:%s|2h0m0s|%d", i, id, start.Unix())
		j := svc.newJob(key, kindReminder, matching.EventReminder, fmt.Sprintf("o%d", i), "org1", toUser, id, start, start, runAt, time.Now())
		due[j.ID] = j.DueAt
		jobs = append(jobs, j)
	}
	if created, err := st.EnqueueJobs(ctx, jobs); err != nil || created != n {
		b.Fatalf("insert jobs: %d, %v", created, err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(runCtx) }()
	deadline := first.Add(spread + 5*time.Minute)
	for fcm.Accepted() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	<-done
	msgs := fcm.Messages()
	if len(msgs) != n {
		b.Fatalf("%d of %d reminders arrived", len(msgs), n)
	}
	late := make([]time.Duration, 0, n)
	for _, m := range msgs {
		late = append(late, m.ReceivedAt.Sub(due[m.Data["push_id"]]))
	}
	slices.Sort(late)
	return late[len(late)/2], late[len(late)*99/100], late[len(late)-1]
}
