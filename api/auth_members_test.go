package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/personal"
)

type memberPage struct {
	Items []struct {
		ID, Email, Name, Role, Status string
		VettedBy                      string     `json:"vetted_by"`
		VettedAt                      *time.Time `json:"vetted_at"`
		VettingNote                   string     `json:"vetting_note"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// The whole member life: register, pending, listed, approved with the
// vetting recorded, and every read of a participant audited.
func TestMemberApprovalFlow(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	coordID, coord := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	st, b := e.Call("POST", "/v1/auth/register", "", validRegistration(org))
	e.Want(st, b, 201)
	var reg struct{ ID string }
	e.Decode(b, &reg)
	p := e.login("sara.nilsson@example.org", "tio tecken!")

	st, b = e.Call("GET", "/v1/organisations/"+org+"/members?status=pending", coord, nil)
	e.Want(st, b, 200)
	var page memberPage
	e.Decode(b, &page)
	if len(page.Items) != 1 || page.Items[0].ID != reg.ID || page.Items[0].Status != "pending" {
		t.Fatalf("pending members %s", b)
	}

	e.Clock.Advance(10 * time.Minute)
	st, b = e.Call("POST", "/v1/organisations/"+org+"/members/"+reg.ID+"/approve", coord, map[string]string{"note": "met at the office"})
	e.Want(st, b, 200)
	var approved struct {
		Status, VettedBy, VettingNote string
		VettedAt                      time.Time
	}
	e.Decode(b, &approved)
	var raw map[string]any
	e.Decode(b, &raw)
	if approved.Status != "active" || raw["vetted_by"] != coordID || raw["vetting_note"] != "met at the office" ||
		raw["vetted_at"] != e.Clock.Now().Format(time.RFC3339) {
		t.Fatalf("approved %s", b)
	}
	if st, _ := e.Call("POST", "/v1/organisations/"+org+"/members/"+reg.ID+"/approve", coord, nil); st != 409 {
		t.Fatalf("approve twice: %d, want 409", st)
	}
	// The same access token now sees the account as active.
	st, b = e.Call("GET", "/v1/me", p.AccessToken, nil)
	if st != 200 || !strings.Contains(string(b), `"status":"active"`) {
		t.Fatalf("me after approval: %d %s", st, b)
	}

	trail, err := e.Auth.AuditTrail(context.Background(), reg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 2 || trail[0].Action != auth.AuditMemberList || trail[1].Action != auth.AuditMemberApprove ||
		trail[0].Actor != coordID || trail[1].Subject != reg.ID {
		t.Fatalf("audit trail %+v", trail)
	}
	out, _ := json.Marshal(trail)
	t.Logf("audit entries after a coordinator listed and approved a participant: %s", out)
}

func TestMemberListPaginatesAndFilters(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	other := e.Org("Stadsmissionen")
	_, coord := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	want := map[string]bool{}
	for i := range 23 {
		id, _ := e.User(auth.RoleParticipant, org, []auth.Status{auth.StatusPending, auth.StatusActive}[i%2])
		want[id] = true
	}
	for range 3 {
		e.User(auth.RoleVolunteer, org, auth.StatusPending)
		e.User(auth.RoleParticipant, other, auth.StatusPending)
	}
	got := map[string]bool{}
	cursor, pages := "", 0
	for {
		path := "/v1/organisations/" + org + "/members?role=participant&limit=10"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		st, b := e.Call("GET", path, coord, nil)
		e.Want(st, b, 200)
		var page memberPage
		e.Decode(b, &page)
		pages++
		for _, it := range page.Items {
			if it.Role != "participant" || got[it.ID] {
				t.Fatalf("unexpected or repeated item %+v", it)
			}
			got[it.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		if len(page.Items) != 10 {
			t.Fatalf("a non-last page with %d items", len(page.Items))
		}
		cursor = page.NextCursor
	}
	if pages != 3 || len(got) != len(want) {
		t.Fatalf("%d pages, %d of %d participants", pages, len(got), len(want))
	}
	st, b := e.Call("GET", "/v1/organisations/"+org+"/members?role=volunteer&status=pending", coord, nil)
	var page memberPage
	e.Decode(b, &page)
	if st != 200 || len(page.Items) != 3 || page.NextCursor != "" {
		t.Fatalf("volunteers: %d, %d items", st, len(page.Items))
	}
	st, b = e.Call("GET", "/v1/organisations/"+org+"/members", coord, nil)
	e.Decode(b, &page)
	if st != 200 || len(page.Items) != 20 || page.NextCursor == "" {
		t.Fatalf("default limit: %d, %d items", st, len(page.Items))
	}
	for _, q := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=ten", "limit"},
		{"role=patient", "role"}, {"status=erased", "status"}, {"cursor=%21%21", "cursor"},
	} {
		st, b := e.Call("GET", "/v1/organisations/"+org+"/members?"+q.query, coord, nil)
		if st != 422 || !strings.Contains(string(b), `"field":"`+q.field+`"`) {
			t.Fatalf("?%s: %d %s", q.query, st, b)
		}
	}
}

func TestMemberActionsStayInsideTheOrganisation(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	other := e.Org("Stadsmissionen")
	_, coord := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	otherCoordID, _ := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	foreign, _ := e.User(auth.RoleVolunteer, other, auth.StatusPending)
	mine, _ := e.User(auth.RoleVolunteer, org, auth.StatusPending)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/v1/organisations/" + org + "/members/" + foreign + "/approve", 404},
		{"/v1/organisations/" + other + "/members/" + foreign + "/approve", 404},
		{"/v1/organisations/" + other + "/members/" + mine + "/approve", 404},
		{"/v1/organisations/" + org + "/members/000000000000000000000000/approve", 404},
		{"/v1/organisations/" + org + "/members/" + otherCoordID + "/approve", 403},
		{"/v1/organisations/" + org + "/members/" + otherCoordID + "/suspend", 403},
	} {
		body := map[string]string{"reason": "x"} // bodies are decoded strictly: each action its own field
		if strings.HasSuffix(tc.path, "/approve") {
			body = map[string]string{"note": "x"}
		}
		if st, b := e.Call("POST", tc.path, coord, body); st != tc.want {
			t.Fatalf("%s: %d, want %d: %s", tc.path, st, tc.want, b)
		}
	}
	doc, err := e.AuthStore.User(context.Background(), foreign)
	if err != nil || doc.Status != "pending" {
		t.Fatalf("foreign member changed: %+v %v", doc, err)
	}
	if st, b := e.Call("POST", "/v1/organisations/"+org+"/members/"+mine+"/suspend", coord, map[string]string{}); st != 422 || !strings.Contains(string(b), `"reason"`) {
		t.Fatalf("suspend without reason: %d %s", st, b)
	}
}

func TestOrganisationsAndCoordinators(t *testing.T) {
	e := newTestEnv(t)
	_, admin := e.User(auth.RoleAdmin, "", auth.StatusActive)
	st, b := e.Call("POST", "/v1/organisations", admin, map[string]string{"name": "Röda Korset Halmstad", "time_zone": "Europe/Stockholm"})
	e.Want(st, b, 201)
	var org struct{ ID, Name, TimeZone string }
	e.Decode(b, &org)
	if org.ID == "" || !strings.Contains(string(b), `"time_zone":"Europe/Stockholm"`) {
		t.Fatalf("org %s", b)
	}
	for _, tz := range []string{"", "Local", "Europe/Halmstad", "../../etc/passwd", "+01:00"} {
		st, b := e.Call("POST", "/v1/organisations", admin, map[string]string{"name": "X", "time_zone": tz})
		if st != 422 || !strings.Contains(string(b), `"field":"time_zone"`) {
			t.Fatalf("time zone %q: %d %s", tz, st, b)
		}
	}
	st, b = e.Call("POST", "/v1/organisations/"+org.ID+"/coordinators", admin,
		map[string]string{"email": "karin@example.org", "password": testPassword, "name": "Karin Ek", "language": "en"})
	e.Want(st, b, 201)
	if !strings.Contains(string(b), `"status":"active"`) || !strings.Contains(string(b), `"role":"coordinator"`) {
		t.Fatalf("coordinator %s", b)
	}
	c := e.login("karin@example.org", testPassword)
	if st, b := e.Call("GET", "/v1/organisations/"+org.ID+"/members", c.AccessToken, nil); st != 200 {
		t.Fatalf("new coordinator lists members: %d %s", st, b)
	}
	st, _ = e.Call("POST", "/v1/organisations/000000000000000000000000/coordinators", admin,
		map[string]string{"email": "x@example.org", "password": testPassword, "name": "X", "language": "en"})
	if st != 404 {
		t.Fatalf("coordinator of an unknown organisation: %d, want 404", st)
	}
}

func TestPatchMe(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	_, tok := e.User(auth.RoleParticipant, org, auth.StatusPending)
	st, b := e.Call("PATCH", "/v1/me", tok, map[string]string{"name": "  Pia L  ", "language": "en"})
	if st != 200 || !strings.Contains(string(b), `"name":"Pia L"`) || !strings.Contains(string(b), `"language":"en"`) {
		t.Fatalf("patch: %d %s", st, b)
	}
	for _, body := range []map[string]any{{"language": "de"}, {"name": ""}, {"name": strings.Repeat("x", 101)}, {"name": 5}} {
		if st, b := e.Call("PATCH", "/v1/me", tok, body); st != 422 {
			t.Fatalf("patch %v: %d %s", body, st, b)
		}
	}
	st, b = e.Call("GET", "/v1/me", tok, nil)
	if st != 200 || !strings.Contains(string(b), `"name":"Pia L"`) {
		t.Fatalf("me %s", b)
	}
}

// Export collects every registered package's data; erase runs every hook
// (others' before the account's) and leaves no account, token or sign-in.
func TestExportAndErase(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, tok := e.User(auth.RoleParticipant, org, auth.StatusActive)
	e.login(e.Emails[id], testPassword)
	_, coord := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	e.Call("GET", "/v1/organisations/"+org+"/members", coord, nil)

	var erasedWhileAccountExisted []string
	e.Personal.Register(personal.Hook{
		Name: "outings",
		Export: func(ctx context.Context, userID string) (any, error) {
			return []map[string]string{{"id": "o1", "participant_id": userID}}, nil
		},
		Erase: func(ctx context.Context, userID string) error {
			if _, err := e.Auth.User(ctx, userID); err != nil {
				return errors.New("the account was erased before the other packages")
			}
			erasedWhileAccountExisted = append(erasedWhileAccountExisted, userID)
			return nil
		},
	})

	st, b := e.Call("GET", "/v1/me/export", tok, nil)
	e.Want(st, b, 200)
	var exp struct {
		Account struct {
			ID, Email, Name string
			SignIns         []map[string]any `json:"sign_ins"`
			Reads           []map[string]any `json:"reads_of_my_record"`
		} `json:"account"`
		Outings []map[string]string `json:"outings"`
	}
	e.Decode(b, &exp)
	if exp.Account.ID != id || exp.Account.Email != e.Emails[id] || len(exp.Account.SignIns) != 1 ||
		len(exp.Account.Reads) != 1 || len(exp.Outings) != 1 || exp.Outings[0]["participant_id"] != id {
		t.Fatalf("export %s", b)
	}
	if strings.Contains(string(b), "argon2") || strings.Contains(string(b), "password") {
		t.Fatalf("export leaks the password hash: %s", b)
	}
	t.Logf("export of a participant: %s", b)

	st, b = e.Call("DELETE", "/v1/me", tok, nil)
	e.Want(st, b, 204)
	if len(erasedWhileAccountExisted) != 1 {
		t.Fatalf("the other package's erase ran %d times", len(erasedWhileAccountExisted))
	}
	if st, _ := e.Call("GET", "/v1/me", tok, nil); st != 401 {
		t.Fatalf("token after erasure: %d", st)
	}
	if st, _ := e.tryLogin(e.Emails[id], testPassword); st != 401 {
		t.Fatalf("login after erasure: %d", st)
	}
	for _, c := range []struct{ table, field string }{{"users", "id"}, {"refresh_tokens", "user_id"}, {"sign_ins", "user_id"}} {
		if n := e.authCount(`SELECT count(*) FROM `+c.table+` WHERE `+c.field+` = ?`, id); n != 0 {
			t.Fatalf("%s still holds %d rows of the erased user", c.table, n)
		}
	}
	if n := e.authCount(`SELECT count(*) FROM users WHERE email = ?`, e.Emails[id]); n != 0 {
		t.Fatal("email still stored")
	}
	// The address is free again.
	body := validRegistration(org)
	body["email"] = e.Emails[id]
	if st, b := e.Call("POST", "/v1/auth/register", "", body); st != 201 {
		t.Fatalf("re-register after erasure: %d %s", st, b)
	}
}

func TestEraseRunsAgainAfterAHookFails(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, tok := e.User(auth.RoleVolunteer, org, auth.StatusActive)
	fail := true
	e.Personal.Register(personal.Hook{Name: "flaky", Erase: func(ctx context.Context, userID string) error {
		if fail {
			return fmt.Errorf("disk full")
		}
		return nil
	}})
	if st, b := e.Call("DELETE", "/v1/me", tok, nil); st != 500 || strings.Contains(string(b), "disk full") {
		t.Fatalf("failed erase: %d %s", st, b)
	}
	// The account is still there (erased last), so the user can try again.
	if _, err := e.Auth.User(context.Background(), id); err != nil {
		t.Fatalf("account gone after a failed erase: %v", err)
	}
	fail = false
	if st, b := e.Call("DELETE", "/v1/me", tok, nil); st != 204 {
		t.Fatalf("second erase: %d %s", st, b)
	}
}

// An admin's creating POSTs honour Idempotency-Key: a retried request
// returns the first answer and creates nothing new.
func TestAdminCreatesAreIdempotent(t *testing.T) {
	e := newTestEnv(t)
	_, admin := e.User(auth.RoleAdmin, "", auth.StatusActive)
	body := map[string]string{"name": "Röda Korset Halmstad", "time_zone": "Europe/Stockholm"}
	st1, b1 := e.Call("POST", "/v1/organisations", admin, body, "Idempotency-Key", "org-1")
	st2, b2 := e.Call("POST", "/v1/organisations", admin, body, "Idempotency-Key", "org-1")
	if st1 != 201 || st2 != 201 || string(b1) != string(b2) {
		t.Fatalf("first %d %s, retry %d %s", st1, b1, st2, b2)
	}
	if n := e.authCount(`SELECT count(*) FROM organisations`); n != 1 {
		t.Fatalf("%d organisations, want 1", n)
	}
	var org struct{ ID string }
	e.Decode(b1, &org)
	coord := map[string]string{"email": "karin@example.org", "password": testPassword, "name": "Karin Ek", "language": "sv"}
	st1, b1 = e.Call("POST", "/v1/organisations/"+org.ID+"/coordinators", admin, coord, "Idempotency-Key", "coord-1")
	st2, b2 = e.Call("POST", "/v1/organisations/"+org.ID+"/coordinators", admin, coord, "Idempotency-Key", "coord-1")
	if st1 != 201 || st2 != 201 || string(b1) != string(b2) {
		t.Fatalf("coordinator: first %d %s, retry %d %s", st1, b1, st2, b2)
	}
}
