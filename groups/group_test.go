package groups

import (
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/ids"
)

// A 22-week course from September keeps its local wall time across the
// October change to winter time: 13:00–15:00 in Stockholm is 11:00 UTC
// before 25 October 2026 and 12:00 UTC after.
func TestSessionsKeepLocalTimeAcrossDST(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	weekly := []Slot{{Weekday: "tue", Start: "13:00", End: "15:00"}, {Weekday: "thu", Start: "09:30", End: "12:00"}}
	ss, err := GenerateSessions("g", "o", "2026-09-07", 22, weekly, loc, ids.New)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 44 {
		t.Fatalf("%d sessions, want 44", len(ss))
	}
	change := time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC)
	var before, after int
	for i, s := range ss {
		l, e := s.StartsAt.In(loc), s.EndsAt.In(loc)
		want := "13:00-15:00"
		if l.Weekday() == time.Thursday {
			want = "09:30-12:00"
		} else if l.Weekday() != time.Tuesday {
			t.Fatalf("session %d on %s", i, l.Weekday())
		}
		if got := l.Format("15:04") + "-" + e.Format("15:04"); got != want {
			t.Fatalf("session %d (%s) at %s local, want %s", i, l.Format(time.RFC3339), got, want)
		}
		_, off := l.Zone()
		if s.StartsAt.Before(change) {
			before++
			if off != 2*3600 {
				t.Fatalf("session %d before the change has offset %d", i, off)
			}
		} else {
			after++
			if off != 3600 {
				t.Fatalf("session %d after the change has offset %d", i, off)
			}
		}
		if i > 0 && !ss[i-1].StartsAt.Before(s.StartsAt) {
			t.Fatalf("sessions out of order at %d", i)
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("the course does not span the change: %d before, %d after", before, after)
	}
	first, last := ss[0].StartsAt.In(loc), ss[len(ss)-1].StartsAt.In(loc)
	t.Logf("22 weeks, 44 sessions: first %s, last %s; %d before the 25 October change (UTC+2), %d after (UTC+1), all at 13:00/09:30 local",
		first.Format(time.RFC3339), last.Format(time.RFC3339), before, after)
	if first.Format("2006-01-02") != "2026-09-08" || last.Format("2006-01-02") != "2027-02-04" {
		t.Fatalf("first %s, last %s", first, last)
	}
}

func TestGroupInputRules(t *testing.T) {
	ok := func() GroupInput {
		th := 0.75
		return GroupInput{Name: "Klara Livet", Kind: KindCourse, TimeZone: "Europe/Stockholm", FirstDay: "2026-09-07", Weeks: 22,
			Weekly: []Slot{{"mon", "10:00", "12:00"}}, Capacity: 12, CompletionThreshold: &th}
	}
	in := ok()
	if _, err := in.validate(); err != nil {
		t.Fatalf("valid input refused: %v", err)
	}
	for _, c := range []struct {
		field string
		edit  func(*GroupInput)
	}{
		{"weeks", func(g *GroupInput) { g.Weeks = 0 }},
		{"weeks", func(g *GroupInput) { g.Weeks = 105 }},
		{"capacity", func(g *GroupInput) { g.Capacity = 0 }},
		{"completion_threshold", func(g *GroupInput) { v := 1.2; g.CompletionThreshold = &v }},
		{"completion_threshold", func(g *GroupInput) { v := -0.1; g.CompletionThreshold = &v }},
		{"weekly[0].end", func(g *GroupInput) { g.Weekly = []Slot{{"mon", "12:00", "10:00"}} }},
		{"weekly[1]", func(g *GroupInput) { g.Weekly = []Slot{{"mon", "10:00", "12:00"}, {"mon", "11:00", "13:00"}} }},
		{"weekly[0].weekday", func(g *GroupInput) { g.Weekly = []Slot{{"monday", "10:00", "12:00"}} }},
		{"time_zone", func(g *GroupInput) { g.TimeZone = "Mars/Olympus" }},
		{"first_day", func(g *GroupInput) { g.FirstDay = "7 sept" }},
		{"kind", func(g *GroupInput) { g.Kind = "party" }},
	} {
		in := ok()
		c.edit(&in)
		_, err := in.validate()
		f, isFault := fault.As(err)
		if !isFault || f.Kind != fault.Validation || len(f.Fields) == 0 || f.Fields[0].Field != c.field {
			t.Errorf("%s: got %v", c.field, err)
		}
	}
	// Back-to-back slots do not overlap.
	in = ok()
	in.Weekly = []Slot{{"mon", "10:00", "12:00"}, {"mon", "12:00", "13:00"}}
	if _, err := in.validate(); err != nil {
		t.Fatalf("adjacent slots refused: %v", err)
	}
}

func TestCompletionRule(t *testing.T) {
	for _, c := range []struct {
		t    Tally
		th   float64
		want bool
	}{
		{Tally{Attended: 15, Held: 20}, 0.75, true},
		{Tally{Attended: 14, Held: 20}, 0.75, false},
		{Tally{Attended: 12, Held: 20, Excused: 4}, 0.75, true}, // 12/16
		{Tally{Attended: 0, Held: 3, Excused: 3}, 0.75, false},
		{Tally{Attended: 1, Held: 2}, 0.5, true},
	} {
		if got := c.t.Completes(c.th); got != c.want {
			t.Errorf("%+v at %.2f: %v, want %v", c.t, c.th, got, c.want)
		}
	}
}

// At night too: a Sunday 22:00–24:00 slot across the October change ends
// at midnight local time every week, and a Sunday 02:30 slot on the
// March night that skips 02:00–03:00 lands an hour later, not a day off.
func TestNightSlotsAcrossDST(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Stockholm")
	ss, err := GenerateSessions("g", "o", "2026-10-12", 4, []Slot{{Weekday: "sun", Start: "22:00", End: "24:00"}}, loc, ids.New)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		l, e := s.StartsAt.In(loc), s.EndsAt.In(loc)
		if l.Format("15:04") != "22:00" || e.Format("15:04") != "00:00" || e.Sub(l) != 2*time.Hour || e.Day() == l.Day() {
			t.Fatalf("night slot %s–%s", l.Format(time.RFC3339), e.Format(time.RFC3339))
		}
	}
	ss, err = GenerateSessions("g", "o", "2027-03-22", 1, []Slot{{Weekday: "sun", Start: "02:30", End: "04:00"}}, loc, ids.New)
	if err != nil {
		t.Fatal(err)
	}
	l := ss[0].StartsAt.In(loc)
	if l.Format("2006-01-02 15:04") != "2027-03-28 03:30" || ss[0].EndsAt.Sub(ss[0].StartsAt) != 30*time.Minute {
		t.Fatalf("slot in the skipped hour: %s, %s long", l.Format(time.RFC3339), ss[0].EndsAt.Sub(ss[0].StartsAt))
	}
}
