package matching

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching/availability"
)

// This file turns stored profiles and outings into the ranking core's input
// (MatchRequest, Candidate) and answers "who are this outing's candidates?".
//
// The number of database round trips is fixed, whatever the number of
// volunteers: one read of the outing, one of the participant's
// preferences, one prefilter of profiles by (organisation, status,
// home_cell $in the cells covering MaxTravelRadiusKm), then ONE query on
// outings for the bookings, recent load and shared history of every
// volunteer the cheap rules leave standing (volunteer_id $in, three time
// windows and the participant's completed outings in one $or), ONE query on
// feedback for their ratings, and ONE $in read of the accounts for the
// names on the returned page. Every find asks for its whole bounded result
// in the first batch, so no getMore round trip appears as the set grows.

// Bounds of the queries behind a ranking. A prefilter that hits
// MaxCandidatePool is logged: the ranking then misses volunteers, and the
// organisation has outgrown a single meeting point's 50 km.
const (
	MaxCandidatePool = 20000
	maxBookingRows   = 50000
	maxRatingRows    = 50000
	// MaxCandidatesDepth bounds how far down the ranked list a coordinator
	// may page (offset + page size), because each page re-ranks the pool.
	MaxCandidatesDepth = 1000
	// loadWindow is the fairness window of the ranking core (OutingsLast30Days).
	loadWindow = 30 * 24 * time.Hour
)

// Offer-wave defaults (docs/configuration.md: CLAVIS_OFFER_WAVE, CLAVIS_OFFER_WAIT).
const (
	DefaultOfferWave = 5
	DefaultOfferWait = 2 * time.Hour
	// MinOfferWait keeps waves from following each other faster than a
	// volunteer can read a push, however close the start is.
	MinOfferWait = time.Minute
)

// MatcherConfig tunes ranking and offers; zero values take the defaults.
type MatcherConfig struct {
	// Weights of the score parts (CLAVIS_MATCH_WEIGHTS); zero means DefaultWeights.
	Weights Weights
	// OfferWave is how many candidates one wave of offers reaches (CLAVIS_OFFER_WAVE).
	OfferWave int
	// OfferWait is the longest wait for an acceptance before the next wave
	// (CLAVIS_OFFER_WAIT); a quarter of the time left before the start is
	// used when that is shorter.
	OfferWait time.Duration
	// Logger receives warnings; nil means the service's logger.
	Logger *slog.Logger
	// Rank orders the offer waves' candidates; nil means Rank.
	Rank RankFunc
}

// Matcher is matching's ranking side on top of the outings Service: the
// candidates of an outing, a volunteer's offers, offer waves, and the
// participants' preferred and never-again volunteers.
type Matcher struct {
	svc     *Service
	st      Store
	weights Weights
	wave    int
	wait    time.Duration
	log     *slog.Logger
	rank    RankFunc
}

