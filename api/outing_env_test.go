package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

// envMatching remembers each test env's matching service, for tests that
// run the sweeps or the dispatcher, or set state up without HTTP.
var envMatching sync.Map // *testEnv -> *matching.Service

func init() {
	envServices = append(envServices, func(e *testEnv, d *api.Deps) {
		ctx := context.Background()
		st, err := matching.NewSQLiteStore(ctx, e.SQL)
		if err != nil {
			panic(fmt.Sprintf("matching store: %v", err))
		}
		e.Matching = st
		svc, err := matching.NewService(ctx, st, matching.Config{Clock: e.Clock, Directory: matching.AccountsDirectory(e.Auth)})
		if err != nil {
			panic(fmt.Sprintf("matching service: %v", err))
		}
		e.Personal.Register(svc.PersonalHook())
		e.Auth.OnStatusChange(svc.VolunteerStatusHook)
		d.Matching = svc
		envMatching.Store(e, svc)
	})
}

// matchingOf returns the env's matching service.
func matchingOf(e *testEnv) *matching.Service {
	v, ok := envMatching.Load(e)
	if !ok {
		panic("test env without matching service")
	}
	return v.(*matching.Service)
}

// person is a test user with the identity the service layer takes.
type person struct {
	ID, Token string
	Who       auth.Identity
}

func newPerson(e *testEnv, role auth.Role, org string) person {
	id, tok := e.User(role, org, auth.StatusActive)
	return person{ID: id, Token: tok, Who: auth.Identity{UserID: id, Role: role, OrgID: org, Status: auth.StatusActive}}
}

// renew gives p a fresh access token: tokens live 15 minutes on the test
// env's clock, so a test that moves the clock renews them.
func renew(e *testEnv, ps ...*person) {
	e.tb().Helper()
	for _, p := range ps {
		tok, err := e.Auth.IssueAccessToken(context.Background(), p.ID)
		if err != nil {
			e.tb().Fatal(err)
		}
		p.Token = tok
	}
}

// everyDay is availability covering the whole week.
var everyDay = func() map[string]any {
	var weekly []map[string]string
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		weekly = append(weekly, map[string]string{"weekday": d, "start": "00:00", "end": "24:00"})
	}
	return map[string]any{"time_zone": "Europe/Stockholm", "weekly": weekly, "exceptions": []any{}}
}()

// freeVolunteer is an active volunteer available all week.
func freeVolunteer(e *testEnv, org string) person {
	v := newPerson(e, auth.RoleVolunteer, org)
	status, body := e.Call("PUT", "/v1/volunteers/me/availability", v.Token, everyDay)
	if status != 200 {
		e.tb().Fatalf("availability: %d %s", status, body)
	}
	putNearProfile(e, v.Token)
	return v
}

// Stora Torg, Halmstad.
const torgLat, torgLon = 56.6744, 12.8578

func outingBody(start time.Time, extra map[string]any) map[string]any {
	b := map[string]any{
		"kind": "cafe", "note": "I get anxious on crowded buses",
		"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(2 * time.Hour).Format(time.RFC3339),
		"meeting_point": map[string]any{"lat": torgLat, "lon": torgLon, "description": "Stora Torg, by the fountain"},
	}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// createOuting asks for an outing through the service (fast set-up).
func createOuting(e *testEnv, p person, start time.Time) string {
	e.tb().Helper()
	v, err := matchingOf(e).CreateOuting(context.Background(), p.Who, matching.OutingRequest{
		Kind: matching.KindCafe, Note: "I get anxious on crowded buses", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		MeetingPoint: matching.MeetingPoint{Lat: torgLat, Lon: torgLon, Description: "Stora Torg, by the fountain"},
	})
	if err != nil {
		e.tb().Fatalf("create outing: %v", err)
	}
	return v.ID
}

// outingView reads an outing as a coordinator-like caller through the service.
func outingJSON(e *testEnv, token, id string) (int, matching.OutingView, []byte) {
	e.tb().Helper()
	status, body := e.Call("GET", "/v1/outings/"+id, token, nil)
	var v matching.OutingView
	if status == 200 {
		if err := json.Unmarshal(body, &v); err != nil {
			e.tb().Fatalf("decode outing %s: %v", body, err)
		}
	}
	return status, v, body
}

// done fails the test on a service error: done(t)(svc.Accept(...)).
func done(t testing.TB) func(matching.OutingView, error) matching.OutingView {
	return func(v matching.OutingView, err error) matching.OutingView {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
