package api_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

func (e *testEnv) tryLogin(email, password string) (int, string) {
	e.T.Helper()
	resp, b := e.Do("POST", "/v1/auth/login", "", map[string]string{"email": email, "password": password})
	if resp.StatusCode >= 400 {
		checkProblem(e.T, resp, b)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// Five failures per email from one address in 15 minutes, then 429 with
// Retry-After (even with the right password) from that address, until the
// window passes on the clock.
func TestLoginThrottlePerEmail(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, _ := e.User(auth.RoleParticipant, org, auth.StatusActive)
	email := e.Emails[id]
	for i := range auth.PairFailureLimit {
		e.Clock.Advance(10 * time.Second)
		if st, _ := e.tryLogin(email, "wrong password "+strconv.Itoa(i)); st != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, st)
		}
	}
	// All five failures happened between +10 s and +50 s; the first leaves
	// the 15-minute window at +15m10s, 14m20s from now (+50 s).
	st, retry := e.tryLogin(email, testPassword)
	if st != 429 || retry != strconv.Itoa(14*60+20) {
		t.Fatalf("sixth attempt: %d Retry-After %q, want 429 and %d", st, retry, 14*60+20)
	}
	// Another case of the same address is the same account.
	if st, _ := e.tryLogin("  "+upper(email), testPassword); st != 429 {
		t.Fatalf("upper-case email: %d, want 429", st)
	}
	// Others are not affected.
	other, _ := e.User(auth.RoleVolunteer, org, auth.StatusActive)
	if st, _ := e.tryLogin(e.Emails[other], testPassword); st != 200 {
		t.Fatalf("another account: %d", st)
	}
	e.Clock.Advance(14*time.Minute + 19*time.Second)
	if st, _ := e.tryLogin(email, testPassword); st != 429 {
		t.Fatalf("one second before the window ends: %d, want 429", st)
	}
	e.Clock.Advance(time.Second)
	if st, _ := e.tryLogin(email, testPassword); st != 200 {
		t.Fatalf("after the window: %d, want 200", st)
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// A success resets the email's count: four failures, a success, four more
// failures are all 401s, never a 429.
func TestLoginSuccessResetsEmailCount(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, _ := e.User(auth.RoleParticipant, org, auth.StatusActive)
	email := e.Emails[id]
	for round := range 3 {
		for i := range auth.PairFailureLimit - 1 {
			if st, _ := e.tryLogin(email, "nope nope nope"); st != 401 {
				t.Fatalf("round %d failure %d: %d", round, i, st)
			}
		}
		if st, _ := e.tryLogin(email, testPassword); st != 200 {
			t.Fatalf("round %d success: %d", round, st)
		}
	}
}

// Twenty failures from one address in a minute block that address (app.Test
// requests all come from one address), whatever the email; successes
// never count.
func TestLoginThrottlePerAddress(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, _ := e.User(auth.RoleParticipant, org, auth.StatusActive)
	for i := range 30 {
		if st, _ := e.tryLogin(e.Emails[id], testPassword); st != 200 {
			t.Fatalf("success %d: %d", i, st)
		}
	}
	for i := range auth.AddrFailureLimit {
		if st, _ := e.tryLogin(fmt.Sprintf("nobody-%d@example.org", i), "whatever123"); st != 401 {
			t.Fatalf("failure %d: %d", i, st)
		}
	}
	st, retry := e.tryLogin(e.Emails[id], testPassword)
	if st != 429 || retry != "60" {
		t.Fatalf("after 20 failures: %d Retry-After %q, want 429 and 60", st, retry)
	}
	e.Clock.Advance(time.Minute)
	if st, _ := e.tryLogin(e.Emails[id], testPassword); st != 200 {
		t.Fatalf("a minute later: %d, want 200", st)
	}
}
