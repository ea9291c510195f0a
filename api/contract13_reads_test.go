package api_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// Issue 13, items 6 and 7: the reads a mobile app starts from, and the
// behaviour of check-in, complete and the export.

func init() {
	participantOf := matrixParams["user_id"]
	matrixParams["user_id"] = func(m *matrixCall) string {
		if strings.Contains(m.Row.Route, "/volunteers/") {
			v := freeVolunteer(m.Env, m.OrgFor("user_id"))
			return v.ID
		}
		return participantOf(m)
	}

	matrix = append(matrix, routeRows("GET", "/v1/outings/:id/feedback", nil,
		want6{401, 200, 200, 200, 200, 403}, want6{401, 404, 404, 404, 404, 403})...)
	matrix = append(matrix, routeRows("GET", "/v1/organisations/:org_id/volunteers/:user_id", nil,
		want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403})...)
	// Own organisation in the path, another organisation's volunteer: 404.
	for _, k := range []callerKind{asCoordinator, asCoordinatorOther} {
		matrix = append(matrix, matrixRow{Method: "GET", Route: "/v1/organisations/:org_id/volunteers/:user_id", As: k,
			ForeignParams: []string{"user_id"}, Want: 404})
	}
	// The caller's own profile reads: set first, so the rows see a 200.
	setFirst := func(put string, body any) func(m *matrixCall) {
		return func(m *matrixCall) {
			if m.Token == "" {
				return
			}
			_, _ = m.Env.Call("PUT", put, m.Token, body) // 403 for the other roles
		}
	}
	for _, r := range []struct {
		path  string
		body  any
		owner callerKind
	}{
		{"/v1/volunteers/me/profile", map[string]any{"home": map[string]any{"lat": 56.67, "lon": 12.86}, "travel_radius_km": 10,
			"languages": []string{"sv"}, "gender": "female", "skills": []string{}, "max_outings_per_week": 2}, asVolunteer},
		{"/v1/volunteers/me/availability", everyDay, asVolunteer},
		{"/v1/participants/me/profile", map[string]any{"languages": []string{"sv"}, "companion_gender": "any"}, asParticipant},
	} {
		w := want6{401, 403, 403, 403, 403, 403}
		if r.owner == asVolunteer {
			w.Volunteer = 200
		} else {
			w.Participant = 200
		}
		for _, row := range routeRows("GET", r.path, nil, w, want6{}) {
			row.Setup = setFirst(r.path, r.body)
			matrix = append(matrix, row)
		}
	}
}

// curl logs a request and its answer the way the issue shows examples.
func curl(t *testing.T, e *testEnv, method, path, token string, body any) (int, []byte) {
	t.Helper()
	status, resp := e.Call(method, path, token, body)
	cmd := "curl -X " + method + " http://localhost:8080" + path
	if token != "" {
		cmd += " -H 'Authorization: Bearer $TOKEN'"
	}
	if body != nil {
		b, _ := json.Marshal(body)
		cmd += " -H 'Content-Type: application/json' -d '" + string(b) + "'"
	}
	t.Logf("\n$ %s\nHTTP %d\n%s", cmd, status, resp)
	return status, resp
}

