package notify

import (
	"context"
	"testing"
	"time"
)

// Outcomes' asks go through the durable jobs: at night they wait for the
// recipient's morning (quiet hours), by day they go at once, and the same
// dedup key never makes a second push.
func TestAsksWaitForMorningAndGoOnce(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a").start()
	defer s.stop()
	ctx := context.Background()
	// settle looks at the running workers: wait until Run has started them.
	waitFor(t, "push workers running", func() bool { return len(s.svc.running()) > 0 })
	night := time.Date(2026, 3, 3, 23, 30, 0, 0, stockholm)
	h.clock.Set(night)
	h.person("quiet", true)
	h.person("awake", false)
	for _, who := range []string{"quiet", "awake"} {
		if err := s.svc.PushToUser(ctx, PushWellbeingDue, "org1", who, PushWellbeingDue+"|"+who+"|1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.svc.PushToUser(ctx, PushWellbeingDue, "org1", "quiet", PushWellbeingDue+"|quiet|1"); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	sentTo := func() map[string]int {
		n := map[string]int{}
		for _, m := range h.messagesOfType(PushWellbeingDue) {
			n[m.Token]++
		}
		return n
	}
	if got := sentTo(); got["tok-awake"] != 1 || got["tok-quiet"] != 0 {
		t.Fatalf("at 23:30: %v; want the one without quiet hours only", got)
	}
	h.clock.Set(time.Date(2026, 3, 4, 6, 59, 0, 0, stockholm))
	settle(t, s)
	if got := sentTo(); got["tok-quiet"] != 0 {
		t.Fatalf("at 06:59: %v; want none yet for the quiet one", got)
	}
	h.clock.Set(time.Date(2026, 3, 4, 7, 0, 0, 0, stockholm))
	settle(t, s)
	if got := sentTo(); got["tok-awake"] != 1 || got["tok-quiet"] != 1 {
		t.Fatalf("at 07:00: %v; want one each", got)
	}
	for _, m := range h.messagesOfType(PushWellbeingDue) {
		if m.Data["outing_id"] != "" {
			t.Fatalf("an ask names an outing: %+v", m.Data)
		}
	}
}
