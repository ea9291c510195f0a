package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// Export and erasure through the accounts' endpoints reach matching's data.
func TestExportAndEraseReachOutings(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	v := freeVolunteer(e, org)
	status, body := e.Call("PUT", "/v1/participants/me/profile", p.Token, map[string]any{"languages": []string{"sv"}, "companion_gender": "any"})
	e.Want(status, body, 200)
	open := createOuting(e, p, e.Clock.Now().Add(30*time.Hour))
	confirmed := createOuting(e, p, e.Clock.Now().Add(50*time.Hour))
	done(t)(matchingOf(e).Accept(context.Background(), v.Who, confirmed))
	done(t)(matchingOf(e).Approve(context.Background(), c.Who, confirmed))

	status, body = e.Call("GET", "/v1/me/export", p.Token, nil)
	e.Want(status, body, 200)
	for _, s := range []string{`"matching"`, open, confirmed, "Stora Torg, by the fountain", "crowded buses"} {
		if !strings.Contains(string(body), s) {
			t.Fatalf("export lacks %q: %s", s, body)
		}
	}
	status, body = e.Call("DELETE", "/v1/me", p.Token, nil)
	e.Want(status, body, 204)
	for _, id := range []string{open, confirmed} {
		status, body := e.Call("GET", "/v1/outings/"+id, c.Token, nil)
		e.Want(status, body, 200)
		for _, s := range []string{"Stora Torg", "crowded buses", "Lindqvist", p.ID} {
			if strings.Contains(string(body), s) {
				t.Fatalf("after erasure the outing still shows %q: %s", s, body)
			}
		}
		if !strings.Contains(string(body), `"status":"cancelled"`) {
			t.Fatalf("the erased participant's live outing was not cancelled: %s", body)
		}
	}
	// The companion no longer sees the cancelled outing's meeting point either.
	status, body = e.Call("GET", "/v1/outings/"+confirmed, v.Token, nil)
	e.Want(status, body, 200)
	if strings.Contains(string(body), "56.6744") {
		t.Fatalf("companion view after erasure: %s", body)
	}
}
