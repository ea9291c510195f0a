package matching

import (
	"math"
	"slices"
	"strings"
	"time"
)

// This file is the pure ranking core: who may be offered an outing, in what
// order, and why. It knows nothing of HTTP or storage; the store prefilters
// volunteers by cell, organisation and status and fills in Candidate values.

// Hard-rule codes, stable for clients and logs. Rules are checked in this
// order and the first that fails is the one reported.
const (
	RuleNotActive         = "not_active"
	RuleNotVetted         = "not_vetted"
	RuleOtherOrganisation = "other_organisation"
	RuleUnavailable       = "unavailable"
	RuleBusy              = "busy"
	RuleTooFar            = "too_far"
	RuleLanguage          = "language"
	RuleGender            = "gender"
	RuleWeeklyCap         = "weekly_cap"
	RuleExcluded          = "excluded"
	RuleBlocked           = "blocked"
)

// Travel time between a volunteer's home and the meeting point, added before
// and after the outing for the availability and busy rules: the distance at
// TravelSpeedKmh (a bus ride with a walk and a wait, not a car), never less
// than MinTravelTime, because even a neighbour needs time to get ready and
// arrive calm.
const (
	TravelSpeedKmh = 20.0
	MinTravelTime  = 15 * time.Minute
)

// Shape of the score parts; see the part functions for why.
const (
	// DistanceHalfKm is the distance at which the distance part is 0.5.
	DistanceHalfKm = 5.0
	// PreferredBoost is added to continuity when the participant marked the
	// volunteer as preferred.
	PreferredBoost = 0.5
	// SlackFull is the free time on the tighter side of the outing that earns
	// the whole slack part.
	SlackFull = 2 * time.Hour
	// FairnessHalfLoad is the number of outings in the last 30 days at which
	// the load half of fairness is 0.5.
	FairnessHalfLoad = 4.0
	// RestDays without an outing earn the whole rest half of fairness.
	RestDays = 14
	// feedbackPrior is the rating a volunteer is assumed to have before any
	// feedback, and feedbackPriorWeight how many ratings it counts as: a
	// single 5 should not outrank a steady 4.8 from twenty outings.
	feedbackPrior       = 4.0
	feedbackPriorWeight = 3.0
)

// MatchRequest is an outing as ranking sees it.
type MatchRequest struct {
	OutingID      string
	OrgID         string
	ParticipantID string
	// Kind is one of bus_trip, cafe, walk, errand, activity, other.
	Kind     string
	StartsAt time.Time
	EndsAt   time.Time
	// Lat and Lon are the exact meeting point.
	Lat, Lon float64
	// Language is the language the companion must speak; empty means any.
	Language string
	// CompanionGender is "any", "female" or "male"; anything else means any.
	CompanionGender string
	// ParticipantFirstName is used in reasons only ("met Sara 3 times").
	ParticipantFirstName string
	// Blocked holds the participant's never-again volunteers, Preferred the
	// ones they asked for, Excluded those who declined or were rejected for
	// this outing. Keys are volunteer ids; nil maps are empty sets.
	Blocked   map[string]bool
	Preferred map[string]bool
	Excluded  map[string]bool
	// Now is when the ranking happens, for "days since the last outing"; the
	// store's 30-day counts should be taken at the same time. Zero means
	// StartsAt.
	Now time.Time
}

// Availability is a volunteer's free time as ranking needs it. The weekly
// availability (with time zone and absences) implements it.
type Availability interface {
	// Covers reports whether one available stretch holds all of [start, end).
	Covers(start, end time.Time) bool
	// Slack is the free time around [start, end) inside the stretch that
	// covers it, on the tighter side: min(start−stretch start, stretch end−end).
	// Only called when Covers is true.
	Slack(start, end time.Time) time.Duration
}

// Booking is one of a volunteer's pending or confirmed outings.
type Booking struct {
	// OutingID lets a re-check of the same outing (for example on approve,
	// when it is already this volunteer's pending outing) ignore itself.
	OutingID string
	Start    time.Time
	End      time.Time
}

