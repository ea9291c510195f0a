package api_test

import (
	"context"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// Rows of the authorization matrix for the profile and outing routes. "Own"
// outing: the caller's own (participant), one of the caller's organisation
// that the caller can act on (a volunteer accepts an open one, is the
// companion of a confirmed one), or the caller's organisation's
// (coordinator); "foreign": another organisation's.

func init() {
	matrixParams["id"] = matrixOuting

	outingBodyFor := func(m *matrixCall) any {
		start := m.Env.Clock.Now().Add(3 * time.Hour)
		if m.Row.As == asCoordinator || m.Row.As == asCoordinatorOther {
			p := newPerson(m.Env, auth.RoleParticipant, m.Org)
			return outingBody(start, map[string]any{"participant_id": p.ID})
		}
		return outingBody(start, nil)
	}
	matrix = append(matrix, routeRows("POST", "/v1/outings", outingBodyFor,
		want6{Anon: 401, Participant: 201, Volunteer: 403, Coord: 201, CoordOther: 201, Admin: 403}, want6{})...)
	matrix = append(matrix, routeRows("GET", "/v1/outings", nil,
		want6{Anon: 401, Participant: 200, Volunteer: 200, Coord: 200, CoordOther: 200, Admin: 403}, want6{})...)

	reason := bodyOf(map[string]any{"reason": "plans changed"})
	rows := []struct {
		method, route string
		body          func(*matrixCall) any
		own, foreign  want6
	}{
		{"GET", "/v1/outings/:id", nil,
			want6{401, 200, 200, 200, 200, 403}, want6{401, 404, 404, 404, 404, 403}},
		{"POST", "/v1/outings/:id/accept", nil,
			want6{401, 403, 200, 403, 403, 403}, want6{401, 403, 404, 403, 403, 403}},
		{"POST", "/v1/outings/:id/decline", nil,
			want6{401, 403, 204, 403, 403, 403}, want6{401, 403, 404, 403, 403, 403}},
		{"POST", "/v1/outings/:id/approve", nil,
			want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403}},
		{"POST", "/v1/outings/:id/reject", reason,
			want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403}},
		{"POST", "/v1/outings/:id/cancel", reason,
			want6{401, 200, 200, 200, 200, 403}, want6{401, 404, 404, 404, 404, 403}},
		{"POST", "/v1/outings/:id/check-in", nil,
			want6{401, 200, 200, 403, 403, 403}, want6{401, 404, 404, 403, 403, 403}},
		{"POST", "/v1/outings/:id/complete", nil,
			want6{401, 200, 200, 200, 200, 403}, want6{401, 404, 404, 404, 404, 403}},
		{"POST", "/v1/outings/:id/feedback", bodyOf(map[string]any{"rating": 5}),
			want6{401, 201, 201, 403, 403, 403}, want6{401, 404, 404, 403, 403, 403}},
		{"GET", "/v1/outings/:id/history", nil,
			want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403}},
		{"PUT", "/v1/participants/:user_id/support-needs", bodyOf(map[string]any{"support_needs": "prefers quiet places"}),
			want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403}},
	}
	for _, r := range rows {
		matrix = append(matrix, routeRows(r.method, r.route, r.body, r.own, r.foreign)...)
	}

	matrix = append(matrix, routeRows("PUT", "/v1/volunteers/me/profile", bodyOf(map[string]any{
		"home": map[string]any{"lat": 56.67, "lon": 12.86}, "travel_radius_km": 10, "languages": []string{"sv"},
		"gender": "female", "skills": []string{"public_transport"}, "max_outings_per_week": 2,
	}), want6{401, 403, 200, 403, 403, 403}, want6{})...)
	matrix = append(matrix, routeRows("PUT", "/v1/volunteers/me/availability", bodyOf(everyDay),
		want6{401, 403, 200, 403, 403, 403}, want6{})...)
	matrix = append(matrix, routeRows("PUT", "/v1/participants/me/profile", bodyOf(map[string]any{
		"languages": []string{"sv", "en"}, "companion_gender": "female",
	}), want6{401, 200, 403, 403, 403, 403}, want6{})...)
}

// matrixOuting makes a fresh outing for one row, in the state the row's
// route acts on, with the caller in it when the row is about "own" ids.
func matrixOuting(m *matrixCall) string {
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

	// Twenty minutes ahead: check-in is open, accept and approve still are.
	start := e.Clock.Now().Add(20 * time.Minute)
	id := createOuting(e, participant, start)
	steps := map[string]int{
		"/v1/outings/:id/approve": 1, "/v1/outings/:id/reject": 1,
		"/v1/outings/:id/cancel": 2, "/v1/outings/:id/check-in": 2,
		"/v1/outings/:id/complete": 3, "/v1/outings/:id/feedback": 4,
	}[m.Row.Route]
	if steps >= 1 {
		done(m.T)(svc.Accept(ctx, companion.Who, id))
	}
	if steps >= 2 {
		done(m.T)(svc.Approve(ctx, coordinator.Who, id))
	}
	if steps >= 3 {
		// Completing needs the start to have passed; the caller's token
		// (15 minutes) is renewed after the jump.
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
	if steps >= 4 {
		done(m.T)(svc.Complete(ctx, participant.Who, id))
	}
	return id
}
