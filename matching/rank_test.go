package matching

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Test doubles of the Availability interface.

// always is available whenever asked, with a fixed slack.
type always struct{ slack time.Duration }

func (a always) Covers(start, end time.Time) bool         { return true }
func (a always) Slack(start, end time.Time) time.Duration { return a.slack }

// never is never available.
type never struct{}

func (never) Covers(start, end time.Time) bool         { return false }
func (never) Slack(start, end time.Time) time.Duration { return 0 }

// window is one available stretch [from, to).
type window struct{ from, to time.Time }

func (w window) Covers(start, end time.Time) bool {
	return !start.Before(w.from) && !end.After(w.to)
}

func (w window) Slack(start, end time.Time) time.Duration {
	return min(start.Sub(w.from), w.to.Sub(end))
}

// thursday 12 March 2026, 14:00–16:00 in Sweden (CET, UTC+1).
var (
	outingStart = time.Date(2026, 3, 12, 13, 0, 0, 0, time.UTC)
	outingEnd   = outingStart.Add(2 * time.Hour)
)

func request(p place) MatchRequest {
	return MatchRequest{
		OutingID: "outing-1", OrgID: "org-1", ParticipantID: "participant-1",
		Kind: p.Kind, StartsAt: outingStart, EndsAt: outingEnd,
		Lat: p.Lat, Lon: p.Lon, CompanionGender: "any",
		ParticipantFirstName: "Sara",
		Now:                  outingStart.Add(-48 * time.Hour),
	}
}

func volunteer(id, name string, lat, lon float64) Candidate {
	return Candidate{
		ID: id, Name: name, OrgID: "org-1", Active: true, Vetted: true,
		HomeLat: lat, HomeLon: lon, TravelRadiusKm: 10,
		Languages: []string{"sv"}, Gender: "female", MaxOutingsPerWeek: 3,
		Availability: always{slack: time.Hour},
	}
}

func ids(s []Scored) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.VolunteerID
	}
	return out
}

func rankAll(req MatchRequest, cands ...Candidate) ([]Scored, []Exclusion) {
	return Rank(req, cands, RankOptions{IncludeExcluded: true})
}

// ---- Worked examples with real places ----

func TestNearerOfTwoEqualVolunteersRanksFirst(t *testing.T) {
	places := loadPlaces(t)
	library := mustPlace(t, places, "Halmstad stadsbibliotek")
	torg := mustPlace(t, places, "Stora Torg")
	hallarna := mustPlace(t, places, "Hallarna köpcentrum")
	req := request(library)

	// The farther one has the id that would win a tie, so only distance can
	// put the nearer one first.
	near := volunteer("v-z-near", "Anna", torg.Lat, torg.Lon)
	far := volunteer("v-a-far", "Berit", hallarna.Lat, hallarna.Lon)
	ranked, excluded := rankAll(req, far, near)
	if len(excluded) != 0 || len(ranked) != 2 {
		t.Fatalf("ranked %v, excluded %v", ids(ranked), excluded)
	}
	if ranked[0].VolunteerID != near.ID || !(ranked[0].Score > ranked[1].Score) {
		t.Fatalf("order %v scores %v, %v: the nearer (Stora Torg) should rank first", ids(ranked), ranked[0].Score, ranked[1].Score)
	}
	if want := DistanceKm(library.Lat, library.Lon, torg.Lat, torg.Lon); math.Abs(ranked[0].DistanceKm-want) > 0.006 {
		t.Errorf("distance %v, want %.3f", ranked[0].DistanceKm, want)
	}
	if !(ranked[0].Parts.Distance > ranked[1].Parts.Distance) {
		t.Errorf("distance parts %v vs %v", ranked[0].Parts.Distance, ranked[1].Parts.Distance)
	}
	t.Logf("Stora Torg %.2f km: %.1f; Hallarna %.2f km: %.1f", ranked[0].DistanceKm, ranked[0].Score, ranked[1].DistanceKm, ranked[1].Score)
}

