package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
	"github.com/clavis-app/clavis/notify/fcmfake"
)

// The care walk-throughs: each runs the real app with the real notify
// pipeline (durable push jobs, the firebase SDK) against notify/fcmfake,
// and writes what a reader would type and see as a transcript. With
// CLAVIS_TRANSCRIPT_DIR set, the transcripts are written there.

type careWorld struct {
	t        *testing.T
	e        *testEnv
	fcm      *fcmfake.Server
	notifier *notify.Service
	pushes   notify.Store
	disp     *matching.Dispatcher
	org      string
	names    map[string]string // id -> name in the transcript
	out      strings.Builder
}

func newCareWorld(t *testing.T) *careWorld {
	t.Helper()
	ctx := context.Background()
	e := newTestEnv(t)
	w := &careWorld{t: t, e: e, fcm: fcmfake.New(), names: map[string]string{}}
	t.Cleanup(w.fcm.Close)
	st, err := notify.NewSQLiteStore(ctx, e.SQL)
	if err != nil {
		t.Fatal(err)
	}
	w.pushes = st
	sender, err := notify.NewFCMSender(ctx, notify.FCMConfig{Endpoint: w.fcm.URL, ProjectID: "clavis-test"})
	if err != nil {
		t.Fatal(err)
	}
	w.notifier, err = notify.New(ctx, notify.Config{Store: st, Sender: sender, Directory: notify.AccountsDirectory(e.Auth), Clock: e.Clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Workers: 2,
		Tuning: notify.Tuning{IdlePoll: 5 * time.Millisecond, Lease: time.Minute, SendTimeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	envPushes.Store(e, w.notifier)
	runCtx, stop := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() { w.notifier.Run(runCtx); close(finished) }()
	t.Cleanup(func() { stop(); <-finished })
	matcher, err := matching.NewMatcher(ctx, matchingOf(e), matching.MatcherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	w.disp = matchingOf(e).NewDispatcher(matcher.OfferSink(w.notifier), nil)
	w.org = e.Org("Röda Korset Halmstad")
	return w
}

// person makes an active user with a phone registered for pushes.
func (w *careWorld) person(role auth.Role, name string) person {
	w.t.Helper()
	var p person
	if role == auth.RoleVolunteer {
		p = freeVolunteer(w.e, w.org)
	} else {
		p = newPerson(w.e, role, w.org)
	}
	if _, _, err := w.notifier.Devices().Register(context.Background(), p.ID, "phone-of-"+name, "android"); err != nil {
		w.t.Fatal(err)
	}
	w.names[p.ID] = name
	return p
}

// flush hands pending outing events to notify (and lets offer waves form).
func (w *careWorld) flush() {
	w.t.Helper()
	for i := 0; i < 3; i++ {
		if _, err := w.disp.RunOnce(context.Background()); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *careWorld) say(format string, args ...any) {
	fmt.Fprintf(&w.out, "\n# "+format+"\n", args...)
}

// curl calls the app and writes the call as curl and its answer.
func (w *careWorld) curl(method, path string, who person, body any, headers ...string) (int, []byte) {
	w.t.Helper()
	cmd := fmt.Sprintf("curl -sS -X %s \"$BASE%s\"", method, path)
	if who.Token != "" {
		cmd += fmt.Sprintf(" -H \"Authorization: Bearer $%s\"", strings.ToUpper(w.names[who.ID]))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		cmd += fmt.Sprintf(" -H '%s: %s'", headers[i], headers[i+1])
	}
	if body != nil {
		raw, _ := json.Marshal(body)
		cmd += fmt.Sprintf(" -H 'Content-Type: application/json' -d '%s'", raw)
	}
	status, out := w.e.Call(method, path, who.Token, body, headers...)
	fmt.Fprintf(&w.out, "$ %s\nHTTP %d\n", cmd, status)
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		w.out.Write(pretty.Bytes())
	} else {
		w.out.Write(out)
	}
	w.out.WriteString("\n")
	return status, out
}

// want fails the test unless status is the wanted one.
func (w *careWorld) want(status int, body []byte, want int) {
	w.t.Helper()
	if status != want {
		w.t.Fatalf("status %d, want %d: %s", status, want, body)
	}
}

// jobs writes an outing's waiting push jobs, soonest first, and returns them.
func (w *careWorld) jobs(outingID string) []notify.Job {
	w.t.Helper()
	jobs, err := w.pushes.OutingJobs(context.Background(), outingID)
	if err != nil {
		w.t.Fatal(err)
	}
	sort.Slice(jobs, func(i, j int) bool {
		if !jobs[i].RunAt.Equal(jobs[j].RunAt) {
			return jobs[i].RunAt.Before(jobs[j].RunAt)
		}
		return jobs[i].Recipient < jobs[j].Recipient
	})
	fmt.Fprintf(&w.out, "push jobs waiting for the outing (%d):\n", len(jobs))
	for _, j := range jobs {
		to := w.names[j.Recipient]
		if j.Recipient == "" {
			to = "coordinators"
		}
		fmt.Fprintf(&w.out, "  %-8s %-22s to %-12s run_at %s  (outing starts %s)\n", j.Kind, j.Type, to,
			j.RunAt.UTC().Format(time.RFC3339), j.StartsAt.UTC().Format(time.RFC3339))
	}
	return jobs
}

// pushesTo waits until n pushes of pushType reached name's phone and writes them.
func (w *careWorld) pushesTo(name, pushType string, n int) []fcmfake.Message {
	w.t.Helper()
	return w.pushesAbout(name, pushType, "", n)
}

// pushesAbout is pushesTo counting only pushes whose body holds about
// (a push of the set-up may still arrive after fcm.Reset).
func (w *careWorld) pushesAbout(name, pushType, about string, n int) []fcmfake.Message {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []fcmfake.Message
		for _, m := range w.fcm.Messages() {
			if m.Token == "phone-of-"+name && m.Data["type"] == pushType && strings.Contains(m.Notification.Body, about) {
				got = append(got, m)
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				for _, m := range got {
					w.t.Logf("push %v at %s", m.Data, m.ReceivedAt.Format(time.StampMicro))
				}
				w.t.Fatalf("%d pushes %s to %s, want %d", len(got), pushType, name, n)
			}
			for _, m := range got {
				data, _ := json.Marshal(m.Data)
				fmt.Fprintf(&w.out, "fake FCM received for %s: %s %q / %q data=%s android.priority=%s\n", name, pushType,
					m.Notification.Title, m.Notification.Body, data, m.Android.Priority)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// confirmedOuting sets up a confirmed outing of p with v through the
// service and the dispatcher (the walk-through starts after it).
func (w *careWorld) confirmedOuting(p, v, coord person, start time.Time) string {
	w.t.Helper()
	ctx, svc := context.Background(), matchingOf(w.e)
	id := createOuting(w.e, p, start)
	w.flush()
	done(w.t)(svc.Accept(ctx, v.Who, id))
	done(w.t)(svc.Approve(ctx, coord.Who, id))
	w.flush()
	w.settle(id)
	return id
}

// settle waits until the outing's immediate pushes have been sent (a job
// being sent is leased: its run_at is the lease's end, so the kind tells).
func (w *careWorld) settle(outingID string) {
	w.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		jobs, err := w.pushes.OutingJobs(context.Background(), outingID)
		if err != nil {
			w.t.Fatal(err)
		}
		due := 0
		for _, j := range jobs {
			if j.Kind == "event" {
				due++
			}
		}
		if due == 0 {
			return
		}
	}
	w.t.Fatalf("pushes of %s still due after 10 s", outingID)
}

// write saves the transcript when CLAVIS_TRANSCRIPT_DIR is set.
func (w *careWorld) write(name string) {
	dir := os.Getenv("CLAVIS_TRANSCRIPT_DIR")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	head := fmt.Sprintf("# %s: written by %s (go test ./api/ -run %s); the clock is the test's fake clock, starting %s.\n",
		name, w.t.Name(), w.t.Name(), testNow.Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(head+w.out.String()), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func decodeOuting(t *testing.T, body []byte) matching.OutingView {
	t.Helper()
	var v matching.OutingView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
