package matching

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// Store is matching's persistence: profiles, outings with their history,
// events and offer bookkeeping, feedback and preferences. Two engines
// implement it (store_sqlite.go, store_mongo.go); the contract suite
// (store_contract_test.go) holds both to the same behaviour.
//
// Read-modify-write methods take a change function and run it under the
// engine's guard for that record (SQLite: one write transaction; MongoDB: a
// write conditional on the revision read, under the FerretDB gate). Store
// calls made with the ctx handed to TransitionOuting's decide join that
// decision: on SQLite they run in its transaction, so an accept's
// reservation of the volunteer's time and the outing's move commit together.
type Store interface {
	// --- outings ---

	// InsertOuting stores a new outing (ErrDuplicate if its id exists).
	InsertOuting(ctx context.Context, o *Outing) error
	// Outing reads one outing (ErrNotFound).
	Outing(ctx context.Context, id string) (*Outing, error)
	// TransitionOuting reads outing id, asks decide for a move and writes
	// what applyMove makes of it, unless something else wrote the outing
	// in between (ErrConflict; decide's own errors come back as they are).
	// It returns the outing as read and the move made.
	TransitionOuting(ctx context.Context, id string, now time.Time, decide func(ctx context.Context, o *Outing) (Move, error)) (*Outing, Move, error)
	// UpdateOuting rewrites outing id with change (erasure); change returning
	// false writes nothing. The offer bookkeeping is left as it is.
	UpdateOuting(ctx context.Context, id string, change func(o *Outing) (bool, error)) error
	// OutingsPage lists outings matching f newest first (created_at, id
	// descending), after the cursor, at most limit, and the next cursor.
	OutingsPage(ctx context.Context, f OutingFilter, limit int, after *pageCursor) ([]Outing, *pageCursor, error)
	// CompletedOutingsTogether lists the completed outings of a participant
	// with one volunteer, latest start first, at most limit: what the two
	// have done together, read on the volunteer's index (a volunteer's
	// outings are few) instead of decoding the participant's whole list.
	CompletedOutingsTogether(ctx context.Context, participantID, volunteerID string, limit int) ([]Outing, error)
	// OutingsStarting lists an organisation's outings with one of statuses
	// starting in [from, to), soonest first, at most limit: the
	// coordinators' day and queue views, read on the (organisation, status,
	// start) index instead of paging through every outing.
	OutingsStarting(ctx context.Context, orgID string, statuses []OutingStatus, from, to time.Time, limit int) ([]Outing, error)
	// OutingIDsWithPendingEvents finds outings whose events wait for the dispatcher.
	OutingIDsWithPendingEvents(ctx context.Context, limit int) ([]string, error)
	// PendingEvents reads an outing's undelivered events (ErrNotFound) and
	// whether it is flagged as having some.
	PendingEvents(ctx context.Context, id string) ([]Event, bool, error)
	// RemoveDeliveredEvents takes the events with these ids off the outing,
	// and clears its flag when none is left. Events added meanwhile stay.
	RemoveDeliveredEvents(ctx context.Context, id string, eventIDs []string) error
	// StartedUnmatchedOutingIDs are open or pending outings whose start is not after now.
	StartedUnmatchedOutingIDs(ctx context.Context, now time.Time, limit int) ([]string, error)
	// PostponementsDue lists confirmed outings whose postponement was not
	// answered by now (postpone.go).
	PostponementsDue(ctx context.Context, now time.Time, limit int) ([]string, error)
	// ConfirmedOutingsBetween lists confirmed outings starting in [from, to), soonest first.
	ConfirmedOutingsBetween(ctx context.Context, from, to time.Time, limit int) ([]ConfirmedOuting, error)
	// ReportRows lists an organisation's outings requested in [from, to)
	// after the cursor (created_at, id ascending), at most limit, with the
	// comfort answers of their participant's feedback, without decoding
	// their documents: the outcome report's read.
	ReportRows(ctx context.Context, orgID string, from, to time.Time, after *pageCursor, limit int) ([]ReportOuting, error)
	// OutingsOfUser lists every outing naming a user (participant,
	// companion, declined, excluded, creator or actor in the history),
	// oldest first, for export and erasure.
	OutingsOfUser(ctx context.Context, userID string) ([]Outing, error)
	// HasCompletedOutingTogether reports a completed outing of participant with volunteer.
	HasCompletedOutingTogether(ctx context.Context, participantID, volunteerID string) (bool, error)
	// BookingsOf is the one query on outings for a candidate set: each
	// volunteer's live outings overlapping q.busy, live or completed ones
	// starting in q.load, and completed ones with q.participants.
	BookingsOf(ctx context.Context, volunteerIDs []string, q bookingQuery) ([]bookingRow, error)
	// ConcurrentReads reports whether reads with ctx may run at the same
	// time on several connections: not inside a write transaction ctx
	// carries (its reads belong to it, one at a time).
	ConcurrentReads(ctx context.Context) bool

	// --- offers (the matcher's bookkeeping on open outings) ---

	// OfferDoc reads an outing (without note, history or events) with its offer state.
	OfferDoc(ctx context.Context, id string) (*offerDoc, error)
	// UpdateOffers runs change on the outing's offer state under the
	// outing's guard; when it says write, the new state is stored with
	// offer_rev+1 and events are appended (the outing's version stays).
	UpdateOffers(ctx context.Context, id string, change func(d *offerDoc) (events []Event, write bool, err error)) error
	// OutingsDueForOfferCheck: open outings not started by now whose offer
	// check is due or was never set.
	OutingsDueForOfferCheck(ctx context.Context, now time.Time, limit int) ([]string, error)
	// OffersFor lists the offers that reached a volunteer, with outing ids.
	OffersFor(ctx context.Context, volunteerID string) ([]OfferRecord, error)
	// StripOffers removes a volunteer from every outing's offer records.
	StripOffers(ctx context.Context, volunteerID string) error
	// OpenOutingsNear lists an organisation's open outings starting after
	// now whose meeting point is in box, soonest first, at most limit.
	OpenOutingsNear(ctx context.Context, orgID string, box geoBox, now time.Time, limit int) ([]Outing, error)

	// --- volunteers ---

	// Volunteer reads a volunteer's profile (ErrNotFound).
	Volunteer(ctx context.Context, userID string) (*VolunteerProfile, error)
	// UpdateVolunteer changes a volunteer's profile under its guard (rev+1
	// when change says so) and returns it as stored. With create, a
	// missing profile starts empty; without, it is ErrNotFound.
	UpdateVolunteer(ctx context.Context, userID string, create bool, change func(p *VolunteerProfile) (bool, error)) (*VolunteerProfile, error)
	// SetVolunteerStatus sets the account status copy on a profile (none: no-op).
	SetVolunteerStatus(ctx context.Context, userID string, status auth.Status) error
	// VolunteersInCells is the candidates' indexed prefilter.
	VolunteersInCells(ctx context.Context, q VolunteerQuery) ([]VolunteerProfile, error)
	// DeleteVolunteer removes a profile (none: no-op).
	DeleteVolunteer(ctx context.Context, userID string) error

	// --- participants ---

	Participant(ctx context.Context, userID string) (*ParticipantProfile, error)
	UpdateParticipant(ctx context.Context, userID string, change func(p *ParticipantProfile)) (*ParticipantProfile, error)
	DeleteParticipant(ctx context.Context, userID string) error

	// --- feedback ---

	// InsertFeedback stores feedback once per (outing, author): ErrDuplicate otherwise.
	InsertFeedback(ctx context.Context, f *Feedback) error
	// FeedbackByAuthor lists what a user wrote, oldest first.
	FeedbackByAuthor(ctx context.Context, authorID string) ([]Feedback, error)
	// FeedbackOnOuting lists an outing's feedback, oldest first.
	FeedbackOnOuting(ctx context.Context, outingID string) ([]Feedback, error)
	// RatingsOf is the one query on feedback for a candidate set: every
	// rating participants gave these volunteers.
	RatingsOf(ctx context.Context, volunteerIDs []string) ([]ratingRow, error)
	// RatingTotalsOf is the same for a candidate set in totals: per
	// volunteer with any, how many ratings from 1 to 5 participants gave
	// them and their sum, and of those the ones participantID gave.
	RatingTotalsOf(ctx context.Context, volunteerIDs []string, participantID string) ([]ratingTotal, error)
	// EraseFeedbackOf replaces a user's id in feedback by ErasedActor and
	// drops the comments they wrote or that were written about their outings.
	EraseFeedbackOf(ctx context.Context, userID string) error

	// --- preferences ---

	// Preferences reads a participant's list (nil when they have none).
	Preferences(ctx context.Context, participantID string) (*prefsDoc, error)
	// PreferencesOfMany reads several participants' lists in one query.
	PreferencesOfMany(ctx context.Context, participantIDs []string) (map[string]*prefsDoc, error)
	// UpdatePreferences changes a participant's list under its guard,
	// creating it when needed.
	UpdatePreferences(ctx context.Context, participantID, orgID string, change func(d *prefsDoc) (bool, error)) error
	// DeletePreferences removes a participant's list.
	DeletePreferences(ctx context.Context, participantID string) error
	// ParticipantsListing lists the participants whose list names a volunteer.
	ParticipantsListing(ctx context.Context, volunteerID string) ([]string, error)
}

