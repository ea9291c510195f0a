package groups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

func TestStoreSQLite(t *testing.T) { testStore(t, sqlitetest.Opener(NewSQLiteStore)) }

func TestStoreMongo(t *testing.T) { testStore(t, dbtest.Opener(NewMongoStore)) }

// ct0 is the contract suite's "now".
var ct0 = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

// newGroup stores a group of capacity with weeks weekly sessions.
func newGroup(t *testing.T, st Store, org string, capacity, weeks int) (*Group, []Session) {
	t.Helper()
	loc, _ := time.LoadLocation("Europe/Stockholm")
	g := &Group{ID: ids.New(), OrgID: org, Name: "Studiecirkel", Kind: KindStudyCircle, TimeZone: "Europe/Stockholm",
		FirstDay: "2026-09-07", Weeks: weeks, Weekly: []Slot{{Weekday: "tue", Start: "13:00", End: "15:00"}},
		Capacity: capacity, CompletionThreshold: 0.75, CreatedAt: ct0}
	ss, err := GenerateSessions(g.ID, org, g.FirstDay, weeks, g.Weekly, loc, ids.New)
	if err != nil {
		t.Fatal(err)
	}
	g.StartsAt, g.EndsAt = span(ss)
	if err := st.CreateGroup(context.Background(), g, ss); err != nil {
		t.Fatal(err)
	}
	return g, ss
}

func enrol(t *testing.T, st Store, g *Group, pid string) Enrolment {
	t.Helper()
	e, err := st.Enrol(context.Background(), Enrolment{ID: ids.New(), GroupID: g.ID, ParticipantID: pid, At: ct0}, g.Capacity)
	if err != nil {
		t.Fatalf("enrol %s: %v", pid, err)
	}
	return e
}

