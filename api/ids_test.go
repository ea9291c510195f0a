package api_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// Issue 12.15: ids were MongoDB ObjectIDs, so two outings made 9 ms apart
// differed only in their last digits and one id told the next. New ids are
// 128 random bits on every store.
func TestNewIDsAreUnguessable(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Ids")
	p := newPerson(e, auth.RoleParticipant, org)
	places := loadRealPlaces(t)
	pl := places["Stora Torg"]
	a := requestAt(e, p, pl, e.Clock.Now().Add(50*time.Hour))
	b := requestAt(e, p, pl, e.Clock.Now().Add(52*time.Hour))
	shape := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, id := range []string{a.ID, b.ID, p.ID, org} {
		if !shape.MatchString(id) {
			t.Fatalf("id %q is not 128 random bits in hex", id)
		}
	}
	same := 0
	for same < len(a.ID) && a.ID[same] == b.ID[same] {
		same++
	}
	if same >= 8 {
		t.Fatalf("outings made one after the other share a %d-digit prefix: %s, %s", same, a.ID, b.ID)
	}
}
