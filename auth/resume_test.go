package auth

import (
	"context"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
)

func TestResumeSignIn(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	st := newSQLiteStore(t)
	s := newTestService(t, st, clk, nil)
	org, err := s.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, NewUser{Email: "cora@example.org", Password: "correct horse battery", Name: "Cora",
		Role: RoleCoordinator, OrgID: org.ID, Language: "sv", Status: StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	login := func() string {
		t.Helper()
		tok, err := s.Login(ctx, "cora@example.org", "correct horse battery", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return tok.RefreshToken
	}
	familyOf := func(tok string) SignIn {
		t.Helper()
		rd, err := st.RefreshToken(ctx, hashRefresh(tok))
		if err != nil {
			t.Fatal(err)
		}
		si, err := st.SignIn(ctx, rd.Family)
		if err != nil {
			t.Fatal(err)
		}
		return si
	}
	const idle = 30 * time.Minute
	tok := login()
	if id, err := s.ResumeSignIn(ctx, tok, idle); err != nil || id != u.ID {
		t.Fatalf("fresh: %q %v", id, err)
	}
	if si := familyOf(tok); si.LastSeenAt != nil {
		t.Fatalf("touched within the granularity: %+v", si)
	}
	clk.Advance(20 * time.Minute)
	if _, err := s.ResumeSignIn(ctx, tok, idle); err != nil {
		t.Fatal(err)
	}
	if si := familyOf(tok); si.LastSeenAt == nil || !si.LastSeenAt.Equal(clk.Now()) {
		t.Fatalf("not touched after 20 minutes: %+v", si)
	}
	clk.Advance(29 * time.Minute) // 49 after sign-in, 29 after the last use
	if _, err := s.ResumeSignIn(ctx, tok, idle); err != nil {
		t.Fatalf("ended although used 29 minutes ago: %v", err)
	}
	clk.Advance(31 * time.Minute)
	if _, err := s.ResumeSignIn(ctx, tok, idle); fault.KindOf(err) != fault.Unauthenticated {
		t.Fatalf("idle: %v", err)
	}
	if si := familyOf(tok); !si.Revoked || si.Why != "idle" {
		t.Fatalf("idle sign-in not revoked: %+v", si)
	}
	clk.Advance(-31 * time.Minute)
	if _, err := s.ResumeSignIn(ctx, tok, idle); fault.KindOf(err) != fault.Unauthenticated {
		t.Fatalf("revoked sign-in resumed: %v", err)
	}

	tok = login()
	must(t, s.Logout(ctx, u.ID, tok))
	if _, err := s.ResumeSignIn(ctx, tok, idle); fault.KindOf(err) != fault.Unauthenticated {
		t.Fatalf("after logout: %v", err)
	}
	for _, bad := range []string{"", "short", tok[:42] + "!"} {
		if _, err := s.ResumeSignIn(ctx, bad, idle); fault.KindOf(err) != fault.Unauthenticated {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	// The refresh token's lifetime bounds a session however busy it is.
	tok = login()
	clk.Advance(RefreshTokenTTL)
	if _, err := s.ResumeSignIn(ctx, tok, 2*RefreshTokenTTL); fault.KindOf(err) != fault.Unauthenticated {
		t.Fatalf("expired token: %v", err)
	}
}