func TestFamiliarVolunteerThreeKmBeatsStrangerOneKm(t *testing.T) {
	places := loadPlaces(t)
	torget := mustPlace(t, places, "Karlskrona Stortorget")
	req := request(torget)

	flat, flon := destination(torget.Lat, torget.Lon, 40, 3)
	slat, slon := destination(torget.Lat, torget.Lon, 220, 1)
	familiar := volunteer("v-familiar", "Karin", flat, flon)
	familiar.CompletedWith, familiar.AvgRatingWith = 3, 5
	familiar.AvgRating, familiar.Ratings = 5, 3
	stranger := volunteer("v-stranger", "Lena", slat, slon)
	stranger.AvgRating, stranger.Ratings = 5, 3

	ranked, _ := rankAll(req, stranger, familiar)
	if len(ranked) != 2 || ranked[0].VolunteerID != familiar.ID {
		t.Fatalf("order %v: the familiar volunteer should rank first", ids(ranked))
	}
	gap := ranked[0].Score - ranked[1].Score
	t.Logf("familiar at %.1f km: %.1f, stranger at %.1f km: %.1f (gap %.1f)", ranked[0].DistanceKm, ranked[0].Score, ranked[1].DistanceKm, ranked[1].Score, gap)
	if gap < 10 {
		t.Errorf("familiar leads by only %.1f points", gap)
	}
	if !slices.Contains(ranked[0].Reasons, "met Sara 3 times, rated 5") || !slices.Contains(ranked[0].Reasons, "3.0 km from the meeting point") {
		t.Errorf("reasons %q", ranked[0].Reasons)
	}

	// The example is not decided by the weights alone: ranked on distance
	// only, the stranger is first.
	distanceOnly, err := ParseWeights("distance=1,continuity=0,slack=0,fairness=0,feedback=0,skills=0")
	if err != nil {
		t.Fatal(err)
	}
	ranked, _ = Rank(req, []Candidate{familiar, stranger}, RankOptions{Weights: distanceOnly})
	if ranked[0].VolunteerID != stranger.ID {
		t.Errorf("distance only: order %v, want the stranger first", ids(ranked))
	}
}

func TestRadiusThreeKmExcludesMeetingPointFourKmAway(t *testing.T) {
	places := loadPlaces(t)
	station := mustPlace(t, places, "Ronneby Centralstation")
	req := request(station)
	lat, lon := destination(station.Lat, station.Lon, 10, 4)

	v := volunteer("v-1", "Maja", lat, lon)
	v.TravelRadiusKm = 3
	ranked, excluded := Rank(req, []Candidate{v}, RankOptions{IncludeExcluded: true, Lang: "sv"})
	if len(ranked) != 0 || len(excluded) != 1 || excluded[0].Rule != RuleTooFar {
		t.Fatalf("ranked %v, excluded %+v: want too_far", ids(ranked), excluded)
	}
	if excluded[0].Message != "mötesplatsen ligger utanför hens reseavstånd" || excluded[0].Name != "Maja" {
		t.Errorf("exclusion %+v", excluded[0])
	}
	if ok, rule := Check(req, v); ok || rule != RuleTooFar {
		t.Errorf("Check = %v, %q", ok, rule)
	}

	v.TravelRadiusKm = 5
	if ranked, _ := rankAll(req, v); len(ranked) != 1 {
		t.Errorf("with a 5 km radius: ranked %v", ids(ranked))
	}
	// A radius above the maximum counts as the maximum, as the store's cell
	// query does.
	far := volunteer("v-far", "Nils", 0, 0)
	far.HomeLat, far.HomeLon = destination(station.Lat, station.Lon, 90, MaxTravelRadiusKm+5)
	far.TravelRadiusKm = 200
	far.Availability = always{}
	if ok, rule := Check(req, far); ok || rule != RuleTooFar {
		t.Errorf("radius 200 at %v km: Check = %v, %q", MaxTravelRadiusKm+5, ok, rule)
	}
}