// Candidate is one prefiltered volunteer with what ranking needs to know.
type Candidate struct {
	ID string
	// Name is the first name, for reasons and exclusions.
	Name   string
	OrgID  string
	Active bool
	Vetted bool
	// HomeLat and HomeLon are the volunteer's home.
	HomeLat, HomeLon float64
	// TravelRadiusKm is how far the volunteer will go; anything above
	// MaxTravelRadiusKm counts as MaxTravelRadiusKm.
	TravelRadiusKm float64
	Languages      []string
	// Gender is female, male, other or unspecified.
	Gender string
	// Skills are lower-case tags such as "public_transport"; RelevantSkills
	// lists those that score for each outing kind.
	Skills []string
	// MaxOutingsPerWeek of 0 or less means the volunteer takes none (paused).
	MaxOutingsPerWeek int
	// Availability nil means never available.
	Availability Availability
	// OutingsThisWeek counts pending, confirmed and completed outings in the
	// ISO week of the request (Monday to Sunday in the volunteer's zone),
	// not counting the request itself.
	OutingsThisWeek int
	// OutingsLast30Days counts outings in the 30 days before Now.
	OutingsLast30Days int
	// LastOutingAt is the start of the most recent outing; zero means never.
	LastOutingAt time.Time
	// Busy holds the volunteer's pending and confirmed outings.
	Busy []Booking
	// CompletedWith is the number of completed outings with this participant
	// and AvgRatingWith the participant's average rating of them (0: none).
	CompletedWith int
	AvgRatingWith float64
	// AvgRating over Ratings ratings from all participants (0: none).
	AvgRating float64
	Ratings   int
}

// Parts are the score's parts, each 0..1, so a coordinator sees why.
type Parts struct {
	Distance   float64 `json:"distance"`
	Continuity float64 `json:"continuity"`
	Slack      float64 `json:"slack"`
	Fairness   float64 `json:"fairness"`
	Feedback   float64 `json:"feedback"`
	Skills     float64 `json:"skills"`
}

// Scored is a volunteer who passes every hard rule.
type Scored struct {
	VolunteerID string `json:"volunteer_id"`
	Name        string `json:"name"`
	// Score is 0..100 with one decimal: the weighted mean of the parts.
	Score float64 `json:"score"`
	// DistanceKm from home to the meeting point, to 10 m.
	DistanceKm float64 `json:"distance_km"`
	// Parts are rounded to three decimals for display; Score is computed
	// from the unrounded ones.
	Parts   Parts    `json:"parts"`
	Reasons []string `json:"reasons"`
}

// Exclusion says why a volunteer is not a candidate: the first hard rule,
// in the fixed order, that fails.
type Exclusion struct {
	VolunteerID string `json:"volunteer_id"`
	Name        string `json:"name"`
	Rule        string `json:"rule"`
	Message     string `json:"message"`
}

// RankOptions tune one ranking.
type RankOptions struct {
	// Weights of the parts. The zero value, and weights that fail Validate,
	// mean DefaultWeights: validate configured ones at start (ParseWeights).
	Weights Weights
	// Lang is the coordinator's language for reasons and messages: "sv" or
	// "en" (anything else is English).
	Lang string
	// Limit returns only the best Limit volunteers (0 or less: all). Ranking
	// then keeps a bounded heap instead of sorting everyone, and parts and
	// reasons, the only per-volunteer allocations, are built for the returned
	// ones alone. A page further down asks for offset+page size.
	Limit int
	// IncludeExcluded also returns every excluded volunteer, sorted by id,
	// with the first failing rule. That costs an entry per excluded
	// volunteer and an availability check for each of them (without it,
	// availability is checked only for volunteers who pass the cheap rules),
	// so only the "why is Anna not offered?" view should ask for it.
	IncludeExcluded bool
}

