package matching

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clavis-app/clavis/internal/fault"
)

// OutingStatus is where an outing is in its life (design.md, "The outing and its states").
type OutingStatus string

// The statuses of docs/api.md.
const (
	StatusOpen            OutingStatus = "open"
	StatusPendingApproval OutingStatus = "pending_approval"
	StatusConfirmed       OutingStatus = "confirmed"
	StatusInProgress      OutingStatus = "in_progress"
	StatusCompleted       OutingStatus = "completed"
	StatusCancelled       OutingStatus = "cancelled"
	StatusExpired         OutingStatus = "expired"
)

// OutingStatuses lists every status, in the order of the diagram.
var OutingStatuses = []OutingStatus{StatusOpen, StatusPendingApproval, StatusConfirmed, StatusInProgress, StatusCompleted, StatusCancelled, StatusExpired}

// OutingKind is what the outing is for.
type OutingKind string

// The kinds of docs/api.md.
const (
	KindBusTrip  OutingKind = "bus_trip"
	KindCafe     OutingKind = "cafe"
	KindWalk     OutingKind = "walk"
	KindErrand   OutingKind = "errand"
	KindActivity OutingKind = "activity"
	KindOther    OutingKind = "other"
)

// OutingKinds lists every kind.
var OutingKinds = []OutingKind{KindBusTrip, KindCafe, KindWalk, KindErrand, KindActivity, KindOther}

// Limits on an outing request.
const (
	MaxOutingLength  = 12 * time.Hour
	MaxOutingAhead   = 366 * 24 * time.Hour
	MaxNoteLength    = 1000
	MaxPlaceLength   = 300
	MaxReasonLength  = 500
	CheckInOpens     = 30 * time.Minute // before the start
	LateCancelWindow = time.Hour        // a companion's cancel this close to the start cancels instead of reopening
)

// MeetingPoint is where participant and companion meet. Its coordinates and
// description are shown only to the participant, the approved companion and
// coordinators.
type MeetingPoint struct {
	Lat         float64 `bson:"lat"`
	Lon         float64 `bson:"lon"`
	Description string  `bson:"description,omitempty"`
}

// HistoryEntry is one transition, as the history endpoint shows it.
type HistoryEntry struct {
	At      time.Time    `bson:"at" json:"at"`
	ActorID string       `bson:"actor_id" json:"actor_id"`
	From    OutingStatus `bson:"from" json:"from" allowempty:"true" doc:"empty on the entry that created the outing"`
	To      OutingStatus `bson:"to" json:"to"`
	Reason  string       `bson:"reason,omitempty" json:"reason,omitempty"`
}

// Outing is a participant's request for a companion and everything that
// happened to it. It is one MongoDB document: FerretDB has no transactions,
// so whatever must change together with a transition (history, events,
// exclusions) lives here and changes in the same single-document write.
type Outing struct {
	ID              string       `bson:"_id"`
	ParticipantID   string       `bson:"participant_id"`
	ParticipantName string       `bson:"participant_name,omitempty"`
	OrgID           string       `bson:"organisation_id"`
	Kind            OutingKind   `bson:"kind"`
	Note            string       `bson:"note,omitempty"`
	StartsAt        time.Time    `bson:"starts_at"`
	EndsAt          time.Time    `bson:"ends_at"`
	MeetingPoint    MeetingPoint `bson:"meeting_point"`
	CompanionGender string       `bson:"companion_gender"`
	Language        string       `bson:"language"`
	Status          OutingStatus `bson:"status"`
	VolunteerID     string       `bson:"volunteer_id,omitempty"`
	// VolunteerName is the companion's first name, copied at accept.
	VolunteerName string         `bson:"volunteer_name,omitempty"`
	Version       int64          `bson:"version"`
	CreatedAt     time.Time      `bson:"created_at"`
	CreatedBy     string         `bson:"created_by"`
	UpdatedAt     time.Time      `bson:"updated_at"`
	History       []HistoryEntry `bson:"history"`
	// PendingEvents are events not yet handed to the EventSink; the
	// dispatcher removes each after its Consume succeeded.
	PendingEvents    []Event `bson:"pending_events"`
	HasPendingEvents bool    `bson:"has_pending_events"`
	// ExcludedVolunteers were rejected by a coordinator for this outing;
	// DeclinedBy declined it or backed out of it. Neither is offered it again.
	ExcludedVolunteers []string `bson:"excluded_volunteers"`
	DeclinedBy         []string `bson:"declined_by"`
	// Erased is set when the participant's account was erased: personal
	// fields are gone, the rest stays for statistics.
	Erased bool `bson:"erased,omitempty"`
	// OfferFirst is a volunteer the first wave goes to alone (continuity:
	// who accompanied the participant to the last session of a series).
	OfferFirst string `bson:"offer_first,omitempty"`
	// OfferHoldUntil holds the first wave back until then, unless a
	// companion is preferred first before (PreferCompanion): a later
	// outing of a series waits for the companion of the one before.
	OfferHoldUntil time.Time `bson:"offer_hold_until,omitempty"`
	// Postponement is a move of a confirmed outing waiting for its
	// companion's answer (postpone.go).
	Postponement *Postponement `bson:"postponement,omitempty"`
	// PostponeAsks counts the postponements asked, whatever their answer:
	// the outcome report counts outings that needed one.
	PostponeAsks int `bson:"postpone_asks,omitempty"`
	// EndedEarly is set when one of the pair stopped the outing.
	EndedEarly bool `bson:"ended_early,omitempty"`
	// RecogniseBy is the companion's line for the day ("green scarf").
	RecogniseBy string `bson:"recognise_by,omitempty"`
}

