package matching

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// The people of the transition tables.
var (
	tParticipant = auth.Identity{UserID: "P", Role: auth.RoleParticipant, OrgID: "O", Status: auth.StatusActive}
	tCompanion   = auth.Identity{UserID: "V", Role: auth.RoleVolunteer, OrgID: "O", Status: auth.StatusActive}
	tVolunteer   = auth.Identity{UserID: "W", Role: auth.RoleVolunteer, OrgID: "O", Status: auth.StatusActive}
	tCoordinator = auth.Identity{UserID: "C", Role: auth.RoleCoordinator, OrgID: "O", Status: auth.StatusActive}
	tOtherPart   = auth.Identity{UserID: "Q", Role: auth.RoleParticipant, OrgID: "O", Status: auth.StatusActive}
	tForeignCo   = auth.Identity{UserID: "X", Role: auth.RoleCoordinator, OrgID: "O2", Status: auth.StatusActive}
)

var tStart = time.Date(2026, 6, 10, 14, 0, 0, 0, time.UTC)

// outingIn returns an outing in status st as the diagram's arrows leave it:
// every state but open has V as its (former) companion.
func outingIn(st OutingStatus) *Outing {
	o := &Outing{ID: "o1", ParticipantID: "P", ParticipantName: "Sara Lind", OrgID: "O", Kind: KindCafe,
		StartsAt: tStart, EndsAt: tStart.Add(2 * time.Hour), Status: st, Version: 3,
		MeetingPoint: MeetingPoint{Lat: 56.6744, Lon: 12.8578, Description: "by the fountain"}}
	if st != StatusOpen {
		o.VolunteerID = "V"
	}
	return o
}

// Codes of the expectation grids: the state reached, or the error.
//
//	o p c i d x e  open, pending_approval, confirmed, in_progress, completed (done), cancelled, expired
//	=  allowed, the status stays (decline, feedback)
//	r  allowed, the status stays but the history records it (the second check-in)
//	F  403 forbidden   N  404 not found   S  409 state conflict
var codeStatus = map[byte]OutingStatus{'o': StatusOpen, 'p': StatusPendingApproval, 'c': StatusConfirmed,
	'i': StatusInProgress, 'd': StatusCompleted, 'x': StatusCancelled, 'e': StatusExpired}

// grid is, per action and actor, the outcome in each of the seven states
// (open, pending_approval, confirmed, in_progress, completed, cancelled,
// expired), at ten minutes before the start. It is written from design.md's
// diagram and docs/api.md, not derived from the rules map.
var grid = map[Action]map[string]string{
	ActionAccept: {
		"participant": "FFFFFFF", "companion": "pSSSSSS", "volunteer": "pSNNNNN",
		"coordinator": "FFFFFFF", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN", "system": "FFFFFFF",
	},
	ActionDecline: {
		"participant": "FFFFFFF", "companion": "=SSSSSS", "volunteer": "=SNNNNN",
		"coordinator": "FFFFFFF", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN", "system": "FFFFFFF",
	},
	ActionApprove: {
		"participant": "FFFFFFF", "companion": "FFFFFFF", "volunteer": "FFNNNNN",
		"coordinator": "ScSSSSS", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN", "system": "FFFFFFF",
	},
	ActionReject: {
		"participant": "FFFFFFF", "companion": "FFFFFFF", "volunteer": "FFNNNNN",
		"coordinator": "SoSSSSS", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN", "system": "FFFFFFF",
	},
	ActionCancel: {
		"participant": "xxxSSSS", "companion": "FxxSSSS", "volunteer": "FFNNNNN",
		"coordinator": "xxxSSSS", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN", "system": "FFFFFFF",
	},
	ActionCheckIn: { // in progress: the other person's arrival is recorded
		"participant": "SSirSSS", "companion": "FSirSSS", "volunteer": "FFNNNNN",
		"coordinator": "FFFFFFF", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN", "system": "FFFFFFF",
	},
	ActionComplete: { // ten minutes early: not before the start (timed cases below)
		"participant": "SSSSSSS", "companion": "FSSSSSS", "volunteer": "FFNNNNN",
		"coordinator": "SSSSSSS", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN", "system": "FFFFFFF",
	},
	ActionFeedback: {
		"participant": "SSSS=SS", "companion": "FSSS=SS", "volunteer": "FFNNNNN",
		"coordinator": "FFFFFFF", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN", "system": "FFFFFFF",
	},
	ActionExpire: { // ten minutes early: the system may expire only once the start has passed
		"participant": "FFFFFFF", "companion": "FFFFFFF", "volunteer": "FFNNNNN",
		"coordinator": "FFFFFFF", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN", "system": "SSSSSSS",
	},
}

var actors = map[string]auth.Identity{
	"participant": tParticipant, "companion": tCompanion, "volunteer": tVolunteer, "coordinator": tCoordinator,
	"other participant": tOtherPart, "foreign coordinator": tForeignCo, "system": System,
}