func TestOwnProfileReads(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	v := newPerson(e, auth.RoleVolunteer, org)
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)

	for _, r := range []struct{ path, token string }{
		{"/v1/volunteers/me/profile", v.Token}, {"/v1/volunteers/me/availability", v.Token}, {"/v1/participants/me/profile", p.Token},
	} {
		status, body := curl(t, e, "GET", r.path, r.token, nil)
		e.Want(status, body, 404)
		if pr := e.Problem(body); pr.Type != "https://clavis.app/problems/not-found" {
			t.Fatalf("%s: %s", r.path, body)
		}
	}
	// Availability alone is no profile; support needs alone no participant profile.
	status, body := e.Call("PUT", "/v1/volunteers/me/availability", v.Token, everyDay)
	e.Want(status, body, 200)
	status, body = e.Call("GET", "/v1/volunteers/me/profile", v.Token, nil)
	e.Want(status, body, 404)
	status, body = e.Call("PUT", "/v1/participants/"+p.ID+"/support-needs", c.Token, map[string]any{"support_needs": "quiet places"})
	e.Want(status, body, 200)
	status, body = e.Call("GET", "/v1/participants/me/profile", p.Token, nil)
	e.Want(status, body, 404)

	profile := map[string]any{"home": map[string]any{"lat": 56.6718, "lon": 12.8614}, "travel_radius_km": 8, "languages": []string{"sv", "en"},
		"gender": "female", "skills": []string{"public_transport"}, "max_outings_per_week": 3}
	status, put := e.Call("PUT", "/v1/volunteers/me/profile", v.Token, profile)
	e.Want(status, put, 200)
	status, body = curl(t, e, "GET", "/v1/volunteers/me/profile", v.Token, nil)
	e.Want(status, body, 200)
	if string(body) != string(put) {
		t.Fatalf("GET profile %s, PUT answered %s", body, put)
	}
	status, body = curl(t, e, "GET", "/v1/volunteers/me/availability", v.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"time_zone":"Europe/Stockholm"`) || !strings.Contains(string(body), `{"weekday":"sun","start":"00:00","end":"24:00"}`) {
		t.Fatalf("availability %s", body)
	}
	status, put = e.Call("PUT", "/v1/participants/me/profile", p.Token, map[string]any{"languages": []string{"sv"}, "companion_gender": "female"})
	e.Want(status, put, 200)
	status, body = curl(t, e, "GET", "/v1/participants/me/profile", p.Token, nil)
	e.Want(status, body, 200)
	if string(body) != string(put) || strings.Contains(string(body), "quiet") {
		t.Fatalf("GET participant profile %s, PUT answered %s", body, put)
	}
}

func TestCoordinatorReadsAVolunteer(t *testing.T) {
	e := newTestEnv(t)
	org, other := e.Org("Röda Korset Halmstad"), e.Org("Stadsmissionen Göteborg")
	c := newPerson(e, auth.RoleCoordinator, org)
	p := newPerson(e, auth.RoleParticipant, org)
	v := freeVolunteer(e, org)
	ctx, svc := context.Background(), matchingOf(e)
	// Two outings this week (one pending, one confirmed), one next month.
	start := e.Clock.Now().Add(3 * time.Hour)
	for _, at := range []time.Duration{0, 6 * time.Hour} {
		id := createOuting(e, p, start.Add(at))
		done(t)(svc.Accept(ctx, v.Who, id))
		if at == 0 {
			done(t)(svc.Approve(ctx, c.Who, id))
		}
	}
	later := createOuting(e, p, start.Add(30*24*time.Hour))
	done(t)(svc.Accept(ctx, v.Who, later))

	audits := e.authCount(`SELECT count(*) FROM audit WHERE subject = ? AND action = 'volunteer.read'`, v.ID)
	path := "/v1/organisations/" + org + "/volunteers/" + v.ID
	status, body := curl(t, e, "GET", path, c.Token, nil)
	e.Want(status, body, 200)
	var got struct {
		User            map[string]any  `json:"user"`
		Profile         map[string]any  `json:"profile"`
		Availability    map[string]any  `json:"availability"`
		OutingsThisWeek *int            `json:"outings_this_week"`
		Rest            json.RawMessage `json:"-"`
	}
	e.Decode(body, &got)
	wantWeek := 2
	if wk := e.Clock.Now().In(time.UTC).Weekday(); wk == time.Sunday {
		wantWeek = -1 // the outings may fall into next week; only checked when not Sunday
	}
	if got.User["id"] != v.ID || got.User["role"] != "volunteer" || got.Profile["travel_radius_km"] == nil ||
		got.Availability["time_zone"] != "Europe/Stockholm" || got.OutingsThisWeek == nil || (wantWeek >= 0 && *got.OutingsThisWeek != wantWeek) {
		t.Fatalf("volunteer view %s", body)
	}
	if n := e.authCount(`SELECT count(*) FROM audit WHERE subject = ? AND action = 'volunteer.read'`, v.ID); n != audits+1 {
		t.Fatalf("audit entries %d, want %d", n, audits+1)
	}
	// A participant, another organisation's volunteer, an unknown id: 404.
	ov := freeVolunteer(e, other)
	for _, id := range []string{p.ID, ov.ID, "nope"} {
		status, body := e.Call("GET", "/v1/organisations/"+org+"/volunteers/"+id, c.Token, nil)
		e.Want(status, body, 404)
	}
	// A volunteer without profile or availability: those fields are absent (the
	// document allows no nulls), not 404.
	bare := newPerson(e, auth.RoleVolunteer, org)
	status, body = e.Call("GET", "/v1/organisations/"+org+"/volunteers/"+bare.ID, c.Token, nil)
	e.Want(status, body, 200)
	if strings.Contains(string(body), `"profile"`) || strings.Contains(string(body), `"availability"`) || !strings.Contains(string(body), `"outings_this_week":0`) {
		t.Fatalf("bare volunteer %s", body)
	}
}

// feedbackReady makes a completed outing with feedback from both people.
func feedbackReady(t *testing.T, e *testEnv, org string) (id string, p, v, c person) {
	ctx, svc := context.Background(), matchingOf(e)
	p, c, v = newPerson(e, auth.RoleParticipant, org), newPerson(e, auth.RoleCoordinator, org), freeVolunteer(e, org)
	start := e.Clock.Now().Add(20 * time.Minute)
	id = createOuting(e, p, start)
	done(t)(svc.Accept(ctx, v.Who, id))
	done(t)(svc.Approve(ctx, c.Who, id))
	e.Clock.Set(start.Add(time.Hour))
	renew(e, &p, &v, &c)
	done(t)(svc.CheckIn(ctx, p.Who, id))
	done(t)(svc.Complete(ctx, v.Who, id))
	status, body := e.Call("POST", "/v1/outings/"+id+"/feedback", p.Token, map[string]any{"rating": 5, "comment": "felt safe", "comfort_before": 2, "comfort_after": 4})
	e.Want(status, body, 201)
	e.Clock.Set(e.Clock.Now().Add(time.Minute))
	status, body = e.Call("POST", "/v1/outings/"+id+"/feedback", v.Token, map[string]any{"rating": 4, "comment": "good walk"})
	e.Want(status, body, 201)
	return id, p, v, c
}

func TestOutingFeedbackReads(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, p, v, c := feedbackReady(t, e, org)
	authors := func(body []byte) []string {
		var l struct {
			Items []struct {
				AuthorID string `json:"author_id"`
			} `json:"items"`
		}
		e.Decode(body, &l)
		var out []string
		for _, f := range l.Items {
			out = append(out, f.AuthorID)
		}
		return out
	}
	status, body := curl(t, e, "GET", "/v1/outings/"+id+"/feedback", c.Token, nil)
	e.Want(status, body, 200)
	if a := authors(body); len(a) != 2 || a[0] != p.ID || a[1] != v.ID {
		t.Fatalf("coordinator sees %v: %s", a, body)
	}
	status, body = curl(t, e, "GET", "/v1/outings/"+id+"/feedback", p.Token, nil)
	e.Want(status, body, 200)
	if a := authors(body); len(a) != 1 || a[0] != p.ID || strings.Contains(string(body), "good walk") {
		t.Fatalf("participant sees %v: %s", a, body)
	}
	status, body = e.Call("GET", "/v1/outings/"+id+"/feedback", v.Token, nil)
	e.Want(status, body, 200)
	if a := authors(body); len(a) != 1 || a[0] != v.ID || strings.Contains(string(body), "felt safe") {
		t.Fatalf("volunteer sees %v: %s", a, body)
	}
	stranger := freeVolunteer(e, org)
	status, body = e.Call("GET", "/v1/outings/"+id+"/feedback", stranger.Token, nil)
	e.Want(status, body, 404)
}

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// badKeys lists the object keys in v (at any depth) that are not snake_case.
func badKeys(v any, path string, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if !snakeKey.MatchString(k) {
				*out = append(*out, path+"."+k)
			}
			badKeys(val, path+"."+k, out)
		}
	case []any:
		for _, val := range x {
			badKeys(val, path+"[]", out)
		}
	}
}

func TestExportIsSnakeCase(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	_, p, v, c := feedbackReady(t, e, org)
	status, body := e.Call("PUT", "/v1/participants/me/profile", p.Token, map[string]any{"languages": []string{"sv"}, "companion_gender": "any"})
	e.Want(status, body, 200)
	status, body = e.Call("PUT", "/v1/participants/"+p.ID+"/support-needs", c.Token, map[string]any{"support_needs": "quiet places"})
	e.Want(status, body, 200)
	status, body = e.Call("POST", "/v1/devices", v.Token, map[string]any{"token": "fcm-token-123456789", "platform": "android"})
	if status != 201 && status != 404 { // devices may not be served in this env
		t.Fatalf("device: %d %s", status, body)
	}
	for _, who := range []person{p, v} {
		status, body := e.Call("GET", "/v1/me/export", who.Token, nil)
		e.Want(status, body, 200)
		var doc any
		e.Decode(body, &doc)
		var bad []string
		badKeys(doc, "", &bad)
		if len(bad) > 0 {
			t.Fatalf("export keys that are not snake_case: %v\n%s", bad, body)
		}
		for _, want := range []string{`"has_profile":true`, `"support_needs":"quiet places"`} {
			if (who.ID == v.ID) == (want == `"has_profile":true`) && !strings.Contains(string(body), want) {
				t.Fatalf("export lacks %s: %s", want, body)
			}
		}
		if who.ID == v.ID {
			i := strings.Index(string(body), `"volunteer_profile"`)
			if i < 0 {
				t.Fatalf("volunteer export: %s", body)
			}
			t.Logf("\n$ curl http://localhost:8080/v1/me/export -H 'Authorization: Bearer $TOKEN'\nHTTP 200\n{…%.400s…}", body[i:])
		}
	}
}

func TestCheckInByBothAndCompleteNotBeforeStart(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	ctx, svc := context.Background(), matchingOf(e)
	p, c, v := newPerson(e, auth.RoleParticipant, org), newPerson(e, auth.RoleCoordinator, org), freeVolunteer(e, org)
	start := e.Clock.Now().Add(2 * time.Hour)
	id := createOuting(e, p, start)
	_, open, _ := outingJSON(e, p.Token, id)
	if open.VolunteerName != "" {
		t.Fatalf("volunteer_name before anyone accepted: %+v", open)
	}
	done(t)(svc.Accept(ctx, v.Who, id))
	// The participant and coordinators see the companion's first name once
	// a volunteer has accepted; other volunteers do not.
	for _, who := range []person{p, c} {
		status, body := curl(t, e, "GET", "/v1/outings/"+id, who.Token, nil)
		e.Want(status, body, 200)
		if !strings.Contains(string(body), `"volunteer_name":"Vera"`) || strings.Contains(string(body), "Holm") {
			t.Fatalf("no first-name volunteer_name for %s: %s", who.Who.Role, body)
		}
	}
	other := freeVolunteer(e, org)
	if _, ov, _ := outingJSON(e, other.Token, id); ov.VolunteerName != "" {
		t.Fatalf("another volunteer sees volunteer_name: %+v", ov)
	}
	done(t)(svc.Approve(ctx, c.Who, id))

	e.Clock.Set(start.Add(-20 * time.Minute))
	renew(e, &p, &v, &c)
	status, body := curl(t, e, "POST", "/v1/outings/"+id+"/check-in", v.Token, nil)
	e.Want(status, body, 200)
	e.Clock.Set(start.Add(-5 * time.Minute))
	status, body = curl(t, e, "POST", "/v1/outings/"+id+"/check-in", p.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"status":"in_progress"`) {
		t.Fatalf("second check-in: %s", body)
	}
	status, body = e.Call("POST", "/v1/outings/"+id+"/check-in", p.Token, nil) // a retry changes nothing
	e.Want(status, body, 200)
	status, body = curl(t, e, "POST", "/v1/outings/"+id+"/complete", v.Token, nil)
	e.Want(status, body, 409)
	if pr := e.Problem(body); pr.Type != "https://clavis.app/problems/state-conflict" || !strings.Contains(pr.Detail, "before it starts") {
		t.Fatalf("complete before the start: %s", body)
	}
	status, body = curl(t, e, "GET", "/v1/outings/"+id+"/history", c.Token, nil)
	e.Want(status, body, 200)
	var hist struct {
		Items []struct {
			At      time.Time `json:"at"`
			ActorID string    `json:"actor_id"`
			From    string    `json:"from"`
			To      string    `json:"to"`
		} `json:"items"`
	}
	e.Decode(body, &hist)
	n := len(hist.Items)
	if n != 5 || hist.Items[3].ActorID != v.ID || hist.Items[3].To != "in_progress" || !hist.Items[3].At.Equal(start.Add(-20*time.Minute)) ||
		hist.Items[4].ActorID != p.ID || hist.Items[4].From != "in_progress" || hist.Items[4].To != "in_progress" || !hist.Items[4].At.Equal(start.Add(-5*time.Minute)) {
		t.Fatalf("history does not say who arrived when: %s", body)
	}
	e.Clock.Set(start.Add(time.Hour))
	renew(e, &v)
	status, body = e.Call("POST", "/v1/outings/"+id+"/complete", v.Token, nil)
	e.Want(status, body, 200)
}