func TestGenderAndLanguageWishes(t *testing.T) {
	places := loadPlaces(t)
	station := mustPlace(t, places, "Halmstad Centralstation")
	beach := mustPlace(t, places, "Tylösand strand")
	torg := mustPlace(t, places, "Stora Torg")
	req := request(station)
	req.CompanionGender = "female"
	req.Language = "en"

	mk := func(id, gender string, langs ...string) Candidate {
		v := volunteer(id, id, torg.Lat, torg.Lon)
		if id == "eva" {
			v.HomeLat, v.HomeLon = beach.Lat, beach.Lon
		}
		v.Gender, v.Languages = gender, langs
		return v
	}
	cands := []Candidate{
		mk("anna", "female", "sv", "en"),
		mk("bo", "male", "en"),
		mk("cilla", "female", "sv"),
		mk("dana", "unspecified", "EN"),
		mk("eva", "Female", "ar", "En"), // case does not matter
	}
	ranked, excluded := rankAll(req, cands...)
	if got := ids(ranked); !slices.Equal(got, []string{"anna", "eva"}) {
		t.Errorf("female + English: ranked %v, want anna then eva (Tylösand is farther)", got)
	}
	want := map[string]string{"bo": RuleGender, "cilla": RuleLanguage, "dana": RuleGender}
	if len(excluded) != len(want) {
		t.Fatalf("excluded %+v", excluded)
	}
	for _, e := range excluded {
		if want[e.VolunteerID] != e.Rule {
			t.Errorf("%s excluded for %s, want %s", e.VolunteerID, e.Rule, want[e.VolunteerID])
		}
	}

	req.CompanionGender, req.Language = "any", ""
	if ranked, _ := rankAll(req, cands...); len(ranked) != len(cands) {
		t.Errorf("no wishes: ranked %v, want everyone", ids(ranked))
	}
	req.CompanionGender, req.Language = "male", "sv"
	if ranked, _ := rankAll(req, cands...); !slices.Equal(ids(ranked), []string{}) {
		t.Errorf("male + Swedish: ranked %v, want none (bo speaks only English)", ids(ranked))
	}
}

// ---- Rules in detail ----

func TestTravelTimeWidensAvailabilityAndBusy(t *testing.T) {
	p := place{Lat: 56.6696, Lon: 12.8648, Kind: "bus_trip"}
	req := request(p)
	tenKm := func() Candidate {
		lat, lon := destination(p.Lat, p.Lon, 0, 10)
		v := volunteer("v", "V", lat, lon)
		v.TravelRadiusKm = 20
		return v
	}
	if got := TravelTime(10); got != 30*time.Minute {
		t.Fatalf("TravelTime(10) = %v, want 30m at 20 km/h", got)
	}
	if got := TravelTime(1); got != MinTravelTime {
		t.Fatalf("TravelTime(1) = %v, want the minimum %v", got, MinTravelTime)
	}
	if got := TravelTime(math.Inf(1)); got <= 0 || got > 30*time.Hour {
		t.Fatalf("TravelTime(+Inf) = %v", got)
	}
	margin := TravelTime(DistanceKm(p.Lat, p.Lon, tenKm().HomeLat, tenKm().HomeLon))

	for _, tc := range []struct {
		name string
		mod  func(*Candidate)
		rule string
	}{
		{"window exactly wide enough", func(c *Candidate) {
			c.Availability = window{outingStart.Add(-margin), outingEnd.Add(margin)}
		}, ""},
		{"window a minute short before", func(c *Candidate) {
			c.Availability = window{outingStart.Add(-margin + time.Minute), outingEnd.Add(margin)}
		}, RuleUnavailable},
		{"window a minute short after", func(c *Candidate) {
			c.Availability = window{outingStart.Add(-margin), outingEnd.Add(margin - time.Minute)}
		}, RuleUnavailable},
		{"no availability", func(c *Candidate) { c.Availability = nil }, RuleUnavailable},
		{"never", func(c *Candidate) { c.Availability = never{} }, RuleUnavailable},
		{"booking ends inside the travel margin", func(c *Candidate) {
			c.Busy = []Booking{{OutingID: "o2", Start: outingStart.Add(-3 * time.Hour), End: outingStart.Add(-margin + time.Minute)}}
		}, RuleBusy},
		{"booking ends before the travel margin", func(c *Candidate) {
			c.Busy = []Booking{{OutingID: "o2", Start: outingStart.Add(-3 * time.Hour), End: outingStart.Add(-margin)}}
		}, ""},
		{"booking starts inside the margin after", func(c *Candidate) {
			c.Busy = []Booking{{OutingID: "o2", Start: outingEnd.Add(margin - time.Minute), End: outingEnd.Add(3 * time.Hour)}}
		}, RuleBusy},
		{"this very outing is not a conflict", func(c *Candidate) {
			c.Busy = []Booking{{OutingID: req.OutingID, Start: outingStart, End: outingEnd}}
		}, ""},
		{"weekly cap reached", func(c *Candidate) { c.OutingsThisWeek, c.MaxOutingsPerWeek = 3, 3 }, RuleWeeklyCap},
		{"paused: cap 0", func(c *Candidate) { c.MaxOutingsPerWeek = 0 }, RuleWeeklyCap},
		{"one below the cap", func(c *Candidate) { c.OutingsThisWeek, c.MaxOutingsPerWeek = 2, 3 }, ""},
		{"not active", func(c *Candidate) { c.Active = false; c.OrgID = "other" }, RuleNotActive},
		{"not vetted", func(c *Candidate) { c.Vetted = false; c.OrgID = "other" }, RuleNotVetted},
		{"other organisation", func(c *Candidate) { c.OrgID = "other"; c.Availability = nil }, RuleOtherOrganisation},
		{"unknown home", func(c *Candidate) { c.HomeLat = math.NaN() }, RuleTooFar},
	} {
		c := tenKm()
		tc.mod(&c)
		ok, rule := Check(req, c)
		if ok != (tc.rule == "") || rule != tc.rule {
			t.Errorf("%s: Check = %v, %q; want %q", tc.name, ok, rule, tc.rule)
		}
	}
}

