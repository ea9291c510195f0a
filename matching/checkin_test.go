package matching

import (
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// Both people check in on arrival: the second is recorded, a repeat by the
// first changes nothing, and neither is told 409.
func TestSecondCheckInIsRecordedOnce(t *testing.T) {
	o := outingIn(StatusConfirmed)
	at := tStart.Add(-5 * time.Minute)
	m, err := Decide(o, ActionCheckIn, tParticipant, at, "")
	if err != nil || m.To != StatusInProgress {
		t.Fatalf("first check-in: %+v %v", m, err)
	}
	after := applyMove(*o, m, at)

	again, err := Decide(&after, ActionCheckIn, tParticipant, at.Add(time.Minute), "")
	if err != nil || again.Changes() || moveWrites(again) {
		t.Fatalf("repeated check-in by the participant: %+v %v", again, err)
	}
	second, err := Decide(&after, ActionCheckIn, tCompanion, at.Add(2*time.Minute), "")
	if err != nil || !second.Changes() || second.To != StatusInProgress {
		t.Fatalf("companion's check-in: %+v %v", second, err)
	}
	final := applyMove(after, second, at.Add(2*time.Minute))
	if n := len(final.History); n != 2 || final.History[1].ActorID != "V" || final.History[1].Reason != CheckedInReason ||
		!final.History[1].At.Equal(at.Add(2*time.Minute)) || final.Version != after.Version+1 {
		t.Fatalf("history %+v, version %d", final.History, final.Version)
	}
	if m, err := Decide(&final, ActionCheckIn, tCompanion, at.Add(3*time.Minute), ""); err != nil || m.Changes() {
		t.Fatalf("companion again: %+v %v", m, err)
	}
}

func TestCompleteBeforeTheStartSaysWhy(t *testing.T) {
	_, err := Decide(outingIn(StatusInProgress), ActionComplete, tCompanion, tStart.Add(-time.Minute), "")
	f, ok := fault.As(err)
	if !ok || f.Kind != fault.StateConflict || f.Message == "" {
		t.Fatalf("complete before the start: %v", err)
	}
	t.Logf("complete before the start: %s", f.Message)
}
