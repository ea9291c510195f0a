package notify

import (
	"context"
	"testing"
	"time"

	"github.com/clavis-app/clavis/groups"
)

// Group news and session reminders go through the durable jobs: the same
// news handed over twice is pushed once, a moved session's reminders move,
// a reminder already sent is not sent again when the set is handed over
// anew, and a cancelled session's reminders are dropped.
func TestGroupPushesAndSessionRemindersOnce(t *testing.T) {
	h := newHarness(t)
	srv := h.newServer(nil, "groups").start()
	defer srv.stop()
	ctx := context.Background()
	gn := srv.svc.Groups()
	h.person("p1", false)
	h.person("p2", false)
	start := t0.Add(3 * 24 * time.Hour)
	news := groups.Push{Key: "group.enrolled|e1", Type: groups.PushEnrolled, OrgID: "org1", GroupID: "g1", SessionID: "s1",
		StartsAt: start, Recipients: []string{"p1"}}
	for range 2 {
		if err := gn.GroupPush(ctx, news); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "group.enrolled", func() bool { return len(h.messagesOfType(groups.PushEnrolled)) == 1 })

	set := []groups.SessionReminder{{SessionID: "s1", OrgID: "org1", StartsAt: start, Participants: []string{"p1", "p2"}}}
	if err := gn.SessionReminders(ctx, set); err != nil {
		t.Fatal(err)
	}
	if n := h.pending("outing_id = 's1' AND type = ?", groups.PushSessionReminder); n != 4 {
		t.Fatalf("%d pending session reminders, want 4 (2 people × 24 h, 2 h)", n)
	}
	// Moved an hour later: the old start's jobs go, new ones come.
	moved := start.Add(time.Hour)
	set[0].StartsAt = moved
	if err := gn.SessionReminders(ctx, set); err != nil {
		t.Fatal(err)
	}
	if n := h.pending("outing_id = 's1' AND starts_at = ?", moved.UnixMilli()); n != 4 {
		t.Fatalf("%d reminders at the new start, want 4", n)
	}
	// Only the reminders: the enrolment news may still be in flight (the
	// fake FCM has it before its job is marked delivered).
	if n := h.pending("outing_id = 's1' AND type = ? AND starts_at <> ?", groups.PushSessionReminder, moved.UnixMilli()); n != 0 {
		t.Fatalf("%d reminders left at the old start", n)
	}
	// The 24 h reminders are sent; handing the set over again makes no new ones.
	h.clock.Set(moved.Add(-24*time.Hour + time.Minute))
	waitFor(t, "24 h session reminders", func() bool { return len(h.messagesOfType(groups.PushSessionReminder)) == 2 })
	settle(t, srv)
	if err := gn.SessionReminders(ctx, set); err != nil {
		t.Fatal(err)
	}
	if n := h.pending("outing_id = 's1'"); n != 2 {
		t.Fatalf("%d pending after handing the set over again, want the two 2 h reminders", n)
	}
	// Cancelled: no reminders left, and the news goes out once.
	if err := gn.SessionReminders(ctx, []groups.SessionReminder{{SessionID: "s1", OrgID: "org1", StartsAt: moved}}); err != nil {
		t.Fatal(err)
	}
	if n := h.pending("outing_id = 's1' AND kind = 'reminder'"); n != 0 {
		t.Fatalf("%d reminders after cancelling", n)
	}
	h.clock.Set(moved.Add(-3 * time.Hour))
	settle(t, srv)
	if n := len(h.messagesOfType(groups.PushSessionReminder)); n != 2 {
		t.Fatalf("%d session reminders sent, want 2", n)
	}
}

// A leaver's group news still queued is dropped; others' news of the same
// session, and the leaver's news of another group, stay.
func TestLeaverGetsNoQueuedGroupNews(t *testing.T) {
	h := newHarness(t)
	srv := h.newServer(nil, "groups")
	ctx := context.Background()
	gn := srv.svc.Groups()
	h.person("p1", false)
	h.person("p2", false)
	start := t0.Add(3 * 24 * time.Hour)
	for _, p := range []groups.Push{
		{Key: "group.enrolled|e1", Type: groups.PushEnrolled, OrgID: "org1", GroupID: "g1", SessionID: "s1", StartsAt: start, Recipients: []string{"p1"}},
		{Key: "group.enrolled|e2", Type: groups.PushEnrolled, OrgID: "org1", GroupID: "g1", SessionID: "s1", StartsAt: start, Recipients: []string{"p2"}},
		{Key: "group.enrolled|e3", Type: groups.PushEnrolled, OrgID: "org1", GroupID: "g9", SessionID: "s9", StartsAt: start, Recipients: []string{"p1"}},
	} {
		if err := gn.GroupPush(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := gn.ForgetParticipant(ctx, "p1", []string{"s1", "s2"}); err != nil {
		t.Fatal(err)
	}
	if n := h.pending("recipient = 'p1' AND outing_id = 's1'"); n != 0 {
		t.Fatalf("%d of the leaver's news of g1 still queued", n)
	}
	if n := h.pending("(recipient = 'p2' AND outing_id = 's1') OR (recipient = 'p1' AND outing_id = 's9')"); n != 2 {
		t.Fatalf("%d other news queued, want 2", n)
	}
	srv.start()
	defer srv.stop()
	waitFor(t, "the two other group.enrolled", func() bool { return len(h.messagesOfType(groups.PushEnrolled)) == 2 })
	settle(t, srv)
	if n := len(h.messagesOfType(groups.PushEnrolled)); n != 2 {
		t.Fatalf("%d group.enrolled sent, want 2", n)
	}
}
