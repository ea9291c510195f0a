package matching

import (
	"slices"
	"testing"

	"github.com/clavis-app/clavis/auth"
)

func TestNearestFirstKeepsTheHardRulesAndOrdersByDistanceOnly(t *testing.T) {
	pl := loadPlaces(t)["Stora Torg"]
	req := request(pl)
	near := volunteer("v-near", "Nora", pl.Lat+0.005, pl.Lon)
	mid := volunteer("v-mid", "Mia", pl.Lat+0.015, pl.Lon)
	familiar := volunteer("v-familiar", "Fia", pl.Lat+0.03, pl.Lon) // met Sara five times, rated 5
	familiar.CompletedWith, familiar.AvgRatingWith = 5, 5
	full := volunteer("v-full", "Ulla", pl.Lat+0.001, pl.Lon) // nearest, but at the weekly cap
	full.OutingsThisWeek = full.MaxOutingsPerWeek
	far := volunteer("v-far", "Fred", pl.Lat+0.2, pl.Lon) // 22 km: beyond the radius
	cands := []Candidate{far, mid, full, familiar, near}

	clavis, _ := Rank(req, cands, RankOptions{})
	nearest, _ := NearestFirst(req, cands, RankOptions{Weights: DefaultWeights()})
	if got, want := ids(nearest), []string{"v-near", "v-mid", "v-familiar"}; !slices.Equal(got, want) {
		t.Fatalf("nearest-first order %v, want %v", got, want)
	}
	if got := ids(clavis); got[0] != "v-familiar" {
		t.Fatalf("Clavis's order %v: the familiar volunteer should come first", got)
	}
	a, b := ids(clavis), ids(nearest)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Fatalf("the two orderings apply different hard rules: %v and %v", a, b)
	}
}

// The matcher's offer waves take their order from MatcherConfig.Rank and
// from nothing else: the same fixture with the order reversed offers the
// other end of the line.
func TestMatcherRankSwapsTheWavesOrderAndNothingElse(t *testing.T) {
	reversed := func(req MatchRequest, cands []Candidate, opt RankOptions) ([]Scored, []Exclusion) {
		opt.Limit = 0
		s, e := NearestFirst(req, cands, opt)
		slices.Reverse(s)
		return s, e
	}
	for _, tc := range []struct {
		name string
		rank RankFunc
		want []int
	}{{"default", nil, []int{0, 1}}, {"nearest-first", NearestFirst, []int{0, 1}}, {"reversed", reversed, []int{5, 4}}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			w := newWaves(f, MatcherConfig{OfferWave: 2, Rank: tc.rank})
			vs := f.volunteerLine(6)
			o := f.outing(f.user(auth.RoleParticipant, "Sara Lind"), thursdayTen)
			w.deliver()
			got := w.log.take(EventOffer)
			want := []string{vs[tc.want[0]].UserID, vs[tc.want[1]].UserID}
			if len(got) != 1 || got[0].OutingID != o.ID || !slices.Equal(got[0].Recipients, want) {
				t.Fatalf("first wave %v, want %v", recipients(got), want)
			}
		})
	}
}
