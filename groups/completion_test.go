package groups

import (
	"context"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// noDirectory knows nobody: these tests give time zones and enrol
// participants themselves.
type noDirectory struct{}

func (noDirectory) User(context.Context, string) (auth.User, error) {
	return auth.User{}, fault.NotFoundf("no such user")
}
func (noDirectory) Organisation(context.Context, string) (auth.Organisation, error) {
	return auth.Organisation{}, fault.NotFoundf("no such organisation")
}

func newTestService(t *testing.T, clk clock.Clock) *Service {
	t.Helper()
	st, err := NewSQLiteStore(context.Background(), sqlitetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(Config{Store: st, Directory: noDirectory{}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// A participant promoted after two of four sessions is judged on the two
// held since: present at both, they complete (over all four they would not).
func TestCompletionCountsSessionsSincePlace(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(ct0)
	svc := newTestService(t, clk)
	coord := auth.Identity{UserID: "c1", Role: auth.RoleCoordinator, OrgID: "o1", Status: auth.StatusActive}
	p1 := auth.Identity{UserID: "p1", Role: auth.RoleParticipant, OrgID: "o1", Status: auth.StatusActive}
	p2 := auth.Identity{UserID: "p2", Role: auth.RoleParticipant, OrgID: "o1", Status: auth.StatusActive}
	g, err := svc.CreateGroup(ctx, coord, "o1", GroupInput{Name: "Studiecirkel", Kind: KindStudyCircle, TimeZone: "Europe/Stockholm",
		Place: Place{Lat: 56.67, Lon: 12.86, Description: "Biblioteket"}, FirstDay: "2026-09-07", Weeks: 4,
		Weekly: []Slot{{Weekday: "tue", Start: "13:00", End: "15:00"}}, Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := svc.Enrol(ctx, p1, g.ID, ""); err != nil || e.Status != Enrolled {
		t.Fatalf("p1: %+v %v", e, err)
	}
	if e, err := svc.Enrol(ctx, p2, g.ID, ""); err != nil || e.Status != Waiting {
		t.Fatalf("p2: %+v %v", e, err)
	}
	sessions, err := svc.st.Sessions(ctx, g.ID)
	if err != nil || len(sessions) != 4 {
		t.Fatalf("sessions %d %v", len(sessions), err)
	}
	mark := func(i int, pid string) {
		t.Helper()
		clk.Set(sessions[i].StartsAt.Add(30 * time.Minute)) // before the end: a finished group is decided at once
		if _, err := svc.PutAttendance(ctx, coord, g.ID, sessions[i].ID, []MarkInput{{ParticipantID: pid, Mark: MarkPresent}}); err != nil {
			t.Fatal(err)
		}
	}
	mark(0, "p1")
	mark(1, "p1")
	if err := svc.Leave(ctx, p1, g.ID, "p1"); err != nil {
		t.Fatal(err)
	}
	mark(2, "p2")
	mark(3, "p2")
	clk.Advance(24 * time.Hour)
	page, err := svc.MyGroups(ctx, p2, 10, "")
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("my groups %+v %v", page, err)
	}
	if got := page.Items[0]; got.Held != 2 || got.Attended != 2 || got.Status != Completed {
		t.Fatalf("promoted after two sessions: held %d attended %d status %s, want 2 2 completed", got.Held, got.Attended, got.Status)
	}
	list, err := svc.Enrolments(ctx, coord, g.ID, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.ParticipantID == "p2" && (e.Held != 2 || e.Status != Completed) {
			t.Fatalf("coordinator's list: %+v", e)
		}
	}
}
