package availability

import (
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustWeek(t *testing.T, s Spec) *Week {
	t.Helper()
	w, err := Compile(s)
	if err != nil {
		t.Fatalf("compile %+v: %v", s, err)
	}
	return w
}

// at is a local wall time in loc, given as "2006-01-02 15:04".
func at(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Each of the four clock changes of 2026 and 2027 in Europe/Stockholm falls
// on a Sunday. A Sunday 09:00–12:00 slot must mean 09:00–12:00 on the
// volunteer's clock that day: the checks pass the outing as UTC instants, so
// a slot turned into instants with the wrong day's offset is off by an hour
// and fails one of the edge cases.
func TestCoversAcrossStockholmClockChanges(t *testing.T) {
	sto := mustZone(t, "Europe/Stockholm")
	w := mustWeek(t, Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"sun", "09:00", "12:00"}}})
	days := map[string]string{
		"2026 spring forward": "2026-03-29",
		"2026 fall back":      "2026-10-25",
		"2027 spring forward": "2027-03-28",
		"2027 fall back":      "2027-10-31",
	}
	for name, day := range days {
		// Make sure the test itself is about a real change: the offset at
		// 00:30 and at 12:00 that day differ.
		_, offNight := at(t, sto, day+" 00:30").Zone()
		_, offNoon := at(t, sto, day+" 12:00").Zone()
		if offNight == offNoon {
			t.Fatalf("%s: %s is not a clock change day in Europe/Stockholm", name, day)
		}
		cases := []struct {
			from, to string
			want     bool
		}{
			{"09:00", "12:00", true},
			{"10:00", "11:00", true},
			{"08:00", "09:00", false},
			{"08:59", "10:00", false},
			{"11:00", "12:01", false},
			{"12:00", "13:00", false},
		}
		for _, c := range cases {
			start := at(t, sto, day+" "+c.from).UTC()
			end := at(t, sto, day+" "+c.to).UTC()
			if got := w.Covers(start, end); got != c.want {
				t.Errorf("%s %s %s–%s (UTC %s–%s): covers=%v, want %v", name, day, c.from, c.to,
					start.Format("15:04"), end.Format("15:04"), got, c.want)
			}
		}
	}
}

// A night slot across the spring-forward gap is three hours long, not four,
// and one across the fall-back repeat is four, not three.
func TestNightSlotsAcrossClockChanges(t *testing.T) {
	sto := mustZone(t, "Europe/Stockholm")
	w := mustWeek(t, Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"sun", "01:00", "04:00"}}})

	spring := at(t, sto, "2026-03-29 01:00")
	if got := at(t, sto, "2026-03-29 04:00").Sub(spring); got != 2*time.Hour {
		t.Fatalf("setup: 01:00–04:00 on 2026-03-29 lasts %v", got)
	}
	if !w.Covers(spring, spring.Add(2*time.Hour)) {
		t.Error("spring: the whole (2 h) slot should be covered")
	}
	if w.Covers(spring, spring.Add(3*time.Hour)) {
		t.Error("spring: 3 h from 01:00 ends at 05:00 local and must not be covered")
	}

	fall := at(t, sto, "2026-10-25 01:00")
	if !w.Covers(fall, fall.Add(4*time.Hour)) {
		t.Error("fall: the slot 01:00–04:00 lasts 4 real hours that day and should cover them")
	}
	// 02:30 the second time (CET) is 01:30 UTC.
	second := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	if !w.Covers(second, second.Add(time.Hour)) {
		t.Error("fall: 02:30–03:30 CET should be covered")
	}
	if w.Covers(fall.Add(-time.Minute), fall.Add(time.Hour)) {
		t.Error("fall: starting 00:59 must not be covered")
	}
}

