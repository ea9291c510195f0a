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
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/ids"
)

// Groups in every test env, and their rows of the authorization matrix.

var envGroups sync.Map // *testEnv -> groupsEnv

type groupsEnv struct {
	svc *groups.Service
	st  groups.Store
}

func groupsOf(e *testEnv) groupsEnv {
	v, ok := envGroups.Load(e)
	if !ok {
		panic("test env without groups")
	}
	return v.(groupsEnv)
}

var wrapIDOnce sync.Once

func init() {
	envServices = append(envServices, func(e *testEnv, d *api.Deps) {
		st, err := groups.NewSQLiteStore(context.Background(), e.SQL)
		if err != nil {
			panic(fmt.Sprintf("groups store: %v", err))
		}
		svc, err := groups.NewService(groups.Config{Store: st, Directory: e.Auth, Clock: e.Clock})
		if err != nil {
			panic(err)
		}
		e.Personal.Register(svc.PersonalHook())
		d.Groups = svc
		envGroups.Store(e, groupsEnv{svc: svc, st: st})
	})
	// ":id" is the outings' parameter too; the outings' init may run after
	// this one, so the group resolver wraps it when the first world is made.
	matrixWorldSetups = append(matrixWorldSetups, func(*matrixWorld) {
		wrapIDOnce.Do(func() {
			outing := matrixParams["id"]
			matrixParams["id"] = func(m *matrixCall) string {
				if strings.HasPrefix(m.Row.Route, "/v1/groups/") {
					return storedGroup(m.Env, m.OrgFor("id"), strings.HasSuffix(m.Row.Route, "/attendance")).ID
				}
				return outing(m)
			}
		})
	})
	matrixParams["session_id"] = func(m *matrixCall) string {
		list, err := groupsOf(m.Env).st.Sessions(context.Background(), m.Params["id"])
		if err != nil {
			m.T.Fatal(err)
		}
		now := m.Env.Clock.Now()
		for _, s := range list {
			if strings.HasSuffix(m.Row.Route, "/attendance") == s.StartsAt.Before(now) {
				return s.ID
			}
		}
		m.T.Fatal("no session fits")
		return ""
	}
	// participant_id: the calling participant, enrolled (own), or a fresh
	// participant of the wanted organisation, enrolled.
	matrixParams["participant_id"] = func(m *matrixCall) string {
		pid := m.CallerID
		if m.Row.As != asParticipant || m.Foreign("participant_id") {
			pid, _ = m.Env.User(auth.RoleParticipant, m.OrgFor("participant_id"), auth.StatusActive)
		}
		if m.Params["id"] != "" { // a group's route (outcomes' routes name no group)
			storeEnrol(m, m.Params["id"], pid)
		}
		return pid
	}

	coord := func(own int) want6 { return want6{401, 403, 403, own, own, 403} }
	coordForeign := want6{401, 403, 403, 404, 404, 403}
	members := want6{401, 200, 200, 200, 200, 403}
	membersForeign := want6{401, 404, 404, 404, 404, 403}
	matrix = append(matrix, routeRows("POST", "/v1/organisations/:org_id/groups", bodyOf(groupBody("2026-12-07", 22, 12)),
		coord(201), coordForeign)...)
	matrix = append(matrix, routeRows("GET", "/v1/organisations/:org_id/groups", nil,
		want6{401, 200, 403, 200, 200, 403}, want6{401, 404, 403, 404, 404, 403})...)
	matrix = append(matrix, routeRows("GET", "/v1/groups/:id", nil, members, membersForeign)...)
	matrix = append(matrix, routeRows("GET", "/v1/groups/:id/sessions", nil, members, membersForeign)...)
	matrix = append(matrix, routeRows("PATCH", "/v1/groups/:id/sessions/:session_id",
		bodyOf(map[string]any{"status": "cancelled", "reason": "the room is taken"}), coord(200), coordForeign)...)
	matrix = append(matrix, routeRows("POST", "/v1/groups/:id/enrolments", func(m *matrixCall) any {
		if m.Row.As == asCoordinator || m.Row.As == asCoordinatorOther {
			p, _ := m.Env.User(auth.RoleParticipant, m.Org, auth.StatusActive)
			return map[string]any{"participant_id": p}
		}
		return map[string]any{}
	}, want6{401, 201, 403, 201, 201, 403}, want6{401, 404, 403, 404, 404, 403})...)
	matrix = append(matrix, routeRows("GET", "/v1/groups/:id/enrolments", nil, coord(200), coordForeign)...)
	matrix = append(matrix, routeRows("DELETE", "/v1/groups/:id/enrolments/:participant_id", nil,
		want6{401, 204, 403, 204, 204, 403}, want6{401, 404, 403, 404, 404, 403})...)
	matrix = append(matrix, routeRows("PUT", "/v1/groups/:id/sessions/:session_id/attendance", func(m *matrixCall) any {
		pid, _ := m.Env.User(auth.RoleParticipant, m.OrgFor("id"), auth.StatusActive)
		storeEnrol(m, m.Params["id"], pid)
		return map[string]any{"items": []map[string]any{{"participant_id": pid, "mark": "present"}}}
	}, coord(200), coordForeign)...)
	matrix = append(matrix, routeRows("GET", "/v1/participants/me/groups", nil,
		want6{401, 200, 403, 403, 403, 403}, want6{})...)
	// A participant may not end someone else's place in their own group.
	matrix = append(matrix, matrixRow{Method: "DELETE", Route: "/v1/groups/:id/enrolments/:participant_id", As: asParticipant,
		ForeignParams: []string{"participant_id"}, Want: 404})
	// Members are for coordinators: a participant of the group's own
	// organisation gets 403 from the enrolment list (row above) and sees
	// only their own enrolment in /v1/participants/me/groups.
}