// NewMatcher builds the matcher over svc. Invalid weights are an error (main.go stops on it).
func NewMatcher(ctx context.Context, svc *Service, cfg MatcherConfig) (*Matcher, error) {
	w := cfg.Weights
	if w == (Weights{}) {
		w = DefaultWeights()
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	if cfg.OfferWave <= 0 {
		cfg.OfferWave = DefaultOfferWave
	}
	if cfg.OfferWait <= 0 {
		cfg.OfferWait = DefaultOfferWait
	}
	log := cfg.Logger
	if log == nil {
		log = svc.log
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &Matcher{
		svc: svc, st: svc.st,
		weights: w, wave: cfg.OfferWave, wait: max(cfg.OfferWait, MinOfferWait), log: log, rank: cfg.Rank,
	}
	if m.rank == nil {
		m.rank = Rank
	}
	return m, nil
}

// Weights returns the weights in use.
func (m *Matcher) Weights() Weights { return m.weights }

// bookingRow is an outing as load, busy and history need it.
type bookingRow struct {
	ID            string       `bson:"_id"`
	VolunteerID   string       `bson:"volunteer_id"`
	ParticipantID string       `bson:"participant_id"`
	Status        OutingStatus `bson:"status"`
	StartsAt      time.Time    `bson:"starts_at"`
	EndsAt        time.Time    `bson:"ends_at"`
}

// span is [from, to).
type span struct{ from, to time.Time }

// bookingQuery says which outings of a set of volunteers one ranking needs.
type bookingQuery struct {
	// busy: live (pending, confirmed, in progress) outings overlapping it.
	busy span
	// load: live or completed outings starting inside any of these.
	load []span
	// participants: completed outings with any of them, at any time.
	participants []string
}

// Statuses that hold a volunteer's time, and those that count as load.
var (
	liveStatuses    = []OutingStatus{StatusPendingApproval, StatusConfirmed, StatusInProgress}
	countedStatuses = []OutingStatus{StatusPendingApproval, StatusConfirmed, StatusInProgress, StatusCompleted}
)

type ratingRow struct {
	VolunteerID   string `bson:"volunteer_id"`
	ParticipantID string `bson:"participant_id"`
	Rating        int    `bson:"rating"`
}

// ratingTotal is what ranking needs of a volunteer's ratings (1 to 5).
type ratingTotal struct {
	VolunteerID  string
	Ratings, Sum int
	// With: the ratings of the participant asked about.
	RatingsWith, SumWith int
}

// totalRatings sums rows per volunteer, as RatingTotalsOf answers.
func totalRatings(rows []ratingRow, participantID string) []ratingTotal {
	at := map[string]int{}
	var out []ratingTotal
	for _, r := range rows {
		if r.Rating < 1 || r.Rating > 5 {
			continue
		}
		i, ok := at[r.VolunteerID]
		if !ok {
			i = len(out)
			at[r.VolunteerID] = i
			out = append(out, ratingTotal{VolunteerID: r.VolunteerID})
		}
		out[i].Ratings++
		out[i].Sum += r.Rating
		if r.ParticipantID == participantID && participantID != "" {
			out[i].RatingsWith++
			out[i].SumWith += r.Rating
		}
	}
	return out
}

// ---- from documents to the ranking core ----

// matchRequest is o as ranking sees it. Declined and rejected volunteers
// are excluded; the participant's never-again and preferred volunteers are
// Blocked and Preferred.
func matchRequest(o *Outing, now time.Time, prefs participantPrefs) MatchRequest {
	excluded := make(map[string]bool, len(o.DeclinedBy)+len(o.ExcludedVolunteers))
	for _, id := range o.DeclinedBy {
		excluded[id] = true
	}
	for _, id := range o.ExcludedVolunteers {
		excluded[id] = true
	}
	return MatchRequest{
		OutingID: o.ID, OrgID: o.OrgID, ParticipantID: o.ParticipantID, Kind: string(o.Kind),
		StartsAt: o.StartsAt, EndsAt: o.EndsAt, Lat: o.MeetingPoint.Lat, Lon: o.MeetingPoint.Lon,
		Language: o.Language, CompanionGender: o.CompanionGender,
		ParticipantFirstName: firstName(o.ParticipantName),
		Blocked:              prefs.never, Preferred: prefs.preferred, Excluded: excluded, Now: now,
	}
}

// candidateFrom is a profile as ranking sees it, without the parts that
// need other collections (bookings, load, history, ratings). A volunteer is
// vetted when active: the only way for a registered volunteer to become
// active is a coordinator's approval, which records the vetting.
func candidateFrom(p *VolunteerProfile) Candidate {
	active := p.Status == auth.StatusActive
	c := Candidate{
		ID: p.UserID, OrgID: p.OrgID, Active: active, Vetted: active,
		HomeLat: p.Home.Lat, HomeLon: p.Home.Lon, TravelRadiusKm: p.TravelRadiusKm,
		Languages: p.Languages, Gender: p.Gender, Skills: p.Skills, MaxOutingsPerWeek: p.MaxOutingsPerWeek,
	}
	if !p.HasProfile {
		// Availability alone (no home, no radius) never makes a candidate.
		c.TravelRadiusKm = 0
	}
	if p.Availability != nil {
		c.Availability = &lazyAvailability{p: p}
	}
	return c
}

// lazyAvailability compiles a stored availability on first use: most
// volunteers of a prefilter are ruled out by distance before ranking asks
// about their time. (Zones are cached by availability.LoadZone; before that,
// time.LoadLocation parsing the zone database was a third of the request's
// Go time in BenchmarkCandidatesEndpoint.)
type lazyAvailability struct {
	p    *VolunteerProfile
	w    *availability.Week
	done bool
}

func (l *lazyAvailability) week() *availability.Week {
	if !l.done {
		l.w, l.done = l.p.Week(), true
	}
	return l.w
}

func (l *lazyAvailability) Covers(start, end time.Time) bool {
	w := l.week()
	return w != nil && w.Covers(start, end)
}

func (l *lazyAvailability) Slack(start, end time.Time) time.Duration {
	if w := l.week(); w != nil {
		return w.Slack(start, end)
	}
	return 0
}

// zoneOf is the time zone a volunteer's week is counted in.
func zoneOf(c *Candidate) *time.Location {
	if l, ok := c.Availability.(*lazyAvailability); ok {
		if w := l.week(); w != nil && w.Location() != nil {
			return w.Location()
		}
	}
	loc, err := availability.LoadZone(DefaultTimeZone) // cached: one parse per process
	if err != nil {
		return time.UTC
	}
	return loc
}

// isoWeek is the Monday-to-Sunday week holding t in loc.
func isoWeek(t time.Time, loc *time.Location) span {
	lt := t.In(loc)
	back := (int(lt.Weekday()) + 6) % 7
	start := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, loc)
	return span{start, start.AddDate(0, 0, 7)}
}

// bookingQueryFor covers what one request needs: overlapping live outings
// (with the longest travel time either side), the ISO week of the start in
// any time zone (eight days either side holds it), and the last 30 days.
func bookingQueryFor(req *MatchRequest, participants ...string) bookingQuery {
	travel := TravelTime(MaxTravelRadiusKm)
	return bookingQuery{
		busy: span{req.StartsAt.Add(-travel), req.EndsAt.Add(travel)},
		load: []span{
			{req.StartsAt.Add(-8 * 24 * time.Hour), req.StartsAt.Add(8 * 24 * time.Hour)},
			{req.Now.Add(-loadWindow), req.Now},
		},
		participants: participants,
	}
}

// applyBookings fills a candidate's busy times, load and history with
// req's participant from the volunteer's outings.
func applyBookings(req *MatchRequest, c *Candidate, rows []bookingRow) {
	week := isoWeek(req.StartsAt, zoneOf(c))
	recent := span{req.Now.Add(-loadWindow), req.Now}
	for i := range rows {
		r := &rows[i]
		if r.ID == req.OutingID {
			continue // the request itself neither blocks nor counts
		}
		live := r.Status == StatusPendingApproval || r.Status == StatusConfirmed || r.Status == StatusInProgress
		if live {
			c.Busy = append(c.Busy, Booking{OutingID: r.ID, Start: r.StartsAt, End: r.EndsAt})
		}
		if !live && r.Status != StatusCompleted {
			continue
		}
		if !r.StartsAt.Before(week.from) && r.StartsAt.Before(week.to) {
			c.OutingsThisWeek++
		}
		if !r.StartsAt.Before(recent.from) && r.StartsAt.Before(recent.to) {
			c.OutingsLast30Days++
		}
		if !r.StartsAt.After(req.Now) && r.StartsAt.After(c.LastOutingAt) {
			c.LastOutingAt = r.StartsAt
		}
		if r.Status == StatusCompleted && r.ParticipantID == req.ParticipantID && req.ParticipantID != "" {
			c.CompletedWith++
		}
	}
}

// applyRatings fills a candidate's ratings from every participant and from
// req's participant.
func applyRatings(req *MatchRequest, c *Candidate, rows []ratingRow) {
	var sum, sumWith, nWith int
	for _, r := range rows {
		if r.Rating < 1 || r.Rating > 5 {
			continue
		}
		sum += r.Rating
		c.Ratings++
		if r.ParticipantID == req.ParticipantID && req.ParticipantID != "" {
			sumWith += r.Rating
			nWith++
		}
	}
	if c.Ratings > 0 {
		c.AvgRating = float64(sum) / float64(c.Ratings)
	}
	if nWith > 0 {
		c.AvgRatingWith = float64(sumWith) / float64(nWith)
	}
}

// applyRatingTotal is applyRatings from a volunteer's totals.
func applyRatingTotal(c *Candidate, t ratingTotal) {
	c.Ratings = t.Ratings
	if t.Ratings > 0 {
		c.AvgRating = float64(t.Sum) / float64(t.Ratings)
	}
	if t.RatingsWith > 0 {
		c.AvgRatingWith = float64(t.SumWith) / float64(t.RatingsWith)
	}
}

// needsHistory reports whether a candidate built from its profile alone
// needs its bookings, load and ratings: when it passes every rule so far
// (to be scored, and because busy and the weekly cap may still fail), or,
// when every exclusion must name the first failing rule, when its first
// failure comes after busy in the rule order. Volunteers failing on
// status, organisation or availability never need them.
func needsHistory(req *MatchRequest, c *Candidate, inOrder bool) bool {
	// The radius rule first, when the rule's name does not matter: it rules
	// out most of a prefilter without compiling anyone's availability.
	if !inOrder && !(DistanceKm(req.Lat, req.Lon, c.HomeLat, c.HomeLon) <= min(c.TravelRadiusKm, MaxTravelRadiusKm)) {
		return false
	}
	ok, rule := Check(*req, *c)
	if ok {
		return true
	}
	if !inOrder {
		return false
	}
	switch rule {
	case RuleNotActive, RuleNotVetted, RuleOtherOrganisation, RuleUnavailable:
		return false
	}
	return true
}

// pool is one outing's ranking input.
type pool struct {
	req   MatchRequest
	cands []Candidate
}

// profileLoader loads the profiles a pool starts from.
type profileLoader func(ctx context.Context, o *Outing, inOrder bool) ([]VolunteerProfile, error)

// nearProfiles is the indexed prefilter for o's meeting point. Without
// inOrder it leaves out the volunteers whose own radius certainly does not
// reach the point: they could only be excluded (too_far), and reading them
// was most of a request's time. With inOrder the exclusions list names them
// too, so everyone in the cells around the point is read.
func (m *Matcher) nearProfiles(ctx context.Context, o *Outing, inOrder bool) ([]VolunteerProfile, error) {
	var reach *GeoPoint
	if !inOrder {
		reach = &GeoPoint{Lat: o.MeetingPoint.Lat, Lon: o.MeetingPoint.Lon}
	}
	return m.prefilter(ctx, o, reach)
}

func (m *Matcher) prefilter(ctx context.Context, o *Outing, reach *GeoPoint) ([]VolunteerProfile, error) {
	cells := CellsCovering(o.MeetingPoint.Lat, o.MeetingPoint.Lon, MaxTravelRadiusKm)
	ps, err := m.st.VolunteersInCells(ctx, VolunteerQuery{OrgID: o.OrgID, Status: auth.StatusActive, Cells: cells, WithProfile: true, Limit: MaxCandidatePool, Reach: reach})
	if len(ps) >= MaxCandidatePool {
		m.log.Warn("candidate prefilter hit its bound; some volunteers were not ranked", "outing_id", o.ID, "bound", MaxCandidatePool)
	}
	return ps, err
}

// buildPool assembles o's ranking input at now. With inOrder every
// excluded volunteer gets what it takes to name its first failing rule.
func (m *Matcher) buildPool(ctx context.Context, o *Outing, now time.Time, inOrder bool, load profileLoader) (*pool, error) {
	prefs, err := m.svc.preferencesOf(ctx, o.ParticipantID)
	if err != nil {
		return nil, fault.Wrap(err, "read preferences")
	}
	profiles, err := load(ctx, o, inOrder)
	if err != nil {
		return nil, fault.Wrap(err, "find volunteers near the meeting point")
	}
	p := &pool{req: matchRequest(o, now, prefs), cands: make([]Candidate, len(profiles))}
	var need []string
	at := make(map[string]int)
	for i := range profiles {
		p.cands[i] = candidateFrom(&profiles[i])
		if needsHistory(&p.req, &p.cands[i], inOrder) {
			need = append(need, p.cands[i].ID)
			at[p.cands[i].ID] = i
		}
	}
	if len(need) == 0 {
		return p, nil
	}
	// The two reads at once when the store allows it: on SQLite each is
	// several milliseconds of CPU at 10 000 volunteers, and a request
	// otherwise leaves the second core idle.
	var ratings []ratingTotal
	var ratingsErr error
	concurrent := m.st.ConcurrentReads(ctx)
	done := make(chan struct{})
	if concurrent {
		go func() {
			defer close(done)
			ratings, ratingsErr = m.st.RatingTotalsOf(ctx, need, o.ParticipantID)
		}()
	}
	rows, err := m.st.BookingsOf(ctx, need, bookingQueryFor(&p.req, o.ParticipantID))
	if concurrent {
		<-done
	}
	if err != nil {
		return nil, fault.Wrap(err, "read volunteers' outings")
	}
	if !concurrent {
		ratings, ratingsErr = m.st.RatingTotalsOf(ctx, need, o.ParticipantID)
	}
	if ratingsErr != nil {
		return nil, fault.Wrap(ratingsErr, "read volunteers' ratings")
	}
	byVolunteer := make(map[string][]bookingRow, len(need))
	for _, r := range rows {
		byVolunteer[r.VolunteerID] = append(byVolunteer[r.VolunteerID], r)
	}
	for _, id := range need {
		applyBookings(&p.req, &p.cands[at[id]], byVolunteer[id])
	}
	for _, t := range ratings {
		if i, ok := at[t.VolunteerID]; ok {
			applyRatingTotal(&p.cands[i], t)
		}
	}
	return p, nil
}

// ---- GET /v1/outings/{id}/candidates ----

// CandidatesQuery is what a coordinator asks of an outing's candidates.
type CandidatesQuery struct {
	// Lang of reasons and messages, "sv" or "en"; empty: the coordinator's.
	Lang string
	// Limit is the page size (1–100, default 20).
	Limit int
	// Cursor is next_cursor of the previous page.
	Cursor string
	// IncludeExcluded adds, on the first page, the volunteers near the
	// meeting point who are not candidates, each with the first rule failed.
	IncludeExcluded bool
}

// CandidatesPage is one page of an outing's candidates, best first.
type CandidatesPage struct {
	Items      []Scored `json:"items"`
	NextCursor string   `json:"next_cursor,omitempty"`
	// Excluded is there when include_excluded=true (first page only).
	Excluded []Exclusion `json:"excluded,omitempty" doc:"with include_excluded=true: active volunteers whose home is within 50 km who are not candidates, nearest first, each with the first hard rule they fail (at most limit)"`
	// ExcludedTotal counts them all, of which Excluded shows the nearest.
	ExcludedTotal int `json:"excluded_total,omitempty"`
}

// Candidates ranks the volunteers for outing id (coordinators of its
// organisation; anyone else's organisation: NotFound).
func (m *Matcher) Candidates(ctx context.Context, who auth.Identity, outingID string, q CandidatesQuery) (CandidatesPage, error) {
	return m.candidates(ctx, who, outingID, q, m.nearProfiles)
}

func (m *Matcher) candidates(ctx context.Context, who auth.Identity, outingID string, q CandidatesQuery, load profileLoader) (CandidatesPage, error) {
	if who.Role != auth.RoleCoordinator {
		return CandidatesPage{}, fault.Forbiddenf("only coordinators see an outing's candidates")
	}
	if q.Lang != "" && !isOneOf(q.Lang, Languages...) {
		return CandidatesPage{}, fault.InvalidField("lang", "must be one of: sv, en")
	}
	limit := pageSize(q.Limit)
	offset, err := decodeOffsetCursor(q.Cursor)
	if err != nil {
		return CandidatesPage{}, err
	}
	if offset+limit > MaxCandidatesDepth {
		return CandidatesPage{}, fault.InvalidField("cursor", fmt.Sprintf("candidates are listed to a depth of %d", MaxCandidatesDepth))
	}
	o, err := m.st.Outing(ctx, outingID)
	if err != nil {
		return CandidatesPage{}, notFoundOr(err, "outing")
	}
	if RelationOf(o, who) != RelCoordinator {
		return CandidatesPage{}, fault.NotFoundf("no such outing")
	}
	switch o.Status {
	case StatusOpen, StatusPendingApproval, StatusConfirmed:
	default:
		return CandidatesPage{}, fault.StateConflictf("an outing that is %s has no candidates", o.Status)
	}
	// Without ?lang= the coordinator's language applies; it is read with
	// the volunteers' names after ranking (one read of the accounts, not
	// two), and the few texts on the page are redone if it is not Swedish.
	lang, provisional := q.Lang, q.Lang == ""
	if provisional {
		lang = "sv"
	}
	withExcluded := q.IncludeExcluded && offset == 0
	p, err := m.buildPool(ctx, o, m.svc.now(), withExcluded, load)
	if err != nil {
		return CandidatesPage{}, err
	}
	ranked, excluded := Rank(p.req, p.cands, RankOptions{Weights: m.weights, Lang: lang, Limit: offset + limit + 1, IncludeExcluded: withExcluded})

	page := CandidatesPage{Items: []Scored{}}
	if offset < len(ranked) {
		page.Items = ranked[offset:min(len(ranked), offset+limit)]
	}
	if len(ranked) > offset+limit {
		page.NextCursor = encodeOffsetCursor(offset + limit)
	}
	if withExcluded {
		page.ExcludedTotal = len(excluded)
		page.Excluded = nearestExclusions(p, excluded, limit)
	}

	ids := make([]string, 0, len(page.Items)+len(page.Excluded))
	for _, s := range page.Items {
		ids = append(ids, s.VolunteerID)
	}
	for _, e := range page.Excluded {
		ids = append(ids, e.VolunteerID)
	}
	if provisional {
		ids = append(ids, who.UserID)
	}
	members, err := m.members(ctx, ids)
	if err != nil {
		return CandidatesPage{}, fault.Wrap(err, "read volunteers' names")
	}
	if me, ok := members[who.UserID]; provisional && ok && isOneOf(me.Language, Languages...) && me.Language != lang {
		m.relabel(p, &page, me.Language)
	}
	kept := page.Items[:0:0]
	for _, s := range page.Items {
		mb, ok := members[s.VolunteerID]
		if m.svc.dir != nil && (!ok || mb.Role != auth.RoleVolunteer || mb.OrgID != o.OrgID || mb.Status != auth.StatusActive) {
			// The profile's copy of the account status was stale (an
			// approval or suspension it was not told of): never offer them.
			m.healStatus(ctx, s.VolunteerID, mb, ok)
			continue
		}
		s.Name = mb.Name
		kept = append(kept, s)
	}
	page.Items = kept
	for i := range page.Excluded {
		page.Excluded[i].Name = members[page.Excluded[i].VolunteerID].Name
	}
	m.svc.audit(ctx, who.UserID, o.ParticipantID, "outing.candidates")
	return page, nil
}

// relabel redoes the reasons and messages of a page in lang by ranking
// only the page's volunteers again: their scores and rules do not depend
// on who else is in the pool, only the order does, and that is kept.
func (m *Matcher) relabel(p *pool, page *CandidatesPage, lang string) {
	want := make(map[string]bool, len(page.Items)+len(page.Excluded))
	for _, s := range page.Items {
		want[s.VolunteerID] = true
	}
	for _, e := range page.Excluded {
		want[e.VolunteerID] = true
	}
	var subset []Candidate
	for i := range p.cands {
		if want[p.cands[i].ID] {
			subset = append(subset, p.cands[i])
		}
	}
	ranked, excluded := Rank(p.req, subset, RankOptions{Weights: m.weights, Lang: lang, IncludeExcluded: len(page.Excluded) > 0})
	reasons := make(map[string][]string, len(ranked))
	for _, s := range ranked {
		reasons[s.VolunteerID] = s.Reasons
	}
	messages := make(map[string]string, len(excluded))
	for _, e := range excluded {
		messages[e.VolunteerID] = e.Message
	}
	for i := range page.Items {
		if r, ok := reasons[page.Items[i].VolunteerID]; ok {
			page.Items[i].Reasons = r
		}
	}
	for i := range page.Excluded {
		if msg, ok := messages[page.Excluded[i].VolunteerID]; ok {
			page.Excluded[i].Message = msg
		}
	}
}

// nearestExclusions keeps the limit exclusions nearest the meeting point
// (ties by id): those are the ones a coordinator asks about.
func nearestExclusions(p *pool, excluded []Exclusion, limit int) []Exclusion {
	home := make(map[string]*Candidate, len(p.cands))
	for i := range p.cands {
		home[p.cands[i].ID] = &p.cands[i]
	}
	dist := func(id string) float64 {
		c := home[id]
		return DistanceKm(p.req.Lat, p.req.Lon, c.HomeLat, c.HomeLon)
	}
	slices.SortStableFunc(excluded, func(a, b Exclusion) int {
		if c := cmp.Compare(dist(a.VolunteerID), dist(b.VolunteerID)); c != 0 {
			return c
		}
		return strings.Compare(a.VolunteerID, b.VolunteerID)
	})
	out := excluded[:min(len(excluded), limit)]
	if out == nil {
		out = []Exclusion{}
	}
	return out
}

// memberBatch is a Directory that can look many users up in one read.
type memberBatch interface {
	Members(ctx context.Context, ids []string) (map[string]Member, error)
}

// Members looks users up with one read of the accounts (at most 500 ids).
func (d accountsDirectory) Members(ctx context.Context, ids []string) (map[string]Member, error) {
	users, err := d.a.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Member, len(users))
	for id, u := range users {
		out[id] = Member{ID: u.ID, Name: u.Name, OrgID: u.OrgID, Role: u.Role, Status: u.Status, Language: u.Language}
	}
	return out, nil
}

