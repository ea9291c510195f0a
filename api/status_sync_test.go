package api_test

import (
	"context"
	"testing"

	"github.com/clavis-app/clavis/auth"
)

// A volunteer who writes a profile while pending becomes findable by the
// candidate prefilter once a coordinator approves them, and drops out of it
// when suspended: auth tells matching through its status hook.
func TestVolunteerStatusReachesCandidatePrefilter(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Halmstad")
	_, coord := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	vid, vtok := e.User(auth.RoleVolunteer, org, auth.StatusPending)
	status, body := e.Call("PUT", "/v1/volunteers/me/profile", vtok, map[string]any{
		"home": map[string]any{"lat": 56.6718, "lon": 12.8614}, "travel_radius_km": 8, "languages": []string{"sv"},
		"gender": "female", "skills": []string{}, "max_outings_per_week": 3})
	e.Want(status, body, 200)

	near := func() int {
		t.Helper()
		vs, err := matchingOf(e).VolunteersNear(context.Background(), org, 56.6744, 12.8578, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(vs)
	}
	if n := near(); n != 0 {
		t.Fatalf("a pending volunteer must not be a candidate; found %d", n)
	}
	status, body = e.Call("POST", "/v1/organisations/"+org+"/members/"+vid+"/approve", coord, map[string]any{"note": "interviewed"})
	e.Want(status, body, 200)
	if n := near(); n != 1 {
		t.Fatalf("after approval want 1 volunteer near, got %d", n)
	}
	status, body = e.Call("POST", "/v1/organisations/"+org+"/members/"+vid+"/suspend", coord, map[string]any{"reason": "paused"})
	e.Want(status, body, 200)
	if n := near(); n != 0 {
		t.Fatalf("after suspension want 0, got %d", n)
	}
}
