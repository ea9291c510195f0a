package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

// One outing from request to feedback over HTTP, with what each person
// sees on the way. The privacy assertions read the raw JSON text, so a
// field hidden under another name would still be caught.
func TestOutingFromRequestToFeedback(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org) // "Pia Lindqvist"
	c := newPerson(e, auth.RoleCoordinator, org)
	v := freeVolunteer(e, org)
	other := freeVolunteer(e, org)

	status, body := e.Call("PUT", "/v1/participants/me/profile", p.Token, map[string]any{"languages": []string{"sv"}, "companion_gender": "female"})
	e.Want(status, body, 200)
	status, body = e.Call("PUT", "/v1/participants/"+p.ID+"/support-needs", c.Token, map[string]any{"support_needs": "needs a calm start; avoid crowds"})
	e.Want(status, body, 200)
	status, body = e.Call("PUT", "/v1/volunteers/me/profile", v.Token, map[string]any{
		"home": map[string]any{"lat": 56.6718, "lon": 12.8614}, "travel_radius_km": 8, "languages": []string{"sv", "en"},
		"gender": "female", "skills": []string{"public_transport"}, "max_outings_per_week": 3})
	e.Want(status, body, 200)

	start := e.Clock.Now().Add(26 * time.Hour)
	status, body = e.Call("POST", "/v1/outings", p.Token, outingBody(start, nil))
	e.Want(status, body, 201)
	var created matching.OutingView
	e.Decode(body, &created)
	if created.Status != "open" || created.Version != 1 || created.CompanionGender != "female" || created.Language != "sv" {
		t.Fatalf("created: %s", body)
	}
	id := created.ID

	secret := []string{"56.6744", "12.8578", "Stora Torg, by the fountain", "crowded buses", "Lindqvist", "calm start", "support_needs", "meeting_point", `"note"`}
	limitedView := func(token, when string) {
		t.Helper()
		status, body := e.Call("GET", "/v1/outings/"+id, token, nil)
		e.Want(status, body, 200)
		text := string(body)
		for _, s := range secret {
			if strings.Contains(text, s) {
				t.Fatalf("%s: the limited view contains %q: %s", when, s, text)
			}
		}
		for _, s := range []string{`"participant_name":"Pia"`, `"area":{`, `"radius_m":500`, `"limited":true`} {
			if !strings.Contains(text, s) {
				t.Fatalf("%s: the limited view lacks %s: %s", when, s, text)
			}
		}
	}
	limitedView(v.Token, "before accepting")
	limitedView(other.Token, "another volunteer, open")

	status, body = e.Call("POST", "/v1/outings/"+id+"/accept", v.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"status":"pending_approval"`) {
		t.Fatalf("accept: %s", body)
	}
	limitedView(v.Token, "accepted, not yet approved")
	for _, s := range secret {
		if strings.Contains(string(body), s) {
			t.Fatalf("the accept answer contains %q: %s", s, body)
		}
	}
	// The coordinator sees everything, support needs included; the
	// participant sees their own outing but not the support needs.
	status, body = e.Call("GET", "/v1/outings/"+id, c.Token, nil)
	e.Want(status, body, 200)
	for _, s := range []string{"56.6744", "Stora Torg, by the fountain", "crowded buses", "Pia Lindqvist", "needs a calm start"} {
		if !strings.Contains(string(body), s) {
			t.Fatalf("coordinator view lacks %q: %s", s, body)
		}
	}
	status, body = e.Call("GET", "/v1/outings/"+id, p.Token, nil)
	e.Want(status, body, 200)
	if strings.Contains(string(body), "calm start") || !strings.Contains(string(body), "Stora Torg") {
		t.Fatalf("participant view: %s", body)
	}

	status, body = e.Call("POST", "/v1/outings/"+id+"/approve", c.Token, nil)
	e.Want(status, body, 200)
	status, body = e.Call("GET", "/v1/outings/"+id, v.Token, nil)
	e.Want(status, body, 200)
	for _, s := range []string{"56.6744", "12.8578", "Stora Torg, by the fountain", "crowded buses", "Pia Lindqvist"} {
		if !strings.Contains(string(body), s) {
			t.Fatalf("approved companion's view lacks %q: %s", s, body)
		}
	}
	if strings.Contains(string(body), "calm start") || strings.Contains(string(body), `"limited"`) {
		t.Fatalf("approved companion's view: %s", body)
	}
	// Another volunteer no longer sees the confirmed outing at all.
	status, body = e.Call("GET", "/v1/outings/"+id, other.Token, nil)
	e.Want(status, body, 404)

	e.Clock.Set(start.Add(-25 * time.Minute))
	renew(e, &p, &v, &c)
	status, body = e.Call("POST", "/v1/outings/"+id+"/check-in", p.Token, nil)
	e.Want(status, body, 200)
	e.Clock.Set(start.Add(2 * time.Hour))
	renew(e, &p, &v, &c)
	status, body = e.Call("POST", "/v1/outings/"+id+"/complete", v.Token, nil)
	e.Want(status, body, 200)
	status, body = e.Call("POST", "/v1/outings/"+id+"/feedback", p.Token, map[string]any{"rating": 5, "comment": "Vera was lovely", "comfort_before": 2, "comfort_after": 4})
	e.Want(status, body, 201)
	status, body = e.Call("POST", "/v1/outings/"+id+"/feedback", p.Token, map[string]any{"rating": 4})
	e.Want(status, body, 409)
	status, body = e.Call("POST", "/v1/outings/"+id+"/feedback", v.Token, map[string]any{"rating": 5})
	e.Want(status, body, 201)

	status, body = e.Call("GET", "/v1/outings/"+id+"/history", c.Token, nil)
	e.Want(status, body, 200)
	var hist struct {
		Items []matching.HistoryEntry `json:"items"`
	}
	e.Decode(body, &hist)
	var steps []string
	for i, h := range hist.Items {
		steps = append(steps, string(h.From)+">"+string(h.To))
		if i > 0 && h.At.Before(hist.Items[i-1].At) {
			t.Fatalf("history not oldest first: %s", body)
		}
	}
	if got := strings.Join(steps, " "); got != ">open open>pending_approval pending_approval>confirmed confirmed>in_progress in_progress>completed" {
		t.Fatalf("history %s", got)
	}
	_, final, _ := outingJSON(e, c.Token, id)
	if final.Version != 5 || final.Status != "completed" {
		t.Fatalf("final %+v", final)
	}
	// Events for notify, in order, each with its own id.
	rec := &eventLog{}
	n, err := matchingOf(e).NewDispatcher(rec, nil).RunOnce(context.Background())
	if err != nil || n != 5 {
		t.Fatalf("dispatched %d, %v", n, err)
	}
	if got := strings.Join(rec.types(), " "); got != "outing.offer outing.accepted outing.approved outing.checked_in outing.completed" {
		t.Fatalf("events %s", got)
	}
}

type eventLog struct {
	mu     sync.Mutex
	events []matching.Event
}

func (l *eventLog) Consume(_ context.Context, e matching.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return nil
}

func (l *eventLog) types() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.Type)
	}
	return out
}

// raceCalls sends every request at once and returns the statuses and bodies.
func raceCalls(e *testEnv, reqs []func() (int, []byte)) ([]int, [][]byte) {
	statuses := make([]int, len(reqs))
	bodies := make([][]byte, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i], bodies[i] = r()
		}()
	}
	close(start)
	wg.Wait()
	return statuses, bodies
}

// 20 volunteers accept one open outing at the same moment, through the
// HTTP app on the embedded store: exactly one 200, nineteen 409s.
func TestTwentyVolunteersAcceptAtOnce(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	id := createOuting(e, p, e.Clock.Now().Add(26*time.Hour))
	const n = 20
	vols := make([]person, n)
	for i := range vols {
		vols[i] = freeVolunteer(e, org)
	}
	var reqs []func() (int, []byte)
	for _, v := range vols {
		reqs = append(reqs, func() (int, []byte) { return e.Call("POST", "/v1/outings/"+id+"/accept", v.Token, nil) })
	}
	statuses, bodies := raceCalls(e, reqs)
	count := map[int]int{}
	winner := ""
	for i, s := range statuses {
		count[s]++
		switch s {
		case 200:
			winner = vols[i].ID
		case 409:
			if p := e.Problem(bodies[i]); p.Type != api.ProblemBase+"state-conflict" {
				t.Fatalf("409 of type %s", p.Type)
			}
		}
	}
	t.Logf("20 concurrent accepts: %d × 200, %d × 409, others %v", count[200], count[409], count)
	if count[200] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v, want exactly one 200 and %d × 409", count, n-1)
	}
	_, v, _ := outingJSON(e, c.Token, id)
	if v.VolunteerID != winner || v.Version != 2 || v.Status != "pending_approval" {
		t.Fatalf("after the race: %+v (winner %s)", v, winner)
	}
	status, body := e.Call("GET", "/v1/outings/"+id+"/history", c.Token, nil)
	e.Want(status, body, 200)
	if strings.Count(string(body), `"to":"pending_approval"`) != 1 {
		t.Fatalf("history records more than one accept: %s", body)
	}
}

// A coordinator's approve and the participant's cancel arrive together,
// ten copies of each, all made on the version both saw (If-Match): exactly
// one request wins and the outing ends in the state it asked for.
func TestApproveAndCancelTogether(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	v := freeVolunteer(e, org)
	svc := matchingOf(e)
	for round := range 5 {
		id := createOuting(e, p, e.Clock.Now().Add(time.Duration(26+3*round)*time.Hour))
		done(t)(svc.Accept(context.Background(), v.Who, id))
		resp, _ := e.Do("GET", "/v1/outings/"+id, p.Token, nil)
		etag := resp.Header.Get("ETag")
		if etag != `"2"` {
			t.Fatalf("ETag %q, want \"2\"", etag)
		}
		var reqs []func() (int, []byte)
		for range 10 {
			reqs = append(reqs,
				func() (int, []byte) {
					return e.Call("POST", "/v1/outings/"+id+"/approve", c.Token, nil, "If-Match", etag)
				},
				func() (int, []byte) {
					return e.Call("POST", "/v1/outings/"+id+"/cancel", p.Token, map[string]any{"reason": "not feeling well"}, "If-Match", etag)
				})
		}
		statuses, bodies := raceCalls(e, reqs)
		wins, conflicts, winner := tally(t, statuses, bodies)
		_, final, _ := outingJSON(e, c.Token, id)
		t.Logf("round %d: approve×10 vs cancel×10 on version 2: %d × 200 (%s), %d × 409", round, wins, winner, conflicts)
		if wins != 1 || conflicts != 19 || string(final.Status) != winner || final.Version != 3 {
			t.Fatalf("round %d: %d wins, %d conflicts, final %s v%d (winner asked %s)", round, wins, conflicts, final.Status, final.Version, winner)
		}
	}
}

// Without If-Match the same race may legally run both arrows (approve, then
// cancel of the confirmed outing), never more: every 200 is one history
// entry and one version, nothing is lost or applied twice.
func TestApproveAndCancelTogetherUnconditional(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	v := freeVolunteer(e, org)
	svc := matchingOf(e)
	for round := range 5 {
		id := createOuting(e, p, e.Clock.Now().Add(time.Duration(26+3*round)*time.Hour))
		done(t)(svc.Accept(context.Background(), v.Who, id))
		var reqs []func() (int, []byte)
		for range 10 {
			reqs = append(reqs,
				func() (int, []byte) { return e.Call("POST", "/v1/outings/"+id+"/approve", c.Token, nil) },
				func() (int, []byte) {
					return e.Call("POST", "/v1/outings/"+id+"/cancel", p.Token, map[string]any{"reason": "not feeling well"})
				})
		}
		statuses, bodies := raceCalls(e, reqs)
		wins, conflicts, _ := tally(t, statuses, bodies)
		_, final, _ := outingJSON(e, c.Token, id)
		status, body := e.Call("GET", "/v1/outings/"+id+"/history", c.Token, nil)
		e.Want(status, body, 200)
		hist := strings.Count(string(body), `"from":"pending_approval"`) + strings.Count(string(body), `"from":"confirmed"`)
		t.Logf("round %d: unconditional approve×10 vs cancel×10: %d × 200, %d × 409, final %s", round, wins, conflicts, final.Status)
		okOutcome := (wins == 1 && final.Status == "cancelled") || (wins == 2 && final.Status == "cancelled")
		if !okOutcome || wins+conflicts != 20 || final.Version != int64(2+wins) || hist != wins {
			t.Fatalf("round %d: %d wins, %d conflicts, final %s v%d, %d history entries", round, wins, conflicts, final.Status, final.Version, hist)
		}
	}
}

// tally counts 200s and 409s (failing on anything else) and returns the
// status the last 200 reported.
func tally(t *testing.T, statuses []int, bodies [][]byte) (wins, conflicts int, winner string) {
	t.Helper()
	for i, s := range statuses {
		switch s {
		case 200:
			wins++
			var got matching.OutingView
			if err := json.Unmarshal(bodies[i], &got); err != nil {
				t.Fatal(err)
			}
			winner = string(got.Status)
		case 409:
			conflicts++
		default:
			t.Fatalf("status %d: %s", s, bodies[i])
		}
	}
	return wins, conflicts, winner
}

// The state machine over HTTP: every state × action × person, the status
// each gets, and that a refusal writes nothing while a success bumps the
// version by one. A refused action changes nothing (the test checks that),
// so refusals share one outing per state; each success gets its own.
func TestTransitionTableOverHTTP(t *testing.T) {
	e := newTestEnv(t)
	org, org2 := e.Org("Röda Korset Halmstad"), e.Org("Stadsmissionen Göteborg")
	ctx := context.Background()
	svc := matchingOf(e)
	people := map[string]*person{}
	for name, mk := range map[string]func() person{
		"participant":         func() person { return newPerson(e, auth.RoleParticipant, org) },
		"volunteer":           func() person { return freeVolunteer(e, org) },
		"coordinator":         func() person { return newPerson(e, auth.RoleCoordinator, org) },
		"other participant":   func() person { return newPerson(e, auth.RoleParticipant, org) },
		"foreign coordinator": func() person { return newPerson(e, auth.RoleCoordinator, org2) },
	} {
		p := mk()
		people[name] = &p
	}
	pp, coord := people["participant"], people["coordinator"]
	states := []string{"open", "pending_approval", "confirmed", "in_progress", "completed", "cancelled", "expired"}
	// Codes: the state reached, "=" allowed without a state change (204 for
	// decline, 201 for feedback), "r" 200 with the status kept and a
	// history entry (the second person's check-in), "-" no such person in that state,
	// F 403, N 404, S 409. Ten minutes before the start. "companion" is
	// the volunteer who accepted that outing.
	grid := map[string]map[string]string{
		"accept": {"participant": "FFFFFFF", "companion": "-SSSSSS", "volunteer": "pSNNNNN",
			"coordinator": "FFFFFFF", "other participant": "FFFFFFF", "foreign coordinator": "FFFFFFF"},
		"decline": {"participant": "FFFFFFF", "companion": "-SSSSSS", "volunteer": "=SNNNNN",
			"coordinator": "FFFFFFF", "other participant": "FFFFFFF", "foreign coordinator": "FFFFFFF"},
		"approve": {"participant": "FFFFFFF", "companion": "-FFFFFF", "volunteer": "FFFFFFF",
			"coordinator": "ScSSSSS", "other participant": "FFFFFFF", "foreign coordinator": "NNNNNNN"},
		"reject": {"participant": "FFFFFFF", "companion": "-FFFFFF", "volunteer": "FFFFFFF",
			"coordinator": "SoSSSSS", "other participant": "FFFFFFF", "foreign coordinator": "NNNNNNN"},
		"cancel": {"participant": "xxxSSSS", "companion": "-xxSSSS", "volunteer": "FFNNNNN",
			"coordinator": "xxxSSSS", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN"},
		"check-in": {"participant": "SSi=SSS", "companion": "-SirSSS", "volunteer": "FFNNNNN",
			"coordinator": "FFFFFFF", "other participant": "NNNNNNN", "foreign coordinator": "FFFFFFF"},
		"complete": {"participant": "SSSdSSS", "companion": "-SSdSSS", "volunteer": "FFNNNNN",
			"coordinator": "SSSdSSS", "other participant": "NNNNNNN", "foreign coordinator": "NNNNNNN"},
		"feedback": {"participant": "SSSS=SS", "companion": "-SSS=SS", "volunteer": "FFNNNNN",
			"coordinator": "FFFFFFF", "other participant": "NNNNNNN", "foreign coordinator": "FFFFFFF"},
	}
	reached := map[byte]string{'o': "open", 'p': "pending_approval", 'c': "confirmed", 'i': "in_progress", 'd': "completed", 'x': "cancelled"}
	errStatus := map[byte]int{'F': 403, 'N': 404, 'S': 409}
	bodies := map[string]any{"reject": map[string]any{"reason": "not a good fit"}, "cancel": map[string]any{"reason": "plans changed"}, "feedback": map[string]any{"rating": 4}}
	okStatus := map[string]int{"decline": 204, "feedback": 201}

	// Set-up, in phases on the clock: everything is asked for at base and
	// starts at base+2h (expired, in-progress and completed ones at
	// base+30m); check-ins happen at base+100m; the table runs at base+110m,
	// ten minutes before the confirmed ones start.
	base := e.Clock.Now()
	type outing struct {
		id, state string
		companion *person
	}
	var all []*outing
	make1 := func(state string) *outing {
		start := base.Add(2 * time.Hour)
		switch state {
		case "expired", "in_progress", "completed":
			// Started by the time the table runs: completing needs that.
			start = base.Add(30 * time.Minute)
		}
		o := &outing{id: createOuting(e, *pp, start), state: state}
		if state != "open" {
			v := freeVolunteer(e, org)
			o.companion = &v
			done(t)(svc.Accept(ctx, v.Who, o.id))
		}
		switch state {
		case "confirmed", "in_progress", "completed", "cancelled":
			done(t)(svc.Approve(ctx, coord.Who, o.id))
		}
		if state == "cancelled" {
			done(t)(svc.Cancel(ctx, pp.Who, o.id, "ill"))
		}
		all = append(all, o)
		return o
	}
	shared := map[string]*outing{}
	for _, st := range states {
		shared[st] = make1(st)
	}
	fresh := map[string]*outing{} // action/who/state → its own outing
	for action, byWho := range grid {
		for who, row := range byWho {
			for i, st := range states {
				if _, refused := errStatus[row[i]]; !refused && row[i] != '-' {
					fresh[action+"/"+who+"/"+st] = make1(st)
				}
			}
		}
	}
	e.Clock.Set(base.Add(30 * time.Minute))
	if _, err := svc.ExpireStarted(ctx, 0); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(base.Add(100 * time.Minute))
	for _, o := range all {
		if o.state == "in_progress" || o.state == "completed" {
			done(t)(svc.CheckIn(ctx, pp.Who, o.id))
		}
		if o.state == "completed" {
			done(t)(svc.Complete(ctx, pp.Who, o.id))
		}
	}
	e.Clock.Set(base.Add(110 * time.Minute))
	for _, p := range people {
		renew(e, p)
	}
	for _, o := range all {
		if o.companion != nil {
			renew(e, o.companion)
		}
		if v := done(t)(svc.Outing(ctx, coord.Who, o.id)); string(v.Status) != o.state {
			t.Fatalf("set-up: outing is %s, want %s", v.Status, o.state)
		}
	}

	cases := 0
	for action, byWho := range grid {
		for who, row := range byWho {
			for i, state := range states {
				code := row[i]
				if code == '-' {
					continue
				}
				cases++
				o := shared[state]
				if f, ok := fresh[action+"/"+who+"/"+state]; ok {
					o = f
				}
				actor := people[who]
				if who == "companion" {
					actor = o.companion
				}
				name := fmt.Sprintf("%s by %s when %s", action, who, state)
				before := done(t)(svc.Outing(ctx, coord.Who, o.id))
				status, body := e.Call("POST", "/v1/outings/"+o.id+"/"+action, actor.Token, bodies[action])
				after := done(t)(svc.Outing(ctx, coord.Who, o.id))
				if want, isErr := errStatus[code]; isErr {
					if status != want {
						t.Errorf("%s: %d, want %d: %s", name, status, want, body)
					}
					if after.Version != before.Version || after.Status != before.Status {
						t.Errorf("%s: refused but the outing changed: v%d %s → v%d %s", name, before.Version, before.Status, after.Version, after.Status)
					}
					continue
				}
				want := 200
				if s, ok := okStatus[action]; ok {
					want = s
				}
				if status != want {
					t.Errorf("%s: %d, want %d: %s", name, status, want, body)
					continue
				}
				wantState, wantVersion := state, before.Version
				switch code {
				case '=':
				case 'r':
					wantVersion = before.Version + 1
				default:
					wantState, wantVersion = reached[code], before.Version+1
				}
				if string(after.Status) != wantState || after.Version != wantVersion {
					t.Errorf("%s: now %s v%d, want %s v%d", name, after.Status, after.Version, wantState, wantVersion)
				}
			}
		}
	}
	t.Logf("HTTP transition table: %d cases (%d actions × %d people × %d states, less the companion of an open outing)",
		cases, len(grid), len(people)+1, len(states))
}