// groupBody is a valid creation body: Mondays 13:00-15:00.
func groupBody(firstDay string, weeks, capacity int) map[string]any {
	return map[string]any{
		"name": "Klara Livet", "kind": "course", "description": "A course at the folk high school",
		"place":     map[string]any{"lat": torgLat, "lon": torgLon, "description": "Folkhögskolan, room 3"},
		"first_day": firstDay, "weeks": weeks, "capacity": capacity,
		"weekly": []map[string]any{{"weekday": "mon", "start": "13:00", "end": "15:00"}},
	}
}

// storedGroup writes a group straight to the store: running (its first
// session two days ago) or planned (first session next week).
func storedGroup(e *testEnv, org string, running bool) *groups.Group {
	e.tb().Helper()
	loc, _ := time.LoadLocation("Europe/Stockholm")
	now := e.Clock.Now()
	first := now.Add(7 * 24 * time.Hour)
	if running {
		first = now.Add(-2 * 24 * time.Hour)
	}
	var weekly []groups.Slot
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		weekly = append(weekly, groups.Slot{Weekday: d, Start: "09:00", End: "10:00"})
	}
	g := &groups.Group{ID: ids.New(), OrgID: org, Name: "Samtalsgrupp", Kind: groups.KindThemeGroup, TimeZone: "Europe/Stockholm",
		FirstDay: first.In(loc).Format(time.DateOnly), Weeks: 2, Weekly: weekly, Capacity: 5, CompletionThreshold: 0.75, CreatedAt: now}
	ss, err := groups.GenerateSessions(g.ID, org, g.FirstDay, g.Weeks, weekly, loc, ids.New)
	if err != nil {
		e.tb().Fatal(err)
	}
	g.StartsAt, g.EndsAt = ss[0].StartsAt, ss[len(ss)-1].EndsAt
	if err := groupsOf(e).st.CreateGroup(context.Background(), g, ss); err != nil {
		e.tb().Fatal(err)
	}
	return g
}

func storeEnrol(m *matrixCall, groupID, pid string) {
	m.T.Helper()
	if _, err := groupsOf(m.Env).st.Enrol(context.Background(), groups.Enrolment{ID: ids.New(), GroupID: groupID, ParticipantID: pid,
		At: m.Env.Clock.Now()}, 5); err != nil {
		m.T.Fatal(err)
	}
}

