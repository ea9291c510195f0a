package simulate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/matching/availability"
)

// Goals for Clavis's default weights (issue 17).
const (
	GoalMatchedShare  = 0.95
	GoalMedianToMatch = 2 * time.Hour
	GoalGini          = 0.3
	GoalFamiliarShare = 0.60
)

// TownInfo describes the town drawn from the flags.
type TownInfo struct {
	Participants int    `json:"participants"`
	Volunteers   int    `json:"volunteers"`
	Days         int    `json:"days"`
	Seed         int64  `json:"seed"`
	Weights      string `json:"weights"`
	// SlotsPerWeek is the volunteers' weekly slots, each room for one
	// outing; CapPerWeek the sum of their weekly caps; RequestsPerWeek
	// the requests made per week on average.
	SlotsPerWeek    int     `json:"slots_per_week"`
	CapPerWeek      int     `json:"cap_per_week"`
	RequestsPerWeek float64 `json:"requests_per_week"`
	// Reachable is the share of requests that at least one volunteer
	// could take on an empty calendar (matching's hard rules: slot with
	// travel time, radius, language), whatever the ranking; Eligible the
	// mean number of such volunteers per request.
	Reachable float64 `json:"reachable_share"`
	Eligible  float64 `json:"eligible_per_request"`
}

// Figures are one run's results.
type Figures struct {
	Requests int `json:"requests"`
	// Ahead24h counts requests made at least 24 h before the start;
	// MatchedShare is the share of them that went ahead with a companion.
	Ahead24h     int     `json:"requests_24h_ahead"`
	MatchedShare float64 `json:"matched_share_24h_ahead"`
	// Time to match: from the request to the coordinator's approval, hours.
	MedianHoursToMatch float64 `json:"median_hours_to_match"`
	P90HoursToMatch    float64 `json:"p90_hours_to_match"`
	// Gini of completed outings over all volunteers.
	Gini float64 `json:"gini_completed_per_volunteer"`
	// RepeatOutings are participants' second and later completed outings;
	// FamiliarShare the share of them with a volunteer they had been out with.
	RepeatOutings  int     `json:"repeat_outings"`
	FamiliarShare  float64 `json:"familiar_share"`
	MeanDistanceKm float64 `json:"mean_distance_km"`
	Completed      int     `json:"completed"`
	Expired        int     `json:"expired"`
	Cancelled      int     `json:"cancelled"`
	Offers         int     `json:"offers"`
	OffersPerReq   float64 `json:"offers_per_request"`
}

func availabilitySpec(v volunteer) availability.Spec {
	return availability.Spec{TimeZone: timeZone, Weekly: v.slots}
}

func sortRequests(rs []request) {
	slices.SortStableFunc(rs, func(a, b request) int {
		if c := a.createdAt.Compare(b.createdAt); c != 0 {
			return c
		}
		return cmp.Compare(a.participant, b.participant)
	})
}

func townInfo(cfg Config, t town) TownInfo {
	info := TownInfo{Participants: cfg.Participants, Volunteers: cfg.Volunteers, Days: cfg.Days, Seed: cfg.Seed,
		Weights: weightsString(cfg.Weights), RequestsPerWeek: round(float64(len(t.requests))*7/float64(cfg.Days), 1)}
	cands := make([]matching.Candidate, 0, len(t.volunteers))
	for _, v := range t.volunteers {
		info.SlotsPerWeek += len(v.slots)
		info.CapPerWeek += v.weekCap
		week, err := availability.Compile(availabilitySpec(v))
		if err != nil {
			panic(err) // the town's slots are well formed
		}
		cands = append(cands, matching.Candidate{ID: v.id, OrgID: simOrgID, Active: true, Vetted: true,
			HomeLat: v.home.Lat, HomeLon: v.home.Lon, TravelRadiusKm: v.radiusKm, Languages: []string{"sv"},
			MaxOutingsPerWeek: v.weekCap, Availability: week})
	}
	reachable, eligible := 0, 0
	for _, r := range t.requests {
		req := matching.MatchRequest{OrgID: simOrgID, StartsAt: r.startsAt, EndsAt: r.startsAt.Add(outingLength),
			Lat: r.place.Lat, Lon: r.place.Lon, Language: "sv", CompanionGender: "any"}
		n := 0
		for _, c := range cands {
			if ok, _ := matching.Check(req, c); ok {
				n++
			}
		}
		eligible += n
		if n > 0 {
			reachable++
		}
	}
	info.Reachable = ratio(reachable, len(t.requests))
	info.Eligible = round(float64(eligible)/float64(max(len(t.requests), 1)), 2)
	return info
}

