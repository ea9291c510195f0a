package matching

import (
	"slices"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// Action is something a person (or the system) does to an outing.
type Action string

// The actions of docs/api.md, plus the system's expiry.
const (
	ActionAccept   Action = "accept"
	ActionDecline  Action = "decline"
	ActionApprove  Action = "approve"
	ActionReject   Action = "reject"
	ActionCancel   Action = "cancel"
	ActionCheckIn  Action = "check-in"
	ActionComplete Action = "complete"
	ActionFeedback Action = "feedback"
	ActionExpire   Action = "expire"
	// ActionErase is the system acting for an erased account: it cancels the
	// participant's live outings and reopens the volunteer's.
	ActionErase Action = "erase"
	// ActionSuspend is the system acting for a suspension: the companion's
	// live outings reopen (or, within the hour, are cancelled).
	ActionSuspend Action = "suspend"
	// ActionPostpone, ActionStop and ActionHelp are the care around an
	// outing (postpone.go, care.go); they are decided there, not by rules.
	ActionPostpone  Action = "postpone"
	ActionStop      Action = "stop"
	ActionHelp      Action = "help"
	ActionRecognise Action = "recognise"
)

// Relation is how a caller stands to one outing; the rules speak of
// relations, not bare roles, because "a volunteer" may be the companion or
// someone else entirely.
type Relation int

// Relations, from none to the system.
const (
	// RelNone may not know the outing exists (another organisation, another
	// participant, a volunteer once it is past the offer stage).
	RelNone Relation = iota
	RelParticipant
	// RelCompanion is the volunteer who accepted (and maybe was approved).
	RelCompanion
	// RelVolunteer is another volunteer of the organisation: sees open and
	// pending outings in the limited view, so that a late acceptor hears
	// "taken" (409), not "no such outing".
	RelVolunteer
	RelCoordinator
	RelSystem
)

var relationNames = map[Relation]string{
	RelNone: "outsider", RelParticipant: "participant", RelCompanion: "companion",
	RelVolunteer: "volunteer", RelCoordinator: "coordinator", RelSystem: "system",
}

func (r Relation) String() string { return relationNames[r] }

// SystemActor is the actor id written in history for the sweeps and erasure.
const SystemActor = "system"

// System is the identity the sweeps act as.
var System = auth.Identity{UserID: SystemActor}

// RelationOf says how who stands to o.
func RelationOf(o *Outing, who auth.Identity) Relation {
	if who.UserID == SystemActor && who.Role == "" {
		return RelSystem
	}
	if who.OrgID == "" || who.OrgID != o.OrgID {
		return RelNone
	}
	switch who.Role {
	case auth.RoleCoordinator:
		return RelCoordinator
	case auth.RoleParticipant:
		if who.UserID == o.ParticipantID {
			return RelParticipant
		}
	case auth.RoleVolunteer:
		if o.VolunteerID != "" && who.UserID == o.VolunteerID {
			return RelCompanion
		}
		if o.Status == StatusOpen || o.Status == StatusPendingApproval {
			return RelVolunteer
		}
	}
	return RelNone
}

// rule is one row of the transition table: from which states, by whom, to
// which state. to == "" leaves the status as it is (decline, feedback).
type rule struct {
	from []OutingStatus
	who  []Relation
	to   OutingStatus
}

// rules is the state diagram of design.md. Decide adds the few rules that
// depend on time or on who acts (a companion's cancel reopens).
var rules = map[Action]rule{
	ActionAccept:   {from: []OutingStatus{StatusOpen}, who: []Relation{RelVolunteer, RelCompanion}, to: StatusPendingApproval},
	ActionDecline:  {from: []OutingStatus{StatusOpen}, who: []Relation{RelVolunteer, RelCompanion}},
	ActionApprove:  {from: []OutingStatus{StatusPendingApproval}, who: []Relation{RelCoordinator}, to: StatusConfirmed},
	ActionReject:   {from: []OutingStatus{StatusPendingApproval}, who: []Relation{RelCoordinator}, to: StatusOpen},
	ActionCancel:   {from: []OutingStatus{StatusOpen, StatusPendingApproval, StatusConfirmed}, who: []Relation{RelParticipant, RelCompanion, RelCoordinator}, to: StatusCancelled},
	ActionCheckIn:  {from: []OutingStatus{StatusConfirmed}, who: []Relation{RelParticipant, RelCompanion}, to: StatusInProgress},
	ActionComplete: {from: []OutingStatus{StatusInProgress}, who: []Relation{RelParticipant, RelCompanion, RelCoordinator}, to: StatusCompleted},
	ActionFeedback: {from: []OutingStatus{StatusCompleted}, who: []Relation{RelParticipant, RelCompanion}},
	ActionExpire:   {from: []OutingStatus{StatusOpen, StatusPendingApproval}, who: []Relation{RelSystem}, to: StatusExpired},
	ActionErase:    {from: []OutingStatus{StatusOpen, StatusPendingApproval, StatusConfirmed}, who: []Relation{RelSystem}, to: StatusCancelled},
}

// Move is what Decide allows: the new status and everything that changes
// with it in the same write.
type Move struct {
	Action   Action
	Actor    string
	From, To OutingStatus
	Reason   string
	// Events to append; the service fills their ids and common fields.
	Events []Event
	// SetVolunteer assigns the companion (accept); ClearVolunteer removes them
	// (reject, reopen).
	SetVolunteer   string
	ClearVolunteer bool
	// Exclude and Decline add a volunteer to excluded_volunteers / declined_by.
	Exclude, Decline string
	// Release names a volunteer whose hold on the outing's time ends.
	Release string
	// SetVolunteerName is the accepting volunteer's first name, shown to
	// the participant and coordinators (set by the service, not Decide).
	SetVolunteerName string
	// Record writes a history entry (and bumps the version) although the
	// status stays: the second person's check-in.
	Record bool
	// Patch changes fields besides status (care.go, postpone.go).
	Patch *OutingPatch
}

// Changes reports whether the move is written as a step of the history
// (a new status, or a Record), with a version bump.
func (m Move) Changes() bool { return m.To != m.From || m.Record }

// Decide applies the rules to one action on o, at now. Errors: NotFound when
// who may not know of o, Forbidden when who may see it but not do this,
// StateConflict when o is in the wrong state or the time is wrong.
func Decide(o *Outing, a Action, who auth.Identity, now time.Time, reason string) (Move, error) {
	rel := RelationOf(o, who)
	if rel == RelNone {
		return Move{}, fault.NotFoundf("no such outing")
	}
	r, ok := rules[a]
	if !ok {
		return Move{}, fault.Forbiddenf("unknown action %q", a)
	}
	if !slices.Contains(r.who, rel) {
		return Move{}, fault.Forbiddenf("the %s of an outing may not %s it", rel, a)
	}
	if a == ActionCheckIn && o.Status == StatusInProgress && (rel == RelParticipant || rel == RelCompanion) {
		return secondCheckIn(o, who, now)
	}
	if !slices.Contains(r.from, o.Status) {
		return Move{}, fault.StateConflictf("an outing that is %s cannot be %s", o.Status, pastTense(a))
	}
	reason = strings.TrimSpace(reason)
	m := Move{Action: a, Actor: who.UserID, From: o.Status, To: r.to, Reason: reason}
	if m.To == "" {
		m.To = o.Status
	}
	ev := func(typ string, recipients ...string) Event {
		return Event{Type: typ, VolunteerID: o.VolunteerID, Recipients: uniqueIDs(recipients)}
	}
	switch a {
	case ActionAccept:
		if !now.Before(o.StartsAt) {
			return Move{}, fault.StateConflictf("the outing has already started")
		}
		m.SetVolunteer = who.UserID
		e := ev(EventAccepted)
		e.VolunteerID, e.ToCoordinators = who.UserID, true
		m.Events = []Event{e}
	case ActionDecline:
		m.Decline = who.UserID
	case ActionApprove:
		if !now.Before(o.StartsAt) {
			return Move{}, fault.StateConflictf("the outing has already started")
		}
		m.Events = []Event{ev(EventApproved, o.ParticipantID, o.VolunteerID)}
	case ActionReject:
		if err := checkReason(reason, true); err != nil {
			return Move{}, err
		}
		m.ClearVolunteer, m.Exclude, m.Release = true, o.VolunteerID, o.VolunteerID
		m.Events = []Event{ev(EventRejected, o.VolunteerID), {Type: EventOffer}}
	case ActionCancel:
		if err := checkReason(reason, true); err != nil {
			return Move{}, err
		}
		m.Release = o.VolunteerID
		switch {
		case rel == RelCompanion && now.Before(o.StartsAt.Add(-LateCancelWindow)):
			// The participant should not lose their outing because the
			// companion backed out: it goes back to the offer stage.
			m.To, m.ClearVolunteer, m.Decline = StatusOpen, true, who.UserID
			e := ev(EventReopened, o.ParticipantID)
			e.ToCoordinators = true
			m.Events = []Event{e, {Type: EventOffer}}
		case rel == RelCompanion:
			// Too late to find someone else: a coordinator must step in.
			e := ev(EventCancelled, o.ParticipantID)
			e.ToCoordinators = true
			m.Events = []Event{e}
		default:
			e := ev(EventCancelled, idsExcept(who.UserID, o.ParticipantID, o.VolunteerID)...)
			e.ToCoordinators = rel != RelCoordinator
			m.Events = []Event{e}
		}
		m.Patch = cancelPostponed(o, m.To)
	case ActionCheckIn:
		if o.Postponement != nil {
			return Move{}, fault.StateConflictf("the outing is being moved to another time")
		}
		if now.Before(o.StartsAt.Add(-CheckInOpens)) {
			return Move{}, fault.StateConflictf("check-in opens 30 minutes before the start")
		}
		if !now.Before(o.EndsAt) {
			return Move{}, fault.StateConflictf("the outing has already ended")
		}
		m.Events = []Event{ev(EventCheckedIn)}
	case ActionComplete:
		if now.Before(o.StartsAt) {
			return Move{}, fault.StateConflictf("the outing starts at %s and cannot be completed before it starts", o.StartsAt.UTC().Format(time.RFC3339))
		}
		m.Release = o.VolunteerID
		m.Events = []Event{ev(EventCompleted)}
	case ActionFeedback:
		// No status change: feedback lives in its own collection.
	case ActionExpire:
		if now.Before(o.StartsAt) {
			return Move{}, fault.StateConflictf("the outing has not started yet")
		}
		m.Release = o.VolunteerID
		e := ev(EventExpired, o.ParticipantID, o.VolunteerID)
		e.ToCoordinators = true
		m.Events = []Event{e}
	case ActionErase:
		m.Release = o.VolunteerID
		e := ev(EventCancelled, o.VolunteerID)
		e.ToCoordinators = true
		m.Events = []Event{e}
		m.Patch = cancelPostponed(o, m.To)
	}
	return m, nil
}

// secondCheckIn records the arrival of the other person of an outing in
// progress: both check in on arrival and neither should see an error
// because the other was first. The history says who arrived when; a
// repeated check-in by the same person changes nothing.
func secondCheckIn(o *Outing, who auth.Identity, now time.Time) (Move, error) {
	m := Move{Action: ActionCheckIn, Actor: who.UserID, From: o.Status, To: o.Status}
	for _, h := range o.History {
		if h.To == StatusInProgress && h.ActorID == who.UserID {
			return m, nil
		}
	}
	if !now.Before(o.EndsAt) {
		return Move{}, fault.StateConflictf("the outing has already ended")
	}
	m.Record, m.Reason = true, CheckedInReason
	return m, nil
}

// CheckedInReason marks the history entry of the second person's check-in.
const CheckedInReason = "checked in"

// DecideVolunteerErased is what happens to a live outing whose companion's
// account is erased: like their cancel, without the hour's grace.
func DecideVolunteerErased(o *Outing, now time.Time) (Move, error) {
	return decideCompanionGone(o, ActionErase, "account erased", now.Before(o.StartsAt))
}

// SuspendedReason is the history reason of a move made because the
// companion was suspended.
const SuspendedReason = "volunteer suspended"

// DecideVolunteerSuspended is what happens to a live outing whose companion
// is suspended: what their own cancel would do, with the system as actor.
// The outing reopens (the participant told kindly) unless it starts within
// the hour; then it is cancelled and the coordinators are alerted, as a
// late cancel is. The volunteer is not offered it again if reinstated.
func DecideVolunteerSuspended(o *Outing, now time.Time) (Move, error) {
	m, err := decideCompanionGone(o, ActionSuspend, SuspendedReason, now.Before(o.StartsAt.Add(-LateCancelWindow)))
	if err == nil && m.To == StatusOpen {
		m.Decline = o.VolunteerID
	}
	return m, err
}

// decideCompanionGone ends the part of a companion who can no longer go:
// the outing reopens when reopen holds, else it is cancelled.
func decideCompanionGone(o *Outing, a Action, reason string, reopen bool) (Move, error) {
	if o.Status != StatusPendingApproval && o.Status != StatusConfirmed {
		return Move{}, fault.StateConflictf("an outing that is %s keeps its companion", o.Status)
	}
	m := Move{Action: a, Actor: SystemActor, From: o.Status, Release: o.VolunteerID, Reason: reason}
	if reopen {
		m.To, m.ClearVolunteer = StatusOpen, true
		m.Events = []Event{{Type: EventReopened, VolunteerID: o.VolunteerID, Recipients: []string{o.ParticipantID}, ToCoordinators: true}, {Type: EventOffer}}
	} else {
		m.To = StatusCancelled
		m.Events = []Event{{Type: EventCancelled, VolunteerID: o.VolunteerID, Recipients: []string{o.ParticipantID}, ToCoordinators: true}}
	}
	m.Patch = cancelPostponed(o, m.To)
	return m, nil
}

func pastTense(a Action) string {
	switch a {
	case ActionAccept:
		return "accepted"
	case ActionDecline:
		return "declined"
	case ActionApprove:
		return "approved"
	case ActionReject:
		return "rejected"
	case ActionCancel:
		return "cancelled"
	case ActionCheckIn:
		return "checked in"
	case ActionComplete:
		return "completed"
	case ActionFeedback:
		return "given feedback"
	case ActionExpire:
		return "expired"
	}
	return string(a)
}

// compact drops empty ids and repeats.
func uniqueIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// without drops self from ids.
func idsExcept(self string, ids ...string) []string {
	var out []string
	for _, id := range ids {
		if id != self {
			out = append(out, id)
		}
	}
	return out
}

// applyMove returns o as it is after m (in memory; the store writes the same).
func applyMove(o Outing, m Move, now time.Time) Outing {
	if m.SetVolunteer != "" {
		o.VolunteerID, o.VolunteerName = m.SetVolunteer, m.SetVolunteerName
	}
	if m.ClearVolunteer {
		o.VolunteerID, o.VolunteerName = "", ""
	}
	if m.Exclude != "" && !slices.Contains(o.ExcludedVolunteers, m.Exclude) {
		o.ExcludedVolunteers = append(slices.Clone(o.ExcludedVolunteers), m.Exclude)
	}
	if m.Decline != "" && !slices.Contains(o.DeclinedBy, m.Decline) {
		o.DeclinedBy = append(slices.Clone(o.DeclinedBy), m.Decline)
	}
	if m.Changes() {
		o.Status = m.To
		o.Version++
		o.UpdatedAt = now
		o.History = append(slices.Clone(o.History), HistoryEntry{At: now, ActorID: m.Actor, From: m.From, To: m.To, Reason: m.Reason})
	}
	if m.Patch != nil {
		m.Patch.apply(&o)
	}
	if len(m.Events) > 0 {
		o.PendingEvents = append(slices.Clone(o.PendingEvents), m.Events...)
		o.HasPendingEvents = true
	}
	return o
}
