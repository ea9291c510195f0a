package api_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

// confirmedFor makes a confirmed outing of p with v through the service.
func confirmedFor(t *testing.T, e *testEnv, p, v, coord person, start time.Time) string {
	t.Helper()
	ctx, svc := context.Background(), matchingOf(e)
	id := createOuting(e, p, start)
	done(t)(svc.Accept(ctx, v.Who, id))
	done(t)(svc.Approve(ctx, coord.Who, id))
	return id
}

// Of eight postponements of one outing at once, exactly one wins; the
// others are told the outing is already being postponed.
func TestCarePostponeTwiceAtOnce(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	pia, vera, cora := newPerson(e, auth.RoleParticipant, org), freeVolunteer(e, org), newPerson(e, auth.RoleCoordinator, org)
	start := testNow.Add(30 * time.Hour)
	id := confirmedFor(t, e, pia, vera, cora, start)
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			at := start.Add(time.Duration(24+i) * time.Hour)
			who := pia.Who
			if i%2 == 1 {
				who = cora.Who // a coordinator for the participant, at the same moment
			}
			_, results[i] = matchingOf(e).Postpone(context.Background(), who, id, matching.PostponeInput{StartsAt: at, EndsAt: at.Add(time.Hour)})
		}(i)
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		switch fault.KindOf(err) {
		case fault.Internal:
			if err != nil {
				t.Fatalf("postpone: %v", err)
			}
			won++
		case fault.StateConflict:
		default:
			t.Fatalf("postpone: %v, want a win or a conflict", err)
		}
	}
	o, err := e.Matching.Outing(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	asks := 0
	for _, h := range o.History {
		if h.From == matching.StatusConfirmed && h.To == matching.StatusConfirmed {
			asks++
		}
	}
	if won != 1 || asks != 1 || o.Postponement == nil {
		t.Fatalf("%d postponements won, %d recorded, pending %+v; want exactly one", won, asks, o.Postponement)
	}
}

// A postponement and the companion's cancel at once: whichever lands
// first, the outing ends open, without a postponement left behind, and the
// companion's hold on the time is released.
func TestCarePostponeVersusCompanionCancel(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	pia, vera, cora := newPerson(e, auth.RoleParticipant, org), freeVolunteer(e, org), newPerson(e, auth.RoleCoordinator, org)
	ctx := context.Background()
	seen := map[string]int{}
	for round := 0; round < 12; round++ {
		start := testNow.Add(time.Duration(30+3*round) * time.Hour)
		id := confirmedFor(t, e, pia, vera, cora, start)
		later := start.Add(7 * 24 * time.Hour)
		var wg sync.WaitGroup
		var perr, cerr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, perr = matchingOf(e).Postpone(ctx, pia.Who, id, matching.PostponeInput{StartsAt: later, EndsAt: later.Add(time.Hour)})
		}()
		go func() {
			defer wg.Done()
			_, cerr = matchingOf(e).Cancel(ctx, vera.Who, id, "I am ill")
		}()
		wg.Wait()
		if cerr != nil {
			t.Fatalf("round %d: the companion's cancel: %v", round, cerr)
		}
		o, err := e.Matching.Outing(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != matching.StatusOpen || o.Postponement != nil || o.VolunteerID != "" {
			t.Fatalf("round %d: %s, postponement %+v, volunteer %q", round, o.Status, o.Postponement, o.VolunteerID)
		}
		switch {
		case perr == nil:
			// Asked first: the companion's cancel reopens the outing at the
			// time the participant asked for.
			seen["postpone first"]++
			if !o.StartsAt.Equal(later) {
				t.Fatalf("round %d: reopened at %s, want the asked-for %s", round, o.StartsAt, later)
			}
		case fault.KindOf(perr) == fault.StateConflict:
			seen["cancel first"]++
			if !o.StartsAt.Equal(start) {
				t.Fatalf("round %d: moved to %s by a refused postponement", round, o.StartsAt)
			}
		default:
			t.Fatalf("round %d: postpone: %v", round, perr)
		}
		p, err := e.Matching.Volunteer(ctx, vera.ID)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(p.Commitments, func(c matching.Commitment) bool { return c.OutingID == id }) {
			t.Fatalf("round %d: the companion still holds the outing's time", round)
		}
		if due, err := e.Matching.PostponementsDue(ctx, later, 100); err != nil || slices.Contains(due, id) {
			t.Fatalf("round %d: the sweep would still find it: %v %v", round, due, err)
		}
	}
	t.Logf("orders seen: %v", seen)
}