func weightsString(w matching.Weights) string {
	return fmt.Sprintf("distance=%g,continuity=%g,slack=%g,fairness=%g,feedback=%g,skills=%g",
		w.Distance, w.Continuity, w.Slack, w.Fairness, w.Feedback, w.Skills)
}

// collect reads every outing back through the service (as a coordinator
// would) and computes the figures.
func (s *sim) collect() (Figures, trace, error) {
	tr := trace{finalStatus: map[string]matching.OutingStatus{}, histories: map[string][]matching.HistoryEntry{}}
	f := Figures{Requests: len(s.t.requests), Offers: s.offers}
	type done struct {
		start       time.Time
		participant int
		vol         int
	}
	var completed []done
	var toMatch []time.Duration
	var distSum float64
	perVol := make([]float64, len(s.t.volunteers))
	matched := 0
	for i, r := range s.t.requests {
		id := s.outingID[i]
		v, err := s.svc.Outing(s.ctx, s.coord, id)
		if err != nil {
			return Figures{}, trace{}, fmt.Errorf("read outing %d: %w", i, err)
		}
		h, err := s.svc.History(s.ctx, s.coord, id)
		if err != nil {
			return Figures{}, trace{}, fmt.Errorf("read history %d: %w", i, err)
		}
		tr.finalStatus[id], tr.histories[id] = v.Status, h
		for _, e := range h {
			if e.To == matching.StatusConfirmed {
				toMatch = append(toMatch, e.At.Sub(v.CreatedAt))
				break
			}
		}
		ahead := r.startsAt.Sub(r.createdAt) >= 24*time.Hour
		if ahead {
			f.Ahead24h++
		}
		switch v.Status {
		case matching.StatusCompleted:
			f.Completed++
			if ahead {
				matched++
			}
			vol := s.volOf[v.VolunteerID]
			perVol[vol]++
			home := s.t.volunteers[vol].home
			distSum += matching.DistanceKm(home.Lat, home.Lon, r.place.Lat, r.place.Lon)
			completed = append(completed, done{start: r.startsAt, participant: r.participant, vol: vol})
		case matching.StatusExpired:
			f.Expired++
		case matching.StatusCancelled:
			f.Cancelled++
		}
	}
	f.MatchedShare = ratio(matched, f.Ahead24h)
	slices.Sort(toMatch)
	f.MedianHoursToMatch = round(quantile(toMatch, 0.5).Hours(), 2)
	f.P90HoursToMatch = round(quantile(toMatch, 0.9).Hours(), 2)
	f.Gini = round(gini(perVol), 3)
	if f.Completed > 0 {
		f.MeanDistanceKm = round(distSum/float64(f.Completed), 2)
	}
	slices.SortStableFunc(completed, func(a, b done) int { return a.start.Compare(b.start) })
	seen := map[int]map[int]bool{}
	familiar := 0
	for _, c := range completed {
		before := seen[c.participant]
		if before == nil {
			seen[c.participant] = map[int]bool{c.vol: true}
			continue
		}
		f.RepeatOutings++
		if before[c.vol] {
			familiar++
		}
		before[c.vol] = true
	}
	f.FamiliarShare = ratio(familiar, f.RepeatOutings)
	f.OffersPerReq = round(float64(f.Offers)/float64(max(f.Requests, 1)), 2)
	s.clk.mu.Lock()
	tr.clockBackwards, tr.clockReads = s.clk.backwards, s.clk.reads
	s.clk.mu.Unlock()
	return f, tr, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return round(float64(a)/float64(b), 3)
}

