package api_test

import (
	"context"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/expenses"
	"github.com/clavis-app/clavis/matching"
)

// Rows of the authorization matrix for the care routes (care_routes.go,
// expense_routes.go). "Own" outing: the caller's own (participant), the one
// the caller is the companion of (volunteer), or one of the caller's
// organisation (coordinator); "foreign": another organisation's. Each row
// gets a fresh outing in the state its route acts on.

// careStates: the state each care route needs its outing in.
var careStates = map[string]string{
	"/v1/outings/:id/postpone":         "confirmed",
	"/v1/outings/:id/postpone/accept":  "postponing",
	"/v1/outings/:id/postpone/decline": "postponing",
	"/v1/outings/:id/expect":           "confirmed",
	"/v1/outings/:id/recognise":        "confirmed",
	"/v1/outings/:id/stop":             "in_progress",
	"/v1/outings/:id/help":             "confirmed",
	"/v1/outings/:id/expenses":         "completed",
	"/v1/expenses/:id/approve":         "expense",
	"/v1/expenses/:id/reject":          "expense",
}

func init() {
	outingParam := matrixParams["id"]
	matrixParams["id"] = func(m *matrixCall) string {
		state, ok := careStates[m.Row.Route]
		if !ok {
			return outingParam(m)
		}
		return careMatrixOuting(m, state)
	}

	reason := bodyOf(map[string]any{"reason": "no receipt"})
	postpone := func(m *matrixCall) any {
		start := m.Env.Clock.Now().Add(26 * time.Hour)
		return map[string]any{"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(2 * time.Hour).Format(time.RFC3339), "reason": "a bad day"}
	}
	rows := []struct {
		method, route string
		body          func(*matrixCall) any
		own, foreign  want6
	}{
		{"POST", "/v1/outings/:id/postpone", postpone,
			want6{401, 200, 403, 200, 200, 403}, want6{401, 404, 403, 404, 404, 403}},
		{"POST", "/v1/outings/:id/postpone/accept", nil,
			want6{401, 403, 200, 403, 403, 403}, want6{401, 403, 404, 403, 403, 403}},
		{"POST", "/v1/outings/:id/postpone/decline", nil,
			want6{401, 403, 200, 403, 403, 403}, want6{401, 403, 404, 403, 403, 403}},
		{"GET", "/v1/outings/:id/expect", nil,
			want6{401, 200, 403, 200, 200, 403}, want6{401, 404, 404, 404, 404, 403}},
		{"PUT", "/v1/outings/:id/recognise", bodyOf(map[string]any{"text": "green scarf, red backpack"}),
			want6{401, 403, 200, 403, 403, 403}, want6{401, 403, 404, 403, 403, 403}},
		{"PUT", "/v1/organisations/:org_id/contact", bodyOf(map[string]any{"name": "Jouren", "phone": "+46 35 12 34 56"}),
			want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403}},
		{"POST", "/v1/outings/:id/stop", bodyOf(map[string]any{"needed_by": "participant", "reason": "too crowded"}),
			want6{401, 200, 200, 403, 403, 403}, want6{401, 404, 404, 403, 403, 403}},
		{"POST", "/v1/outings/:id/help", bodyOf(map[string]any{"note": "lost at the station"}),
			want6{401, 202, 202, 403, 403, 403}, want6{401, 404, 404, 403, 403, 403}},
		{"POST", "/v1/outings/:id/expenses", bodyOf(map[string]any{"kind": "bus_ticket", "amount_ore": 3400, "note": "buss 1 t/r"}),
			want6{401, 403, 201, 403, 403, 403}, want6{401, 403, 404, 403, 403, 403}},
		{"POST", "/v1/expenses/:id/approve", bodyOf(map[string]any{}),
			want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403}},
		{"POST", "/v1/expenses/:id/reject", reason,
			want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403}},
		{"GET", "/v1/organisations/:org_id/expenses", nil,
			want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403}},
	}
	for _, r := range rows {
		matrix = append(matrix, routeRows(r.method, r.route, r.body, r.own, r.foreign)...)
	}
}

// careMatrixOuting makes a fresh outing in state with the caller in it when
// the row is about "own" ids; for "expense", a pending expense on a
// completed outing, and its id.
func careMatrixOuting(m *matrixCall, state string) string {
	e, ctx, svc := m.Env, context.Background(), matchingOf(m.Env)
	org := m.OrgFor("id")
	own := !m.Foreign("id")
	participant := newPerson(e, auth.RoleParticipant, org)
	if own && m.Row.As == asParticipant {
		participant = person{ID: m.CallerID, Token: m.Token, Who: auth.Identity{UserID: m.CallerID, Role: auth.RoleParticipant, OrgID: org, Status: auth.StatusActive}}
	}
	companion := freeVolunteer(e, org)
	if own && m.Row.As == asVolunteer {
		companion = person{ID: m.CallerID, Token: m.Token, Who: auth.Identity{UserID: m.CallerID, Role: auth.RoleVolunteer, OrgID: org, Status: auth.StatusActive}}
		if status, body := e.Call("PUT", "/v1/volunteers/me/availability", m.Token, everyDay); status != 200 {
			m.T.Fatalf("availability: %d %s", status, body)
		}
		putNearProfile(e, m.Token)
	}
	coordinator := newPerson(e, auth.RoleCoordinator, org)
	start := e.Clock.Now().Add(20 * time.Minute)
	id := createOuting(e, participant, start)
	done(m.T)(svc.Accept(ctx, companion.Who, id))
	done(m.T)(svc.Approve(ctx, coordinator.Who, id))
	if state == "postponing" {
		later := start.Add(26 * time.Hour)
		done(m.T)(svc.Postpone(ctx, participant.Who, id, matching.PostponeInput{StartsAt: later, EndsAt: later.Add(2 * time.Hour)}))
	}
	if state == "in_progress" || state == "completed" || state == "expense" {
		e.Clock.Set(start)
		if m.CallerID != "" {
			tok, err := e.Auth.IssueAccessToken(ctx, m.CallerID)
			if err != nil {
				m.T.Fatal(err)
			}
			m.Token = tok
		}
		done(m.T)(svc.CheckIn(ctx, participant.Who, id))
	}
	if state == "completed" || state == "expense" {
		done(m.T)(svc.Complete(ctx, participant.Who, id))
	}
	if state == "expense" {
		x, err := expensesOf(e).Record(ctx, companion.Who, id, expenses.Input{Kind: expenses.KindCafe, AmountOre: 4500, Note: "fika"})
		if err != nil {
			m.T.Fatal(err)
		}
		return x.ID
	}
	if !strings.HasPrefix(m.Row.Route, "/v1/outings/") {
		m.T.Fatalf("no care state for %s", m.Row.Route)
	}
	return id
}
