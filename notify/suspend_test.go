package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/matching"
)

// Issue 12.2: the events matching makes when a confirmed outing's volunteer
// is suspended drop the outing's reminders and check-in watch, and tell the
// participant kindly (outing.reopened) and the coordinators; the suspended
// volunteer hears nothing more about it.
func TestSuspendedVolunteersOutingDropsRemindersAndTellsParticipant(t *testing.T) {
	h := newHarness(t)
	h.person("p1", false)
	h.person("v1", false)
	h.person("coord1", false)
	s := h.newServer(nil, "a").start()
	defer s.stop()

	start := t0.Add(3 * 24 * time.Hour).Add(4 * time.Hour) // Thursday 14:00
	mustConsume(t, s, approved("o1", "p1", "v1", start))
	waitFor(t, "approved pushes", func() bool { return len(h.messagesOfType("outing.approved")) == 2 })
	settle(t, s)
	if n := h.pending("outing_id = 'o1' AND kind IN ('reminder', 'checkin')"); n != 6 {
		t.Fatalf("%d reminder and check-in jobs before the suspension, want 6", n)
	}

	// What matching decides and stamps for the suspension, a day later.
	h.clock.Set(t0.Add(24 * time.Hour))
	o := &matching.Outing{ID: "o1", OrgID: "org1", ParticipantID: "p1", VolunteerID: "v1", Status: matching.StatusConfirmed,
		StartsAt: start, EndsAt: start.Add(2 * time.Hour)}
	m, err := matching.DecideVolunteerSuspended(o, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m.To != matching.StatusOpen || m.Actor != matching.SystemActor || m.Reason != "volunteer suspended" {
		t.Fatalf("move %+v, want a reopen by the system", m)
	}
	for i, e := range m.Events {
		e.ID = fmt.Sprintf("suspend-%d", i)
		e.OutingID, e.OrgID, e.ParticipantID = o.ID, o.OrgID, o.ParticipantID
		e.At, e.StartsAt, e.EndsAt = h.clock.Now(), o.StartsAt, o.EndsAt
		mustConsume(t, s, e)
	}
	waitFor(t, "reopened pushes", func() bool { return len(h.messagesOfType("outing.reopened")) == 2 })
	settle(t, s)

	if n := h.pending("outing_id = 'o1' AND kind IN ('reminder', 'checkin')"); n != 0 {
		t.Fatalf("%d reminder or check-in jobs left for the reopened outing", n)
	}
	var toParticipant, toCoordinator []string
	for _, msg := range h.messagesOfType("outing.reopened") {
		switch msg.Token {
		case "tok-p1":
			toParticipant = append(toParticipant, msg.Notification.Title+" / "+msg.Notification.Body)
		case "tok-coord1":
			toCoordinator = append(toCoordinator, msg.Notification.Body)
		case "tok-v1":
			t.Fatalf("the suspended volunteer was pushed about the outing: %+v", msg)
		}
	}
	if len(toParticipant) != 1 || !strings.Contains(toParticipant[0], "finns kvar") || !strings.Contains(toParticipant[0], "ny volontär åt dig") {
		t.Fatalf("participant's reopened push %q, want the kind words", toParticipant)
	}
	if len(toCoordinator) != 1 || !strings.Contains(toCoordinator[0], "behöver en volontär") {
		t.Fatalf("coordinator's reopened push %q", toCoordinator)
	}
	// Walking past the old reminder times sends nothing.
	for _, at := range []time.Time{start.Add(-24 * time.Hour), start.Add(-2 * time.Hour), start.Add(15 * time.Minute)} {
		h.clock.Set(at)
		settle(t, s)
	}
	if n := len(h.messagesOfType("outing.reminder")) + len(h.messagesOfType("outing.checkin_missed")); n != 0 {
		t.Fatalf("%d reminders or check-in alerts after the suspension", n)
	}
}