func TestExcludedBlockedAndPreferred(t *testing.T) {
	p := place{Lat: 56.1612, Lon: 15.5869, Kind: "cafe"}
	req := request(p)
	req.Excluded = map[string]bool{"declined": true, "both": true}
	req.Blocked = map[string]bool{"never-again": true, "both": true}
	req.Preferred = map[string]bool{"liked": true}
	lat, lon := destination(p.Lat, p.Lon, 0, 2)
	var cands []Candidate
	for _, id := range []string{"declined", "never-again", "both", "liked", "plain"} {
		cands = append(cands, volunteer(id, strings.ToUpper(id[:1])+id[1:], lat, lon))
	}
	ranked, excluded := Rank(req, cands, RankOptions{IncludeExcluded: true, Lang: "sv"})
	if got := ids(ranked); !slices.Equal(got, []string{"liked", "plain"}) {
		t.Fatalf("ranked %v, want the preferred one first", got)
	}
	if ranked[0].Parts.Continuity != PreferredBoost || ranked[1].Parts.Continuity != 0 {
		t.Errorf("continuity %v / %v", ranked[0].Parts.Continuity, ranked[1].Parts.Continuity)
	}
	if !slices.Contains(ranked[0].Reasons, "önskad av Sara") {
		t.Errorf("reasons %q", ranked[0].Reasons)
	}
	got := map[string]string{}
	for _, e := range excluded {
		got[e.VolunteerID] = e.Rule
	}
	if want := map[string]string{"declined": RuleExcluded, "never-again": RuleBlocked, "both": RuleExcluded}; !reflect.DeepEqual(got, want) {
		t.Errorf("excluded %v, want %v", got, want)
	}
	if !slices.IsSortedFunc(excluded, func(a, b Exclusion) int { return strings.Compare(a.VolunteerID, b.VolunteerID) }) {
		t.Errorf("exclusions not sorted by id: %+v", excluded)
	}
}

func TestFairnessPrefersTheLessAsked(t *testing.T) {
	p := place{Lat: 56.2094, Lon: 15.2760, Kind: "walk"}
	req := request(p)
	lat, lon := destination(p.Lat, p.Lon, 0, 2)
	busy := volunteer("a-busy", "A", lat, lon)
	busy.OutingsLast30Days, busy.LastOutingAt = 6, req.Now.Add(-2*24*time.Hour)
	rested := volunteer("z-rested", "Z", lat, lon)
	rested.OutingsLast30Days, rested.LastOutingAt = 1, req.Now.Add(-20*24*time.Hour)
	ranked, _ := rankAll(req, busy, rested)
	if ids(ranked)[0] != "z-rested" || !(ranked[0].Parts.Fairness > ranked[1].Parts.Fairness) {
		t.Fatalf("order %v, fairness %v / %v", ids(ranked), ranked[0].Parts.Fairness, ranked[1].Parts.Fairness)
	}
	if !slices.Contains(ranked[0].Reasons, "no outing in the last 14 days") || !slices.Contains(ranked[1].Reasons, "6 outings in the last 30 days") {
		t.Errorf("reasons %q / %q", ranked[0].Reasons, ranked[1].Reasons)
	}
}