// Rank returns the volunteers who pass every hard rule, best first, and when
// asked, those who do not with the first rule they fail. Ties in the shown
// score are broken by distance, then by volunteer id, so the order depends
// only on the input set, not its order. Volunteer ids must be unique.
func Rank(req MatchRequest, cands []Candidate, opt RankOptions) (ranked []Scored, excluded []Exclusion) {
	r := newRanking(&req, opt.Weights, cands)
	lang := opt.Lang

	var keep []rankEntry
	limited := opt.Limit > 0 && opt.Limit < len(cands)
	if limited {
		keep = make([]rankEntry, 0, opt.Limit)
	}
	for i := range cands {
		c := &cands[i]
		rule, dist, travel := r.check(c, opt.IncludeExcluded)
		if rule != rulePass {
			if opt.IncludeExcluded {
				excluded = append(excluded, Exclusion{
					VolunteerID: c.ID, Name: c.Name,
					Rule: ruleCodes[rule], Message: ruleMessage(rule, lang),
				})
			}
			continue
		}
		p := r.parts(c, dist, travel)
		e := rankEntry{idx: int32(i), tenths: r.tenths(&p), dist: dist}
		if !limited {
			keep = append(keep, e)
		} else if len(keep) < opt.Limit {
			keep = append(keep, e)
			r.heapUp(keep, len(keep)-1)
		} else if r.better(e, keep[0]) {
			keep[0] = e
			r.heapDown(keep, 0)
		}
	}
	slices.SortFunc(keep, func(a, b rankEntry) int {
		if r.better(a, b) {
			return -1
		}
		if r.better(b, a) {
			return 1
		}
		return 0
	})

	ranked = make([]Scored, len(keep))
	for k, e := range keep {
		c := &cands[e.idx]
		dist := r.distance(c)
		travel := TravelTime(dist)
		p := r.parts(c, dist, travel)
		ranked[k] = Scored{
			VolunteerID: c.ID,
			Name:        c.Name,
			Score:       float64(e.tenths) / 10,
			DistanceKm:  math.Round(dist*100) / 100,
			Parts: Parts{
				Distance: round3(p.Distance), Continuity: round3(p.Continuity),
				Slack: round3(p.Slack), Fairness: round3(p.Fairness),
				Feedback: round3(p.Feedback), Skills: round3(p.Skills),
			},
			Reasons: r.reasons(c, dist, travel, lang),
		}
	}
	if len(excluded) > 1 {
		slices.SortFunc(excluded, func(a, b Exclusion) int { return strings.Compare(a.VolunteerID, b.VolunteerID) })
	}
	return ranked, excluded
}

// Check re-runs the hard rules for one volunteer, as on accept: ok, or the
// code of the first rule that fails.
func Check(req MatchRequest, c Candidate) (ok bool, rule string) {
	r := newRanking(&req, Weights{}, nil)
	code, _, _ := r.check(&c, true)
	if code != rulePass {
		return false, ruleCodes[code]
	}
	return true, ""
}

// TravelTime is the time allowed for getting from home to a meeting point
// distKm away (and back).
func TravelTime(distKm float64) time.Duration {
	if !(distKm > 0) {
		return MinTravelTime
	}
	// Far beyond any radius the figure no longer matters; capping it keeps
	// the conversion to a Duration finite.
	distKm = min(distKm, 10*MaxTravelRadiusKm)
	return max(time.Duration(distKm/TravelSpeedKmh*float64(time.Hour)), MinTravelTime)
}

// RelevantSkills lists the skill tags that score for an outing kind: those
// for the kind itself and those that help on any outing with this group.
func RelevantSkills(kind string) []string {
	return slices.Concat(kindSkills[kind], generalSkills)
}

var (
	generalSkills = []string{"mental_health", "anxiety_support", "first_aid"}
	kindSkills    = map[string][]string{
		"bus_trip": {"public_transport", "travel_training"},
		"cafe":     {"conversation"},
		"walk":     {"walking", "outdoors"},
		"errand":   {"shopping", "errands", "paperwork"},
		"activity": {"sports", "culture", "crafts", "music", "games"},
	}
)

type ruleCode uint8

const (
	rulePass ruleCode = iota
	ruleNotActive
	ruleNotVetted
	ruleOtherOrganisation
	ruleUnavailable
	ruleBusy
	ruleTooFar
	ruleLanguage
	ruleGender
	ruleWeeklyCap
	ruleExcluded
	ruleBlocked
)

