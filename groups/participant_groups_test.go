package groups

import (
	"context"
	"testing"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

type mapDirectory map[string]auth.User

func (d mapDirectory) User(_ context.Context, id string) (auth.User, error) {
	if u, ok := d[id]; ok {
		return u, nil
	}
	return auth.User{}, fault.NotFoundf("no such user")
}

func (mapDirectory) Organisation(context.Context, string) (auth.Organisation, error) {
	return auth.Organisation{}, fault.NotFoundf("no such organisation")
}

// A coordinator sees a participant's groups as the participant does (the
// console's page of a person); another organisation's coordinator, a
// volunteer in the participant's place and a participant asking about
// someone else get nothing.
func TestParticipantGroups(t *testing.T) {
	ctx := context.Background()
	st, err := NewSQLiteStore(ctx, sqlitetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := mapDirectory{
		"p1": {ID: "p1", Role: auth.RoleParticipant, OrgID: "o1", Status: auth.StatusActive},
		"p2": {ID: "p2", Role: auth.RoleParticipant, OrgID: "o1", Status: auth.StatusActive},
		"v1": {ID: "v1", Role: auth.RoleVolunteer, OrgID: "o1", Status: auth.StatusActive},
	}
	svc, err := NewService(Config{Store: st, Directory: dir, Clock: clock.NewFake(ct0)})
	if err != nil {
		t.Fatal(err)
	}
	coord := auth.Identity{UserID: "c1", Role: auth.RoleCoordinator, OrgID: "o1", Status: auth.StatusActive}
	g, err := svc.CreateGroup(ctx, coord, "o1", GroupInput{Name: "Promenadgruppen", Kind: KindThemeGroup, TimeZone: "Europe/Stockholm",
		Place: Place{Lat: 56.67, Lon: 12.86, Description: "Stadsparken"}, FirstDay: "2026-09-07", Weeks: 4,
		Weekly: []Slot{{Weekday: "tue", Start: "13:00", End: "15:00"}}, Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range []string{"p1", "p2"} {
		if _, err := svc.Enrol(ctx, coord, g.ID, pid); err != nil {
			t.Fatal(err)
		}
	}
	page, err := svc.ParticipantGroups(ctx, coord, "p2", 10, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].Group.Name != "Promenadgruppen" || page.Items[0].Status != Waiting || page.Items[0].Position != 1 {
		t.Fatalf("p2's groups: %+v %v", page, err)
	}
	if page, err := svc.ParticipantGroups(ctx, coord, "p1", 10, ""); err != nil || len(page.Items) != 1 || page.Items[0].Status != Enrolled {
		t.Fatalf("p1's groups: %+v %v", page, err)
	}
	other := auth.Identity{UserID: "c2", Role: auth.RoleCoordinator, OrgID: "o2", Status: auth.StatusActive}
	for name, c := range map[string]struct {
		who  auth.Identity
		pid  string
		kind fault.Kind
	}{
		"another organisation": {other, "p1", fault.NotFound},
		"a volunteer":          {coord, "v1", fault.NotFound},
		"nobody":               {coord, "x9", fault.NotFound},
		"a participant asking": {auth.Identity{UserID: "p1", Role: auth.RoleParticipant, OrgID: "o1", Status: auth.StatusActive}, "p2", fault.Forbidden},
	} {
		if _, err := svc.ParticipantGroups(ctx, c.who, c.pid, 10, ""); fault.KindOf(err) != c.kind {
			t.Errorf("%s: %v, want %v", name, err, c.kind)
		}
	}
	if _, err := svc.ParticipantGroups(ctx, coord, "p1", 0, ""); fault.KindOf(err) != fault.Validation {
		t.Errorf("limit 0: %v", err)
	}
}
