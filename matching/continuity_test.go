package matching

import (
	"slices"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// A held outing gets no wave until a companion is preferred; they are
// offered it alone, and the general waves follow after the usual wait.
// Unclaimed, the hold ends at its bound and the waves start as usual.
func TestHeldOffersWaitForTheCompanion(t *testing.T) {
	f := newFixture(t)
	w := newWaves(f, MatcherConfig{OfferWave: 3})
	vs := f.volunteerLine(6)
	last := vs[5] // ranks last: farthest away
	p := f.user(auth.RoleParticipant, "Sara Lind")
	start := f.clock.Now().Add(thursdayTen)
	mk := func(hold time.Time) string {
		o, err := f.svc.CreateOuting(f.ctx, p, OutingRequest{Kind: KindActivity, StartsAt: start, EndsAt: start.Add(2 * time.Hour),
			MeetingPoint: MeetingPoint{Lat: 56.6744, Lon: 12.8578}, HoldOffersUntil: hold})
		if err != nil {
			t.Fatal(err)
		}
		return o.ID
	}
	held := mk(start.Add(-48 * time.Hour))
	w.deliver()
	w.tick()
	if got := w.log.take(EventOffer); len(got) != 0 {
		t.Fatalf("held outing offered: %v", recipients(got))
	}
	if err := w.m.PreferCompanion(f.ctx, held, last.UserID); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	first := w.log.take(EventOffer)
	if len(first) != 1 || !slices.Equal(first[0].Recipients, []string{last.UserID}) {
		t.Fatalf("first wave %v, want only %s", recipients(first), last.UserID)
	}
	// Preferred again (the next confirmation): they had their chance.
	if err := w.m.PreferCompanion(f.ctx, held, last.UserID); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	w.tick()
	if got := w.log.take(EventOffer); len(got) != 0 {
		t.Fatalf("a general wave before the wait: %v", recipients(got))
	}
	f.clock.Advance(2*time.Hour + time.Minute)
	w.tick()
	if second := w.log.take(EventOffer); len(second) != 1 || len(second[0].Recipients) != 3 || slices.Contains(second[0].Recipients, last.UserID) {
		t.Fatalf("second wave %v", recipients(second))
	}

	// Nobody named: the waves start when the hold ends.
	unclaimed := mk(f.clock.Now().Add(time.Hour))
	w.deliver()
	w.tick()
	if got := w.log.take(EventOffer); len(got) != 0 {
		t.Fatalf("held outing offered: %v", recipients(got))
	}
	f.clock.Advance(time.Hour)
	w.tick()
	if got := w.log.take(EventOffer); len(got) != 1 || got[0].OutingID != unclaimed || len(got[0].Recipients) != 3 {
		t.Fatalf("after the hold: %v", recipients(got))
	}
}
