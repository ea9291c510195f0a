package auth

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// newSQLiteStore is auth's store on a fresh SQLite file (or on d, if given).
func newSQLiteStore(t testing.TB, d ...*sqlite.DB) Store {
	t.Helper()
	if len(d) == 0 {
		d = append(d, sqlitetest.New(t))
	}
	st, err := NewSQLiteStore(context.Background(), d[0])
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newTestService(t testing.TB, st Store, clk clock.Clock, keys *KeySet) *Service {
	t.Helper()
	if keys == nil {
		var err error
		if keys, err = GenerateKeySet(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(context.Background(), Config{Store: st, Keys: keys, Clock: clk, Hash: TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustUser(t testing.TB, s *Service, role Role, org string, st Status) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Email: string(role) + "-" + newID() + "@example.org",
		Password: "correct horse battery", Name: "Test User", Role: role, OrgID: org, Language: "sv", Status: st})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Starting twice on one database (a restart) must not fail on existing tables.
func TestNewTwiceOnOneDatabase(t *testing.T) {
	d := sqlitetest.New(t)
	s := newTestService(t, newSQLiteStore(t, d), clock.NewFake(t0), nil)
	org, err := s.CreateOrganisation(context.Background(), "Röda Korset", "Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	u := mustUser(t, s, RoleParticipant, org.ID, StatusActive)
	again := newTestService(t, newSQLiteStore(t, d), clock.NewFake(t0), nil)
	if got, err := again.User(context.Background(), u.ID); err != nil || got.Email != u.Email {
		t.Fatalf("after a restart: %+v %v", got, err)
	}
}

// Unknown email and wrong password both cost exactly one hash and give the
// same error.
func TestLoginFailuresCostOneHashEach(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t, newSQLiteStore(t), clock.NewFake(t0), nil)
	org, _ := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	u := mustUser(t, s, RoleVolunteer, org.ID, StatusActive)
	var errs []error
	for _, tc := range []struct{ email, pw string }{{"nobody@example.org", "correct horse battery"}, {u.Email, "wrong password!"}} {
		before := s.hasher.runs.Load()
		_, err := s.Login(ctx, tc.email, tc.pw, "10.0.0.1")
		if got := s.hasher.runs.Load() - before; got != 1 {
			t.Fatalf("login for %q ran %d hashes, want 1", tc.email, got)
		}
		errs = append(errs, err)
	}
	if errs[0] == nil || errs[0].Error() != errs[1].Error() || fault.KindOf(errs[0]) != fault.Unauthenticated {
		t.Fatalf("unknown email %v vs wrong password %v", errs[0], errs[1])
	}
}

// The per-address limit counts each address on its own.
func TestAddressLimitIsPerAddress(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	s := newTestService(t, newSQLiteStore(t), clk, nil)
	org, _ := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	u := mustUser(t, s, RoleParticipant, org.ID, StatusActive)
	for i := range AddrFailureLimit {
		if _, err := s.Login(ctx, "x"+newID()+"@example.org", "nope", "192.0.2.1"); fault.KindOf(err) != fault.Unauthenticated {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	_, err := s.Login(ctx, u.Email, "correct horse battery", "192.0.2.1")
	f, ok := fault.As(err)
	if !ok || f.Kind != fault.RateLimited || f.RetryAfter != 60 {
		t.Fatalf("blocked address: %v", err)
	}
	if _, err := s.Login(ctx, u.Email, "correct horse battery", "192.0.2.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	clk.Advance(AddrFailureWindow)
	if _, err := s.Login(ctx, u.Email, "correct horse battery", "192.0.2.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Two server processes on one database file, each with its own connection
// pool: concurrent refreshes of one token still have exactly one winner,
// because the write transaction's lock is the file's. (The contract suite
// runs the same race on both engines at the store level.)
func TestConcurrentRefreshAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	d1 := sqlitetest.New(t)
	d2, err := sqlite.Open(ctx, d1.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	keys, _ := GenerateKeySet()
	clk := clock.NewFake(t0)
	procs := []*Service{newTestService(t, newSQLiteStore(t, d1), clk, keys), newTestService(t, newSQLiteStore(t, d2), clk, keys)}
	org, _ := procs[0].CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	u := mustUser(t, procs[0], RoleParticipant, org.ID, StatusActive)
	for round := range 5 {
		tok, err := procs[0].Login(ctx, u.Email, "correct horse battery", "")
		if err != nil {
			t.Fatal(err)
		}
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = procs[i%2].Refresh(ctx, tok.RefreshToken)
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case fault.KindOf(err) != fault.Unauthenticated:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d refreshes succeeded, want exactly 1", round, wins)
		}
	}
}

// Access tokens carry what the spec lists, and Authenticate uses the stored
// status, not the token's.
func TestAccessTokenClaims(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	s := newTestService(t, newSQLiteStore(t), clk, nil)
	org, _ := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	u := mustUser(t, s, RoleCoordinator, org.ID, StatusActive)
	tok, err := s.IssueAccessToken(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.VerifyAccessToken(tok)
	if err != nil || c.UserID != u.ID || c.Role != RoleCoordinator || c.OrgID != org.ID ||
		!c.IssuedAt.Equal(t0) || !c.ExpiresAt.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("claims %+v err %v", c, err)
	}
	id, err := s.Authenticate(ctx, tok)
	if err != nil || id != (Identity{UserID: u.ID, Role: RoleCoordinator, OrgID: org.ID, Status: StatusActive}) {
		t.Fatalf("identity %+v err %v", id, err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t, newSQLiteStore(t), clock.NewFake(t0), nil)
	created, err := s.EnsureAdmin(ctx, "Admin@Example.org", "a long admin password")
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	created, err = s.EnsureAdmin(ctx, "admin@example.org", "another password!!")
	if err != nil || created {
		t.Fatalf("second: %v %v", created, err)
	}
	tok, err := s.Login(ctx, "admin@example.org", "a long admin password", "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Authenticate(ctx, tok.AccessToken)
	if err != nil || id.Role != RoleAdmin || id.OrgID != "" {
		t.Fatalf("admin identity %+v %v", id, err)
	}
	if _, err := s.EnsureAdmin(ctx, "not an email", "a long admin password"); err == nil {
		t.Fatal("bad admin email accepted")
	}
}

// Many wrong guesses at once for one email: no more than the limit are
// tried (answered 401); the rest are refused before any password check.
func TestConcurrentGuessesDoNotOvershootTheLimit(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t, newSQLiteStore(t), clock.NewFake(t0), nil)
	org, _ := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	u := mustUser(t, s, RoleParticipant, org.ID, StatusActive)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Login(ctx, u.Email, "wrong guess number", "")
		}()
	}
	close(start)
	wg.Wait()
	tried, refused := 0, 0
	for _, err := range errs {
		switch fault.KindOf(err) {
		case fault.Unauthenticated:
			tried++
		case fault.RateLimited:
			refused++
		default:
			t.Fatalf("unexpected %v", err)
		}
	}
	t.Logf("%d guesses at once: %d tried, %d refused", n, tried, refused)
	if tried > PairFailureLimit || tried+refused != n {
		t.Fatalf("%d guesses were tried, limit %d", tried, PairFailureLimit)
	}
	// Refused attempts keep their records, so the right password is refused
	// too until the window passes.
	if _, err := s.Login(ctx, u.Email, "correct horse battery", ""); fault.KindOf(err) != fault.RateLimited {
		t.Fatalf("after the burst: %v", err)
	}
}

// A hash made with older parameters is replaced at the next sign-in.
func TestLoginRehashesWithNewParameters(t *testing.T) {
	ctx := context.Background()
	d := newSQLiteStore(t)
	keys, _ := GenerateKeySet()
	old := newTestService(t, d, clock.NewFake(t0), keys)
	org, _ := old.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	u := mustUser(t, old, RoleVolunteer, org.ID, StatusActive)
	raised, err := New(ctx, Config{Store: d, Keys: keys, Clock: clock.NewFake(t0), Hash: HashParams{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raised.Login(ctx, u.Email, "correct horse battery", ""); err != nil {
		t.Fatal(err)
	}
	doc, err := raised.userRecord(ctx, u.ID)
	if err != nil || !strings.HasPrefix(doc.PasswordHash, "$argon2id$v=19$m=128,t=2,p=1$") {
		t.Fatalf("hash after sign-in %q (%v)", doc.PasswordHash, err)
	}
	if _, err := old.Login(ctx, u.Email, "correct horse battery", ""); err != nil {
		t.Fatalf("the new hash does not verify: %v", err)
	}
}

// Issue 12.6: five wrong passwords for an email from one address block that
// address for the email, not the owner on another address; only failures
// spread over at least ten addresses reach the per-email ceiling.
func TestLockoutIsPerEmailAndAddress(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	s := newTestService(t, newSQLiteStore(t), clk, nil)
	org, _ := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	u := mustUser(t, s, RoleParticipant, org.ID, StatusActive)
	for i := range PairFailureLimit {
		if _, err := s.Login(ctx, u.Email, "wrong password!", "198.51.100.1"); fault.KindOf(err) != fault.Unauthenticated {
			t.Fatalf("attacker's failure %d: %v", i, err)
		}
	}
	if _, err := s.Login(ctx, u.Email, "correct horse battery", "198.51.100.1"); fault.KindOf(err) != fault.RateLimited {
		t.Fatalf("attacker's address after %d failures: %v, want RateLimited", PairFailureLimit, err)
	}
	if _, err := s.Login(ctx, u.Email, "correct horse battery", "192.0.2.7"); err != nil {
		t.Fatalf("the owner on another address is locked out: %v", err)
	}
	// The owner's success does not unblock the attacker's address.
	if _, err := s.Login(ctx, u.Email, "another guess!", "198.51.100.1"); fault.KindOf(err) != fault.RateLimited {
		t.Fatalf("attacker's address after the owner's sign-in: %v", err)
	}

	// The ceiling: failures from ten addresses (five each, spaced so that no
	// address meets its per-minute limit) block the email everywhere.
	v := mustUser(t, s, RoleVolunteer, org.ID, StatusActive)
	for a := range EmailFailureLimit / PairFailureLimit {
		for range PairFailureLimit {
			if _, err := s.Login(ctx, v.Email, "wrong password!", fmt.Sprintf("203.0.113.%d", a)); fault.KindOf(err) != fault.Unauthenticated {
				t.Fatalf("address %d: %v", a, err)
			}
		}
	}
	_, err := s.Login(ctx, v.Email, "correct horse battery", "192.0.2.8")
	if f, ok := fault.As(err); !ok || f.Kind != fault.RateLimited || f.RetryAfter != int(EmailFailureWindow/time.Second) {
		t.Fatalf("after %d failures from many addresses: %v, want RateLimited for the window", EmailFailureLimit, err)
	}
	clk.Advance(EmailFailureWindow)
	if _, err := s.Login(ctx, v.Email, "correct horse battery", "192.0.2.8"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}
