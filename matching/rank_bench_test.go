package matching

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Stockholm on machines without a zone database

	"github.com/clavis-app/clavis/matching/availability"
)

// weeklySlots is a benchmark stand-in for the real weekly availability: it
// converts to the volunteer's zone and scans the day's slots on every call,
// so the benchmark pays roughly what the real type will, not a no-op.
type weeklySlots struct {
	loc   *time.Location
	slots [7][][2]int // per weekday, [start, end) in minutes of local wall time
}

func (w *weeklySlots) find(start, end time.Time) ([2]int, bool) {
	ls, le := start.In(w.loc), end.In(w.loc)
	if ls.YearDay() != le.YearDay() && !(le.Hour() == 0 && le.Minute() == 0) {
		return [2]int{}, false
	}
	from := ls.Hour()*60 + ls.Minute()
	to := from + int(end.Sub(start)/time.Minute)
	for _, s := range w.slots[ls.Weekday()] {
		if s[0] <= from && to <= s[1] {
			return s, true
		}
	}
	return [2]int{}, false
}

func (w *weeklySlots) Covers(start, end time.Time) bool {
	_, ok := w.find(start, end)
	return ok
}

func (w *weeklySlots) Slack(start, end time.Time) time.Duration {
	s, ok := w.find(start, end)
	if !ok {
		return 0
	}
	ls := start.In(w.loc)
	from := ls.Hour()*60 + ls.Minute()
	to := from + int(end.Sub(start)/time.Minute)
	return time.Duration(min(from-s[0], s[1]-to)) * time.Minute
}

// benchVolunteers builds n volunteers as the store would hand them over for
// an outing at Halmstad C: same organisation, mostly active and vetted, homes
// spread over the cells covering MaxTravelRadiusKm. With real, availability
// is the compiled week of a stored profile, as candidateFrom hands it to
// ranking; otherwise the weeklySlots stand-in with the same slots.
func benchVolunteers(b *testing.B, n int, real bool) (MatchRequest, []Candidate) {
	b.Helper()
	loc, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(10, uint64(n)))
	p := place{Lat: 56.6696, Lon: 12.8648, Kind: "bus_trip"}
	start := time.Date(2026, 3, 12, 14, 0, 0, 0, loc)
	req := MatchRequest{
		OutingID: "o-bench", OrgID: "org-1", ParticipantID: "p-1", Kind: p.Kind,
		StartsAt: start, EndsAt: start.Add(2 * time.Hour), Lat: p.Lat, Lon: p.Lon,
		Language: "sv", CompanionGender: "any", ParticipantFirstName: "Sara",
		Now:       start.Add(-72 * time.Hour),
		Blocked:   map[string]bool{"v000007": true},
		Excluded:  map[string]bool{"v000011": true, "v000013": true},
		Preferred: map[string]bool{"v000017": true, "v000019": true},
	}
	cands := make([]Candidate, n)
	for i := range cands {
		lat, lon := destination(p.Lat, p.Lon, rng.Float64()*360, MaxTravelRadiusKm*rng.Float64())
		w := &weeklySlots{loc: loc}
		for d := range 7 {
			if rng.IntN(3) > 0 {
				from := 8*60 + rng.IntN(8)*60
				w.slots[d] = append(w.slots[d], [2]int{from, from + 120 + rng.IntN(8)*60})
			}
		}
		var avail Availability = w
		if real {
			avail = realWeek(b, w, i)
		}
		c := Candidate{
			ID: fmt.Sprintf("v%06d", i), Name: "Volunteer", OrgID: "org-1",
			Active: rng.IntN(50) != 0, Vetted: rng.IntN(50) != 0,
			HomeLat: lat, HomeLon: lon, TravelRadiusKm: float64(5 + rng.IntN(26)),
			Languages: []string{"sv", "en"}[:1+rng.IntN(2)], Gender: "female",
			Skills:            []string{"public_transport", "mental_health", "crafts"}[:rng.IntN(4)],
			MaxOutingsPerWeek: 1 + rng.IntN(4), Availability: avail,
			OutingsThisWeek: rng.IntN(3), OutingsLast30Days: rng.IntN(10),
			CompletedWith: rng.IntN(3) / 2 * rng.IntN(4), AvgRatingWith: float64(rng.IntN(6)),
			AvgRating: 3 + rng.Float64()*2, Ratings: rng.IntN(30),
		}
		if rng.IntN(2) == 0 {
			c.LastOutingAt = req.Now.Add(-time.Duration(rng.IntN(30*24)) * time.Hour)
		}
		for range rng.IntN(3) {
			bs := start.Add(time.Duration(rng.IntN(7*24)-3*24) * time.Hour)
			c.Busy = append(c.Busy, Booking{OutingID: "x", Start: bs, End: bs.Add(2 * time.Hour)})
		}
		cands[i] = c
	}
	return req, cands
}