// members looks up users, in one read when the directory can. Without a
// directory (a test service) it knows nobody, and callers take the
// profiles' account status as it is.
func (m *Matcher) members(ctx context.Context, ids []string) (map[string]Member, error) {
	out := map[string]Member{}
	if len(ids) == 0 || m.svc.dir == nil {
		return out, nil
	}
	if b, ok := m.svc.dir.(memberBatch); ok {
		return b.Members(ctx, ids)
	}
	for _, id := range ids {
		mb, err := m.svc.dir.Member(ctx, id)
		if fault.KindOf(err) == fault.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = mb
	}
	return out, nil
}

// healStatus brings a volunteer profile's copy of the account status in
// line with the account, so the prefilter stops finding them.
func (m *Matcher) healStatus(ctx context.Context, volunteerID string, mb Member, found bool) {
	status := mb.Status
	if !found || mb.Role != auth.RoleVolunteer {
		status = auth.StatusSuspended
	}
	if err := m.svc.SetVolunteerStatus(ctx, volunteerID, status); err != nil {
		m.log.Warn("could not correct a volunteer profile's status", "volunteer_id", volunteerID, "error", err.Error())
	} else {
		m.log.Warn("volunteer profile had a stale account status; corrected", "volunteer_id", volunteerID, "status", string(status))
	}
}

