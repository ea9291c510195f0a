package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
)

func TestHashVerifyAndStaleness(t *testing.T) {
	ctx := context.Background()
	h, err := newHasher(TestHashParams, 2)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoded %q", enc)
	}
	again, _ := h.hash(ctx, "correct horse battery")
	if again == enc {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if ok, stale, err := h.verify(ctx, "correct horse battery", enc); !ok || stale || err != nil {
		t.Fatalf("verify: ok=%v stale=%v err=%v", ok, stale, err)
	}
	if ok, _, _ := h.verify(ctx, "correct horse batterY", enc); ok {
		t.Fatal("wrong password accepted")
	}
	// Raised parameters: the old hash still verifies and is reported stale.
	stronger, _ := newHasher(HashParams{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	if ok, stale, err := stronger.verify(ctx, "correct horse battery", enc); !ok || !stale || err != nil {
		t.Fatalf("after raising: ok=%v stale=%v err=%v", ok, stale, err)
	}
}

func TestDecodeHashRefusesBadOrDangerousStrings(t *testing.T) {
	for _, s := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", // 4 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5",
	} {
		if _, _, _, err := decodeHash(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

// The production parameters are what docs/architecture.md ("Passwords") and the login budget say.
func TestDefaultParams(t *testing.T) {
	h, err := newHasher(HashParams{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if h.params != DefaultHashParams || !strings.HasPrefix(h.dummy, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("params %+v dummy %q", h.params, h.dummy)
	}
}

// Issue 12.9: invisible and text-direction characters in emails, direction
// overrides in names, and passwords of only spaces or from the common list
// are refused, each naming its field.
func TestHiddenCharactersAndCommonPasswordsAreRefused(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t, newSQLiteStore(t), clock.NewFake(t0), nil)
	org, err := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	ok := NewUser{Email: "anna@example.org", Password: "correct horse battery", Name: "Anna Berg",
		Role: RoleParticipant, OrgID: org.ID, Language: "sv", Status: StatusPending}
	for _, tc := range []struct {
		field  string
		change func(*NewUser)
	}{
		{"email", func(n *NewUser) { n.Email = "an\u200bna@example.org" }},
		{"email", func(n *NewUser) { n.Email = "anna@exa\u200dmple.org" }},
		{"email", func(n *NewUser) { n.Email = "\ufeffanna@example.org" }},
		{"email", func(n *NewUser) { n.Email = "anna\u2060@example.org" }},
		{"email", func(n *NewUser) { n.Email = "anna\u202e@example.org" }},
		{"email", func(n *NewUser) { n.Email = "anna\u2067x@example.org" }},
		{"email", func(n *NewUser) { n.Email = "anna\u200f@example.org" }},
		{"name", func(n *NewUser) { n.Name = "Anna \u202eBerg" }},
		{"name", func(n *NewUser) { n.Name = "Anna \u2066Berg\u2069" }},
		{"password", func(n *NewUser) { n.Password = "            " }},
		{"password", func(n *NewUser) { n.Password = "\t \u00a0 \u3000     \n " }},
		{"password", func(n *NewUser) { n.Password = "password123" }},
		{"password", func(n *NewUser) { n.Password = "Password123" }},
		{"password", func(n *NewUser) { n.Password = "1234567890" }},
		{"password", func(n *NewUser) { n.Password = "qwertyuiop" }},
		{"password", func(n *NewUser) { n.Password = "Lösenord123" }},
		{"password", func(n *NewUser) { n.Password = "xxxxxxxxxxxx" }},
	} {
		n := ok
		tc.change(&n)
		_, err := s.CreateUser(ctx, n)
		f, isFault := fault.As(err)
		if !isFault || f.Kind != fault.Validation || len(f.Fields) != 1 || f.Fields[0].Field != tc.field {
			t.Errorf("%+q %+q %+q: %v, want a validation fault naming %s", n.Email, n.Name, n.Password, err, tc.field)
		}
	}
	// Joiners in names (scripts, emoji) and marks stay allowed.
	n := ok
	n.Name = "Anna \u200dBerg \u200f👩\u200d👩\u200d👧"
	if _, err := s.CreateUser(ctx, n); err != nil {
		t.Fatalf("a name with joiners: %v", err)
	}
}

// Making a hasher runs no argon2 (the server starts listening without
// spending a 64 MiB hash first), yet an unknown email still costs exactly
// one run, and no password matches the dummy.
func TestNewHasherHashesNothingAndTheDummyCostsOneRun(t *testing.T) {
	h, err := newHasher(DefaultHashParams, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := h.runs.Load(); n != 0 {
		t.Fatalf("newHasher ran argon2 %d times", n)
	}
	p, _, _, err := decodeHash(h.dummy)
	if err != nil || p != DefaultHashParams {
		t.Fatalf("dummy %q: params %+v, %v", h.dummy, p, err)
	}
	h.burn(context.Background(), "clavis-dummy-password-for-unknown-emails")
	if n := h.runs.Load(); n != 1 {
		t.Fatalf("burn ran argon2 %d times, want 1", n)
	}
	if ok, stale, err := h.verify(context.Background(), "", h.dummy); ok || stale || err != nil {
		t.Fatalf("verify against the dummy: ok %v stale %v err %v", ok, stale, err)
	}
}