// A postponement is never a failure: no outing is cancelled or expired by
// it, the old time passing raises nothing, and the volunteer who declined
// or did not answer ranks exactly as a twin volunteer who was never asked.
func TestCarePostponementCountsAgainstNoOne(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	pia, cora := newPerson(e, auth.RoleParticipant, org), newPerson(e, auth.RoleCoordinator, org)
	vera, wim := freeVolunteer(e, org), freeVolunteer(e, org)
	ctx, svc := context.Background(), matchingOf(e)
	start := testNow.Add(3 * time.Hour)
	declined := confirmedFor(t, e, pia, vera, cora, start)
	unanswered := confirmedFor(t, e, pia, vera, cora, start.Add(4*time.Hour))
	for i, id := range []string{declined, unanswered} {
		at := start.Add(time.Duration(48+i*24) * time.Hour)
		done(t)(svc.Postpone(ctx, pia.Who, id, matching.PostponeInput{StartsAt: at, EndsAt: at.Add(2 * time.Hour)}))
	}
	done(t)(svc.PostponeDecline(ctx, vera.Who, declined))
	// Both old times pass, check-in grace and all.
	e.Clock.Set(testNow.Add(13 * time.Hour)) // past CLAVIS_POSTPONE_WAIT (12 h)
	if n, err := svc.ExpirePostponements(ctx); err != nil || n != 1 {
		t.Fatalf("postponement sweep: %d %v", n, err)
	}
	if n, err := svc.ExpireStarted(ctx, 0); err != nil || n != 0 {
		t.Fatalf("the expiry sweep expired %d outings (%v): a postponed outing is not unmatched at its old time", n, err)
	}
	renew(e, &cora)
	for _, status := range []string{"cancelled", "expired"} {
		code, body := e.Call("GET", "/v1/outings?status="+status, cora.Token, nil)
		e.Want(code, body, 200)
		var page matching.OutingPage
		e.Decode(body, &page)
		if len(page.Items) != 0 {
			t.Fatalf("%d outings %s after postponements", len(page.Items), status)
		}
	}
	for _, id := range []string{declined, unanswered} {
		o, err := e.Matching.Outing(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range o.History {
			if h.To == matching.StatusCancelled || h.To == matching.StatusExpired || h.Reason == matching.CheckedInReason {
				t.Fatalf("history of a postponed outing holds %+v", h)
			}
		}
		if o.Status != matching.StatusOpen {
			t.Fatalf("a postponed outing is %s, want open at its new time", o.Status)
		}
	}
	// A fresh request: Vera and her twin Wim (same home, hours, profile)
	// score alike, part by part.
	per := newPerson(e, auth.RoleParticipant, org)
	fresh := createOuting(e, per, e.Clock.Now().Add(26*time.Hour))
	code, body := e.Call("GET", "/v1/outings/"+fresh+"/candidates", cora.Token, nil)
	e.Want(code, body, 200)
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	e.Decode(body, &page)
	scores := map[string]string{}
	for _, raw := range page.Items {
		var s struct {
			VolunteerID string          `json:"volunteer_id"`
			Score       float64         `json:"score"`
			Parts       json.RawMessage `json:"parts"`
		}
		_ = json.Unmarshal(raw, &s)
		parts, _ := json.Marshal(struct {
			Score float64
			Parts json.RawMessage
		}{s.Score, s.Parts})
		scores[s.VolunteerID] = string(parts)
	}
	if scores[vera.ID] == "" || scores[vera.ID] != scores[wim.ID] {
		t.Fatalf("Vera %s, her twin Wim %s: a postponement changed a figure", scores[vera.ID], scores[wim.ID])
	}
}