func pageSize(n int) int {
	switch {
	case n <= 0:
		return 20
	case n > 100:
		return 100
	}
	return n
}

// An offset cursor: each page re-ranks the pool, so a position in the
// ranked list is the honest cursor.
func encodeOffsetCursor(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(n)))
}

func decodeOffsetCursor(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	bad := fault.InvalidField("cursor", "is not a cursor this list gave out")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, bad
	}
	n, ok := strings.CutPrefix(string(raw), "o")
	v, err := strconv.Atoi(n)
	if !ok || err != nil || v < 0 || v > MaxCandidatesDepth {
		return 0, bad
	}
	return v, nil
}

// ---- the re-check on accept ----

// acceptFacts is what the re-check on accept reads from other collections:
// the participant's preferences and, when needed, the volunteer's outings
// around the outing's time. Accept reads them before it takes the outing's
// write gate, so that on the embedded store (where that query scans the
// outings collection) other transitions do not wait behind the scan.
//
// The query is needed only when the outing's week has begun: a week still
// ahead can hold no completed outing, only pending and confirmed ones,
// and those are the commitments on the volunteer's profile, read by _id
// (measured with BenchmarkOutingTransitions at 10k outings: ~5 ms per
// accept without the query, ~2.8 s with it). Being busy is decided
// atomically by the reservation of the volunteer's time, as before; only
// the weekly cap could be passed by one if the same volunteer accepted two
// outings of one week at the same instant.
type acceptFacts struct {
	outingID string
	start    time.Time
	prefs    participantPrefs
	// scanned: rows are the volunteer's outings; otherwise the profile's
	// commitments stand for them.
	scanned bool
	rows    []bookingRow
}

