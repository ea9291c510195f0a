package matching

import (
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

func TestCoordinatorReads(t *testing.T) {
	f := newFixture(t)
	coord := f.user(auth.RoleCoordinator, "Cora Berg")
	p := f.user(auth.RoleParticipant, "Pia Lindqvist")
	v := f.volunteer("Vera Holm")
	soon := f.outing(p, 2*time.Hour)
	f.clock.Advance(time.Minute) // "newest first" is by creation
	later := f.outing(p, 30*time.Hour)
	if _, err := f.svc.Accept(f.ctx, v, soon.ID); err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	got, err := f.svc.OutingsStarting(f.ctx, coord, []OutingStatus{StatusOpen, StatusPendingApproval}, now, now.Add(24*time.Hour), 10)
	if err != nil || len(got) != 1 || got[0].ID != soon.ID || got[0].Status != StatusPendingApproval || got[0].Note == "" {
		t.Fatalf("today: %+v %v", got, err)
	}
	if got, _ := f.svc.OutingsStarting(f.ctx, coord, []OutingStatus{StatusOpen}, now, now.Add(48*time.Hour), 10); len(got) != 1 || got[0].ID != later.ID {
		t.Fatalf("open: %+v", got)
	}
	other := auth.Identity{UserID: "c-other", Role: auth.RoleCoordinator, OrgID: "org2", Status: auth.StatusActive}
	if got, err := f.svc.OutingsStarting(f.ctx, other, []OutingStatus{StatusOpen}, now, now.Add(48*time.Hour), 10); err != nil || len(got) != 0 {
		t.Fatalf("another organisation's coordinator: %+v %v", got, err)
	}
	_, err = f.svc.OutingsStarting(f.ctx, v, []OutingStatus{StatusOpen}, now, now.Add(time.Hour), 10)
	wantKind(t, err, fault.Forbidden)
	_, err = f.svc.OutingsStarting(f.ctx, coord, []OutingStatus{StatusOpen}, now, now.Add(time.Hour), 501)
	wantKind(t, err, fault.Validation)
	_, err = f.svc.OutingsStarting(f.ctx, coord, []OutingStatus{"lost"}, now, now.Add(time.Hour), 5)
	wantKind(t, err, fault.Validation)

	mine, err := f.svc.OutingsOfMember(f.ctx, coord, p.UserID, 10)
	if err != nil || len(mine) != 2 || mine[0].ID != later.ID {
		t.Fatalf("participant's outings, newest first: %+v %v", mine, err)
	}
	if vs, err := f.svc.OutingsOfMember(f.ctx, coord, v.UserID, 10); err != nil || len(vs) != 1 || vs[0].ID != soon.ID {
		t.Fatalf("volunteer's outings: %+v %v", vs, err)
	}
	_, err = f.svc.OutingsOfMember(f.ctx, other, p.UserID, 10)
	wantKind(t, err, fault.NotFound)
	_, err = f.svc.OutingsOfMember(f.ctx, coord, coord.UserID, 10)
	wantKind(t, err, fault.NotFound)
	_, err = f.svc.OutingsOfMember(f.ctx, coord, "nobody", 10)
	wantKind(t, err, fault.NotFound)

	if fs, err := f.svc.FeedbackGivenBy(f.ctx, coord, p.UserID, 10); err != nil || len(fs) != 0 {
		t.Fatalf("no feedback yet: %v %v", fs, err)
	}
	_, err = f.svc.FeedbackGivenBy(f.ctx, other, p.UserID, 10)
	wantKind(t, err, fault.NotFound)
	_, err = f.svc.FeedbackGivenBy(f.ctx, coord, v.UserID, 10)
	wantKind(t, err, fault.NotFound)

	if sn, err := f.svc.SupportNeedsOf(f.ctx, coord, p.UserID); err != nil || sn.SupportNeeds != "" {
		t.Fatalf("support needs before any: %+v %v", sn, err)
	}
	if _, err := f.svc.SetSupportNeeds(f.ctx, coord, p.UserID, "Behöver lugn miljö"); err != nil {
		t.Fatal(err)
	}
	if sn, err := f.svc.SupportNeedsOf(f.ctx, coord, p.UserID); err != nil || sn.SupportNeeds != "Behöver lugn miljö" || sn.UpdatedBy != coord.UserID {
		t.Fatalf("support needs: %+v %v", sn, err)
	}
	_, err = f.svc.SupportNeedsOf(f.ctx, other, p.UserID)
	wantKind(t, err, fault.NotFound)
	_, err = f.svc.SupportNeedsOf(f.ctx, coord, v.UserID)
	wantKind(t, err, fault.NotFound)
}

// What two members did together: the pair's completed outings only,
// latest first, for the participant's own organisation's coordinators.
func TestOutingsTogether(t *testing.T) {
	f := newFixture(t)
	coord := f.user(auth.RoleCoordinator, "Cora Berg")
	p := f.user(auth.RoleParticipant, "Pia Lindqvist")
	v := f.volunteer("Vera Holm")
	w := f.volunteer("Wilma Ek")
	done := []HistoryEntry{{At: fixtureNow, ActorID: p.UserID, To: StatusCompleted}}
	older := f.outingDoc(p, StatusCompleted, v.UserID, fixtureNow.Add(-20*24*time.Hour), done)
	newer := f.outingDoc(p, StatusCompleted, v.UserID, fixtureNow.Add(-3*24*time.Hour), done)
	live := f.outingDoc(p, StatusConfirmed, v.UserID, fixtureNow.Add(24*time.Hour), done)
	withW := f.outingDoc(p, StatusCompleted, w.UserID, fixtureNow.Add(-2*24*time.Hour), done)
	for _, o := range []*Outing{older, newer, live, withW} {
		if err := f.svc.st.InsertOuting(f.ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.svc.OutingsTogether(f.ctx, coord, p.UserID, v.UserID, 5)
	if err != nil || len(got) != 2 || got[0].ID != newer.ID || got[1].ID != older.ID {
		t.Fatalf("together, latest first: %+v %v", got, err)
	}
	if got, err := f.svc.OutingsTogether(f.ctx, coord, p.UserID, v.UserID, 1); err != nil || len(got) != 1 || got[0].ID != newer.ID {
		t.Fatalf("together, at most 1: %+v %v", got, err)
	}
	other := auth.Identity{UserID: "c-other", Role: auth.RoleCoordinator, OrgID: "org2", Status: auth.StatusActive}
	_, err = f.svc.OutingsTogether(f.ctx, other, p.UserID, v.UserID, 5)
	wantKind(t, err, fault.NotFound)
	_, err = f.svc.OutingsTogether(f.ctx, coord, v.UserID, p.UserID, 5) // a volunteer in the participant's place
	wantKind(t, err, fault.NotFound)
	_, err = f.svc.OutingsTogether(f.ctx, v, p.UserID, v.UserID, 5)
	wantKind(t, err, fault.Forbidden)
	_, err = f.svc.OutingsTogether(f.ctx, coord, p.UserID, v.UserID, 101)
	wantKind(t, err, fault.Validation)
}