func TestReasonsInBothLanguages(t *testing.T) {
	p := place{Lat: 56.6696, Lon: 12.8648, Kind: "bus_trip"}
	req := request(p)
	req.Preferred = map[string]bool{"v": true}
	lat, lon := destination(p.Lat, p.Lon, 120, 0.6)
	v := volunteer("v", "Karin", lat, lon)
	v.CompletedWith, v.AvgRatingWith = 3, 4.5
	v.AvgRating, v.Ratings = 4.8, 12
	v.Skills = []string{"public_transport", "knitting", "Mental_Health"}
	v.Availability = window{outingStart.Add(-3 * time.Hour), outingEnd.Add(30 * time.Minute)}
	wantEn := []string{
		"0.6 km from the meeting point",
		"met Sara 3 times, rated 4.5",
		"preferred by Sara",
		"no outing in the last 14 days",
		"only 15 min to spare around the outing",
		"average rating 4.8 over 12 outings",
		"skills for a bus trip: public transport, mental health",
	}
	wantSv := []string{
		"0,6 km från mötesplatsen",
		"har träffat Sara 3 gånger, betyg 4,5",
		"önskad av Sara",
		"ingen utflykt de senaste 14 dagarna",
		"bara 15 min marginal runt utflykten",
		"snittbetyg 4,8 efter 12 utflykter",
		"färdigheter för en bussresa: public transport, mental health",
	}
	for lang, want := range map[string][]string{"en": wantEn, "sv": wantSv, "": wantEn} {
		ranked, _ := Rank(req, []Candidate{v}, RankOptions{Lang: lang})
		if len(ranked) != 1 || !slices.Equal(ranked[0].Reasons, want) {
			t.Errorf("lang %q: reasons\n%q\nwant\n%q", lang, ranked[0].Reasons, want)
		}
	}
	if ranked, _ := rankAll(req, v); ranked[0].Parts.Skills != 1 || ranked[0].Parts.Slack != 0.125 {
		t.Errorf("parts %+v: want skills 1 (two relevant), slack 15m/2h", ranked[0].Parts)
	}
	v.CompletedWith, v.AvgRatingWith, v.Ratings = 1, 0, 0
	v.Availability = always{slack: 90 * time.Minute}
	req.Preferred = nil
	ranked, _ := rankAll(req, v)
	for _, want := range []string{"met Sara once", "at least 1 h 30 min free before and after", "no ratings yet"} {
		if !slices.Contains(ranked[0].Reasons, want) {
			t.Errorf("reasons %q lack %q", ranked[0].Reasons, want)
		}
	}
}

func TestZeroWeightsMeanDefaults(t *testing.T) {
	p := place{Lat: 56.0500, Lon: 14.5850, Kind: "cafe"}
	req := request(p)
	var cands []Candidate
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		lat, lon := destination(p.Lat, p.Lon, rng.Float64()*360, rng.Float64()*9)
		v := volunteer(fmt.Sprintf("v%02d", i), "V", lat, lon)
		v.CompletedWith, v.AvgRatingWith = rng.IntN(3), float64(1+rng.IntN(5))
		v.OutingsLast30Days = rng.IntN(8)
		cands = append(cands, v)
	}
	a, _ := Rank(req, cands, RankOptions{})
	b, _ := Rank(req, cands, RankOptions{Weights: DefaultWeights()})
	if !reflect.DeepEqual(a, b) {
		t.Errorf("zero weights differ from the defaults")
	}
	c, _ := Rank(req, cands, RankOptions{Weights: Weights{Distance: 50, Continuity: 60, Slack: 20, Fairness: 30, Feedback: 20, Skills: 20}})
	if !reflect.DeepEqual(a, c) {
		t.Errorf("doubling every weight changed the ranking: only ratios should matter")
	}
}

