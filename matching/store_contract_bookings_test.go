package matching

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
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

		idsOf := func(vols []string, q bookingQuery) ([]string, error) {
			rows, err := st.BookingsOf(ctx, vols, q)
			out := []string{}
			for _, r := range rows {
				out = append(out, r.ID)
				if r.ID == "long-overlap" && (r.VolunteerID != "v1" || r.ParticipantID != "p9" || r.Status != StatusConfirmed ||
					!r.EndsAt.Equal(busy.from.Add(h))) {
					return nil, fmt.Errorf("row %+v", r)
				}
			}
			sort.Strings(out)
			return out, err
		}
		ids := func(vols []string, q bookingQuery) []string {
			t.Helper()
			out, err := idsOf(vols, q)
			if err != nil {
				t.Fatal(err)
			}
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
		// A volunteer's offers: one volunteer, the participants of many outings.
		offers := full
		offers.participants = []string{"p5", "p1", "p7"}
		if got := ids([]string{"v2"}, offers); !slices.Equal(got, []string{"history-recent", "in-progress", "load-end"}) {
			t.Errorf("one volunteer, three participants: %v", got)
		}
		if got := ids([]string{"v1"}, bookingQuery{participants: []string{"p1", "p5"}}); !slices.Equal(got, []string{"history-old"}) {
			t.Errorf("one volunteer's history alone: %v", got)
		}
		if got := ids([]string{"v2"}, bookingQuery{load: []span{{contractNow.Add(-h), contractNow.Add(h)}}}); !slices.Equal(got, []string{"load-end"}) {
			t.Errorf("one load window alone: %v", got)
		}
		if got := ids([]string{"v1"}, bookingQuery{busy: busy}); !slices.Equal(got, []string{"long-overlap"}) {
			t.Errorf("busy alone: %v", got)
		}

		// Outside a write the candidates' two reads may run at once, and
		// then find what they find one after the other.
		if !st.ConcurrentReads(ctx) {
			t.Fatal("reads outside a write transaction must be allowed to run at once")
		}
		if err := st.InsertFeedback(ctx, &Feedback{ID: "history-old:p1", OutingID: "history-old", OrgID: "org1", AuthorID: "p1",
			AuthorRole: "participant", ParticipantID: "p1", VolunteerID: "v1", Rating: 4, CreatedAt: contractNow}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				if got, err := idsOf([]string{"v1", "v2"}, full); err != nil || !slices.Equal(got, want) {
					t.Errorf("at once: %v %v", got, err)
				}
			}()
			go func() {
				defer wg.Done()
				if rs, err := st.RatingsOf(ctx, []string{"v1", "v2"}); err != nil || len(rs) != 1 || rs[0].Rating != 4 {
					t.Errorf("ratings at once: %+v %v", rs, err)
				}
			}()
		}
		wg.Wait()
	})
}