// Bad input: 422 naming the field, 409, 404 — and nothing written.
func TestGroupBadInput(t *testing.T) {
	e := newTestEnv(t)
	org, other := e.Org("Röda Korset Halmstad"), e.Org("Stadsmissionen")
	c := newPerson(e, auth.RoleCoordinator, org)
	p := newPerson(e, auth.RoleParticipant, org)
	po := newPerson(e, auth.RoleParticipant, other)
	base := "/v1/organisations/" + org + "/groups"
	for _, tc := range []struct {
		field string
		edit  func(b map[string]any)
	}{
		{"weeks", func(b map[string]any) { b["weeks"] = 0 }},
		{"weeks", func(b map[string]any) { b["weeks"] = 105 }},
		{"capacity", func(b map[string]any) { b["capacity"] = 0 }},
		{"completion_threshold", func(b map[string]any) { b["completion_threshold"] = 1.5 }},
		{"weekly[0].end", func(b map[string]any) {
			b["weekly"] = []map[string]any{{"weekday": "mon", "start": "15:00", "end": "13:00"}}
		}},
		{"weekly[1]", func(b map[string]any) {
			b["weekly"] = []map[string]any{{"weekday": "mon", "start": "13:00", "end": "15:00"}, {"weekday": "mon", "start": "14:00", "end": "16:00"}}
		}},
		{"first_day", func(b map[string]any) { b["first_day"] = "2020-01-06" }},
	} {
		b := groupBody("2026-12-07", 22, 12)
		tc.edit(b)
		status, body := e.Call("POST", base, c.Token, b)
		e.Want(status, body, 422)
		if !strings.Contains(string(body), `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %s", tc.field, body)
		}
	}
	status, body := e.Call("GET", base, c.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("a refused group was written: %s", body)
	}
	status, body = e.Call("POST", base, c.Token, groupBody("2026-12-07", 22, 1))
	e.Want(status, body, 201)
	var g groups.GroupView
	e.Decode(body, &g)
	// Another organisation's participant: 404, nothing written.
	status, body = e.Call("POST", "/v1/groups/"+g.ID+"/enrolments", po.Token, map[string]any{})
	e.Want(status, body, 404)
	status, body = e.Call("POST", "/v1/groups/"+g.ID+"/enrolments", p.Token, nil)
	e.Want(status, body, 201)
	status, body = e.Call("POST", "/v1/groups/"+g.ID+"/enrolments", p.Token, map[string]any{})
	e.Want(status, body, 409)
	if pr := e.Problem(body); pr.Type != api.ProblemBase+"conflict" {
		t.Fatalf("double enrolment: %+v", pr)
	}
	// A coordinator enrolling another organisation's participant: 422.
	status, body = e.Call("POST", "/v1/groups/"+g.ID+"/enrolments", c.Token, map[string]any{"participant_id": po.ID})
	e.Want(status, body, 422)
	status, body = e.Call("GET", "/v1/groups/"+g.ID, c.Token, nil)
	e.Want(status, body, 200)
	e.Decode(body, &g)
	if g.EnrolledCount != 1 || g.WaitingCount != 0 {
		t.Fatalf("counts after refused enrolments: %+v", g)
	}
	// A session moved into the past: 422, unchanged.
	status, body = e.Call("GET", "/v1/groups/"+g.ID+"/sessions?limit=1", c.Token, nil)
	e.Want(status, body, 200)
	var sp groups.SessionPage
	e.Decode(body, &sp)
	past := e.Clock.Now().Add(-time.Hour).Format(time.RFC3339)
	status, body = e.Call("PATCH", "/v1/groups/"+g.ID+"/sessions/"+sp.Items[0].ID, c.Token, map[string]any{"starts_at": past, "reason": "oops"})
	e.Want(status, body, 422)
	if !strings.Contains(string(body), `"field":"starts_at"`) {
		t.Fatalf("moved into the past: %s", body)
	}
	status, body = e.Call("GET", "/v1/groups/"+g.ID+"/sessions?limit=1", c.Token, nil)
	e.Want(status, body, 200)
	var again groups.SessionPage
	e.Decode(body, &again)
	if again.Items[0].Status != "scheduled" || !again.Items[0].StartsAt.Equal(sp.Items[0].StartsAt) {
		t.Fatalf("session changed by a refused move: %+v", again.Items[0])
	}
	// Privacy: the participant's own list shows only them.
	status, body = e.Call("GET", "/v1/participants/me/groups", p.Token, nil)
	e.Want(status, body, 200)
	var mine groups.MyGroupPage
	e.Decode(body, &mine)
	if len(mine.Items) != 1 || mine.Items[0].ParticipantID != p.ID || mine.Items[0].Group.ID != g.ID {
		t.Fatalf("my groups %s", body)
	}
}

// Twenty participants enrol at once in a group of one place, over HTTP:
// one is enrolled and nineteen wait at positions 1 to 19.
func TestGroupEnrolmentRaceOverHTTP(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	c := newPerson(e, auth.RoleCoordinator, org)
	status, body := e.Call("POST", "/v1/organisations/"+org+"/groups", c.Token, groupBody("2026-12-07", 4, 1))
	e.Want(status, body, 201)
	var g groups.GroupView
	e.Decode(body, &g)
	ps := make([]person, 20)
	for i := range ps {
		ps[i] = newPerson(e, auth.RoleParticipant, org)
	}
	answers := make([]groups.EnrolmentView, 20)
	statuses := make([]int, 20)
	var wg sync.WaitGroup
	for i := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, b := e.Do("POST", "/v1/groups/"+g.ID+"/enrolments", ps[i].Token, map[string]any{})
			statuses[i] = resp.StatusCode
			_ = json.Unmarshal(b, &answers[i])
		}()
	}
	wg.Wait()
	enrolled, positions := 0, map[int]bool{}
	for i, a := range answers {
		if statuses[i] != 201 {
			t.Fatalf("enrolment %d: %d", i, statuses[i])
		}
		if a.Status == groups.Enrolled {
			enrolled++
		} else if a.Status == groups.Waiting {
			positions[a.Position] = true
		}
	}
	if enrolled != 1 || len(positions) != 19 || !positions[1] || !positions[19] {
		t.Fatalf("%d enrolled, waiting positions %v", enrolled, positions)
	}
	status, body = e.Call("GET", "/v1/groups/"+g.ID+"/enrolments?limit=100", c.Token, nil)
	e.Want(status, body, 200)
	var ep groups.EnrolmentPage
	e.Decode(body, &ep)
	for i, en := range ep.Items[1:] {
		if en.Status != groups.Waiting || en.Position != i+1 {
			t.Fatalf("list out of order at %d: %+v", i, en)
		}
	}
}
