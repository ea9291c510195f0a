package notify

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/clavis-app/clavis/notify/fcmfake"
)

func newTestSender(t *testing.T) (*FCMSender, *fcmfake.Server) {
	t.Helper()
	fcm := fcmfake.New()
	t.Cleanup(fcm.Close)
	s, err := NewFCMSender(context.Background(), FCMConfig{Endpoint: fcm.URL, ProjectID: "clavis-test"})
	if err != nil {
		t.Fatal(err)
	}
	return s, fcm
}

func TestSenderMessageShape(t *testing.T) {
	s, fcm := newTestSender(t)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	res := s.Send(context.Background(), now, []Message{
		{Token: "tok-a", RecipientID: "u1", Type: "outing.reminder", OutingID: "o1", PushID: "p1", Title: "Påminnelse", Body: "Din aktivitet", Deadline: now.Add(2 * time.Hour)},
		{Token: "tok-b", RecipientID: "u2", Type: "outing.offer", OutingID: "o2", PushID: "p2", Title: "T", Body: "B", Deadline: now.Add(60 * 24 * time.Hour)},
	})
	for i, r := range res {
		if r.Verdict != Delivered {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	msgs := fcm.Messages()
	if len(msgs) != 2 {
		t.Fatalf("fake FCM got %d messages", len(msgs))
	}
	byToken := map[string]fcmfake.Message{}
	for _, m := range msgs {
		byToken[m.Token] = m
	}
	a := byToken["tok-a"]
	if a.Project != "clavis-test" || len(a.Data) != 3 || a.Data["type"] != "outing.reminder" || a.Data["outing_id"] != "o1" || a.Data["push_id"] != "p1" {
		t.Fatalf("project or data: %q %v", a.Project, a.Data)
	}
	if a.Notification.Title != "Påminnelse" || a.Notification.Body != "Din aktivitet" {
		t.Fatalf("notification: %+v", a.Notification)
	}
	ck := collapseKey("o1", "outing.reminder")
	if a.Android.Priority != "high" || a.Android.CollapseKey != ck || a.Android.TTL != "7200s" {
		t.Fatalf("android: %+v", a.Android)
	}
	if a.APNS.Headers["apns-collapse-id"] != ck || a.APNS.Headers["apns-expiration"] != strconv.FormatInt(now.Add(2*time.Hour).Unix(), 10) {
		t.Fatalf("apns headers: %v", a.APNS.Headers)
	}
	if a.Webpush.Headers["TTL"] != "7200" || a.Webpush.Headers["Urgency"] != "high" {
		t.Fatalf("webpush headers: %v", a.Webpush.Headers)
	}
	// Collapse keys differ per outing and per type, and fit APNs' 64 bytes.
	if len(ck) > 64 || ck == collapseKey("o1", "outing.offer") || ck == collapseKey("o2", "outing.reminder") {
		t.Fatalf("collapse key %q", ck)
	}
	// FCM keeps a message at most 28 days.
	if b := byToken["tok-b"]; b.Android.TTL != strconv.Itoa(28*24*3600)+"s" {
		t.Fatalf("ttl not capped at 28 days: %q", b.Android.TTL)
	}
}

func TestSenderClassifiesEachTokenError(t *testing.T) {
	s, fcm := newTestSender(t)
	fcm.FailAlways("unreg", fcmfake.Unregistered)
	fcm.FailAlways("invalid", fcmfake.InvalidToken)
	fcm.FailAlways("quota", fcmfake.QuotaExceeded(120))
	fcm.FailAlways("down", fcmfake.Unavailable)
	fcm.FailAlways("broken", fcmfake.Internal)
	fcm.FailAlways("bad-message", fcmfake.Failure{Status: 400, Code: "INVALID_ARGUMENT", Message: "Invalid value at 'message.data'"})
	fcm.FailAlways("mismatch", fcmfake.Failure{Status: 403, Code: "SENDER_ID_MISMATCH", Message: "SenderId mismatch"})
	now := time.Now()
	tokens := []string{"ok", "unreg", "invalid", "quota", "down", "broken", "bad-message", "mismatch"}
	var msgs []Message
	for _, tok := range tokens {
		msgs = append(msgs, Message{Token: tok, Type: "outing.reminder", OutingID: "o", PushID: "p", Title: "t", Body: "b", Deadline: now.Add(time.Hour)})
	}
	res := s.Send(context.Background(), now, msgs)
	want := map[string]struct {
		v      Verdict
		reason string
	}{
		"ok": {Delivered, ""}, "unreg": {Prune, "unregistered"}, "invalid": {Prune, "invalid_token"},
		"quota": {Retry, "quota_exceeded"}, "down": {Retry, "unavailable"}, "broken": {Retry, "internal"},
		"bad-message": {GiveUp, "invalid_argument"}, "mismatch": {GiveUp, "sender_id_mismatch"},
	}
	for i, tok := range tokens {
		if res[i].Verdict != want[tok].v || res[i].Reason != want[tok].reason {
			t.Errorf("%s: verdict %d %q, want %d %q (%v)", tok, res[i].Verdict, res[i].Reason, want[tok].v, want[tok].reason, res[i].Err)
		}
	}
	if res[3].RetryAfter != 120*time.Second {
		t.Errorf("quota: Retry-After %s, want 2m0s", res[3].RetryAfter)
	}
	// The SDK did not retry the 503 by itself (our backoff decides).
	if n := fcm.Attempts("down"); n != 1 {
		t.Errorf("503 was sent %d times in one Send", n)
	}
}

func TestSenderNetworkFailureIsRetried(t *testing.T) {
	fcm := fcmfake.New()
	url := fcm.URL
	fcm.Close() // nothing listens there now
	s, err := NewFCMSender(context.Background(), FCMConfig{Endpoint: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := s.Send(ctx, time.Now(), []Message{{Token: "x", Type: "outing.offer", OutingID: "o", PushID: "p", Title: "t", Body: "b", Deadline: time.Now().Add(time.Hour)}})
	if res[0].Verdict != Retry || res[0].Reason != "network" {
		t.Fatalf("refused connection: %+v", res[0])
	}
}
