package api_test

import (
	"context"
	"fmt"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

// The matcher joins every test env, and its routes the authorization
// matrix. This file's name must sort after outing_env_test.go: init
// functions run in file-name order, and the matcher is built on the
// matching service that file's envServices entry creates.

func init() {
	envServices = append(envServices, func(e *testEnv, d *api.Deps) {
		if d.Matching == nil {
			panic("preferences_env_test.go: the matching service must be set up first (outing_env_test.go)")
		}
		m, err := matching.NewMatcher(context.Background(), d.Matching, matching.MatcherConfig{})
		if err != nil {
			panic(fmt.Sprintf("matcher: %v", err))
		}
		e.Personal.Register(m.PersonalHook())
		d.Matcher = m
	})

	// volunteer_id: a fresh active volunteer of the caller's organisation
	// (own) or of the other one (foreign).
	matrixParams["volunteer_id"] = func(m *matrixCall) string {
		id, _ := m.Env.User(auth.RoleVolunteer, m.OrgFor("volunteer_id"), auth.StatusActive)
		return id
	}

	matrix = append(matrix, routeRows("GET", "/v1/outings/:id/candidates", nil,
		want6{401, 403, 403, 200, 200, 403}, want6{401, 403, 403, 404, 404, 403})...)
	matrix = append(matrix, routeRows("GET", "/v1/volunteers/me/offers", nil,
		want6{401, 403, 200, 403, 403, 403}, want6{})...)
	matrix = append(matrix, routeRows("GET", "/v1/participants/me/volunteers", nil,
		want6{401, 200, 403, 403, 403, 403}, want6{})...)
	matrix = append(matrix, routeRows("PUT", "/v1/participants/me/volunteers/:volunteer_id", bodyOf(map[string]any{"preference": "never"}),
		want6{401, 200, 403, 403, 403, 403}, want6{401, 404, 403, 403, 403, 403})...)
	matrix = append(matrix, routeRows("DELETE", "/v1/participants/me/volunteers/:volunteer_id", nil,
		want6{401, 204, 403, 403, 403, 403}, want6{401, 404, 403, 403, 403, 403})...)
}

// putNearProfile gives a volunteer a profile that reaches every meeting
// point the outing tests use (Halmstad): accepting re-runs every hard rule
// of matching, travel radius and languages included.
func putNearProfile(e *testEnv, token string) {
	e.tb().Helper()
	status, body := e.Call("PUT", "/v1/volunteers/me/profile", token, map[string]any{
		"home": map[string]any{"lat": torgLat, "lon": torgLon}, "travel_radius_km": 50, "languages": []string{"sv", "en"},
		"gender": "female", "skills": []string{}, "max_outings_per_week": 21,
	})
	if status != 200 {
		e.tb().Fatalf("volunteer profile: %d %s", status, body)
	}
}
