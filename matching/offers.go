package matching

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// Offers: who hears of an open outing, and when.
//
// A new open outing (and one that reopens) carries an outing.offer event
// without recipients: "offers are needed now". The matcher's sink
// (OfferSink) consumes it by ranking the candidates and writing, in one
// conditional update of the outing, the wave's records (offered_to,
// offered_ids), when to look again (next_wave_at, offer_check_at) and an
// outing.offer event with the wave's volunteers as Recipients, which the
// dispatcher then hands to notify like any other event. The wave worker
// (OfferWaves.RunOnce) looks at open outings whose offer_check_at has come:
// if nobody accepted within the wait it sends the next wave (the next best
// candidates not yet offered; declined and rejected volunteers are never
// candidates again), and it tells the coordinators (outing.no_candidates)
// when there is nobody (left) to ask, or when nobody has accepted 24 hours
// before the start. These fields are the matcher's own: the outings code
// never reads them, and its updates ($set of named fields) leave them be.

// OfferRecord is one volunteer reached by one wave.
type OfferRecord struct {
	OutingID    string    `bson:"-" json:"outing_id,omitempty"`
	VolunteerID string    `bson:"volunteer_id" json:"volunteer_id"`
	Wave        int       `bson:"wave" json:"wave"`
	At          time.Time `bson:"at" json:"at"`
}

// UnansweredAlertBefore is how long before the start coordinators hear
// that nobody has accepted an outing that was offered.
const UnansweredAlertBefore = 24 * time.Hour

// maxOfferPool bounds the open outings one volunteer's offers are chosen from.
const maxOfferPool = 500

// offerDoc is an outing with the matcher's offer state.
type offerDoc struct {
	Outing     `bson:",inline"`
	OfferState `bson:",inline"`
}

// OfferState is the matcher's bookkeeping on an outing (exported so the
// BSON codec sees the embedded fields).
type OfferState struct {
	OfferedTo  []OfferRecord `bson:"offered_to"`
	OfferedIDs []string      `bson:"offered_ids"`
	OfferWave  int           `bson:"offer_wave"`
	// LastWaveAt is when offers were last looked for (with or without
	// anyone to send them to), and WaveVersion the outing's version then:
	// an "offers needed" event from a later version (a reopening) calls
	// for a wave at once, a replayed or already served one does not.
	LastWaveAt  time.Time `bson:"last_wave_at"`
	WaveVersion int64     `bson:"wave_version"`
	NextWaveAt  time.Time `bson:"next_wave_at"`
	// UnansweredAlertAt is when coordinators hear that nobody accepted:
	// 24 h before the start, or for a short-notice outing the end of the
	// first wave's wait, whichever is later.
	UnansweredAlertAt   time.Time `bson:"unanswered_alert_at"`
	AlertedNoCandidates bool      `bson:"alerted_no_candidates"`
	AlertedUnanswered   bool      `bson:"alerted_unanswered"`
	// OfferCheckAt is when the wave worker must look again: the earlier of
	// NextWaveAt and a pending UnansweredAlertAt.
	OfferCheckAt time.Time `bson:"offer_check_at"`
	// OfferRev makes the matcher's writes conditional without touching
	// version, the outing's ETag: a wave is not a change a coordinator's
	// If-Match should trip over.
	OfferRev int64 `bson:"offer_rev"`
	// PreferredFirst is a companion named after the outing was made
	// (PreferCompanion): the next wave goes to them alone, once.
	PreferredFirst string `bson:"preferred_first,omitempty"`
}

// waitFor is how long a wave waits for an acceptance: OfferWait, or a
// quarter of the time left before the start when that is shorter.
func (m *Matcher) waitFor(now, start time.Time) time.Duration {
	return max(MinOfferWait, min(m.wait, start.Sub(now)/4))
}