func TestParseWeights(t *testing.T) {
	def := DefaultWeights()
	for _, tc := range []struct {
		in   string
		want Weights
		err  string
	}{
		{"", def, ""},
		{"   ", def, ""},
		{"distance=25,continuity=30,slack=10,fairness=15,feedback=10,skills=10", def, ""},
		{" Distance = 40 , skills=0,", Weights{Distance: 40, Continuity: 30, Slack: 10, Fairness: 15, Feedback: 10, Skills: 0}, ""},
		{"continuity=1.5", Weights{Distance: 25, Continuity: 1.5, Slack: 10, Fairness: 15, Feedback: 10, Skills: 10}, ""},
		{"distance=0,continuity=0,slack=0,fairness=0,feedback=0,skills=0", Weights{}, "at least one"},
		{"distance=-1", Weights{}, "distance"},
		{"distance=NaN", Weights{}, "distance"},
		{"distance=Inf", Weights{}, "distance"},
		{"distance=5000", Weights{}, "distance"},
		{"distance=abc", Weights{}, "distance"},
		{"distance", Weights{}, "name=number"},
		{"=5", Weights{}, "name=number"},
		{"speed=3", Weights{}, "unknown part \"speed\""},
		{"slack=1,slack=2", Weights{}, "slack given twice"},
	} {
		got, err := ParseWeights(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseWeights(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseWeights(%q) error %v, want one mentioning %q", tc.in, err, tc.err)
		}
	}
	if err := DefaultWeights().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

// ---- Property test over random data ----

// specViolations re-derives every hard rule from the design, independently
// of Rank's code, and returns the failing ones in the design's order.
func specViolations(req MatchRequest, c Candidate) []string {
	var v []string
	dist := DistanceKm(req.Lat, req.Lon, c.HomeLat, c.HomeLon)
	travel := 15 * time.Minute
	if !math.IsNaN(dist) {
		travel = max(travel, time.Duration(dist/20*float64(time.Hour)))
	}
	from, to := req.StartsAt.Add(-travel), req.EndsAt.Add(travel)
	if !c.Active {
		v = append(v, "not_active")
	}
	if !c.Vetted {
		v = append(v, "not_vetted")
	}
	if c.OrgID != req.OrgID {
		v = append(v, "other_organisation")
	}
	available := false
	switch a := c.Availability.(type) {
	case always:
		available = true
	case window:
		available = !a.from.After(from) && !a.to.Before(to)
	}
	if !available {
		v = append(v, "unavailable")
	}
	for _, b := range c.Busy {
		if b.OutingID != req.OutingID && b.Start.Before(to) && from.Before(b.End) {
			v = append(v, "busy")
			break
		}
	}
	if math.IsNaN(dist) || dist > math.Min(c.TravelRadiusKm, 50) {
		v = append(v, "too_far")
	}
	if req.Language != "" && !slices.ContainsFunc(c.Languages, func(l string) bool { return strings.EqualFold(l, req.Language) }) {
		v = append(v, "language")
	}
	if (req.CompanionGender == "female" || req.CompanionGender == "male") && !strings.EqualFold(c.Gender, req.CompanionGender) {
		v = append(v, "gender")
	}
	if c.OutingsThisWeek >= c.MaxOutingsPerWeek {
		v = append(v, "weekly_cap")
	}
	if req.Excluded[c.ID] {
		v = append(v, "excluded")
	}
	if req.Blocked[c.ID] {
		v = append(v, "blocked")
	}
	return v
}

func pickOne[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

func randomCase(rng *rand.Rand, places []place, n int) (MatchRequest, []Candidate) {
	p := places[rng.IntN(len(places))]
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(365*24*60)) * time.Minute)
	end := start.Add(time.Duration(30+rng.IntN(210)) * time.Minute)
	req := MatchRequest{
		OutingID: fmt.Sprintf("o%d", rng.IntN(1000)), OrgID: "org-1", ParticipantID: "p-1",
		Kind:     pickOne(rng, "bus_trip", "cafe", "walk", "errand", "activity", "other", p.Kind),
		StartsAt: start, EndsAt: end, Lat: p.Lat, Lon: p.Lon,
		Language:             pickOne(rng, "", "", "", "sv", "en", "ar"),
		CompanionGender:      pickOne(rng, "any", "any", "", "female", "male"),
		ParticipantFirstName: pickOne(rng, "Sara", ""),
		Now:                  start.Add(-time.Duration(rng.IntN(14*24)) * time.Hour),
		Blocked:              map[string]bool{}, Preferred: map[string]bool{}, Excluded: map[string]bool{},
	}
	cands := make([]Candidate, n)
	for i := range cands {
		id := fmt.Sprintf("v%03d", rng.IntN(1000))
		for slices.ContainsFunc(cands[:i], func(c Candidate) bool { return c.ID == id }) {
			id = fmt.Sprintf("v%03d", rng.IntN(1000))
		}
		// Some are a copy of the one before under another id, so that ties
		// in score and distance happen and the id must break them.
		if i > 0 && rng.IntN(4) == 0 {
			c := cands[i-1]
			c.ID, c.Name = id, "N"+id
			if req.Preferred[cands[i-1].ID] {
				req.Preferred[id] = true
			}
			cands[i] = c
			continue
		}
		lat, lon := destination(p.Lat, p.Lon, rng.Float64()*360, rng.Float64()*pickOne(rng, 25.0, 25, 25, 55))
		if rng.IntN(60) == 0 {
			lat = math.NaN()
		}
		c := Candidate{
			ID: id, Name: "N" + id, OrgID: pickOne(rng, "org-1", "org-1", "org-1", "org-1", "org-1", "org-1", "org-1", "org-1", "org-1", "org-1", "org-1", "org-1", "org-1", "org-1", "org-2"),
			Active: rng.IntN(20) != 0, Vetted: rng.IntN(20) != 0,
			HomeLat: lat, HomeLon: lon,
			TravelRadiusKm:    pickOne(rng, 3, 5, 10, 15, 20, 30, 60, rng.Float64()*30),
			Languages:         pickOne(rng, []string{"sv"}, []string{"sv", "en"}, []string{"EN"}, []string{"ar", "sv"}, []string{"sv", "en", "ar"}, nil),
			Gender:            pickOne(rng, "female", "male", "other", "unspecified", "Female"),
			Skills:            pickOne(rng, nil, []string{"public_transport"}, []string{"walking", "mental_health"}, []string{"crafts", "first_aid", "conversation"}),
			MaxOutingsPerWeek: rng.IntN(6),
			OutingsThisWeek:   rng.IntN(3),
			OutingsLast30Days: rng.IntN(10),
			CompletedWith:     pickOne(rng, 0, 0, 0, 1, 2, 5),
			AvgRatingWith:     pickOne(rng, 0, 1, 3, 4.5, 5),
			AvgRating:         pickOne(rng, 0, 2.5, 4, 4.8),
			Ratings:           rng.IntN(20),
		}
		if rng.IntN(3) > 0 {
			c.LastOutingAt = req.Now.Add(-time.Duration(rng.IntN(40*24)) * time.Hour)
		}
		switch rng.IntN(10) {
		case 0:
			c.Availability = nil
		case 1:
			c.Availability = never{}
		case 2, 3:
			c.Availability = always{slack: time.Duration(rng.IntN(180)) * time.Minute}
		default:
			c.Availability = window{
				from: start.Add(-time.Duration(rng.IntN(6*60)) * time.Minute),
				to:   end.Add(time.Duration(rng.IntN(6*60)) * time.Minute),
			}
		}
		for range rng.IntN(3) {
			bs := start.Add(time.Duration(rng.IntN(24*60)-12*60) * time.Minute)
			b := Booking{OutingID: pickOne(rng, "x1", "x2", req.OutingID), Start: bs, End: bs.Add(time.Duration(30+rng.IntN(180)) * time.Minute)}
			c.Busy = append(c.Busy, b)
		}
		switch rng.IntN(16) {
		case 0:
			req.Excluded[id] = true
		case 1:
			req.Blocked[id] = true
		case 2, 3:
			req.Preferred[id] = true
		}
		cands[i] = c
	}
	return req, cands
}

func TestRankPropertiesOnRandomData(t *testing.T) {
	placeMap := loadPlaces(t)
	var places []place
	for _, p := range placeMap {
		places = append(places, p)
	}
	slices.SortFunc(places, func(a, b place) int { return strings.Compare(a.Name, b.Name) })
	rng := rand.New(rand.NewPCG(20260312, 6))
	firstRules := map[string]int{}
	rankedTotal, tiesSeen := 0, 0
	const cases = 3000
	for n := range cases {
		req, cands := randomCase(rng, places, 1+rng.IntN(40))
		lang := pickOne(rng, "sv", "en")
		w := DefaultWeights()
		if n%3 == 1 {
			w = Weights{Distance: rng.Float64() * 50, Continuity: rng.Float64() * 50, Slack: rng.Float64() * 50,
				Fairness: rng.Float64() * 50, Feedback: rng.Float64() * 50, Skills: rng.Float64()*50 + 1}
		}
		opt := RankOptions{Weights: w, Lang: lang, IncludeExcluded: true}
		ranked, excluded := Rank(req, cands, opt)
		rankedTotal += len(ranked)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d: %s", n, fmt.Sprintf(format, args...))
		}

		byID := map[string]Candidate{}
		for _, c := range cands {
			byID[c.ID] = c
		}
		seen := map[string]bool{}
		for _, s := range ranked {
			if seen[s.VolunteerID] {
				fail("%s twice", s.VolunteerID)
			}
			seen[s.VolunteerID] = true
			if v := specViolations(req, byID[s.VolunteerID]); len(v) > 0 {
				fail("ranked %s breaks %v", s.VolunteerID, v)
			}
		}
		for _, e := range excluded {
			if seen[e.VolunteerID] {
				fail("%s both ranked and excluded, or excluded twice", e.VolunteerID)
			}
			seen[e.VolunteerID] = true
			v := specViolations(req, byID[e.VolunteerID])
			if len(v) == 0 {
				fail("excluded %s (%s) breaks no rule", e.VolunteerID, e.Rule)
			}
			if !slices.Contains(v, e.Rule) || v[0] != e.Rule {
				fail("excluded %s for %s, but the first rule it breaks is %s (all: %v)", e.VolunteerID, e.Rule, v[0], v)
			}
			if e.Message == "" {
				fail("no message for %s", e.Rule)
			}
			firstRules[e.Rule]++
		}
		if len(seen) != len(cands) {
			fail("%d of %d volunteers accounted for", len(seen), len(cands))
		}

		// Scores in range, consistent with the parts, and sorted with ties
		// broken by distance then id.
		total := w.sum()
		for i, s := range ranked {
			if s.Score < 0 || s.Score > 100 {
				fail("score %v", s.Score)
			}
			p := s.Parts
			for _, x := range []float64{p.Distance, p.Continuity, p.Slack, p.Fairness, p.Feedback, p.Skills} {
				if x < 0 || x > 1 {
					fail("part out of range in %+v", p)
				}
			}
			sum := 100 * (w.Distance*p.Distance + w.Continuity*p.Continuity + w.Slack*p.Slack +
				w.Fairness*p.Fairness + w.Feedback*p.Feedback + w.Skills*p.Skills) / total
			if math.Abs(sum-s.Score) > 0.1 {
				fail("score %v but parts give %v", s.Score, sum)
			}
			if i == 0 {
				continue
			}
			a := ranked[i-1]
			switch {
			case a.Score > s.Score:
			case a.Score < s.Score:
				fail("not sorted: %v before %v", a.Score, s.Score)
			default:
				tiesSeen++
				if a.DistanceKm > s.DistanceKm || (a.DistanceKm == s.DistanceKm && a.VolunteerID > s.VolunteerID &&
					DistanceKm(req.Lat, req.Lon, byID[a.VolunteerID].HomeLat, byID[a.VolunteerID].HomeLon) ==
						DistanceKm(req.Lat, req.Lon, byID[s.VolunteerID].HomeLat, byID[s.VolunteerID].HomeLon)) {
					fail("tie at %v not broken by distance then id: %s %v, %s %v", s.Score, a.VolunteerID, a.DistanceKm, s.VolunteerID, s.DistanceKm)
				}
			}
		}

		// Check agrees with Rank, volunteer by volunteer.
		for _, c := range cands {
			ok, rule := Check(req, c)
			if ok != !slices.ContainsFunc(excluded, func(e Exclusion) bool { return e.VolunteerID == c.ID }) {
				fail("Check(%s) = %v, %q disagrees with Rank", c.ID, ok, rule)
			}
		}

		// Equal inputs, equal order: the same volunteers shuffled.
		shuffled := slices.Clone(cands)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		r2, e2 := Rank(req, shuffled, opt)
		if !reflect.DeepEqual(ranked, r2) || !reflect.DeepEqual(excluded, e2) {
			fail("shuffled input changed the result:\n%v\n%v", ids(ranked), ids(r2))
		}

		// Without exclusions (the cheap rules go first then) the same
		// volunteers are ranked.
		if r4, e4 := Rank(req, cands, RankOptions{Weights: w, Lang: lang}); !reflect.DeepEqual(ranked, r4) || e4 != nil {
			fail("without exclusions: %v, want %v (and no exclusions: %v)", ids(r4), ids(ranked), e4)
		}

		// A limit returns the head of the full ranking.
		limit := 1 + rng.IntN(len(cands))
		r3, _ := Rank(req, shuffled, RankOptions{Weights: w, Lang: lang, Limit: limit})
		if want := ranked[:min(limit, len(ranked))]; !reflect.DeepEqual(r3, want) && !(len(r3) == 0 && len(want) == 0) {
			fail("limit %d gave %v, want %v", limit, ids(r3), ids(want))
		}
	}
	t.Logf("%d cases, %d ranked, %d score ties, first failing rules %v", cases, rankedTotal, tiesSeen, firstRules)
	// The data must exercise every rule and leave candidates to rank.
	for _, rule := range []string{"not_active", "not_vetted", "other_organisation", "unavailable", "busy", "too_far",
		"language", "gender", "weekly_cap", "excluded", "blocked"} {
		if firstRules[rule] < 20 {
			t.Errorf("rule %s reported first only %d times: the random data does not exercise it", rule, firstRules[rule])
		}
	}
	if rankedTotal < 2000 || tiesSeen < 50 {
		t.Errorf("only %d ranked and %d ties: the random data is too thin", rankedTotal, tiesSeen)
	}
}
