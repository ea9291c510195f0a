package api_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

// lastHistory is the newest history entry of an outing, read by a coordinator.
func lastHistory(e *testEnv, coordToken, id string) matching.HistoryEntry {
	e.tb().Helper()
	status, body := e.Call("GET", "/v1/outings/"+id+"/history", coordToken, nil)
	e.Want(status, body, 200)
	var h struct {
		Items []matching.HistoryEntry `json:"items"`
	}
	e.Decode(body, &h)
	if len(h.Items) == 0 {
		e.tb().Fatalf("no history: %s", body)
	}
	return h.Items[len(h.Items)-1]
}

// pendingEventTypes are the outing's events still waiting for the
// dispatcher (what notify will be told), as "type>recipients".
func pendingEventTypes(e *testEnv, id string) []string {
	e.tb().Helper()
	evs, _, err := e.Matching.PendingEvents(context.Background(), id)
	if err != nil {
		e.tb().Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		s := ev.Type + ">" + strings.Join(ev.Recipients, ",")
		if ev.ToCoordinators {
			s += "+coordinators"
		}
		out = append(out, s)
	}
	return out
}

// Issue 12.2: suspending a volunteer takes them off the participant's
// outings, as erasure does: pending and confirmed ones reopen (history
// actor "system", reason "volunteer suspended"), one starting within the
// hour is cancelled with the coordinators alerted (a late cancel), and the
// former pending outing can no longer be approved with them.
func TestSuspendedVolunteerLeavesTheirOutings(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	v := freeVolunteer(e, org)
	now := e.Clock.Now()
	pending := createOuting(e, p, now.Add(30*time.Hour))
	confirmed := createOuting(e, p, now.Add(50*time.Hour))
	soon := createOuting(e, p, now.Add(40*time.Minute))
	for _, id := range []string{pending, confirmed, soon} {
		done(t)(matchingOf(e).Accept(ctx, v.Who, id))
	}
	done(t)(matchingOf(e).Approve(ctx, c.Who, confirmed))
	done(t)(matchingOf(e).Approve(ctx, c.Who, soon))

	status, body := e.Call("POST", "/v1/organisations/"+org+"/members/"+v.ID+"/suspend", c.Token, map[string]any{"reason": "complaint under review"})
	e.Want(status, body, 200)

	for _, id := range []string{pending, confirmed} {
		status, o, body := outingJSON(e, c.Token, id)
		e.Want(status, body, 200)
		if o.Status != matching.StatusOpen || o.VolunteerID != "" {
			t.Fatalf("after the suspension outing %s is %s with volunteer %q, want open without one: %s", id, o.Status, o.VolunteerID, body)
		}
		h := lastHistory(e, c.Token, id)
		if h.ActorID != "system" || h.Reason != "volunteer suspended" || h.To != matching.StatusOpen {
			t.Fatalf("history of %s ends with %+v, want system / volunteer suspended / open", id, h)
		}
		evs := pendingEventTypes(e, id)
		if !slices.Contains(evs, "outing.reopened>"+p.ID+"+coordinators") {
			t.Fatalf("outing %s: no reopened event for the participant among %v", id, evs)
		}
	}
	// Within the hour there is no time to find someone else: cancelled, and
	// the coordinators alerted, as a late cancel by the volunteer.
	status, o, body := outingJSON(e, c.Token, soon)
	e.Want(status, body, 200)
	if o.Status != matching.StatusCancelled {
		t.Fatalf("outing within the hour is %s after the suspension, want cancelled", o.Status)
	}
	if h := lastHistory(e, c.Token, soon); h.ActorID != "system" || h.Reason != "volunteer suspended" {
		t.Fatalf("history of the late one ends with %+v", h)
	}
	if evs := pendingEventTypes(e, soon); !slices.Contains(evs, "outing.cancelled>"+p.ID+"+coordinators") {
		t.Fatalf("late one: events %v, want the participant and the coordinators told", evs)
	}

	// The former pending outing cannot be approved with the suspended volunteer.
	status, body = e.Call("POST", "/v1/outings/"+pending+"/approve", c.Token, nil)
	e.Want(status, body, 409)
	if pr := e.Problem(body); !strings.HasSuffix(pr.Type, "/state-conflict") {
		t.Fatalf("approve after suspension: %s", body)
	}
	// The suspended volunteer's time is free again (no commitment left).
	vp, err := e.Matching.Volunteer(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(vp.Commitments) != 0 {
		t.Fatalf("suspended volunteer still holds %d outings' time", len(vp.Commitments))
	}
}

// Issue 12.2, second line of defence: should the suspension not have
// reached matching (a failed hook), approve and check-in read the
// companion's status themselves, refuse with 409 state-conflict and put the
// outing right.
func TestApproveAndCheckInRecheckTheCompanionIsActive(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	v := freeVolunteer(e, org)
	now := e.Clock.Now()
	pending := createOuting(e, p, now.Add(30*time.Hour))
	soon := createOuting(e, p, now.Add(20*time.Minute)) // check-in is open
	done(t)(matchingOf(e).Accept(ctx, v.Who, pending))
	done(t)(matchingOf(e).Accept(ctx, v.Who, soon))
	done(t)(matchingOf(e).Approve(ctx, c.Who, soon))

	// Suspend in the accounts' store only: no hook runs.
	if _, err := e.AuthStore.ChangeStatus(ctx, auth.StatusChange{UserID: v.ID, OrgID: org, From: auth.StatusActive, To: auth.StatusSuspended,
		Suspension: &auth.Suspension{By: c.ID, At: now, Reason: "test"}, At: now}); err != nil {
		t.Fatal(err)
	}

	status, body := e.Call("POST", "/v1/outings/"+pending+"/approve", c.Token, nil)
	e.Want(status, body, 409)
	if pr := e.Problem(body); !strings.HasSuffix(pr.Type, "/state-conflict") || !strings.Contains(pr.Detail, "no longer active") {
		t.Fatalf("approve with a suspended companion: %s", body)
	}
	if _, o, _ := outingJSON(e, c.Token, pending); o.Status != matching.StatusOpen || o.VolunteerID != "" {
		t.Fatalf("the refused approval left the outing %s with %q, want it reopened", o.Status, o.VolunteerID)
	}
	if h := lastHistory(e, c.Token, pending); h.ActorID != "system" || h.Reason != "volunteer suspended" {
		t.Fatalf("history ends with %+v", h)
	}

	status, body = e.Call("POST", "/v1/outings/"+soon+"/check-in", p.Token, nil)
	e.Want(status, body, 409)
	if pr := e.Problem(body); !strings.HasSuffix(pr.Type, "/state-conflict") || !strings.Contains(pr.Detail, "can no longer come") {
		t.Fatalf("check-in with a suspended companion: %s", body)
	}
	if _, o, _ := outingJSON(e, c.Token, soon); o.Status != matching.StatusCancelled {
		t.Fatalf("the refused check-in left the outing %s, want cancelled (within the hour)", o.Status)
	}
}

// Issue 12.3: a volunteer the participant marked "never" is an outsider to
// the participant's outings: 404 on read, accept and decline, and no offer;
// another volunteer still gets the limited view.
func TestNeverAgainVolunteerIsAnOutsider(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	blocked := freeVolunteer(e, org)
	other := freeVolunteer(e, org)
	status, body := e.Call("PUT", "/v1/participants/me/volunteers/"+blocked.ID, p.Token, map[string]any{"preference": "never"})
	e.Want(status, body, 200)
	id := createOuting(e, p, e.Clock.Now().Add(30*time.Hour))

	status, body = e.Call("GET", "/v1/outings/"+id, other.Token, nil)
	e.Want(status, body, 200)
	status, body = e.Call("GET", "/v1/volunteers/me/offers", other.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), id) {
		t.Fatalf("the other volunteer is not offered the outing: %s", body)
	}

	status, body = e.Call("GET", "/v1/outings/"+id, blocked.Token, nil)
	e.Want(status, body, 404)
	status, body = e.Call("GET", "/v1/volunteers/me/offers", blocked.Token, nil)
	e.Want(status, body, 200)
	if strings.Contains(string(body), id) {
		t.Fatalf("the never-again volunteer is offered the outing: %s", body)
	}
	status, body = e.Call("POST", "/v1/outings/"+id+"/accept", blocked.Token, nil)
	e.Want(status, body, 404)
	if strings.Contains(string(body), "participant") {
		t.Fatalf("the refusal tells about the participant's choice: %s", body)
	}
	status, body = e.Call("POST", "/v1/outings/"+id+"/decline", blocked.Token, nil)
	e.Want(status, body, 404)
	// Pending, the outing stays hidden from them too.
	status, body = e.Call("POST", "/v1/outings/"+id+"/accept", other.Token, nil)
	e.Want(status, body, 200)
	status, body = e.Call("GET", "/v1/outings/"+id, blocked.Token, nil)
	e.Want(status, body, 404)
}
