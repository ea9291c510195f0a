package matching

import (
	"slices"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// A moved session moves its escort outing: same companion, new times, a
// history entry, a new version, an outing.rescheduled event for notify,
// and the companion's commitment moves too.
func TestRescheduleKeepsTheCompanion(t *testing.T) {
	f := newFixture(t)
	w := newWaves(f, MatcherConfig{OfferWave: 3})
	v := f.volunteer("Vera Holm")
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cora Berg")
	o := f.outing(p, thursdayTen)
	w.deliver()
	if _, err := f.svc.Accept(f.ctx, v, o.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(f.ctx, c, o.ID); err != nil {
		t.Fatal(err)
	}
	w.deliver()
	w.log.take("")
	start := o.StartsAt.Add(26 * time.Hour)
	moved, err := f.svc.Reschedule(f.ctx, c, o.ID, start, start.Add(2*time.Hour), "the room is taken")
	if err != nil {
		t.Fatal(err)
	}
	got := f.stored(o.ID)
	if got.VolunteerID != v.UserID || got.Status != StatusConfirmed || !got.StartsAt.Equal(start) || moved.Version != o.Version+3 {
		t.Fatalf("after reschedule: %s %s %v v%d", got.VolunteerID, got.Status, got.StartsAt, moved.Version)
	}
	if h := got.History[len(got.History)-1]; h.Reason != "the room is taken" || h.From != StatusConfirmed || h.To != StatusConfirmed {
		t.Fatalf("history %+v", h)
	}
	w.deliver()
	evs := w.log.take(EventRescheduled)
	if len(evs) != 1 || !evs[0].StartsAt.Equal(start) || evs[0].VolunteerID != v.UserID {
		t.Fatalf("events %+v", evs)
	}
	prof, _ := f.svc.st.Volunteer(f.ctx, v.UserID)
	if i := slices.IndexFunc(prof.Commitments, func(cm Commitment) bool { return cm.OutingID == o.ID }); i < 0 || !prof.Commitments[i].StartsAt.Equal(start) {
		t.Fatalf("commitment not moved: %+v", prof.Commitments)
	}
	// Rules: coordinators only, into the future, not a cancelled outing.
	_, err = f.svc.Reschedule(f.ctx, p, o.ID, start, start.Add(time.Hour), "")
	wantKind(t, err, fault.Forbidden)
	_, err = f.svc.Reschedule(f.ctx, c, o.ID, f.clock.Now().Add(-time.Hour), f.clock.Now(), "")
	wantKind(t, err, fault.Validation)
	if _, err := f.svc.Cancel(f.ctx, c, o.ID, "no longer needed"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Reschedule(f.ctx, c, o.ID, start.Add(time.Hour), start.Add(2*time.Hour), "")
	wantKind(t, err, fault.StateConflict)
}

// Continuity: an outing with OfferFirst offers that volunteer alone in its
// first wave, however they rank; the next wave is the usual best few.
func TestOfferFirstGoesAloneInTheFirstWave(t *testing.T) {
	f := newFixture(t)
	w := newWaves(f, MatcherConfig{OfferWave: 3})
	vs := f.volunteerLine(6)
	last := vs[5] // ranks last: farthest away
	p := f.user(auth.RoleParticipant, "Sara Lind")
	start := f.clock.Now().Add(thursdayTen)
	o, err := f.svc.CreateOuting(f.ctx, p, OutingRequest{Kind: KindActivity, StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		MeetingPoint: MeetingPoint{Lat: 56.6744, Lon: 12.8578}, OfferFirst: last.UserID})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver()
	first := w.log.take(EventOffer)
	if len(first) != 1 || !slices.Equal(first[0].Recipients, []string{last.UserID}) || first[0].OutingID != o.ID {
		t.Fatalf("first wave %v, want only %s", recipients(first), last.UserID)
	}
	f.clock.Advance(2*time.Hour + time.Minute)
	w.tick()
	second := w.log.take(EventOffer)
	if len(second) != 1 || len(second[0].Recipients) != 3 || slices.Contains(second[0].Recipients, last.UserID) {
		t.Fatalf("second wave %v", recipients(second))
	}
	// Without OfferFirst the first wave is the three best.
	o2 := f.outing(p, thursdayTen+24*time.Hour)
	w.deliver()
	if got := w.log.take(EventOffer); len(got) != 1 || len(got[0].Recipients) != 3 || got[0].OutingID != o2.ID {
		t.Fatalf("plain first wave %v", recipients(got))
	}
}