// OutingRequest is what a participant (or a coordinator for them) asks for.
type OutingRequest struct {
	// ParticipantID is set by a coordinator creating an outing for a
	// participant; a participant's own request leaves it empty.
	ParticipantID   string
	Kind            OutingKind
	Note            string
	StartsAt        time.Time
	EndsAt          time.Time
	MeetingPoint    MeetingPoint
	CompanionGender string
	Language        string
	// OfferFirst: see Outing.OfferFirst.
	OfferFirst string
	// HoldOffersUntil: see Outing.OfferHoldUntil.
	HoldOffersUntil time.Time
}

// Validate checks the request against the rules of docs/api.md, naming each
// broken field by its JSON name.
func (r OutingRequest) Validate(now time.Time) error {
	var errs []fault.FieldError
	bad := func(field, msg string) { errs = append(errs, fault.FieldError{Field: field, Message: msg}) }
	if !validKind(r.Kind) {
		bad("kind", "must be one of: bus_trip, cafe, walk, errand, activity, other")
	}
	if utf8.RuneCountInString(r.Note) > MaxNoteLength {
		bad("note", "must be at most 1000 characters")
	}
	switch {
	case r.StartsAt.IsZero():
		bad("starts_at", "is required")
	case !r.StartsAt.After(now):
		bad("starts_at", "is in the past")
	case r.StartsAt.Sub(now) > MaxOutingAhead:
		bad("starts_at", "must be within a year from now")
	}
	switch {
	case r.EndsAt.IsZero():
		bad("ends_at", "is required")
	case !r.StartsAt.IsZero() && !r.EndsAt.After(r.StartsAt):
		bad("ends_at", "must be after starts_at")
	case !r.StartsAt.IsZero() && r.EndsAt.Sub(r.StartsAt) > MaxOutingLength:
		bad("ends_at", "must be at most 12 hours after starts_at")
	}
	if r.MeetingPoint.Lat < -90 || r.MeetingPoint.Lat > 90 {
		bad("meeting_point.lat", "must be a latitude between -90 and 90")
	}
	if r.MeetingPoint.Lon < -180 || r.MeetingPoint.Lon > 180 {
		bad("meeting_point.lon", "must be a longitude between -180 and 180")
	}
	if utf8.RuneCountInString(r.MeetingPoint.Description) > MaxPlaceLength {
		bad("meeting_point.description", "must be at most 300 characters")
	}
	if r.CompanionGender != "" && !isOneOf(r.CompanionGender, CompanionGenders...) {
		bad("companion_gender", "must be one of: any, female, male")
	}
	if r.Language != "" && !isOneOf(r.Language, Languages...) {
		bad("language", "must be one of: sv, en")
	}
	if len(errs) > 0 {
		return fault.Invalid(errs...)
	}
	return nil
}

// CompanionGenders are a participant's wishes for their companion.
var CompanionGenders = []string{"any", "female", "male"}

// Languages are the languages Clavis speaks.
var Languages = []string{"sv", "en"}

func validKind(k OutingKind) bool {
	for _, v := range OutingKinds {
		if k == v {
			return true
		}
	}
	return false
}

func isOneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// firstName is what a volunteer sees of a participant's name before approval.
func firstName(name string) string {
	f := strings.Fields(name)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// checkReason bounds a free-text reason.
func checkReason(reason string, required bool) error {
	reason = strings.TrimSpace(reason)
	if required && reason == "" {
		return fault.InvalidField("reason", "is required")
	}
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		return fault.InvalidField("reason", "must be at most 500 characters")
	}
	return nil
}