func testStore(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	t.Run("group and sessions read back", func(t *testing.T) {
		st := open(t)
		g, ss := newGroup(t, st, "org1", 3, 4)
		got, err := st.Group(ctx, g.ID)
		if err != nil || got.Name != g.Name || got.Weeks != 4 || !got.StartsAt.Equal(ss[0].StartsAt) || !got.EndsAt.Equal(ss[3].EndsAt) || len(got.Weekly) != 1 {
			t.Fatalf("group %+v, %v", got, err)
		}
		if _, err := st.Group(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing group: %v", err)
		}
		list, err := st.Sessions(ctx, g.ID)
		if err != nil || len(list) != 4 || !list[1].StartsAt.Equal(ss[1].StartsAt) || list[1].Status != SessionScheduled {
			t.Fatalf("sessions %+v, %v", list, err)
		}
		one, err := st.Session(ctx, ss[2].ID)
		if err != nil || one.GroupID != g.ID || !one.EndsAt.Equal(ss[2].EndsAt) {
			t.Fatalf("session %+v, %v", one, err)
		}
		moved := *one
		moved.StartsAt, moved.EndsAt, moved.Status, moved.Reason = one.StartsAt.Add(time.Hour), one.EndsAt.Add(time.Hour), SessionMoved, "lokalen"
		if err := st.UpdateSession(ctx, moved, g.StartsAt, g.EndsAt.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		one, _ = st.Session(ctx, ss[2].ID)
		got, _ = st.Group(ctx, g.ID)
		if one.Status != SessionMoved || one.Reason != "lokalen" || !one.StartsAt.Equal(moved.StartsAt) || !got.EndsAt.Equal(g.EndsAt.Add(time.Hour)) {
			t.Fatalf("after move: %+v, group ends %v", one, got.EndsAt)
		}
		if err := st.UpdateSession(ctx, Session{ID: "nope", GroupID: g.ID}, g.StartsAt, g.EndsAt); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update of a missing session: %v", err)
		}
	})
	t.Run("organisation list pages and GroupsByID", func(t *testing.T) {
		st := open(t)
		var idsA []string
		for range 3 {
			g, _ := newGroup(t, st, "orgA", 2, 1)
			idsA = append(idsA, g.ID)
		}
		newGroup(t, st, "orgB", 2, 1)
		slices.Sort(idsA)
		p1, err := st.OrgGroups(ctx, "orgA", "", 2)
		if err != nil || len(p1) != 2 || p1[0].ID != idsA[0] {
			t.Fatalf("page 1 %v %v", p1, err)
		}
		p2, _ := st.OrgGroups(ctx, "orgA", p1[1].ID, 2)
		if len(p2) != 1 || p2[0].ID != idsA[2] {
			t.Fatalf("page 2 %v", p2)
		}
		byID, _ := st.GroupsByID(ctx, []string{idsA[1], "nope"})
		if len(byID) != 1 || byID[0].ID != idsA[1] {
			t.Fatalf("by id %v", byID)
		}
	})
	t.Run("enrol, wait, duplicate, leave promotes the first waiting", func(t *testing.T) {
		st := open(t)
		g, _ := newGroup(t, st, "org1", 2, 2)
		if e := enrol(t, st, g, "p1"); e.Status != Enrolled {
			t.Fatalf("p1 %+v", e)
		}
		enrol(t, st, g, "p2")
		w := enrol(t, st, g, "p3")
		w4 := enrol(t, st, g, "p4")
		if w.Status != Waiting || w.Position != 1 || w4.Position != 2 {
			t.Fatalf("waiting %+v %+v", w, w4)
		}
		if _, err := st.Enrol(ctx, Enrolment{ID: ids.New(), GroupID: g.ID, ParticipantID: "p3", At: ct0}, 2); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("double enrolment: %v", err)
		}
		got, _ := st.Group(ctx, g.ID)
		if got.EnrolledCount != 2 || got.WaitingCount != 2 {
			t.Fatalf("counts %d %d", got.EnrolledCount, got.WaitingCount)
		}
		left, promoted, err := st.Leave(ctx, g.ID, "p1", ct0.Add(time.Hour))
		if err != nil || left.Status != Left || promoted == nil || promoted.ParticipantID != "p3" || promoted.Status != Enrolled {
			t.Fatalf("leave: %+v %+v %v", left, promoted, err)
		}
		// The promoted's place begins at the promotion (completion counts from it).
		if e3, _ := st.Enrolment(ctx, g.ID, "p3"); !promoted.At.Equal(ct0.Add(time.Hour)) || e3 == nil || !e3.At.Equal(ct0.Add(time.Hour)) {
			t.Fatalf("promotion time: %+v %+v", promoted, e3)
		}
		e4, _ := st.Enrolment(ctx, g.ID, "p4")
		if e4.Status != Waiting || e4.Position != 1 {
			t.Fatalf("p4 moved up: %+v", e4)
		}
		// A waiting participant leaving promotes nobody.
		if _, promoted, err := st.Leave(ctx, g.ID, "p4", ct0.Add(time.Hour)); err != nil || promoted != nil {
			t.Fatalf("waiting leaves: %+v %v", promoted, err)
		}
		if _, _, err := st.Leave(ctx, g.ID, "p4", ct0.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second leave: %v", err)
		}
		// Having left, one may enrol again: a seat is free now.
		if _, _, err := st.Leave(ctx, g.ID, "p2", ct0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if e := enrol(t, st, g, "p1"); e.Status != Enrolled {
			t.Fatalf("re-enrol %+v", e)
		}
		list, _ := st.Enrolments(ctx, g.ID, 0, 100)
		var got2 []string
		for _, e := range list {
			got2 = append(got2, e.ParticipantID+":"+e.Status)
		}
		want := []string{"p1:left", "p2:left", "p3:enrolled", "p4:left", "p1:enrolled"}
		if !slices.Equal(got2, want) {
			t.Fatalf("enrolments %v, want %v", got2, want)
		}
		mine, _ := st.EnrolmentsOf(ctx, "p1", "", 10)
		if len(mine) != 1 || mine[0].Status != Enrolled {
			t.Fatalf("p1's enrolments %+v", mine)
		}
	})
	t.Run("race: capacity 1, 20 at once: one enrolled, 19 waiting in order", func(t *testing.T) {
		st := open(t)
		g, _ := newGroup(t, st, "org1", 1, 1)
		var wg sync.WaitGroup
		results := make([]Enrolment, 20)
		errs := make([]error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = st.Enrol(ctx, Enrolment{ID: ids.New(), GroupID: g.ID, ParticipantID: fmt.Sprintf("p%02d", i), At: ct0}, 1)
			}()
		}
		wg.Wait()
		enrolled := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("enrolment %d: %v", i, err)
			}
			if results[i].Status == Enrolled {
				enrolled++
			}
		}
		if enrolled != 1 {
			t.Fatalf("%d enrolled, want 1", enrolled)
		}
		list, _ := st.Enrolments(ctx, g.ID, 0, 100)
		pos := 0
		var prevSeq int64
		for _, e := range list {
			if e.Seq <= prevSeq {
				t.Fatalf("sequence not increasing: %v", list)
			}
			prevSeq = e.Seq
			if e.Status == Waiting {
				pos++
				if e.Position != pos {
					t.Fatalf("%s at position %d, want %d", e.ParticipantID, e.Position, pos)
				}
			}
		}
		if pos != 19 {
			t.Fatalf("%d waiting, want 19", pos)
		}
		got, _ := st.Group(ctx, g.ID)
		if got.EnrolledCount != 1 || got.WaitingCount != 19 {
			t.Fatalf("counts %d/%d", got.EnrolledCount, got.WaitingCount)
		}
		// The enrolled one leaves: the first waiting (lowest seq) is promoted.
		var first Enrolment
		var holder string
		for _, e := range list {
			if e.Status == Enrolled {
				holder = e.ParticipantID
			} else if first.ID == "" {
				first = e
			}
		}
		_, promoted, err := st.Leave(ctx, g.ID, holder, ct0.Add(time.Hour))
		if err != nil || promoted == nil || promoted.ParticipantID != first.ParticipantID {
			t.Fatalf("promoted %+v (want %s), %v", promoted, first.ParticipantID, err)
		}
		t.Logf("20 concurrent enrolments at capacity 1: 1 enrolled (%s), 19 waiting at positions 1..19; %s promoted on leave", holder, first.ParticipantID)
	})
	t.Run("marks replace, decide once, escorts, erase", func(t *testing.T) {
		st := open(t)
		g, ss := newGroup(t, st, "org1", 5, 3)
		enrol(t, st, g, "p1")
		enrol(t, st, g, "p2")
		if err := st.PutMarks(ctx, []Mark{{SessionID: ss[0].ID, GroupID: g.ID, ParticipantID: "p1", Mark: MarkAbsent},
			{SessionID: ss[0].ID, GroupID: g.ID, ParticipantID: "p2", Mark: MarkPresent}}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutMarks(ctx, []Mark{{SessionID: ss[0].ID, GroupID: g.ID, ParticipantID: "p1", Mark: MarkPresent}}); err != nil {
			t.Fatal(err)
		}
		marks, _ := st.Marks(ctx, g.ID)
		if len(marks) != 2 || marks[0].Mark != MarkPresent || marks[1].Mark != MarkPresent {
			t.Fatalf("marks %+v", marks)
		}
		done, err := st.Decide(ctx, g.ID, map[string]string{"p1": Completed, "p2": NotCompleted})
		if err != nil || !done {
			t.Fatalf("decide %v %v", done, err)
		}
		if done, _ := st.Decide(ctx, g.ID, map[string]string{"p1": NotCompleted}); done {
			t.Fatal("decided twice")
		}
		e1, _ := st.Enrolment(ctx, g.ID, "p1")
		e2, _ := st.Enrolment(ctx, g.ID, "p2")
		got, _ := st.Group(ctx, g.ID)
		if e1.Status != Completed || e2.Status != NotCompleted || !got.Decided {
			t.Fatalf("after decide %s %s %v", e1.Status, e2.Status, got.Decided)
		}
		for _, l := range []EscortLink{{ss[0].ID, g.ID, "p1", "o1"}, {ss[1].ID, g.ID, "p1", "o2"}, {ss[1].ID, g.ID, "p1", "o2"}, {ss[1].ID, g.ID, "p2", "o3"}} {
			if err := st.LinkEscort(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		links, _ := st.Escorts(ctx, ss[1].ID)
		mine, _ := st.EscortsOf(ctx, g.ID, "p1")
		if len(links) != 2 || len(mine) != 2 {
			t.Fatalf("escorts %+v, p1's %+v", links, mine)
		}
		if l, err := st.EscortByOuting(ctx, "o3"); err != nil || l.SessionID != ss[1].ID || l.ParticipantID != "p2" || l.GroupID != g.ID {
			t.Fatalf("escort of o3: %+v %v", l, err)
		}
		if _, err := st.EscortByOuting(ctx, "o9"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("escort of no outing: %v", err)
		}
		idsBefore, err := st.EnrolmentIDsOf(ctx, "p1", 10)
		if err != nil || len(idsBefore) != 1 || idsBefore[0] != e1.ID {
			t.Fatalf("p1's enrolment ids %v %v, want [%s]", idsBefore, err, e1.ID)
		}
		if err := st.EraseParticipant(ctx, "p1", "erased-t1"); err != nil {
			t.Fatal(err)
		}
		mine, _ = st.EscortsOf(ctx, g.ID, "p1")
		marks, _ = st.Marks(ctx, g.ID)
		if e, err := st.Enrolment(ctx, g.ID, "p1"); !errors.Is(err, ErrNotFound) || len(mine) != 0 || len(marks) != 2 {
			t.Fatalf("after erase: %+v %v, escorts %v, marks %v", e, err, mine, marks)
		}
		for _, m := range marks {
			if m.ParticipantID == "p1" {
				t.Fatalf("p1's mark kept their id: %+v", marks)
			}
		}
		if ids, _ := st.EnrolmentIDsOf(ctx, "p1", 10); len(ids) != 0 {
			t.Fatalf("p1 still has enrolments %v", ids)
		}
		if e, err := st.Enrolment(ctx, g.ID, "erased-t1"); err != nil || e.ID != e1.ID || e.Status != Completed {
			t.Fatalf("tombstoned enrolment %+v %v, want %s completed", e, err, e1.ID)
		}
	})

	t.Run("period enrolments: overlapping groups, counted statuses, bounded", func(t *testing.T) {
		st := open(t)
		g, _ := newGroup(t, st, "orgP", 1, 3) // 2026-09-08 .. 2026-09-22
		other, _ := newGroup(t, st, "orgQ", 3, 3)
		a := enrol(t, st, g, "pa")
		enrol(t, st, g, "pw") // waiting: not counted
		enrol(t, st, other, "px")
		in := func(from, to time.Time, limit int) []Enrolment {
			t.Helper()
			got, err := st.PeriodEnrolments(ctx, "orgP", from, to, limit)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		sep := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
		if got := in(sep, sep.AddDate(0, 1, 0), 10); len(got) != 1 || got[0].ID != a.ID || got[0].Status != Enrolled {
			t.Fatalf("september: %+v, want pa's enrolment", got)
		}
		if got := in(sep.AddDate(0, 0, 20), sep.AddDate(0, 0, 21), 10); len(got) != 1 {
			t.Fatalf("a day inside: %+v", got)
		}
		if got := in(sep.AddDate(0, 1, 0), sep.AddDate(0, 2, 0), 10); len(got) != 0 {
			t.Fatalf("october (after the group): %+v", got)
		}
		if got := in(sep.AddDate(0, -1, 0), sep, 10); len(got) != 0 {
			t.Fatalf("august (before the group): %+v", got)
		}
		if _, err := st.Decide(ctx, g.ID, map[string]string{"pa": Completed}); err != nil {
			t.Fatal(err)
		}
		if got := in(sep, sep.AddDate(0, 1, 0), 10); len(got) != 1 || got[0].Status != Completed {
			t.Fatalf("after decide: %+v", got)
		}
		if _, _, err := st.Leave(ctx, g.ID, "pw", sep); err != nil {
			t.Fatal(err)
		}
		if got := in(sep, sep.AddDate(0, 1, 0), 10); len(got) != 1 {
			t.Fatalf("a left waiting place counted: %+v", got)
		}
		if got := in(sep, sep.AddDate(0, 1, 0), 0); len(got) != 0 {
			t.Fatalf("limit 0 gave %+v", got)
		}
	})
}
