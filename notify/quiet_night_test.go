package notify

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/matching"
)

// pushTypes are the event types Consume turns into a push to the people named.
var pushTypes = []string{matching.EventOffer, matching.EventAccepted, matching.EventApproved, matching.EventRejected,
	matching.EventReopened, matching.EventCancelled, matching.EventExpired, matching.EventReminder,
	matching.EventCheckinMissed, matching.EventNoCandidates}

// Issue 12: an approval at 23:45 for an outing at 23:48 reached the
// volunteer at once and the participant (quiet hours) at 07:00, after the
// outing. A push of any type about an outing that starts before the
// recipient's quiet hours end, plus an hour, goes at once; only pushes about
// later outings wait for the morning, in the recipient's own time zone.
func TestQuietHoursNeverHoldBackNewsOfAnOutingBeforeMorning(t *testing.T) {
	h := newHarness(t)
	s := h.newServer(nil, "a").start()
	defer s.stop()
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 05:30 in Stockholm (quiet until 07:00) is 23:30 in New York (quiet
	// until 07:00 there, 13:00 in Stockholm).
	now := time.Date(2026, 3, 3, 5, 30, 0, 0, stockholm)
	h.clock.Set(now)
	h.person("sthlm", true)
	h.person("ny", true)
	h.dir.add("ny", Recipient{Language: "en", TimeZone: "America/New_York", QuietHours: true})

	type outing struct {
		name, who string
		start     time.Time
		at        time.Time // when the push may go (now: at once)
	}
	sthlmMorning := time.Date(2026, 3, 3, 7, 0, 0, 0, stockholm)
	nyMorning := time.Date(2026, 3, 3, 7, 0, 0, 0, newYork)
	outings := []outing{
		{"tonight", "sthlm", now.Add(3 * time.Minute), now},
		{"before-8", "sthlm", time.Date(2026, 3, 3, 7, 59, 0, 0, stockholm), now},
		{"after-8", "sthlm", time.Date(2026, 3, 3, 8, 30, 0, 0, stockholm), sthlmMorning},
		{"next-week", "sthlm", now.Add(7 * 24 * time.Hour).Add(9 * time.Hour), sthlmMorning},
		{"tonight", "ny", now.Add(3 * time.Minute), now},
		{"ny-before-8", "ny", time.Date(2026, 3, 3, 7, 30, 0, 0, newYork), now},
		{"next-week", "ny", now.Add(7 * 24 * time.Hour).Add(9 * time.Hour), nyMorning},
	}
	want := map[time.Time][]string{}
	for _, o := range outings {
		for _, typ := range pushTypes {
			id := fmt.Sprintf("%s-%s-%s", o.who, o.name, strings.TrimPrefix(typ, "outing."))
			mustConsume(t, s, event(typ, id, "", "", o.start, o.who))
			want[o.at] = append(want[o.at], id)
		}
	}
	got := func() []string {
		var out []string
		for _, m := range h.fcm.Messages() {
			if m.Token == "tok-sthlm" || m.Token == "tok-ny" {
				out = append(out, m.Data["outing_id"])
			}
		}
		sort.Strings(out)
		return out
	}
	var sofar []string
	for _, at := range []time.Time{now, sthlmMorning, nyMorning} {
		h.clock.Set(at)
		sofar = append(sofar, want[at]...)
		sort.Strings(sofar)
		settle(t, s)
		if g := got(); strings.Join(g, " ") != strings.Join(sofar, " ") {
			t.Errorf("by %s (Stockholm) the quiet participants got %d pushes, want %d:\nmissing: %v\nearly:   %v",
				at.In(stockholm).Format("15:04"), len(g), len(sofar), minus(sofar, g), minus(g, sofar))
		}
	}
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}