// The store's errors; the service maps them to fault kinds.
var (
	ErrNotFound  = errors.New("matching store: not found")
	ErrConflict  = errors.New("matching store: changed since it was read")
	ErrDuplicate = errors.New("matching store: already exists")
)

// OutingFilter picks the outings of one list: exactly one of
// ParticipantID, VolunteerID and OrgID, and optionally a status.
type OutingFilter struct {
	ParticipantID string
	VolunteerID   string
	OrgID         string
	Status        OutingStatus
}

// VolunteerQuery is the candidates' prefilter: an organisation's volunteers
// with the status whose home cell is among Cells (with a profile when
// WithProfile), at most Limit.
type VolunteerQuery struct {
	OrgID       string
	Status      auth.Status
	Cells       []string
	WithProfile bool
	Limit       int
	// Reach, when set, leaves out volunteers whose own travel radius
	// certainly does not reach this point (a box test with a margin; the
	// exact distance rule stays the ranking's). Without it, everyone in
	// the cells: the exclusions list names the far ones too.
	Reach *GeoPoint
}

// reachScale is how many km a degree of latitude and of longitude are at
// least, for the volunteers who can reach p: their homes are within
// MaxTravelRadiusKm (under half a degree of latitude), so the cosine is
// taken a full degree nearer the pole. Near a pole or the antimeridian the
// longitude test is off (0).
func reachScale(p GeoPoint) (latKm, lonKm float64) {
	latKm = 111.19 // πR/180 with R = 6371.0088 km is 111.195
	if φ := math.Abs(p.Lat) + 1; φ < 89 && math.Abs(p.Lon) < 179 {
		lonKm = latKm * math.Cos(φ*math.Pi/180)
	}
	return latKm, lonKm
}

