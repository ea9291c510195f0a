// Package matching owns profiles, availability, outings and their state
// machine, and the ranking of volunteers for an outing.
package matching

import (
	"context"
	"time"
)

// Event types, as docs/api.md names them. Each transition appends its events to
// the outing document in the same conditional update (FerretDB has no
// transactions), and a dispatcher hands them to an EventSink, then removes
// them: a crash between the two re-delivers, never loses.
const (
	EventOffer         = "outing.offer"
	EventAccepted      = "outing.accepted"
	EventApproved      = "outing.approved"
	EventRejected      = "outing.rejected"
	EventCancelled     = "outing.cancelled"
	EventReopened      = "outing.reopened"
	EventReminder      = "outing.reminder"
	EventCheckinMissed = "outing.checkin_missed"
	EventExpired       = "outing.expired"
	EventRescheduled   = "outing.rescheduled"
	EventNoCandidates  = "outing.no_candidates"
	EventCheckedIn     = "outing.checked_in"
	EventCompleted     = "outing.completed"
)

// Event is something that happened to an outing that someone may need to hear
// about. It carries ids and times only: never a note, an address or a name.
type Event struct {
	// ID is unique per event; consumers are idempotent by it.
	ID       string    `bson:"id" json:"id"`
	Type     string    `bson:"type" json:"type"`
	OutingID string    `bson:"outing_id" json:"outing_id"`
	OrgID    string    `bson:"org_id" json:"org_id"`
	At       time.Time `bson:"at" json:"at"`
	// StartsAt and EndsAt are the outing's times when the event happened.
	StartsAt      time.Time `bson:"starts_at" json:"starts_at"`
	EndsAt        time.Time `bson:"ends_at" json:"ends_at"`
	ParticipantID string    `bson:"participant_id" json:"participant_id"`
	// VolunteerID is the volunteer concerned (the accepted or approved one,
	// the one who cancelled, ...), if any.
	VolunteerID string `bson:"volunteer_id,omitempty" json:"volunteer_id,omitempty"`
	// Recipients are user ids to notify directly (for example the volunteers
	// of an offer wave, or participant and volunteer on approval).
	Recipients []string `bson:"recipients,omitempty" json:"recipients,omitempty"`
	// ToCoordinators asks for the organisation's coordinators to be told too.
	ToCoordinators bool `bson:"to_coordinators,omitempty" json:"to_coordinators,omitempty"`
}

// EventSink consumes outing events. The notify package implements it; until
// it is wired, a logging sink does. Consume must be idempotent by Event.ID:
// an event is re-delivered if the process dies before it was removed.
type EventSink interface {
	Consume(ctx context.Context, e Event) error
}
