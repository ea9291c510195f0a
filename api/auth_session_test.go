package api_test

import (
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func (e *testEnv) login(email, password string) tokenPair {
	e.T.Helper()
	resp, b := e.Do("POST", "/v1/auth/login", "", map[string]string{"email": email, "password": password})
	e.Want(resp.StatusCode, b, 200)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		e.T.Fatalf("token response Cache-Control %q, want no-store", cc)
	}
	var p tokenPair
	e.Decode(b, &p)
	if p.AccessToken == "" || p.RefreshToken == "" || p.TokenType != "Bearer" || p.ExpiresIn != 900 {
		e.T.Fatalf("bad token pair %s", b)
	}
	return p
}

func (e *testEnv) refresh(tok string) (int, tokenPair) {
	e.T.Helper()
	st, b := e.Call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok})
	var p tokenPair
	if st == 200 {
		e.Decode(b, &p)
	}
	return st, p
}

func TestRefreshRotates(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, _ := e.User(auth.RoleParticipant, org, auth.StatusActive)
	p1 := e.login(e.Emails[id], testPassword)
	e.Clock.Advance(time.Minute)
	st, p2 := e.refresh(p1.RefreshToken)
	if st != 200 || p2.RefreshToken == p1.RefreshToken || p2.AccessToken == p1.AccessToken {
		t.Fatalf("refresh: %d, rotated=%v", st, p2.RefreshToken != p1.RefreshToken)
	}
	if st, b := e.Call("GET", "/v1/me", p2.AccessToken, nil); st != 200 {
		t.Fatalf("new access token: %d %s", st, b)
	}
	st, p3 := e.refresh(p2.RefreshToken)
	if st != 200 {
		t.Fatalf("second refresh: %d", st)
	}
	// Only hashes are stored: no table holds the token itself.
	if n := e.authCount(`SELECT count(*) FROM refresh_tokens WHERE hash = ? OR family = ?`, p3.RefreshToken, p3.RefreshToken) +
		e.authCount(`SELECT count(*) FROM sign_ins WHERE id = ?`, p3.RefreshToken); n != 0 {
		t.Fatalf("%d rows hold a raw refresh token", n)
	}
	if n := e.authCount(`SELECT count(*) FROM refresh_tokens`); n < 3 {
		t.Fatalf("%d refresh tokens stored after a sign-in and two refreshes", n)
	}
	// An unknown or malformed token is a 401, not a 500.
	for _, bad := range []string{"x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", p3.AccessToken} {
		if st, _ := e.refresh(bad); st != 401 {
			t.Fatalf("refresh with %q: %d, want 401", bad[:1], st)
		}
	}
	// After 30 days unused, a refresh token is dead.
	e.Clock.Advance(30*24*time.Hour + time.Second)
	if st, _ := e.refresh(p3.RefreshToken); st != 401 {
		t.Fatalf("30-day-old refresh token: %d, want 401", st)
	}
}

// Presenting a spent refresh token ends the whole sign-in: the newest token
// of that family dies too, while another sign-in of the same user lives on.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, _ := e.User(auth.RoleVolunteer, org, auth.StatusActive)
	phone := e.login(e.Emails[id], testPassword)
	tablet := e.login(e.Emails[id], testPassword)
	st, p2 := e.refresh(phone.RefreshToken)
	if st != 200 {
		t.Fatalf("refresh: %d", st)
	}
	st, b := e.Call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": phone.RefreshToken})
	if st != 401 {
		t.Fatalf("reuse: %d, want 401: %s", st, b)
	}
	if st, _ := e.refresh(p2.RefreshToken); st != 401 {
		t.Fatalf("newest token of the reused family: %d, want 401", st)
	}
	if st, _ := e.refresh(tablet.RefreshToken); st != 200 {
		t.Fatalf("another sign-in of the same user: %d, want 200", st)
	}
}

func TestLogoutEndsFamily(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, _ := e.User(auth.RoleParticipant, org, auth.StatusPending)
	p1 := e.login(e.Emails[id], testPassword)
	_, p2 := e.refresh(p1.RefreshToken)

	// Someone else's refresh token in my logout does nothing to their sign-in.
	otherID, otherTok := e.User(auth.RoleParticipant, org, auth.StatusActive)
	other := e.login(e.Emails[otherID], testPassword)
	if st, b := e.Call("POST", "/v1/auth/logout", otherTok, map[string]string{"refresh_token": p2.RefreshToken}); st != 204 {
		t.Fatalf("logout with another's token: %d %s", st, b)
	}
	if st, p := e.refresh(p2.RefreshToken); st != 200 {
		t.Fatalf("another user's logout killed this sign-in: %d", st)
	} else {
		p2 = p
	}

	// A pending account may log out (AllowPending).
	if st, b := e.Call("POST", "/v1/auth/logout", p2.AccessToken, map[string]string{"refresh_token": p2.RefreshToken}); st != 204 {
		t.Fatalf("logout: %d %s", st, b)
	}
	if st, _ := e.refresh(p2.RefreshToken); st != 401 {
		t.Fatalf("refresh after logout: %d, want 401", st)
	}
	if st, _ := e.Call("POST", "/v1/auth/logout", p2.AccessToken, map[string]string{"refresh_token": p2.RefreshToken}); st != 204 {
		t.Fatalf("second logout: %d, want 204", st)
	}
	if st, _ := e.refresh(other.RefreshToken); st != 200 {
		t.Fatalf("other user's sign-in after my logout: %d", st)
	}
}

// Many concurrent refreshes of one token: exactly one gets a new pair.
func TestConcurrentRefreshExactlyOneWins(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, _ := e.User(auth.RoleParticipant, org, auth.StatusActive)
	for round := range 3 {
		p := e.login(e.Emails[id], testPassword)
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, _ := doRequest(t, e.Srv, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken})
				statuses[i] = resp.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		ok, unauth := 0, 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 401:
				unauth++
			}
		}
		if ok != 1 || unauth != n-1 {
			t.Fatalf("round %d: statuses %v: want exactly one 200 and %d 401", round, statuses, n-1)
		}
	}
}

// Suspension ends every sign-in and refuses the next request at once.
func TestSuspensionRevokesEverything(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	id, access := e.User(auth.RoleVolunteer, org, auth.StatusActive)
	p := e.login(e.Emails[id], testPassword)
	_, coord := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	if st, _ := e.Call("GET", "/v1/me", access, nil); st != 200 {
		t.Fatal("before suspension")
	}
	st, b := e.Call("POST", "/v1/organisations/"+org+"/members/"+id+"/suspend", coord, map[string]string{"reason": "no-show twice"})
	e.Want(st, b, 200)
	if st, _ := e.Call("GET", "/v1/me", access, nil); st != 401 {
		t.Fatalf("access token after suspension: %d, want 401", st)
	}
	if st, _ := e.refresh(p.RefreshToken); st != 401 {
		t.Fatalf("refresh after suspension: %d, want 401", st)
	}
	// The password is right, so the answer may say why.
	st, b = e.Call("POST", "/v1/auth/login", "", map[string]string{"email": e.Emails[id], "password": testPassword})
	if st != 403 {
		t.Fatalf("suspended login: %d, want 403: %s", st, b)
	}
	// Approving again restores access, but not the old sign-ins.
	st, b = e.Call("POST", "/v1/organisations/"+org+"/members/"+id+"/approve", coord, nil)
	e.Want(st, b, 200)
	if st, _ := e.refresh(p.RefreshToken); st != 401 {
		t.Fatalf("old refresh after reinstatement: %d, want 401", st)
	}
	e.login(e.Emails[id], testPassword)
}