// reachSlack widens every volunteer's radius in the box test (km = r*a+b),
// far more than a box's errors against the haversine at these distances.
const reachSlackFactor, reachSlackKm = 1.01, 1.0

// mayReach is the box test of VolunteerQuery.Reach: false only when a
// home at lat, lon with radius km is certainly too far from p.
func mayReach(lat, lon, radiusKm float64, p GeoPoint) bool {
	latKm, lonKm := reachScale(p)
	r := radiusKm*reachSlackFactor + reachSlackKm
	return math.Abs(lat-p.Lat)*latKm <= r && math.Abs(lon-p.Lon)*lonKm <= r
}

// geoBox is a latitude band and, when HasLon, a longitude band.
type geoBox struct {
	MinLat, MaxLat float64
	HasLon         bool
	MinLon, MaxLon float64
}

// pageCursor is a position in a list sorted by (created_at, _id) descending.
type pageCursor struct {
	at time.Time
	id string
}

func (c pageCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.at.UnixMilli(), 10) + "." + c.id))
}

func decodePageCursor(s string) (pageCursor, error) {
	bad := fault.InvalidField("cursor", "is not a cursor this list gave out")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageCursor{}, bad
	}
	ms, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return pageCursor{}, bad
	}
	return pageCursor{at: time.UnixMilli(n).UTC(), id: id}, nil
}

// notFoundOr maps ErrNotFound to a NotFound fault and wraps anything else
// as internal.
func notFoundOr(err error, what string) error {
	if errors.Is(err, ErrNotFound) {
		return fault.NotFoundf("no such %s", what)
	}
	return fault.Wrap(err, fmt.Sprintf("read %s", what))
}

// moveWrites reports whether m changes anything stored.
func moveWrites(m Move) bool {
	return m.Changes() || m.Patch != nil || m.SetVolunteer != "" || m.ClearVolunteer || m.Exclude != "" || m.Decline != "" || len(m.Events) > 0
}

// outingPeople are the user ids an outing names: the erasure's index.
func outingPeople(o *Outing) []string {
	var ids []string
	add := func(id string) {
		if id != "" && id != SystemActor && id != ErasedActor {
			for _, x := range ids {
				if x == id {
					return
				}
			}
			ids = append(ids, id)
		}
	}
	add(o.ParticipantID)
	add(o.VolunteerID)
	add(o.CreatedBy)
	for _, id := range o.DeclinedBy {
		add(id)
	}
	for _, id := range o.ExcludedVolunteers {
		add(id)
	}
	for _, h := range o.History {
		add(h.ActorID)
	}
	return ids
}
