package availability

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// randomSpec is a valid week of up to eight slots on whole quarter hours,
// often touching at midnight, reaching 24:00 or filling the day, with up to three absences
// around base.
func randomSpec(rng *rand.Rand, zone string, base time.Time) Spec {
	days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	clock := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	s := Spec{TimeZone: zone}
	var taken [7][][2]int
	for range rng.IntN(9) {
		d := rng.IntN(7)
		var from, to int
		switch rng.IntN(5) {
		case 0: // to midnight
			from, to = rng.IntN(96)*15, minutesPerDay
		case 1: // from midnight
			from, to = 0, (1+rng.IntN(96))*15
		case 2: // all day, so windows run into the days slowWindow does not look at
			from, to = 0, minutesPerDay
		default:
			from = rng.IntN(95) * 15
			to = from + (1+rng.IntN(96-from/15))*15
		}
		clash := false
		for _, t := range taken[d] {
			if from < t[1] && t[0] < to {
				clash = true
			}
		}
		if clash {
			continue
		}
		taken[d] = append(taken[d], [2]int{from, to})
		s.Weekly = append(s.Weekly, SlotSpec{days[d], clock(from), clock(to)})
	}
	for range rng.IntN(4) {
		from := base.Add(time.Duration(rng.IntN(14*24*4)-7*24*4) * 15 * time.Minute)
		to := from.Add(time.Duration(1+rng.IntN(3*24*4)) * 15 * time.Minute)
		s.Exceptions = append(s.Exceptions, Exception{from.Format(time.RFC3339), to.Format(time.RFC3339)})
	}
	return s
}

// The fast way (cycle, one offset) must give exactly the windows of the
// definition (slowWindow, time.Date per slot per day), in zones with and
// without daylight saving, a half-hour change (Lord Howe) and an odd offset
// (Kathmandu), for outings of any length starting anywhere, most of them
// in the weeks around clock changes where the two ways part.
func TestFastWindowMatchesDefinition(t *testing.T) {
	zones := []string{"Europe/Stockholm", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC", "America/Sao_Paulo"}
	anchors := []string{
		"2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z", "2027-03-28T01:00:00Z", "2027-10-31T01:00:00Z",
		"2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z", "2026-04-04T15:00:00Z", "2026-10-03T16:00:00Z",
		"2026-07-01T12:00:00Z", "2026-12-31T23:00:00Z", "2019-02-17T02:00:00Z",
	}
	rng := rand.New(rand.NewPCG(6, 2026))
	fastChecked := 0
	for i := range 20000 {
		zone := zones[i%len(zones)]
		base, err := time.Parse(time.RFC3339, anchors[rng.IntN(len(anchors))])
		if err != nil {
			t.Fatal(err)
		}
		spec := randomSpec(rng, zone, base)
		w, err := Compile(spec)
		if err != nil {
			t.Fatalf("case %d: %+v: %v", i, spec, err)
		}
		var start time.Time
		if rng.IntN(2) == 0 { // on a quarter hour, where slots begin and end
			start = base.Add(time.Duration(rng.IntN(10*24*4)-5*24*4) * 15 * time.Minute)
		} else {
			start = base.Add(time.Duration(rng.Int64N(int64(10*24*time.Hour))) - 5*24*time.Hour)
		}
		var end time.Time
		switch rng.IntN(3) {
		case 0:
			end = start.Add(time.Duration(1+rng.IntN(12*4)) * 15 * time.Minute)
		case 1:
			end = start.Add(time.Duration(1 + rng.Int64N(int64(3*24*time.Hour))))
		default:
			end = start.Add(time.Duration(1+rng.IntN(20)) * 24 * time.Hour)
		}
		want, wantOK := w.slowWindow(start, end)
		got, gotOK, fast := w.fastWindow(start, end)
		if fast {
			fastChecked++
			if gotOK != wantOK || gotOK && (!got.from.Equal(want.from) || !got.to.Equal(want.to)) {
				t.Fatalf("case %d: %+v, outing %v – %v: fast window %v %v, definition %v %v",
					i, spec, start, end, got, gotOK, want, wantOK)
			}
		}
		if w.Covers(start, end) != wantOK {
			t.Fatalf("case %d: Covers differs from the definition", i)
		}
		if wantOK && w.Slack(start, end) != min(start.Sub(want.from), want.to.Sub(end)) {
			t.Fatalf("case %d: Slack differs from the definition", i)
		}
	}
	// The comparison must have been made, not skipped near every anchor.
	if fastChecked < 10000 {
		t.Fatalf("only %d of 20000 cases took the fast way", fastChecked)
	}
}

// Ranking calls Covers and Slack for every prefiltered volunteer; away from
// clock changes they must not allocate.
func TestCoversAndSlackDoNotAllocate(t *testing.T) {
	w := mustWeek(t, Spec{
		TimeZone:   "Europe/Stockholm",
		Weekly:     []SlotSpec{{"thu", "09:00", "18:00"}, {"wed", "20:00", "24:00"}},
		Exceptions: []Exception{{"2026-03-11T08:00:00+01:00", "2026-03-12T10:00:00+01:00"}},
	})
	start := time.Date(2026, 3, 12, 13, 0, 0, 0, time.UTC)
	end := start.Add(2 * time.Hour)
	if !w.Covers(start, end) {
		t.Fatal("Thursday 14:00–16:00 should be covered")
	}
	if got := w.Slack(start, end); got != 2*time.Hour {
		t.Fatalf("slack %v, want 2h (after the absence ending 10:00)", got)
	}
	if n := testing.AllocsPerRun(100, func() { w.Covers(start, end); w.Slack(start, end) }); n != 0 {
		t.Fatalf("Covers and Slack allocate %v times per call", n)
	}
}

func TestLoadZoneCachesAndRefuses(t *testing.T) {
	a, err := LoadZone("Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadZone("Europe/Stockholm")
	if err != nil || a != b {
		t.Fatalf("second load: %p %v, want the cached %p", b, err, a)
	}
	for _, name := range []string{"", "Local", "Mars/Olympus_Mons"} {
		if _, err := LoadZone(name); err == nil {
			t.Fatalf("LoadZone(%q) accepted", name)
		}
	}
}
