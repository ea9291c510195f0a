package api_test

import (
	"strings"
	"testing"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
)

func (e *testEnv) countUsers() int64 {
	e.T.Helper()
	return e.authCount(`SELECT count(*) FROM users`)
}

func validRegistration(org string) map[string]any {
	return map[string]any{"email": "sara.nilsson@example.org", "password": "tio tecken!", "name": "Sara Nilsson",
		"role": "participant", "organisation_id": org, "language": "sv"}
}

func TestRegisterCreatesPendingUser(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	body := validRegistration(org)
	body["email"] = "  Sara.Nilsson@Example.ORG "
	body["role"] = "volunteer"
	st, b := e.Call("POST", "/v1/auth/register", "", body)
	e.Want(st, b, 201)
	var u struct {
		ID, Email, Name, Role, Status, Language string
		OrganisationID                          string `json:"organisation_id"`
	}
	e.Decode(b, &u)
	if u.ID == "" || u.Email != "sara.nilsson@example.org" || u.Status != "pending" || u.Role != "volunteer" ||
		u.OrganisationID != org || u.Language != "sv" || u.Name != "Sara Nilsson" {
		t.Fatalf("user %s", b)
	}
	if strings.Contains(string(b), "password") || strings.Contains(string(b), "argon2") {
		t.Fatalf("the response leaks the password or its hash: %s", b)
	}
	var stored struct{ Hash string }
	if err := e.AuthSQL.QueryRow(`SELECT password_hash FROM users WHERE id = ?`, u.ID).Scan(&stored.Hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.Hash, "$argon2id$v=19$") || strings.Contains(stored.Hash, "tio tecken") {
		t.Fatalf("stored hash %q", stored.Hash)
	}
	// A pending user may sign in and see itself, but not use active-only routes.
	p := e.login("SARA.nilsson@example.org", "tio tecken!")
	if st, _ := e.Call("GET", "/v1/me", p.AccessToken, nil); st != 200 {
		t.Fatalf("pending GET /v1/me: %d", st)
	}
}

// Each broken rule is a 422 naming the field, and nothing is written.
func TestRegisterRejectsBadInput(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	cases := []struct {
		name  string
		field string
		set   any // value for field; nil removes it
	}{
		{"email missing", "email", nil},
		{"email empty", "email", ""},
		{"email not an address", "email", "sara.example.org"},
		{"email with a display name", "email", "Sara <sara@example.org>"},
		{"email without a domain dot", "email", "sara@localhost"},
		{"email too long", "email", strings.Repeat("a", 250) + "@example.org"},
		{"email a number", "email", 42},
		{"password missing", "password", nil},
		{"password nine characters", "password", "123456789"},
		{"password too long", "password", strings.Repeat("x", 1025)},
		{"name missing", "name", nil},
		{"name blank", "name", "   "},
		{"name too long", "name", strings.Repeat("å", 101)},
		{"name with a control character", "name", "Sara\x07"},
		{"role missing", "role", nil},
		{"role coordinator", "role", "coordinator"},
		{"role admin", "role", "admin"},
		{"role unknown", "role", "patient"},
		{"organisation missing", "organisation_id", nil},
		{"organisation unknown", "organisation_id", "000000000000000000000000"},
		{"organisation an object", "organisation_id", map[string]any{"$ne": ""}},
		{"language missing", "language", nil},
		{"language unknown", "language", "de"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outer := e.T
			e.T = t
			defer func() { e.T = outer }()
			body := validRegistration(org)
			if tc.set == nil {
				delete(body, tc.field)
			} else {
				body[tc.field] = tc.set
			}
			resp, b := e.Do("POST", "/v1/auth/register", "", body)
			if resp.StatusCode != 422 {
				t.Fatalf("status %d, want 422: %s", resp.StatusCode, b)
			}
			p := checkProblem(t, resp, b)
			if p.Type != api.ProblemBase+"validation" {
				t.Fatalf("type %q", p.Type)
			}
			named := false
			for _, f := range p.Errors {
				named = named || f.Field == tc.field
			}
			if !named {
				t.Fatalf("errors %+v do not name %q", p.Errors, tc.field)
			}
			if n := e.countUsers(); n != 0 {
				t.Fatalf("%d users written", n)
			}
		})
	}
	for _, raw := range []string{`{"email":`, `[]`, ``, `{"email":"a@b.se"} {}`} {
		if st, b := e.Call("POST", "/v1/auth/register", "", []byte(raw)); st != 400 {
			t.Fatalf("malformed %q: %d, want 400: %s", raw, st, b)
		}
	}
	if n := e.countUsers(); n != 0 {
		t.Fatalf("%d users written", n)
	}
}

func TestRegisterTakenEmailAnyCase(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	st, b := e.Call("POST", "/v1/auth/register", "", validRegistration(org))
	e.Want(st, b, 201)
	for _, email := range []string{"sara.nilsson@example.org", "SARA.NILSSON@EXAMPLE.ORG", " Sara.Nilsson@example.org"} {
		body := validRegistration(org)
		body["email"] = email
		body["name"] = "Someone Else"
		resp, b := e.Do("POST", "/v1/auth/register", "", body)
		if resp.StatusCode != 409 {
			t.Fatalf("%q: status %d, want 409: %s", email, resp.StatusCode, b)
		}
		if p := checkProblem(t, resp, b); p.Type != api.ProblemBase+"email-taken" {
			t.Fatalf("type %q, want email-taken", p.Type)
		}
	}
	if n := e.countUsers(); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
	// The same rule for coordinators an admin creates.
	_, admin := e.User(auth.RoleAdmin, "", auth.StatusActive)
	st, b = e.Call("POST", "/v1/organisations/"+org+"/coordinators", admin,
		map[string]any{"email": "Sara.Nilsson@example.org", "password": testPassword, "name": "Sara N", "language": "sv"})
	if st != 409 || !strings.Contains(string(b), "email-taken") {
		t.Fatalf("coordinator with a taken email: %d %s", st, b)
	}
}