var ruleCodes = [...]string{
	rulePass:              "",
	ruleNotActive:         RuleNotActive,
	ruleNotVetted:         RuleNotVetted,
	ruleOtherOrganisation: RuleOtherOrganisation,
	ruleUnavailable:       RuleUnavailable,
	ruleBusy:              RuleBusy,
	ruleTooFar:            RuleTooFar,
	ruleLanguage:          RuleLanguage,
	ruleGender:            RuleGender,
	ruleWeeklyCap:         RuleWeeklyCap,
	ruleExcluded:          RuleExcluded,
	ruleBlocked:           RuleBlocked,
}

var ruleMessages = [...][2]string{ // {en, sv}
	ruleNotActive:         {"the volunteer's account is not active", "volontärens konto är inte aktivt"},
	ruleNotVetted:         {"not yet vetted by a coordinator", "ännu inte godkänd av en samordnare"},
	ruleOtherOrganisation: {"belongs to another organisation", "tillhör en annan organisation"},
	ruleUnavailable:       {"not available for the whole outing including travel time", "inte tillgänglig under hela utflykten inklusive restid"},
	ruleBusy:              {"already has an outing at that time", "har redan en utflykt vid den tiden"},
	ruleTooFar:            {"the meeting point is beyond their travel radius", "mötesplatsen ligger utanför hens reseavstånd"},
	ruleLanguage:          {"does not speak the requested language", "talar inte det önskade språket"},
	ruleGender:            {"does not match the participant's wish for a companion", "stämmer inte med deltagarens önskemål om sällskap"},
	ruleWeeklyCap:         {"has reached their weekly limit of outings", "har nått sitt veckotak för utflykter"},
	ruleExcluded:          {"declined or was rejected for this outing", "har tackat nej eller avböjts för den här utflykten"},
	ruleBlocked:           {"the participant asked not to be matched with this volunteer", "deltagaren har bett att inte matchas med den här volontären"},
}

func ruleMessage(r ruleCode, lang string) string {
	if lang == "sv" {
		return ruleMessages[r][1]
	}
	return ruleMessages[r][0]
}

// ranking holds what is the same for every candidate of one request.
type ranking struct {
	req    *MatchRequest
	cands  []Candidate
	now    time.Time
	skills []string
	// The meeting point's latitude in radians and its cosine.
	φ, cosφ float64
	// The request's sets, as short lists when short: comparing a few ids
	// is cheaper than hashing one for every volunteer.
	blocked, preferred, excluded idSet
	// factor[i] is 100·w_i/Σw: the score is Σ factor[i]·part[i].
	factor [6]float64
}

type rankEntry struct {
	idx    int32
	tenths int32 // score ×10, rounded: the shown score, so order matches it
	dist   float64
}

func newRanking(req *MatchRequest, w Weights, cands []Candidate) *ranking {
	r := &ranking{
		req: req, cands: cands, now: req.Now, skills: RelevantSkills(req.Kind),
		φ: rad(req.Lat), cosφ: math.Cos(rad(req.Lat)),
		blocked: newIDSet(req.Blocked), preferred: newIDSet(req.Preferred), excluded: newIDSet(req.Excluded),
	}
	if r.now.IsZero() {
		r.now = req.StartsAt
	}
	if w.sum() <= 0 || w.Validate() != nil {
		w = DefaultWeights()
	}
	s := w.sum()
	for i, x := range w.array() {
		r.factor[i] = 100 * x / s
	}
	return r
}

