package outcomes

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// recordingPusher is outcomes' own Pusher interface, recorded (notify's
// real queue is tested in notify/asks_test.go, at night too).
type recordingPusher struct {
	mu   sync.Mutex
	keys map[string]int
	sent []string // pushType|user
}

func (p *recordingPusher) PushToUser(_ context.Context, pushType, _, userID, key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys[key]++
	p.sent = append(p.sent, pushType+"|"+userID)
	return nil
}

type oneOrg struct{}

func (oneOrg) Member(_ context.Context, id string) (Member, error) {
	return Member{ID: id, Role: auth.RoleVolunteer, OrgID: "o1", Status: auth.StatusActive}, nil
}

// The asks come every WellbeingEvery after the last answer and every 12
// weeks after a volunteer's approval or pulse, never a second while one is
// unanswered, and the sweep runs the same at 03:00 as at noon (the quiet
// hours are the pusher's).
func TestSweepAsksOncePerIntervalDayAndNight(t *testing.T) {
	ctx := context.Background()
	st, err := NewSQLiteStore(ctx, sqlitetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	night := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC) // 03:00 in Stockholm
	clk := clock.NewFake(night)
	push := &recordingPusher{keys: map[string]int{}}
	svc, err := New(Config{Store: st, Clock: clk, Members: oneOrg{}, Pusher: push, WellbeingEvery: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pia := auth.Identity{UserID: "pia", Role: auth.RoleParticipant, OrgID: "o1"}
	if _, err := svc.AddCheckin(ctx, pia, CheckinInput{Confidence: 2, Social: 2, Occupation: 2}); err != nil {
		t.Fatal(err)
	}
	if err := svc.StatusHook(ctx, "vera", auth.RoleVolunteer, auth.StatusActive); err != nil {
		t.Fatal(err)
	}
	sweep := func(want int) {
		t.Helper()
		n, err := svc.SweepAsks(ctx)
		if err != nil || n != want {
			t.Fatalf("sweep at %s: %d asks %v, want %d (sent so far %v)", clk.Now().Format(time.RFC3339), n, err, want, push.sent)
		}
	}
	sweep(0)
	clk.Advance(7*24*time.Hour - time.Minute)
	sweep(0)
	clk.Advance(time.Minute) // a week after the answer, 03:00 again
	sweep(1)
	clk.Advance(30 * 24 * time.Hour) // unanswered a month: still one
	sweep(0)
	if _, err := svc.AddCheckin(ctx, pia, CheckinInput{Confidence: 3, Social: 2, Occupation: 2}); err != nil {
		t.Fatal(err)
	}
	sweep(0)
	clk.Advance(7 * 24 * time.Hour)
	sweep(1)
	clk.Set(night.Add(PulseEvery))
	sweep(1) // vera's first pulse, 12 weeks after approval
	if len(push.sent) != 3 || push.sent[0] != PushWellbeingDue+"|pia" || push.sent[1] != PushWellbeingDue+"|pia" || push.sent[2] != PushPulseDue+"|vera" {
		t.Fatalf("sent %v", push.sent)
	}
	for k, n := range push.keys {
		if n != 1 {
			t.Fatalf("dedup key %s used %d times", k, n)
		}
	}
}
