package matching

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"
)

// contractBookings holds BookingsOf to its three windows and the shared
// history, at their edges: what one engine finds the other must too.
func contractBookings(t *testing.T, open func(t *testing.T) Store) {
	t.Run("bookings of a candidate set", func(t *testing.T) {
		ctx := context.Background()
		st := open(t)
		h := time.Hour
		mk := func(id, participant, volunteer string, status OutingStatus, start time.Time, length time.Duration) {
			o := contractOuting(id, participant, start, contractNow.Add(-400*24*h))
			o.Status, o.VolunteerID, o.EndsAt = status, volunteer, start.Add(length)
			if err := st.InsertOuting(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		busy := span{contractNow.Add(100 * h), contractNow.Add(103 * h)}
		// Busy: live outings overlapping it, however early they start.
		mk("long-overlap", "p9", "v1", StatusConfirmed, busy.from.Add(-MaxOutingLength+h), MaxOutingLength)
		mk("ends-at-from", "p9", "v1", StatusConfirmed, busy.from.Add(-2*h), 2*h)
		mk("starts-at-to", "p9", "v2", StatusPendingApproval, busy.to, h)
		mk("in-progress", "p9", "v2", StatusInProgress, busy.from.Add(h), h)
		mk("cancelled-busy", "p9", "v1", StatusCancelled, busy.from, h)
		// Load: live or completed outings starting in a window.
		mk("load-edge", "p9", "v1", StatusCompleted, contractNow.Add(-30*24*h), h)
		mk("load-before", "p9", "v1", StatusCompleted, contractNow.Add(-30*24*h-time.Millisecond), h)
		mk("load-end", "p9", "v2", StatusConfirmed, contractNow, h)
		mk("expired-load", "p9", "v2", StatusExpired, contractNow.Add(-h), h)
		// History: completed outings with the participant, at any time,
		// with the set's volunteers only; one in a window comes once.
		mk("history-old", "p1", "v1", StatusCompleted, contractNow.Add(-300*24*h), h)
		mk("history-recent", "p1", "v2", StatusCompleted, contractNow.Add(-2*24*h), h)
		mk("history-other", "p1", "v3", StatusCompleted, contractNow.Add(-300*24*h), h)
		mk("history-cancelled", "p1", "v1", StatusCancelled, contractNow.Add(-200*24*h), h)
		mk("other-volunteer", "p9", "v3", StatusConfirmed, busy.from, h)
		mk("open", "p1", "", StatusOpen, busy.from, h)

		ids := func(vols []string, q bookingQuery) []string {
			t.Helper()
			rows, err := st.BookingsOf(ctx, vols, q)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, r := range rows {
				out = append(out, r.ID)
				if r.ID == "long-overlap" && (r.VolunteerID != "v1" || r.ParticipantID != "p9" || r.Status != StatusConfirmed ||
					!r.EndsAt.Equal(busy.from.Add(h))) {
					t.Errorf("row %+v", r)
				}
			}
			sort.Strings(out)
			return out
		}
		full := bookingQuery{busy: busy, load: []span{{contractNow.Add(-30 * 24 * h), contractNow}, {contractNow, contractNow.Add(h)}},
			participants: []string{"p1"}}
		want := []string{"history-old", "history-recent", "in-progress", "load-edge", "load-end", "long-overlap"}
		if got := ids([]string{"v1", "v2", "v1"}, full); !slices.Equal(got, want) {
			t.Errorf("all three: %v\nwant %v", got, want)
		}
		if got := ids([]string{"v1", "v2"}, bookingQuery{participants: []string{"p1"}}); !slices.Equal(got, []string{"history-old", "history-recent"}) {
			t.Errorf("history alone: %v", got)
		}
		if got := ids([]string{"v2"}, bookingQuery{load: []span{{contractNow.Add(-h), contractNow.Add(h)}}}); !slices.Equal(got, []string{"load-end"}) {
			t.Errorf("one load window alone: %v", got)
		}
		if got := ids([]string{"v1"}, bookingQuery{busy: busy}); !slices.Equal(got, []string{"long-overlap"}) {
			t.Errorf("busy alone: %v", got)
		}
	})
}
