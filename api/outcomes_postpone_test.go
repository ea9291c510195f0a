package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// A postponement asked is counted once in the report, whatever the
// companion answers, and never as a cancellation or an expiry.
func TestOutcomeReportCountsPostponements(t *testing.T) {
	e := newTestEnv(t)
	start := testNow.Add(30 * time.Hour)
	for _, answer := range []string{"decline", "accept"} {
		org := e.Org("Postpone " + answer)
		pia, vera, cora := newPerson(e, auth.RoleParticipant, org), freeVolunteer(e, org), newPerson(e, auth.RoleCoordinator, org)
		id := confirmedFor(t, e, pia, vera, cora, start)
		createOuting(e, pia, start.Add(72*time.Hour)) // requested, never postponed
		st, body := e.Call("POST", "/v1/outings/"+id+"/postpone", pia.Token, postponeTo(start.Add(24*time.Hour)))
		e.Want(st, body, 200)
		st, body = e.Call("POST", "/v1/outings/"+id+"/postpone/"+answer, vera.Token, nil)
		e.Want(st, body, 200)
		var report struct {
			Outings map[string]float64 `json:"outings"`
		}
		raw := e.getReport(t, org, cora.Token, "from=2026-11-01&to=2026-11-30", "", "")
		if err := json.Unmarshal(raw, &report); err != nil {
			t.Fatal(err)
		}
		o := report.Outings
		if o["requested"] != 2 || o["postponed"] != 1 || o["cancelled"] != 0 || o["expired"] != 0 {
			t.Fatalf("%s: outings %v", answer, o)
		}
	}
}