func TestMidnightSpansAndTwentyFour(t *testing.T) {
	sto := mustZone(t, "Europe/Stockholm")
	joined := mustWeek(t, Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{
		{"mon", "20:00", "24:00"}, {"tue", "00:00", "02:00"},
		{"sun", "22:00", "24:00"}, {"mon", "00:00", "01:00"},
	}})
	alone := mustWeek(t, Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"mon", "20:00", "24:00"}}})
	// 2026-06-01 is a Monday.
	cases := []struct {
		name     string
		w        *Week
		from, to string
		want     bool
	}{
		{"mon 23:00 to tue 01:00 over joined slots", joined, "2026-06-01 23:00", "2026-06-02 01:00", true},
		{"to tue 02:00 exactly", joined, "2026-06-01 20:00", "2026-06-02 02:00", true},
		{"past the joined window", joined, "2026-06-01 23:00", "2026-06-02 02:01", false},
		{"week wrap sun 23:00 to mon 00:30", joined, "2026-05-31 23:00", "2026-06-01 00:30", true},
		{"without tuesday's slot", alone, "2026-06-01 23:00", "2026-06-02 01:00", false},
		{"ending at 24:00", alone, "2026-06-01 23:00", "2026-06-02 00:00", true},
		{"one minute past 24:00", alone, "2026-06-01 23:00", "2026-06-02 00:01", false},
	}
	for _, c := range cases {
		if got := c.w.Covers(at(t, sto, c.from), at(t, sto, c.to)); got != c.want {
			t.Errorf("%s: covers=%v, want %v", c.name, got, c.want)
		}
	}
}

func TestAbsences(t *testing.T) {
	sto := mustZone(t, "Europe/Stockholm")
	w := mustWeek(t, Spec{
		TimeZone: "Europe/Stockholm",
		Weekly:   []SlotSpec{{"mon", "09:00", "17:00"}},
		Exceptions: []Exception{
			{From: "2026-06-01T11:00:00+02:00", To: "2026-06-01T13:00:00+02:00"}, // a dentist
			{From: "2026-07-01T00:00:00+02:00", To: "2026-08-01T00:00:00+02:00"}, // holiday
			{From: "2026-06-15T09:00:00Z", To: "2026-06-15T10:00:00Z"},           // 11:00–12:00 local, given in UTC
			{From: "2026-06-22T00:00:00+02:00", To: "2026-06-22T09:30:00+02:00"}, // the morning
		},
	})
	cases := []struct {
		from, to string
		want     bool
	}{
		{"2026-06-01 09:00", "2026-06-01 11:00", true},  // ends as the absence begins
		{"2026-06-01 10:00", "2026-06-01 11:01", false}, // overlaps it
		{"2026-06-01 13:00", "2026-06-01 15:00", true},  // starts as it ends
		{"2026-06-08 10:00", "2026-06-08 14:00", true},  // another Monday
		{"2026-07-13 10:00", "2026-07-13 11:00", false}, // on holiday
		{"2026-08-03 10:00", "2026-08-03 11:00", true},  // back
		{"2026-06-15 10:30", "2026-06-15 11:30", false},
		{"2026-06-22 09:00", "2026-06-22 10:00", false},
		{"2026-06-22 09:30", "2026-06-22 10:00", true},
	}
	for _, c := range cases {
		if got := w.Covers(at(t, sto, c.from), at(t, sto, c.to)); got != c.want {
			t.Errorf("%s–%s: covers=%v, want %v", c.from, c.to, got, c.want)
		}
	}
}

// A volunteer in New York, outings written in Stockholm time. Between the
// US change (2026-03-08) and the EU one (2026-03-29) the two clocks are five
// hours apart instead of six.
func TestVolunteerInAnotherZone(t *testing.T) {
	sto := mustZone(t, "Europe/Stockholm")
	w := mustWeek(t, Spec{TimeZone: "America/New_York", Weekly: []SlotSpec{{"mon", "09:00", "12:00"}}})
	cases := []struct {
		from, to string
		want     bool
	}{
		{"2026-03-02 15:00", "2026-03-02 18:00", true},  // both on winter time: 6 h apart
		{"2026-03-02 14:00", "2026-03-02 17:00", false}, // 08:00 in New York
		{"2026-03-16 14:00", "2026-03-16 17:00", true},  // US summer, EU winter: 5 h
		{"2026-03-16 15:00", "2026-03-16 18:00", false},
		{"2026-06-01 15:00", "2026-06-01 18:00", true}, // both on summer time
	}
	for _, c := range cases {
		if got := w.Covers(at(t, sto, c.from), at(t, sto, c.to)); got != c.want {
			t.Errorf("%s–%s Stockholm: covers=%v, want %v", c.from, c.to, got, c.want)
		}
	}
	if w.Location().String() != "America/New_York" {
		t.Fatalf("location %s", w.Location())
	}
}