// acceptFacts reads the facts for who accepting outing id; nil when the
// outing does not exist or is not open (the transition then says why).
func (s *Service) acceptFacts(ctx context.Context, who auth.Identity, id string) (*acceptFacts, error) {
	o, err := s.st.Outing(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fault.Wrap(err, "read outing")
	}
	if o.Status != StatusOpen || o.OrgID != who.OrgID || who.Role != auth.RoleVolunteer {
		return nil, nil
	}
	prefs, err := s.preferencesOf(ctx, o.ParticipantID)
	if err != nil {
		return nil, fault.Wrap(err, "read preferences")
	}
	f := &acceptFacts{outingID: o.ID, start: o.StartsAt, prefs: prefs}
	// The ISO week of the start begins at most 7 days and 14 hours (the
	// largest zone offset) before it.
	now := s.now()
	if weekBegun := !o.StartsAt.Add(-7*24*time.Hour - 14*time.Hour).After(now); weekBegun {
		req := matchRequest(o, now, prefs)
		if f.rows, err = s.st.BookingsOf(ctx, []string{who.UserID}, bookingQueryFor(&req)); err != nil {
			return nil, fault.Wrap(err, "read your outings")
		}
		f.scanned = true
	}
	return f, nil
}

// checkCandidate re-runs every hard rule for a volunteer about to accept
// o, with their current bookings and load, so a stale offer cannot be
// accepted (another outing taken at that time, the weekly cap reached, a
// profile changed, the participant's never-again). The status docs/api.md
// implies for "not a candidate" is 403 forbidden; a clash with another
// outing is the 409 conflict that the atomic reservation also answers, so
// both paths to it agree.
func (s *Service) checkCandidate(ctx context.Context, o *Outing, who auth.Identity, p *VolunteerProfile, f *acceptFacts) error {
	if p == nil || !p.HasProfile {
		return fault.Forbiddenf("set your volunteer profile (home, travel radius, languages) before accepting outings")
	}
	if f == nil || f.outingID != o.ID || !f.start.Equal(o.StartsAt) {
		// It was not open when the facts were read, or its time moved.
		return fault.StateConflictf("the outing changed meanwhile; reload it and try again")
	}
	req := matchRequest(o, s.now(), f.prefs)
	c := candidateFrom(p)
	// The caller's identity was read from the accounts for this request:
	// fresher than the profile's copy.
	c.Active = who.Status == auth.StatusActive
	c.Vetted, c.OrgID = c.Active, who.OrgID
	if f.scanned {
		applyBookings(&req, &c, f.rows)
	} else {
		base := c
		rows, _ := commitmentRows(p, nil)
		applyBookings(&req, &c, rows)
		// A commitment left behind by a crash must not block: the
		// reservation checks each clashing one against its outing, and the
		// cap is counted again from those that still hold (by _id; only
		// when the cap is reached).
		c.Busy = nil
		if ok, rule := Check(req, c); !ok && rule == RuleWeeklyCap {
			now := s.now()
			held := func(c Commitment) (bool, error) { return s.commitmentHeld(ctx, p.UserID, c, now) }
			rows, err := commitmentRows(p, held)
			if err != nil {
				return fault.Wrap(err, "read your outings")
			}
			c = base
			applyBookings(&req, &c, rows)
			c.Busy = nil
		}
	}
	if ok, rule := Check(req, c); !ok {
		return acceptRefusal(rule, o)
	}
	return nil
}

