package groups

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// benchDir knows every "p…" id as an active participant of org1.
type benchDir struct{}

func (benchDir) User(_ context.Context, id string) (auth.User, error) {
	return auth.User{ID: id, Role: auth.RoleParticipant, OrgID: "org1", Status: auth.StatusActive}, nil
}

func (benchDir) Organisation(_ context.Context, id string) (auth.Organisation, error) {
	if id != "org1" {
		return auth.Organisation{}, fault.NotFoundf("no such organisation")
	}
	return auth.Organisation{ID: id, TimeZone: "Europe/Stockholm"}, nil
}

var bench0 = time.Date(2026, 8, 20, 7, 0, 0, 0, time.UTC)

func benchService(b *testing.B) (*Service, *clock.Fake) {
	st, err := NewSQLiteStore(context.Background(), sqlitetest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	clk := clock.NewFake(bench0)
	svc, err := NewService(Config{Store: st, Directory: benchDir{}, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	return svc, clk
}

var (
	coordinator = auth.Identity{UserID: "c1", Role: auth.RoleCoordinator, OrgID: "org1", Status: auth.StatusActive}
	courseInput = func() GroupInput {
		return GroupInput{Name: "Klara Livet", Kind: KindCourse, FirstDay: "2026-09-07", Weeks: 22, Capacity: 20,
			Weekly: []Slot{{Weekday: "mon", Start: "13:00", End: "15:00"}}}
	}
)

// Generating (and storing) the sessions of 200 courses of 22 weeks.
func BenchmarkCreate200Courses(b *testing.B) {
	svc, _ := benchService(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		for range 200 {
			if _, err := svc.CreateGroup(ctx, coordinator, "org1", courseInput()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*200), "µs/group")
}

// Only the generation: 200 × 22 weeks × 2 slots in Europe/Stockholm.
func BenchmarkGenerateSessions200x22(b *testing.B) {
	loc, _ := time.LoadLocation("Europe/Stockholm")
	weekly := []Slot{{"mon", "13:00", "15:00"}, {"thu", "09:30", "12:00"}}
	for range b.N {
		for range 200 {
			if _, err := GenerateSessions("g", "org1", "2026-09-07", 22, weekly, loc, ids.New); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// A participant's groups (one page of 20) and each one's next sessions,
// in an organisation of 1 000 groups of 5 enrolled each.
func BenchmarkMyGroupsAt1000Groups(b *testing.B) {
	svc, _ := benchService(b)
	ctx := context.Background()
	me := auth.Identity{UserID: "pme", Role: auth.RoleParticipant, OrgID: "org1", Status: auth.StatusActive}
	for i := range 1000 {
		g, err := svc.CreateGroup(ctx, coordinator, "org1", courseInput())
		if err != nil {
			b.Fatal(err)
		}
		for j := range 5 {
			if _, err := svc.st.Enrol(ctx, Enrolment{ID: ids.New(), GroupID: g.ID, ParticipantID: fmt.Sprintf("p%d-%d", i, j), At: bench0}, 20); err != nil {
				b.Fatal(err)
			}
		}
		if i%50 == 0 {
			if _, err := svc.Enrol(ctx, me, g.ID, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		page, err := svc.MyGroups(ctx, me, 20, "")
		if err != nil || len(page.Items) != 20 {
			b.Fatalf("%d items, %v", len(page.Items), err)
		}
		for _, it := range page.Items {
			if _, err := svc.Sessions(ctx, me, it.Group.ID, 5, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// Marking attendance of a 20-person session.
func BenchmarkAttendance20(b *testing.B) {
	svc, clk := benchService(b)
	ctx := context.Background()
	g, err := svc.CreateGroup(ctx, coordinator, "org1", courseInput())
	if err != nil {
		b.Fatal(err)
	}
	var items []MarkInput
	for j := range 20 {
		pid := fmt.Sprintf("p%d", j)
		if _, err := svc.Enrol(ctx, coordinator, g.ID, pid); err != nil {
			b.Fatal(err)
		}
		items = append(items, MarkInput{ParticipantID: pid, Mark: MarkPresent})
	}
	page, err := svc.Sessions(ctx, coordinator, g.ID, 1, "")
	if err != nil {
		b.Fatal(err)
	}
	clk.Set(page.Items[0].StartsAt.Add(time.Hour))
	b.ResetTimer()
	for i := range b.N {
		items[i%20].Mark = []string{MarkPresent, MarkAbsent, MarkExcused}[i%3]
		if _, err := svc.PutAttendance(ctx, coordinator, g.ID, page.Items[0].ID, items); err != nil {
			b.Fatal(err)
		}
	}
}