// check runs the hard rules and returns a failing one (or rulePass), with
// the distance and travel time it computed on the way. With inOrder it
// returns the first failing rule of the fixed order. Without, it tries the
// cheap rules before availability, the one that costs (time zones, slots,
// absences), so that volunteers who are too far, already excluded and so on
// never pay for it: pass or fail comes out the same, only which failing rule
// is named may differ, so Rank uses it when no exclusion is reported.
func (r *ranking) check(c *Candidate, inOrder bool) (ruleCode, float64, time.Duration) {
	req := r.req
	switch {
	case !c.Active:
		return ruleNotActive, 0, 0
	case !c.Vetted:
		return ruleNotVetted, 0, 0
	case c.OrgID != req.OrgID:
		return ruleOtherOrganisation, 0, 0
	}
	// A home whose latitude alone is farther than the radius is too far
	// (a great circle is never shorter than its north-south part): reject it
	// before any trigonometry. The millimetre keeps rounding from ever
	// rejecting a home that the exact distance would accept.
	if !inOrder && earthRadiusKm*math.Abs(rad(c.HomeLat)-r.φ) > min(c.TravelRadiusKm, MaxTravelRadiusKm)+1e-6 {
		return ruleTooFar, 0, 0
	}
	dist := r.distance(c)
	travel := TravelTime(dist)
	from, to := req.StartsAt.Add(-travel), req.EndsAt.Add(travel)
	if inOrder {
		if !r.available(c, from, to) {
			return ruleUnavailable, dist, travel
		}
		if r.busy(c, from, to) {
			return ruleBusy, dist, travel
		}
	}
	if rule := r.checkRest(c, dist); rule != rulePass {
		return rule, dist, travel
	}
	if !inOrder {
		if r.busy(c, from, to) {
			return ruleBusy, dist, travel
		}
		if !r.available(c, from, to) {
			return ruleUnavailable, dist, travel
		}
	}
	return rulePass, dist, travel
}

func (r *ranking) available(c *Candidate, from, to time.Time) bool {
	return c.Availability != nil && c.Availability.Covers(from, to)
}

func (r *ranking) busy(c *Candidate, from, to time.Time) bool {
	for i := range c.Busy {
		b := &c.Busy[i]
		if b.OutingID != "" && b.OutingID == r.req.OutingID {
			continue
		}
		if b.Start.Before(to) && b.End.After(from) {
			return true
		}
	}
	return false
}

// checkRest runs the rules after busy, in order.
func (r *ranking) checkRest(c *Candidate, dist float64) ruleCode {
	req := r.req
	radius := min(c.TravelRadiusKm, MaxTravelRadiusKm)
	if !(dist <= radius) { // NaN coordinates fail here too
		return ruleTooFar
	}
	if req.Language != "" && !containsFold(c.Languages, req.Language) {
		return ruleLanguage
	}
	if g := req.CompanionGender; (g == "female" || g == "male") && !strings.EqualFold(c.Gender, g) {
		return ruleGender
	}
	if c.OutingsThisWeek >= c.MaxOutingsPerWeek {
		return ruleWeeklyCap
	}
	if r.excluded.has(c.ID) {
		return ruleExcluded
	}
	if r.blocked.has(c.ID) {
		return ruleBlocked
	}
	return rulePass
}

func (r *ranking) parts(c *Candidate, dist float64, travel time.Duration) Parts {
	return Parts{
		Distance:   distancePart(dist),
		Continuity: continuityPart(c, r.isPreferred(c)),
		Slack:      clamp01(float64(r.slack(c, travel)) / float64(SlackFull)),
		Fairness:   r.fairnessPart(c),
		Feedback:   feedbackPart(c),
		Skills:     clamp01(float64(r.matchedSkills(c, nil)) / 2),
	}
}

func (r *ranking) tenths(p *Parts) int32 {
	f := &r.factor
	s := f[0]*p.Distance + f[1]*p.Continuity + f[2]*p.Slack + f[3]*p.Fairness + f[4]*p.Feedback + f[5]*p.Skills
	t := math.Round(s * 10)
	if !(t >= 0) {
		return 0
	}
	return int32(min(t, 1000))
}

// better reports whether a ranks above b: shown score, then distance, then id.
func (r *ranking) better(a, b rankEntry) bool {
	if a.tenths != b.tenths {
		return a.tenths > b.tenths
	}
	if a.dist != b.dist {
		return a.dist < b.dist
	}
	if ia, ib := r.cands[a.idx].ID, r.cands[b.idx].ID; ia != ib {
		return ia < ib
	}
	return a.idx < b.idx
}