// commitmentRows are a volunteer's commitments as booking rows; with held,
// only those whose outing still holds the volunteer's time.
func commitmentRows(p *VolunteerProfile, held func(Commitment) (bool, error)) ([]bookingRow, error) {
	rows := make([]bookingRow, 0, len(p.Commitments))
	for _, h := range p.Commitments {
		if held != nil {
			ok, err := held(h)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		rows = append(rows, bookingRow{ID: h.OutingID, VolunteerID: p.UserID, Status: StatusConfirmed, StartsAt: h.StartsAt, EndsAt: h.EndsAt})
	}
	return rows, nil
}

// acceptRefusal tells a volunteer why they may not accept, in their words.
// A participant's never-again is not disclosed.
func acceptRefusal(rule string, o *Outing) error {
	switch rule {
	case RuleBusy:
		return fault.New(fault.Conflict, "you already have an outing at that time")
	case RuleNotActive, RuleNotVetted:
		return fault.Forbiddenf("your account is not active; a coordinator must approve it first")
	case RuleOtherOrganisation, RuleBlocked:
		// Blocked: the participant's never-again makes the volunteer an
		// outsider to the outing (relationTo), so it is not disclosed.
		return fault.NotFoundf("no such outing")
	case RuleUnavailable:
		return fault.Forbiddenf("your availability does not cover this outing with the travel time around it")
	case RuleTooFar:
		return fault.Forbiddenf("the meeting point is beyond your travel radius")
	case RuleLanguage:
		lang := map[string]string{"sv": "Swedish", "en": "English"}[o.Language]
		if lang == "" {
			lang = o.Language
		}
		return fault.Forbiddenf("this outing needs a companion who speaks %s", lang)
	case RuleGender:
		return fault.Forbiddenf("the participant's wish for a companion does not match your profile")
	case RuleWeeklyCap:
		return fault.Forbiddenf("you have reached your limit of outings for that week")
	case RuleExcluded:
		return fault.Forbiddenf("you have declined this outing, or a coordinator chose another companion")
	}
	return fault.Forbiddenf("you are not a candidate for this outing")
}
