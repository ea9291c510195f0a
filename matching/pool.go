package matching

import (
	"context"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching/availability"
)

// A ranking's input: the outing as a MatchRequest and the volunteers near
// its meeting point as Candidates, with the bookings, load, shared history
// and ratings that only other tables know (candidates.go says which reads
// and how many).

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

// applyRatings fills a candidate's ratings from their rating rows (every
// participant's, and req's participant's apart), as the totals would.
func applyRatings(req *MatchRequest, c *Candidate, rows []ratingRow) {
	for _, t := range totalRatings(rows, req.ParticipantID) {
		if t.VolunteerID == c.ID {
			applyRatingTotal(c, t)
		}
	}
}

// applyRatingTotal fills a candidate's ratings from their totals.
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
