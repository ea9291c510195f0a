package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// testInvites is the invite part of the store contract (both engines).
func testInvites(t *testing.T, st Store) {
	ctx := context.Background()
	inv := Invite{Code: "K7MQ2XPT9C", OrgID: "org1", Role: RoleVolunteer, ExpiresAt: ct0.Add(24 * time.Hour), MaxUses: 2,
		CreatedBy: "c1", CreatedAt: ct0}
	must(t, st.InsertInvite(ctx, inv))
	if err := st.InsertInvite(ctx, inv); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("same code: %v", err)
	}
	if got, err := st.Invite(ctx, inv.Code); err != nil || got != inv {
		t.Fatalf("Invite = %+v %v", got, err)
	}
	if _, err := st.Invite(ctx, "NOSUCHCODE"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	for _, c := range []string{"AAAAAAAAAA", "ZZZZZZZZZZ"} {
		o := inv
		o.Code = c
		must(t, st.InsertInvite(ctx, o))
	}
	other := inv
	other.Code, other.OrgID = "BBBBBBBBBB", "org2"
	must(t, st.InsertInvite(ctx, other))
	page, err := st.Invites(ctx, "org1", "", 2)
	if err != nil || len(page) != 2 || page[0].Code != "AAAAAAAAAA" || page[1].Code != "K7MQ2XPT9C" {
		t.Fatalf("first page %+v %v", page, err)
	}
	if page, _ = st.Invites(ctx, "org1", "K7MQ2XPT9C", 2); len(page) != 1 || page[0].Code != "ZZZZZZZZZZ" {
		t.Fatalf("second page %+v", page)
	}
	// Another organisation's code is not deleted through this one.
	if err := st.DeleteInvite(ctx, "org1", "BBBBBBBBBB"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("foreign delete: %v", err)
	}
	must(t, st.DeleteInvite(ctx, "org1", "ZZZZZZZZZZ"))
	if _, err := st.Invite(ctx, "ZZZZZZZZZZ"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}

	at := ct0.Add(time.Hour)
	u := testUser("iv1", "org1", RoleVolunteer, StatusPending)
	if err := st.RegisterWithInvite(ctx, "NOSUCHCODE", u, at); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	wrongRole := testUser("iv0", "org1", RoleParticipant, StatusPending)
	if err := st.RegisterWithInvite(ctx, inv.Code, wrongRole, at); !errors.Is(err, ErrConflict) {
		t.Fatalf("other role: %v", err)
	}
	if err := st.RegisterWithInvite(ctx, inv.Code, u, inv.ExpiresAt); !errors.Is(err, ErrConflict) {
		t.Fatalf("expired: %v", err)
	}
	must(t, st.RegisterWithInvite(ctx, inv.Code, u, at))
	if got, err := st.User(ctx, "iv1"); err != nil || got.OrgID != "org1" {
		t.Fatalf("registered user %+v %v", got, err)
	}
	// A taken email spends no use and writes nothing.
	dup := testUser("iv2", "org1", RoleVolunteer, StatusPending)
	dup.Email = u.Email
	if err := st.RegisterWithInvite(ctx, inv.Code, dup, at); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("taken email: %v", err)
	}
	if got, _ := st.Invite(ctx, inv.Code); got.Uses != 1 {
		t.Fatalf("uses after a refused registration: %d", got.Uses)
	}
	if _, err := st.User(ctx, "iv2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused registration wrote a user: %v", err)
	}
	must(t, st.RegisterWithInvite(ctx, inv.Code, testUser("iv3", "org1", RoleVolunteer, StatusPending), at))
	if err := st.RegisterWithInvite(ctx, inv.Code, testUser("iv4", "org1", RoleVolunteer, StatusPending), at); !errors.Is(err, ErrConflict) {
		t.Fatalf("used up: %v", err)
	}
	if got, _ := st.Invite(ctx, inv.Code); got.Uses != 2 {
		t.Fatalf("uses %d, want 2", got.Uses)
	}
}

// testInviteRace: registrations on a code with one use left, spread over
// the stores given (one process or two), exactly one wins.
func testInviteRace(t *testing.T, stores ...Store) {
	ctx := context.Background()
	code := fmt.Sprintf("RACE%06d", time.Now().UnixNano()%1000000)
	must(t, stores[0].InsertInvite(ctx, Invite{Code: code, OrgID: "org1", Role: RoleParticipant, ExpiresAt: ct0.Add(time.Hour),
		MaxUses: 1, CreatedBy: "c1", CreatedAt: ct0}))
	wins := race(t, 20, ErrConflict, func(i int) error {
		u := testUser(fmt.Sprintf("%s-%d", code, i), "org1", RoleParticipant, StatusPending)
		return stores[i%len(stores)].RegisterWithInvite(ctx, code, u, ct0)
	})
	got, err := stores[0].Invite(ctx, code)
	t.Logf("20 registrations on a code with max_uses 1: %d won, uses %d", wins, got.Uses)
	if wins != 1 || err != nil || got.Uses != 1 {
		t.Fatalf("%d registrations won, uses %d (%v)", wins, got.Uses, err)
	}
}
