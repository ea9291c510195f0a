package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/clock"
)

// FuzzParseAccessToken: the parser never panics, and whatever it accepts
// carries exactly the claims of the one token we signed (a mutation can at
// most re-encode that token's bytes, never forge new claims).
func FuzzParseAccessToken(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	codec := newTokenCodec(NewKeySet(priv), clock.NewFake(t0))
	valid, _, err := codec.issue("user-1", RoleVolunteer, "org-1")
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid, "", ".", "..", "a.b.c", parts[0] + "." + parts[1] + ".",
		`eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.` + parts[1] + ".",
		parts[0] + "." + parts[1] + "." + parts[2] + ".extra",
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","kid":{"x":1}}`)) + "." + parts[1] + "." + parts[2],
		base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"`+codec.keys.signKID+`"}`)) + "." + parts[1] + "." + parts[2],
		strings.Repeat("A", 5000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := codec.parse(raw)
		if err != nil {
			return
		}
		if c.UserID != "user-1" || c.Role != RoleVolunteer || c.OrgID != "org-1" {
			t.Fatalf("accepted a token with forged claims %+v: %q", c, raw)
		}
	})
}

// BenchmarkVerifyAccessToken is the signature and claims check every
// authenticated request pays before its one account read.
func BenchmarkVerifyAccessToken(b *testing.B) {
	ks, _ := GenerateKeySet()
	codec := newTokenCodec(ks, clock.Real{})
	tok, _, err := codec.issue("6b07383b51870348824eb371", RoleParticipant, "6b07383b51870348824eb370")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.parse(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueAccessToken signs one token.
func BenchmarkIssueAccessToken(b *testing.B) {
	ks, _ := GenerateKeySet()
	codec := newTokenCodec(ks, clock.Real{})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := codec.issue("6b07383b51870348824eb371", RoleParticipant, "6b07383b51870348824eb370"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticate is verification plus the account-status read by
// _id, on the embedded FerretDB (SQLite) with a small users collection.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	s := newTestService(b, newSQLiteStore(b), clock.Real{}, nil)
	org, _ := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	var tok string
	for range 100 {
		u := mustUser(b, s, RoleParticipant, org.ID, StatusActive)
		tok, _ = s.IssueAccessToken(ctx, u.ID)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPasswordHash is one argon2id hash with the production parameters,
// the cost that dominates a login.
func BenchmarkPasswordHash(b *testing.B) {
	h, err := newHasher(DefaultHashParams, runtime.GOMAXPROCS(0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	durations := make([]time.Duration, 0, 64)
	for b.Loop() {
		start := time.Now()
		if _, _, err := h.verify(ctx, "correct horse battery staple", h.dummy); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
	}
	reportMedian(b, durations)
}

// BenchmarkLogin is a whole successful sign-in with the production hash
// parameters on the embedded FerretDB: throttle reads, the user read by
// email, one argon2id verify, the throttle reset, a new sign-in and refresh
// token, and the access token.
func BenchmarkLogin(b *testing.B) {
	ctx := context.Background()
	keys, _ := GenerateKeySet()
	s, err := New(ctx, Config{Store: newSQLiteStore(b), Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	org, _ := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	u, err := s.CreateUser(ctx, NewUser{Email: "bench@example.org", Password: "correct horse battery", Name: "B",
		Role: RoleVolunteer, OrgID: org.ID, Language: "sv", Status: StatusActive})
	if err != nil {
		b.Fatal(err)
	}
	durations := make([]time.Duration, 0, 64)
	for b.Loop() {
		start := time.Now()
		if _, err := s.Login(ctx, u.Email, "correct horse battery", "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
	}
	reportMedian(b, durations)
}

func reportMedian(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "median-ms")
}

// The verified-token cache saves only the signature check: a cached token
// still expires on time, and a token that failed is never cached as good.
func TestVerifiedTokensStillExpire(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	codec := newTokenCodec(NewKeySet(priv), clk)
	tok, _, err := codec.issue("u1", RoleVolunteer, "o1")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second parse is served from the cache
		if c, err := codec.parse(tok); err != nil || c.UserID != "u1" {
			t.Fatalf("parse %d: %+v %v", i, c, err)
		}
	}
	if len(codec.verified) != 1 {
		t.Fatalf("cache holds %d tokens, want 1", len(codec.verified))
	}
	clk.Advance(AccessTokenTTL + clockSkew)
	if _, err := codec.parse(tok); err == nil {
		t.Fatal("an expired token was accepted from the cache")
	}
	forged := tok[:len(tok)-4] + "AAAA"
	for i := 0; i < 2; i++ {
		if _, err := codec.parse(forged); err == nil {
			t.Fatal("a token with a bad signature was accepted")
		}
	}
}