// realWeek is w as a volunteer would have stored it: the same slots in
// Europe/Stockholm, and for one volunteer in ten an absence in the outing's
// week (before it, so it cuts slack without ruling the volunteer out).
func realWeek(b *testing.B, w *weeklySlots, i int) Availability {
	b.Helper()
	days := [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	clock := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	spec := availability.Spec{TimeZone: "Europe/Stockholm", Weekly: []availability.SlotSpec{}, Exceptions: []availability.Exception{}}
	for d, slots := range w.slots {
		for _, s := range slots {
			spec.Weekly = append(spec.Weekly, availability.SlotSpec{Weekday: days[d], Start: clock(s[0]), End: clock(s[1])})
		}
	}
	if i%10 == 0 {
		spec.Exceptions = append(spec.Exceptions, availability.Exception{From: "2026-03-09T08:00:00+01:00", To: "2026-03-12T09:30:00+01:00"})
	}
	p := &VolunteerProfile{UserID: fmt.Sprintf("v%06d", i), Availability: &spec}
	week := p.Week()
	if week == nil {
		b.Fatalf("volunteer %d: availability does not compile: %+v", i, spec)
	}
	return week
}

func benchRank(b *testing.B, n int, opt RankOptions) {
	benchRankWith(b, n, true, opt)
}

func benchRankWith(b *testing.B, n int, real bool, opt RankOptions) {
	req, cands := benchVolunteers(b, n, real)
	all, _ := Rank(req, cands, RankOptions{})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Rank(req, cands, opt)
	}
	b.ReportMetric(float64(len(all)), "eligible")
}

// The candidates endpoint asks for at most a page of 100.
func BenchmarkRank10k(b *testing.B) {
	benchRank(b, 10_000, RankOptions{Lang: "sv", Limit: 100})
}

func BenchmarkRank100k(b *testing.B) {
	benchRank(b, 100_000, RankOptions{Lang: "sv", Limit: 100})
}

// The stand-in availability, to compare the real week against.
func BenchmarkRank100kStandInAvailability(b *testing.B) {
	benchRankWith(b, 100_000, false, RankOptions{Lang: "sv", Limit: 100})
}

// Worst case: every eligible volunteer with reasons, and every exclusion.
func BenchmarkRank100kAllWithExcluded(b *testing.B) {
	benchRank(b, 100_000, RankOptions{Lang: "sv", IncludeExcluded: true})
}

// The ranking core alone: availability that costs nothing, so what remains
// is distance, rules, scoring and the heap.
func BenchmarkRank100kCheapAvailability(b *testing.B) {
	req, cands := benchVolunteers(b, 100_000, false)
	for i := range cands {
		cands[i].Availability = always{slack: time.Hour}
	}
	all, _ := Rank(req, cands, RankOptions{})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Rank(req, cands, RankOptions{Lang: "sv", Limit: 100})
	}
	b.ReportMetric(float64(len(all)), "eligible")
}
