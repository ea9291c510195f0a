package matching

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// This file answers "who are this outing's candidates?" on the input
// pool.go builds (MatchRequest, Candidate), and pages the ranked list.
//
// The number of database round trips is fixed, whatever the number of
// volunteers: one read of the outing, one of the participant's
// preferences, one prefilter of profiles by (organisation, status,
// home_cell in the cells covering MaxTravelRadiusKm), then ONE read of the
// bookings, recent load and shared history of every volunteer the cheap
// rules leave standing, ONE read of their rating totals (the two at once
// where the store allows it), and ONE read of the accounts for the names on
// the returned page. Every MongoDB find asks for its whole bounded result in
// the first batch, so no getMore round trip appears as the set grows.

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
