package notify

import (
	"testing"
	"time"

	"github.com/clavis-app/clavis/matching"
)

// An expired request tells the participant kindly that nobody could be
// found (issue 5) and tells the coordinators; running out of candidates
// tells the coordinators only.
func TestExpiredAndNoCandidatesReachPeople(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a").start()
	defer s.stop()
	h.person("p1", false)
	tokCoord := h.person("coord1", false)
	start := t0.Add(-time.Minute)
	expired := event(matching.EventExpired, "o1", "p1", "", start, "p1")
	expired.ToCoordinators = true
	mustConsume(t, s, expired)
	dry := event(matching.EventNoCandidates, "o2", "p1", "", t0.Add(20*time.Hour))
	dry.ToCoordinators = true
	mustConsume(t, s, dry)

	waitFor(t, "expired pushes", func() bool { return len(h.messagesOfType(matching.EventExpired)) == 2 })
	waitFor(t, "no-candidates push", func() bool { return len(h.messagesOfType(matching.EventNoCandidates)) == 1 })
	settle(t, s)
	for _, m := range h.messagesOfType(matching.EventExpired) {
		switch m.Token {
		case "tok-p1":
			if m.Notification.Title != "Inget sällskap den här gången" {
				t.Errorf("participant got %q", m.Notification.Title)
			}
		case tokCoord:
			if m.Notification.Title != "Förfrågan gick ut" {
				t.Errorf("coordinator got %q", m.Notification.Title)
			}
		default:
			t.Errorf("expired push to %s", m.Token)
		}
	}
	if m := h.messagesOfType(matching.EventNoCandidates)[0]; m.Token != tokCoord || m.Notification.Title != "Ingen volontär än" {
		t.Fatalf("no-candidates push %+v", m)
	}
}