func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}

// quantile of sorted durations, nearest rank; 0 for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// gini is 0 when every volunteer did as many outings, towards 1 when one
// did them all.
func gini(xs []float64) float64 {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	var sum, weighted float64
	for i, y := range ys {
		sum += y
		weighted += float64(i+1) * y
	}
	n := float64(len(ys))
	if sum == 0 || n == 0 {
		return 0
	}
	return 2*weighted/(n*sum) - (n+1)/n
}

// WriteTable prints the result as a table.
func (r Result) WriteTable(w io.Writer) error {
	t := r.Town
	var b strings.Builder
	fmt.Fprintf(&b, "clavis simulate: Halmstad, %d participants, %d volunteers, %d days, seed %d\n",
		t.Participants, t.Volunteers, t.Days, t.Seed)
	fmt.Fprintf(&b, "weights: %s\n", t.Weights)
	fmt.Fprintf(&b, "supply: %d weekly slots (caps allow %d outings a week) for %.1f requests a week\n",
		t.SlotsPerWeek, t.CapPerWeek, t.RequestsPerWeek)
	fmt.Fprintf(&b, "reach: %.1f %% of requests have a volunteer whose slot (with travel time) and radius fit; %.2f such volunteers a request\n",
		100*t.Reachable, t.Eligible)
	b.WriteString("\n")
	c, n := r.Clavis, r.NearestFirst
	pct := func(x float64) string { return fmt.Sprintf("%.1f %%", 100*x) }
	hours := func(x float64) string { return fmt.Sprintf("%.2f h", x) }
	rows := [][4]string{
		{"", "Clavis", "nearest-first", "goal (Clavis)"},
		{"requests", fmt.Sprint(c.Requests), fmt.Sprint(n.Requests), ""},
		{"matched, of requests made >= 24 h ahead", pct(c.MatchedShare), pct(n.MatchedShare), goal(c.MatchedShare >= GoalMatchedShare, ">= 95 %")},
		{"median time to match", hours(c.MedianHoursToMatch), hours(n.MedianHoursToMatch), goal(c.MedianHoursToMatch < GoalMedianToMatch.Hours(), "< 2 h")},
		{"p90 time to match", hours(c.P90HoursToMatch), hours(n.P90HoursToMatch), ""},
		{"Gini of completed outings per volunteer", fmt.Sprintf("%.3f", c.Gini), fmt.Sprintf("%.3f", n.Gini), goal(c.Gini < GoalGini, "< 0.3")},
		{"repeat outings with a familiar volunteer", pct(c.FamiliarShare), pct(n.FamiliarShare), goal(c.FamiliarShare >= GoalFamiliarShare, ">= 60 %")},
		{"  (repeat outings)", fmt.Sprint(c.RepeatOutings), fmt.Sprint(n.RepeatOutings), ""},
		{"mean distance volunteer - meeting point", fmt.Sprintf("%.2f km", c.MeanDistanceKm), fmt.Sprintf("%.2f km", n.MeanDistanceKm), ""},
		{"completed outings", fmt.Sprint(c.Completed), fmt.Sprint(n.Completed), ""},
		{"expired requests", fmt.Sprint(c.Expired), fmt.Sprint(n.Expired), ""},
		{"cancelled (volunteer, within the hour)", fmt.Sprint(c.Cancelled), fmt.Sprint(n.Cancelled), ""},
		{"offers sent per request", fmt.Sprintf("%.2f", c.OffersPerReq), fmt.Sprintf("%.2f", n.OffersPerReq), ""},
	}
	for _, row := range rows {
		line := fmt.Sprintf("%-42s %12s %14s  %s", row[0], row[1], row[2], row[3])
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func goal(met bool, what string) string {
	if met {
		return what + " met"
	}
	return what + " MISSED"
}

// WriteJSON prints the result as indented JSON.
func (r Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