// The bounded heap keeps the worst of the best Limit at its root.
func (r *ranking) heapUp(h []rankEntry, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !r.better(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (r *ranking) heapDown(h []rankEntry, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		worst := l
		if rr := l + 1; rr < len(h) && r.better(h[l], h[rr]) {
			worst = rr
		}
		if !r.better(h[i], h[worst]) {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// distancePart halves every DistanceHalfKm: walking distance matters, and a
// volunteer across town is still a fine match.
func distancePart(dist float64) float64 {
	return clamp01(1 / (1 + dist/DistanceHalfKm))
}

// continuityPart: familiarity grows with each completed outing (½, ¾, ⅞, …)
// and is scaled by how the participant rated them (1 → 0, 5 → 1; unrated
// counts as 0.75); preferred adds PreferredBoost.
func continuityPart(c *Candidate, preferred bool) float64 {
	var v float64
	if c.CompletedWith > 0 {
		familiarity := 1 - math.Ldexp(1, -min(c.CompletedWith, 30))
		rating := 0.75
		if c.AvgRatingWith > 0 {
			rating = clamp01((c.AvgRatingWith - 1) / 4)
		}
		v = familiarity * rating
	}
	if preferred {
		v += PreferredBoost
	}
	return clamp01(v)
}

func (r *ranking) isPreferred(c *Candidate) bool { return r.preferred.has(c.ID) }

func (r *ranking) distance(c *Candidate) float64 {
	return haversineKm(r.φ, r.cosφ, r.req.Lon, c.HomeLat, c.HomeLon)
}

// idSet is a set of volunteer ids: a short list, or the map when long.
type idSet struct {
	list []string
	m    map[string]bool
}

func newIDSet(m map[string]bool) idSet {
	if len(m) > 16 {
		return idSet{m: m}
	}
	var s idSet
	for id, in := range m {
		if in {
			s.list = append(s.list, id)
		}
	}
	return s
}

func (s idSet) has(id string) bool {
	if s.m != nil {
		return s.m[id]
	}
	for _, x := range s.list {
		if x == id {
			return true
		}
	}
	return false
}

// slack is the free time on the tighter side of the outing with its travel:
// the availability's own slack, cut by the nearest other booking.
func (r *ranking) slack(c *Candidate, travel time.Duration) time.Duration {
	from, to := r.req.StartsAt.Add(-travel), r.req.EndsAt.Add(travel)
	s := c.Availability.Slack(from, to)
	for i := range c.Busy {
		b := &c.Busy[i]
		if b.OutingID != "" && b.OutingID == r.req.OutingID {
			continue
		}
		if !b.End.After(from) {
			s = min(s, from.Sub(b.End))
		} else if !b.Start.Before(to) {
			s = min(s, b.Start.Sub(to))
		}
	}
	return max(s, 0)
}

// fairnessPart: three quarters load (fewer outings in 30 days first), one
// quarter rest (days since the last outing, full after RestDays).
func (r *ranking) fairnessPart(c *Candidate) float64 {
	load := 1 / (1 + float64(max(c.OutingsLast30Days, 0))/FairnessHalfLoad)
	rest := 1.0
	if !c.LastOutingAt.IsZero() {
		rest = clamp01(r.now.Sub(c.LastOutingAt).Hours() / (24 * RestDays))
	}
	return clamp01(0.75*load + 0.25*rest)
}

// feedbackPart is the average rating from every participant, pulled towards
// feedbackPrior by feedbackPriorWeight ratings, mapped 1..5 → 0..1.
func feedbackPart(c *Candidate) float64 {
	n := float64(max(c.Ratings, 0))
	avg := c.AvgRating
	if n == 0 || !(avg >= 1 && avg <= 5) {
		n, avg = 0, 0
	}
	adj := (avg*n + feedbackPrior*feedbackPriorWeight) / (n + feedbackPriorWeight)
	return clamp01((adj - 1) / 4)
}

// matchedSkills counts the volunteer's skills relevant to the outing; two
// earn the whole skills part. With out non-nil it also collects them.
func (r *ranking) matchedSkills(c *Candidate, out *[]string) int {
	n := 0
	for _, s := range c.Skills {
		for _, want := range r.skills {
			if len(s) == len(want) && strings.EqualFold(s, want) {
				n++
				if out != nil {
					*out = append(*out, want)
				}
				break
			}
		}
	}
	return n
}

func clamp01(x float64) float64 {
	if !(x > 0) { // also NaN
		return 0
	}
	return min(x, 1)
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