// check compares one Decide outcome with a grid code.
func checkOutcome(t *testing.T, name string, o *Outing, a Action, who auth.Identity, now time.Time, code byte) {
	t.Helper()
	m, err := Decide(o, a, who, now, "a reason")
	want := map[byte]fault.Kind{'F': fault.Forbidden, 'N': fault.NotFound, 'S': fault.StateConflict}
	if k, isErr := want[code]; isErr {
		if err == nil {
			t.Errorf("%s: allowed (→ %s), want %c", name, m.To, code)
		} else if fault.KindOf(err) != k {
			t.Errorf("%s: %v (kind %d), want %c", name, err, fault.KindOf(err), code)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v, want %c", name, err, code)
		return
	}
	wantTo := o.Status
	if code != '=' && code != 'r' {
		wantTo = codeStatus[code]
	}
	if m.To != wantTo || m.From != o.Status {
		t.Errorf("%s: %s → %s, want → %s", name, m.From, m.To, wantTo)
	}
	if code == 'r' && (!m.Record || m.Reason != CheckedInReason) {
		t.Errorf("%s: not recorded in the history: %+v", name, m)
	}
	if (code == '=') == m.Changes() {
		t.Errorf("%s: Changes()=%v", name, m.Changes())
	}
}

func TestTransitionTable(t *testing.T) {
	now := tStart.Add(-10 * time.Minute)
	cases := 0
	for a, byActor := range grid {
		for actor, row := range byActor {
			if len(row) != len(OutingStatuses) {
				t.Fatalf("grid row %s/%s has %d states", a, actor, len(row))
			}
			for i, st := range OutingStatuses {
				cases++
				checkOutcome(t, fmt.Sprintf("%s by %s when %s", a, actor, st), outingIn(st), a, actors[actor], now, row[i])
			}
		}
	}
	// The arrows that depend on the time.
	timed := []struct {
		name   string
		st     OutingStatus
		a      Action
		who    auth.Identity
		at     time.Duration // from the start
		code   byte
		events []string
	}{
		{"companion cancels a confirmed outing in good time: reopened", StatusConfirmed, ActionCancel, tCompanion, -2 * time.Hour, 'o', []string{EventReopened, EventOffer}},
		{"companion backs out of a pending outing in good time: reopened", StatusPendingApproval, ActionCancel, tCompanion, -61 * time.Minute, 'o', []string{EventReopened, EventOffer}},
		{"companion cancels within the hour: cancelled", StatusConfirmed, ActionCancel, tCompanion, -59 * time.Minute, 'x', []string{EventCancelled}},
		{"participant cancels in good time: cancelled", StatusConfirmed, ActionCancel, tParticipant, -5 * time.Hour, 'x', []string{EventCancelled}},
		{"check-in 31 min early", StatusConfirmed, ActionCheckIn, tParticipant, -31 * time.Minute, 'S', nil},
		{"check-in 30 min early", StatusConfirmed, ActionCheckIn, tCompanion, -30 * time.Minute, 'i', []string{EventCheckedIn}},
		{"check-in after the end", StatusConfirmed, ActionCheckIn, tParticipant, 2 * time.Hour, 'S', nil},
		{"complete one minute before the start", StatusInProgress, ActionComplete, tParticipant, -time.Minute, 'S', nil},
		{"complete at the start", StatusInProgress, ActionComplete, tCompanion, 0, 'd', []string{EventCompleted}},
		{"coordinator completes after the start", StatusInProgress, ActionComplete, tCoordinator, time.Hour, 'd', []string{EventCompleted}},
		{"second check-in after the end", StatusInProgress, ActionCheckIn, tCompanion, 2 * time.Hour, 'S', nil},
		{"accept at the start", StatusOpen, ActionAccept, tVolunteer, 0, 'S', nil},
		{"approve after the start", StatusPendingApproval, ActionApprove, tCoordinator, time.Minute, 'S', nil},
		{"open outing expires at the start", StatusOpen, ActionExpire, System, 0, 'e', []string{EventExpired}},
		{"pending outing expires after the start", StatusPendingApproval, ActionExpire, System, time.Hour, 'e', []string{EventExpired}},
		{"confirmed outing does not expire", StatusConfirmed, ActionExpire, System, time.Hour, 'S', nil},
	}
	for _, c := range timed {
		cases++
		o := outingIn(c.st)
		checkOutcome(t, c.name, o, c.a, c.who, tStart.Add(c.at), c.code)
		if c.events != nil {
			m, _ := Decide(o, c.a, c.who, tStart.Add(c.at), "a reason")
			var got []string
			for _, e := range m.Events {
				got = append(got, e.Type)
			}
			if !slices.Equal(got, c.events) {
				t.Errorf("%s: events %v, want %v", c.name, got, c.events)
			}
		}
	}
	t.Logf("transition table: %d cases (%d actions × %d actors × %d states + %d timed)",
		cases, len(grid), len(actors), len(OutingStatuses), len(timed))
}

// Who gets what (docs/api.md): the recipients of each transition's events.
func TestEventRecipients(t *testing.T) {
	now := tStart.Add(-3 * time.Hour)
	cases := []struct {
		name  string
		st    OutingStatus
		a     Action
		who   auth.Identity
		typ   string
		to    []string
		coord bool
	}{
		{"accept tells the coordinators", StatusOpen, ActionAccept, tVolunteer, EventAccepted, nil, true},
		{"approve tells participant and volunteer", StatusPendingApproval, ActionApprove, tCoordinator, EventApproved, []string{"P", "V"}, false},
		{"reject tells the volunteer", StatusPendingApproval, ActionReject, tCoordinator, EventRejected, []string{"V"}, false},
		{"participant's cancel tells the volunteer and coordinators", StatusConfirmed, ActionCancel, tParticipant, EventCancelled, []string{"V"}, true},
		{"coordinator's cancel tells both", StatusConfirmed, ActionCancel, tCoordinator, EventCancelled, []string{"P", "V"}, false},
		{"companion's cancel reopens and tells the participant", StatusConfirmed, ActionCancel, tCompanion, EventReopened, []string{"P"}, true},
	}
	for _, c := range cases {
		m, err := Decide(outingIn(c.st), c.a, c.who, now, "because")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		e := m.Events[0]
		if e.Type != c.typ || !slices.Equal(e.Recipients, c.to) || e.ToCoordinators != c.coord {
			t.Errorf("%s: got %s to %v coordinators=%v", c.name, e.Type, e.Recipients, e.ToCoordinators)
		}
	}
	m, _ := Decide(outingIn(StatusOpen), ActionAccept, tVolunteer, now, "")
	if m.SetVolunteer != "W" || m.Events[0].VolunteerID != "W" {
		t.Fatalf("accept must name the accepting volunteer: %+v", m)
	}
	m, _ = Decide(outingIn(StatusPendingApproval), ActionReject, tCoordinator, now, "not a fit")
	if m.Exclude != "V" || !m.ClearVolunteer {
		t.Fatalf("reject must exclude and clear the volunteer: %+v", m)
	}
	if _, err := Decide(outingIn(StatusPendingApproval), ActionReject, tCoordinator, now, " "); fault.KindOf(err) != fault.Validation {
		t.Fatalf("reject without a reason: %v", err)
	}
}

func TestViewsHideWhatAVolunteerMayNotSee(t *testing.T) {
	o := outingIn(StatusPendingApproval)
	o.Note = "panic attacks on buses"
	limited := ViewFor(o, tCompanion)
	if !limited.Limited || limited.MeetingPoint != nil || limited.Note != "" || limited.ParticipantName != "Sara" || limited.Area == nil {
		t.Fatalf("pending companion view: %+v", limited)
	}
	if d := DistanceKm(limited.Area.Lat, limited.Area.Lon, o.MeetingPoint.Lat, o.MeetingPoint.Lon); d > 0.4 || d == 0 {
		t.Fatalf("area centre %f km from the point", d)
	}
	o.Status = StatusConfirmed
	full := ViewFor(o, tCompanion)
	if full.Limited || full.MeetingPoint == nil || full.Note == "" || full.ParticipantName != "Sara Lind" {
		t.Fatalf("approved companion view: %+v", full)
	}
	if v := ViewFor(o, tVolunteer); !v.Limited {
		t.Fatal("another volunteer must get the limited view")
	}
}

// A suspended companion's live outing: reopened by the system (the
// participant told, coordinators too, a new offer wave, the volunteer not
// offered it again) until an hour before the start; from then on cancelled
// with the coordinators alerted, as a late cancel is. Other states keep
// their companion.
func TestDecideVolunteerSuspended(t *testing.T) {
	for _, st := range []OutingStatus{StatusPendingApproval, StatusConfirmed} {
		o := outingIn(st)
		m, err := DecideVolunteerSuspended(o, tStart.Add(-LateCancelWindow-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if m.To != StatusOpen || !m.ClearVolunteer || m.Release != "V" || m.Decline != "V" || m.Actor != SystemActor || m.Reason != SuspendedReason {
			t.Fatalf("%s, early: %+v", st, m)
		}
		if len(m.Events) != 2 || m.Events[0].Type != EventReopened || !slices.Equal(m.Events[0].Recipients, []string{"P"}) || !m.Events[0].ToCoordinators || m.Events[1].Type != EventOffer {
			t.Fatalf("%s, early events: %+v", st, m.Events)
		}
		m, err = DecideVolunteerSuspended(o, tStart.Add(-LateCancelWindow+time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if m.To != StatusCancelled || m.Release != "V" || m.Decline != "" || m.Reason != SuspendedReason {
			t.Fatalf("%s, within the hour: %+v", st, m)
		}
		if len(m.Events) != 1 || m.Events[0].Type != EventCancelled || !slices.Equal(m.Events[0].Recipients, []string{"P"}) || !m.Events[0].ToCoordinators {
			t.Fatalf("%s, within the hour events: %+v", st, m.Events)
		}
	}
	for _, st := range []OutingStatus{StatusOpen, StatusInProgress, StatusCompleted, StatusCancelled, StatusExpired} {
		if _, err := DecideVolunteerSuspended(outingIn(st), tStart.Add(-48*time.Hour)); fault.KindOf(err) != fault.StateConflict {
			t.Fatalf("%s: %v, want a state conflict", st, err)
		}
	}
}
