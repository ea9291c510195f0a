package matching

import (
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// The reconciler sees confirmed outings in its window and nothing else:
// not open ones, not confirmed ones outside the window.
func TestConfirmedOutingsBetween(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cecilia Berg")
	v1 := f.volunteer("Vera Holm")
	v2 := f.volunteer("Ali Khan")
	confirm := func(v auth.Identity, in time.Duration) OutingView {
		t.Helper()
		o := f.outing(p, in)
		if _, err := f.svc.Accept(f.ctx, v, o.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Approve(f.ctx, c, o.ID); err != nil {
			t.Fatal(err)
		}
		return o
	}
	soon := confirm(v1, 26*time.Hour)
	later := confirm(v2, 30*time.Hour)
	_ = confirm(v1, 80*time.Hour) // outside a 48 h window
	f.outing(p, 27*time.Hour)     // open, not confirmed

	now := f.clock.Now()
	got, err := f.svc.ConfirmedOutingsBetween(f.ctx, now, now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != soon.ID || got[1].ID != later.ID {
		t.Fatalf("want [%s %s] soonest first, got %+v", soon.ID, later.ID, got)
	}
	if got[0].VolunteerID != v1.UserID || got[0].ParticipantID != p.UserID || got[0].OrgID != "org1" || !got[0].StartsAt.Equal(soon.StartsAt) {
		t.Fatalf("fields: %+v", got[0])
	}
}
