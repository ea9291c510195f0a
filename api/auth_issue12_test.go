package api_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
)

// behindProxy makes X-Forwarded-For name the client, as behind an ingress
// (app.Test connects from 0.0.0.0).
func behindProxy(d *api.Deps) { d.TrustedProxies = []string{"0.0.0.0/8"} }

// loginFrom signs in from addr and returns the status and Retry-After.
func (e *testEnv) loginFrom(addr, email, password string) (int, string) {
	e.T.Helper()
	resp, b := e.Do("POST", "/v1/auth/login", "", map[string]string{"email": email, "password": password}, "X-Forwarded-For", addr)
	if resp.StatusCode >= 400 {
		checkProblem(e.T, resp, b)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// Issue 12.6: anyone who knows an email could lock its owner out. Now the
// attacker's five wrong passwords block the attacker's address only.
func TestLoginLockoutIsPerAddress(t *testing.T) {
	e := newTestEnv(t, behindProxy)
	org := e.Org("Röda Korset Halmstad")
	id, _ := e.User(auth.RoleParticipant, org, auth.StatusActive)
	email := e.Emails[id]
	const attacker, victim = "198.51.100.23", "192.0.2.41"
	for i := range auth.PairFailureLimit {
		if st, _ := e.loginFrom(attacker, email, fmt.Sprintf("guess number %d", i)); st != 401 {
			t.Fatalf("attacker's guess %d: %d, want 401", i+1, st)
		}
	}
	// The attacker's view: blocked for this email, even with the password.
	st, retry := e.loginFrom(attacker, email, testPassword)
	if st != 429 || retry != strconv.Itoa(int(auth.PairFailureWindow/time.Second)) {
		t.Fatalf("attacker after %d guesses: %d Retry-After %q, want 429 and %d", auth.PairFailureLimit, st, retry, int(auth.PairFailureWindow/time.Second))
	}
	// The victim's view: signs in from home as usual.
	if st, _ := e.loginFrom(victim, email, testPassword); st != 200 {
		t.Fatalf("the owner on another address: %d, want 200", st)
	}
	if st, _ := e.loginFrom(attacker, email, testPassword); st != 429 {
		t.Fatalf("attacker after the owner's sign-in: %d, want 429", st)
	}
}

// Issue 12.7: registration says whether an email is taken, so it is limited
// per client address: an onboarding evening (30 people in an hour on one
// network) passes, the 41st registration within the hour gets 429.
func TestRegisterIsLimitedPerAddress(t *testing.T) {
	e := newTestEnv(t, behindProxy)
	org := e.Org("Röda Korset Halmstad")
	register := func(addr string, i int) (int, string) {
		body := validRegistration(org)
		body["email"] = fmt.Sprintf("person%03d@example.org", i)
		resp, b := e.Do("POST", "/v1/auth/register", "", body, "X-Forwarded-For", addr)
		if resp.StatusCode >= 400 {
			checkProblem(e.T, resp, b)
		}
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	const hall, home = "198.51.100.7", "192.0.2.9"
	for i := range auth.RegisterLimit {
		e.Clock.Advance(time.Minute)
		if st, _ := register(hall, i); st != 201 {
			t.Fatalf("registration %d from one network: %d, want 201", i+1, st)
		}
	}
	// The first registration was at +1 min, 39 min ago: it leaves the hour in 21 min.
	st, retry := register(hall, 100)
	if st != 429 || retry != strconv.Itoa(21*60) {
		t.Fatalf("registration %d within the hour: %d Retry-After %q, want 429 and %d", auth.RegisterLimit+1, st, retry, 21*60)
	}
	// A taken email is not revealed either once the address is over the limit.
	if st, _ := register(hall, 0); st != 429 {
		t.Fatalf("taken email over the limit: %d, want 429", st)
	}
	if st, _ := register(home, 101); st != 201 {
		t.Fatalf("another address: %d, want 201", st)
	}
	e.Clock.Advance(21 * time.Minute)
	if st, _ := register(hall, 102); st != 201 {
		t.Fatalf("after the window: %d, want 201", st)
	}
}

// Issue 12.9: look-alike emails, direction-changing names and the most
// common passwords are refused with 422 naming the field.
func TestRegisterRefusesHiddenCharactersAndCommonPasswords(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	for _, tc := range []struct{ field, key, value string }{
		{"password", "password", "password123"},
		{"password", "password", "Qwertyuiop"},
		{"password", "password", "1234567890"},
		{"password", "password", "            "},
		{"email", "email", "sara\u200b.nilsson@example.org"},
		{"email", "email", "sara.nilsson\u202e@example.org"},
		{"name", "name", "Sara \u202eNilsson"},
	} {
		body := validRegistration(org)
		body[tc.key] = tc.value
		resp, b := e.Do("POST", "/v1/auth/register", "", body)
		if resp.StatusCode != 422 {
			t.Fatalf("%s %+q: %d, want 422: %s", tc.key, tc.value, resp.StatusCode, b)
		}
		p := checkProblem(t, resp, b)
		if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Fatalf("%s %+q: errors %+v, want one naming %s", tc.key, tc.value, p.Errors, tc.field)
		}
	}
	if n := e.countUsers(); n != 0 {
		t.Fatalf("%d users stored after refused registrations", n)
	}
}