// offerWave looks at one outing: sends the next wave if one is due (or,
// when triggered by an "offers needed" event, if the outing changed since
// the last wave) and the unanswered alert if it is due. It reports whether
// it wrote anything.
func (m *Matcher) offerWave(ctx context.Context, outingID string, triggered bool) (bool, error) {
	for attempt := 0; ; attempt++ {
		acted, err := m.tryOfferWave(ctx, outingID, triggered)
		if errors.Is(err, ErrConflict) && attempt < 3 {
			continue // a transition or another wave landed: look again
		}
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return acted, err
	}
}

func (m *Matcher) tryOfferWave(ctx context.Context, outingID string, triggered bool) (bool, error) {
	now := m.svc.now()
	snapp, err := m.st.OfferDoc(ctx, outingID)
	if err != nil {
		return false, err
	}
	snap := *snapp
	if snap.Status != StatusOpen || !now.Before(snap.StartsAt) {
		return false, nil
	}
	waveDue := func(d *offerDoc) bool {
		return d.OfferWave == 0 && d.LastWaveAt.IsZero() ||
			triggered && d.Version > d.WaveVersion ||
			!d.NextWaveAt.IsZero() && !now.Before(d.NextWaveAt)
	}
	alertDue := func(d *offerDoc) bool {
		return !d.AlertedUnanswered && !d.UnansweredAlertAt.IsZero() && !now.Before(d.UnansweredAlertAt)
	}
	if snap.heldBack(now) {
		return m.holdOffers(ctx, &snap)
	}
	if !waveDue(&snap) && !alertDue(&snap) {
		return false, nil
	}

	// Rank outside the gate (it reads several collections); the write
	// below only lands if nothing changed since.
	var picked []string
	if waveDue(&snap) {
		var err error
		if picked, err = m.nextWave(ctx, &snap, now); err != nil {
			return false, err
		}
	}

	err = m.st.UpdateOffers(ctx, outingID, func(d *offerDoc) ([]Event, bool, error) {
		if d.OfferRev != snap.OfferRev || d.Version != snap.Version || d.Status != StatusOpen {
			return nil, false, ErrConflict
		}
		var events []Event
		if waveDue(d) {
			next := now.Add(m.waitFor(now, d.StartsAt))
			d.LastWaveAt, d.NextWaveAt, d.WaveVersion = now, next, d.Version
			if len(picked) > 0 {
				wave := d.OfferWave + 1
				offered := slices.Clone(d.OfferedTo)
				ids := slices.Clone(d.OfferedIDs)
				for _, id := range picked {
					offered = append(offered, OfferRecord{VolunteerID: id, Wave: wave, At: now})
					ids = append(ids, id)
				}
				d.OfferedTo, d.OfferedIDs, d.OfferWave = offered, ids, wave
				events = append(events, Event{Type: EventOffer, Recipients: picked})
				if d.UnansweredAlertAt.IsZero() {
					d.UnansweredAlertAt = laterOf(d.StartsAt.Add(-UnansweredAlertBefore), next)
				}
			} else if !d.AlertedNoCandidates {
				// Nobody (left) to ask: coordinators step in. Said once;
				// the worker keeps looking in case someone becomes free.
				events = append(events, Event{Type: EventNoCandidates, ToCoordinators: true})
				d.AlertedNoCandidates = true
			}
		}
		if alertDue(d) {
			if len(events) == 0 || events[len(events)-1].Type != EventNoCandidates {
				events = append(events, Event{Type: EventNoCandidates, ToCoordinators: true})
			}
			d.AlertedUnanswered = true
		}
		check := d.NextWaveAt
		if !d.AlertedUnanswered && !d.UnansweredAlertAt.IsZero() && d.UnansweredAlertAt.Before(check) {
			check = d.UnansweredAlertAt
		}
		d.OfferCheckAt = check
		return m.svc.stampEvents(&d.Outing, now, events), true, nil
	})
	if err != nil {
		return false, err
	}
	m.svc.notifyDispatcher(outingID)
	return true, nil
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// nextWave picks the best OfferWave candidates not offered yet, checking
// their accounts: a push must never reach a suspended volunteer because a
// profile's copy of the status was stale.
func (m *Matcher) nextWave(ctx context.Context, d *offerDoc, now time.Time) ([]string, error) {
	p, err := m.buildPool(ctx, &d.Outing, now, false, m.nearProfiles)
	if err != nil {
		return nil, err
	}
	offered := make(map[string]bool, len(d.OfferedIDs))
	for _, id := range d.OfferedIDs {
		offered[id] = true
	}
	ranked, _ := m.rank(p.req, p.cands, RankOptions{Weights: m.weights, Limit: len(offered) + m.wave})
	var picked []string
	for _, s := range ranked {
		if !offered[s.VolunteerID] && len(picked) < m.wave {
			picked = append(picked, s.VolunteerID)
		}
	}
	want := d.OfferFirst
	if d.OfferWave > 0 {
		want = "" // OfferFirst had the first wave
	}
	if d.PreferredFirst != "" {
		want = d.PreferredFirst
	}
	if want != "" && !offered[want] {
		// Every eligible volunteer, not only the best few: the one who came
		// last time goes first wherever they rank.
		all, _ := Rank(p.req, p.cands, RankOptions{Weights: m.weights})
		if first := continuityFirst(want, all); first != "" {
			picked = []string{first}
		}
	}
	if len(picked) == 0 || m.svc.dir == nil {
		return picked, nil
	}
	members, err := m.members(ctx, picked)
	if err != nil {
		return nil, fault.Wrap(err, "read volunteers' accounts")
	}
	return slices.DeleteFunc(picked, func(id string) bool {
		mb, ok := members[id]
		if ok && mb.Role == auth.RoleVolunteer && mb.OrgID == d.OrgID && mb.Status == auth.StatusActive {
			return false
		}
		m.healStatus(ctx, id, mb, ok)
		return true
	}), nil
}

// OfferSink wraps the sink the dispatcher delivers to: an outing.offer
// event without recipients ("offers are needed now": a new or reopened
// outing) becomes a wave, whose own outing.offer event with recipients is
// delivered to next on the dispatcher's following pass. Every other event
// goes straight to next. main.go gives the dispatcher this sink.
func (m *Matcher) OfferSink(next EventSink) EventSink { return offerSink{m: m, next: next} }

type offerSink struct {
	m    *Matcher
	next EventSink
}

func (s offerSink) Consume(ctx context.Context, e Event) error {
	if e.Type == EventOffer && len(e.Recipients) == 0 {
		_, err := s.m.offerWave(ctx, e.OutingID, true)
		return err
	}
	return s.next.Consume(ctx, e)
}

// OfferWaves is the worker that sends later waves and the coordinators'
// alerts. It reads the service's clock, so tests drive it with RunOnce.
type OfferWaves struct {
	m *Matcher
	// Every is Run's interval (default 1 min).
	Every time.Duration
	// Batch bounds the outings one RunOnce looks at (default 100).
	Batch int
}

// OfferWaves returns the matcher's wave worker.
func (m *Matcher) OfferWaves() *OfferWaves { return &OfferWaves{m: m, Every: time.Minute, Batch: 100} }

// RunOnce looks at the open outings whose offer check is due (or that
// never had one, when an "offers needed" event was lost) and returns how
// many it wrote to. The query scans the outings collection on the embedded
// store, so it runs on a timer.
func (w *OfferWaves) RunOnce(ctx context.Context) (int, error) {
	now := w.m.svc.now()
	batch := w.Batch
	if batch <= 0 {
		batch = 100
	}
	ids, err := w.m.st.OutingsDueForOfferCheck(ctx, now, batch)
	if err != nil {
		return 0, fault.Wrap(err, "find outings due for offers")
	}
	n := 0
	for _, id := range ids {
		acted, err := w.m.offerWave(ctx, id, false)
		if err != nil {
			return n, err
		}
		if acted {
			n++
		}
	}
	return n, nil
}

// Run calls RunOnce every Every until ctx ends.
func (w *OfferWaves) Run(ctx context.Context) {
	every := w.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.m.log.Warn("offer waves failed; will retry", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ---- GET /v1/volunteers/me/offers ----

// Offer is an open outing the caller is a candidate for, in the limited
// view, with how well it fits them.
type Offer struct {
	OutingView
	Score float64 `json:"score" doc:"0-100: how well the outing fits this volunteer (the candidates ranking's score)"`
}

// OfferPage is one page of a volunteer's offers, best first.
type OfferPage struct {
	Items      []Offer `json:"items"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// Offers lists the open outings of who's organisation that who (a
// volunteer) is a candidate for, best score first (then soonest). It makes
// a fixed number of round trips: the profile, the open outings near home
// (a bounding box of the travel radius on the meeting point), the
// volunteer's own outings and ratings, and the participants' preferences.
// No audit entry is written: the limited view holds what the offer's push
// says (first name, kind, time, area), not the participant's record.
func (m *Matcher) Offers(ctx context.Context, who auth.Identity, limit int, cursor string) (OfferPage, error) {
	if who.Role != auth.RoleVolunteer {
		return OfferPage{}, fault.Forbiddenf("only volunteers have offers")
	}
	limit = pageSize(limit)
	after, err := decodeOfferCursor(cursor)
	if err != nil {
		return OfferPage{}, err
	}
	empty := OfferPage{Items: []Offer{}}
	prof, err := m.st.Volunteer(ctx, who.UserID)
	if errors.Is(err, ErrNotFound) {
		return empty, nil
	}
	if err != nil {
		return OfferPage{}, fault.Wrap(err, "read your profile")
	}
	if !prof.HasProfile || who.Status != auth.StatusActive {
		return empty, nil
	}
	base := candidateFrom(prof)
	base.Active, base.Vetted, base.OrgID = true, true, who.OrgID
	now := m.svc.now()
	outings, err := m.st.OpenOutingsNear(ctx, who.OrgID, boxAround(prof.Home, min(prof.TravelRadiusKm, MaxTravelRadiusKm)), now, maxOfferPool)
	if err != nil {
		return OfferPage{}, fault.Wrap(err, "find open outings")
	}
	if len(outings) >= maxOfferPool {
		m.log.Warn("offer list hit its bound; later outings were not looked at", "volunteer_id", who.UserID, "bound", maxOfferPool)
	}
	if len(outings) == 0 {
		return empty, nil
	}
	var participants []string
	first, last := outings[0].StartsAt, outings[0].EndsAt
	for i := range outings {
		if pid := outings[i].ParticipantID; pid != "" && !slices.Contains(participants, pid) {
			participants = append(participants, pid)
		}
		if outings[i].StartsAt.Before(first) {
			first = outings[i].StartsAt
		}
		last = laterOf(last, outings[i].EndsAt)
	}
	travel := TravelTime(MaxTravelRadiusKm)
	rows, err := m.st.BookingsOf(ctx, []string{who.UserID}, bookingQuery{
		busy:         span{first.Add(-travel), last.Add(travel)},
		load:         []span{{first.Add(-8 * 24 * time.Hour), last.Add(8 * 24 * time.Hour)}, {now.Add(-loadWindow), now}},
		participants: participants,
	})
	if err != nil {
		return OfferPage{}, fault.Wrap(err, "read your outings")
	}
	ratings, err := m.st.RatingsOf(ctx, []string{who.UserID})
	if err != nil {
		return OfferPage{}, fault.Wrap(err, "read your ratings")
	}
	prefDocs, err := m.st.PreferencesOfMany(ctx, participants)
	if err != nil {
		return OfferPage{}, fault.Wrap(err, "read preferences")
	}

	type scored struct {
		o      *Outing
		tenths int
	}
	var fits []scored
	for i := range outings {
		o := &outings[i]
		pp := prefDocs[o.ParticipantID].sets()
		req := matchRequest(o, now, pp)
		c := base
		applyBookings(&req, &c, rows)
		applyRatings(&req, &c, ratings)
		ranked, _ := Rank(req, []Candidate{c}, RankOptions{Weights: m.weights, Limit: 1})
		if len(ranked) == 1 {
			fits = append(fits, scored{o: o, tenths: int(math.Round(ranked[0].Score * 10))})
		}
	}
	order := func(a, b scored) int {
		if a.tenths != b.tenths {
			return cmp.Compare(b.tenths, a.tenths)
		}
		if c := a.o.StartsAt.Compare(b.o.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.o.ID, b.o.ID)
	}
	slices.SortFunc(fits, order)
	if after != nil {
		key := scored{o: &Outing{ID: after.id, StartsAt: after.at}, tenths: after.tenths}
		fits = slices.DeleteFunc(fits, func(s scored) bool { return order(s, key) <= 0 })
	}
	page := OfferPage{Items: make([]Offer, 0, min(limit, len(fits)))}
	for i, f := range fits {
		if i == limit {
			prev := fits[i-1]
			page.NextCursor = offerCursor{tenths: prev.tenths, at: prev.o.StartsAt, id: prev.o.ID}.encode()
			break
		}
		page.Items = append(page.Items, Offer{OutingView: ViewFor(f.o, who), Score: float64(f.tenths) / 10})
	}
	return page, nil
}

// boxAround is the box around home that holds the circle of radiusKm.
func boxAround(home GeoPoint, radiusKm float64) geoBox {
	dLat := deg(radiusKm/earthRadiusKm) + 0.01 // ~1 km to spare for rounding
	b := geoBox{MinLat: home.Lat - dLat, MaxLat: home.Lat + dLat}
	// A parallel's longitude span of the circle is widest at the latitude
	// nearest a pole that the circle reaches.
	if far := math.Abs(home.Lat) + dLat; far < 89 {
		dLon := dLat / math.Cos(rad(far))
		if home.Lon-dLon >= -180 && home.Lon+dLon <= 180 {
			b.HasLon, b.MinLon, b.MaxLon = true, home.Lon-dLon, home.Lon+dLon
		}
	}
	return b
}

// offerCursor is a position in a volunteer's offers: score, start, id.
type offerCursor struct {
	tenths int
	at     time.Time
	id     string
}

func (c offerCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.Itoa(c.tenths) + "." + strconv.FormatInt(c.at.UnixMilli(), 10) + "." + c.id))
}

func decodeOfferCursor(s string) (*offerCursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := fault.InvalidField("cursor", "is not a cursor this list gave out")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	rest, ok := strings.CutPrefix(string(raw), "s")
	parts := strings.SplitN(rest, ".", 3)
	if !ok || len(parts) != 3 || parts[2] == "" {
		return nil, bad
	}
	t, err1 := strconv.Atoi(parts[0])
	ms, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || t < 0 || t > 1000 {
		return nil, bad
	}
	return &offerCursor{tenths: t, at: time.UnixMilli(ms).UTC(), id: parts[2]}, nil
}

// stripOfferRecords removes a volunteer from an offer state's records.
func stripOfferRecords(st *OfferState, volunteerID string) {
	st.OfferedTo = slices.DeleteFunc(slices.Clone(st.OfferedTo), func(r OfferRecord) bool { return r.VolunteerID == volunteerID })
	st.OfferedIDs = slices.DeleteFunc(slices.Clone(st.OfferedIDs), func(id string) bool { return id == volunteerID })
	st.OfferedTo, st.OfferedIDs = nonNil(st.OfferedTo), nonNil(st.OfferedIDs)
}

// continuityFirst is the volunteer an outing's first wave goes to alone:
// its OfferFirst, when the ranking's hard rules still pass them (active,
// vetted, available, not blocked, declined or excluded). Otherwise "" and
// the waves go as ranked.
func continuityFirst(want string, ranked []Scored) string {
	for _, s := range ranked {
		if s.VolunteerID == want {
			return want
		}
	}
	return ""
}