func TestSlack(t *testing.T) {
	sto := mustZone(t, "Europe/Stockholm")
	w := mustWeek(t, Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{
		{"mon", "09:00", "17:00"}, {"mon", "20:00", "24:00"}, {"tue", "00:00", "02:00"},
	}})
	cases := []struct {
		from, to string
		want     time.Duration
	}{
		{"2026-06-01 10:00", "2026-06-01 12:00", time.Hour},
		{"2026-06-01 09:00", "2026-06-01 12:00", 0},
		{"2026-06-01 13:00", "2026-06-01 14:00", 3 * time.Hour},
		{"2026-06-01 21:00", "2026-06-01 23:00", time.Hour},        // 1 h before, 3 h after (joined)
		{"2026-06-01 23:00", "2026-06-02 00:30", 90 * time.Minute}, // 3 h before, 1.5 h after
		{"2026-06-01 16:00", "2026-06-01 18:00", 0},                // not covered
	}
	for _, c := range cases {
		if got := w.Slack(at(t, sto, c.from), at(t, sto, c.to)); got != c.want {
			t.Errorf("%s–%s: slack %v, want %v", c.from, c.to, got, c.want)
		}
	}
	var nilWeek *Week
	if nilWeek.Covers(time.Now(), time.Now().Add(time.Hour)) {
		t.Error("no availability covers nothing")
	}
}

func TestTouchingSlotsAreValidAndJoin(t *testing.T) {
	sto := mustZone(t, "Europe/Stockholm")
	w := mustWeek(t, Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"wed", "12:00", "14:00"}, {"wed", "09:00", "12:00"}}})
	if !w.Covers(at(t, sto, "2026-06-03 11:00"), at(t, sto, "2026-06-03 13:00")) {
		t.Fatal("touching slots should join")
	}
}

func TestCompileNamesTheBrokenField(t *testing.T) {
	ok := []SlotSpec{{"mon", "09:00", "12:00"}}
	cases := []struct {
		name  string
		spec  Spec
		field string
	}{
		{"reversed", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"mon", "09:00", "12:00"}, {"tue", "14:00", "13:00"}}}, "weekly[1].end"},
		{"empty slot", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"tue", "14:00", "14:00"}}}, "weekly[0].end"},
		{"overlap", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"mon", "09:00", "12:00"}, {"tue", "09:00", "12:00"}, {"mon", "11:00", "13:00"}}}, "weekly[2].start"},
		{"contained", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"fri", "08:00", "20:00"}, {"fri", "10:00", "11:00"}}}, "weekly[1].start"},
		{"weekday", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"monday", "09:00", "12:00"}}}, "weekly[0].weekday"},
		{"short hour", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"mon", "9:00", "12:00"}}}, "weekly[0].start"},
		{"start 24:00", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"mon", "24:00", "24:00"}}}, "weekly[0].start"},
		{"end 24:01", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"mon", "20:00", "24:01"}}}, "weekly[0].end"},
		{"end 00:00", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"mon", "20:00", "00:00"}}}, "weekly[0].end"},
		{"minutes", Spec{TimeZone: "Europe/Stockholm", Weekly: []SlotSpec{{"mon", "09:60", "12:00"}}}, "weekly[0].start"},
		{"zone", Spec{TimeZone: "Europe/Halmstad", Weekly: ok}, "time_zone"},
		{"local zone", Spec{TimeZone: "Local", Weekly: ok}, "time_zone"},
		{"no zone", Spec{Weekly: ok}, "time_zone"},
		{"absence reversed", Spec{TimeZone: "Europe/Stockholm", Weekly: ok, Exceptions: []Exception{{From: "2026-07-02T00:00:00Z", To: "2026-07-01T00:00:00Z"}}}, "exceptions[0].to"},
		{"absence time", Spec{TimeZone: "Europe/Stockholm", Weekly: ok, Exceptions: []Exception{{From: "2026-07-02", To: "2026-07-03T00:00:00Z"}}}, "exceptions[0].from"},
		{"too many", Spec{TimeZone: "Europe/Stockholm", Weekly: make([]SlotSpec, MaxSlots+1)}, "weekly"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.spec)
			f, ok := fault.As(err)
			if !ok || f.Kind != fault.Validation {
				t.Fatalf("want a validation fault, got %v", err)
			}
			for _, fe := range f.Fields {
				if fe.Field == c.field {
					return
				}
			}
			t.Fatalf("fields %+v do not name %q", f.Fields, c.field)
		})
	}
}
