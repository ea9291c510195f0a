package auth

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

func TestStoreSQLite(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testStore(t, func(t *testing.T) Store { return newSQLiteStore(t) })
		t.Run("two processes", func(t *testing.T) {
			testTwoProcesses(t, func(t *testing.T) (Store, Store) {
				d1 := sqlitetest.New(t)
				d2, err := sqlite.Open(context.Background(), d1.Path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = d2.Close() })
				return newSQLiteStore(t, d1), newSQLiteStore(t, d2)
			})
		})
	})
}

func newMongoStore(t testing.TB, d *db.DB) Store {
	t.Helper()
	st, err := NewMongoStore(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStoreMongo(t *testing.T) {
	t.Run("mongo", func(t *testing.T) {
		testStore(t, func(t *testing.T) Store { return newMongoStore(t, dbtest.New(t)) })
		t.Run("two processes", func(t *testing.T) {
			// A second client with its own pool and its own write gate (which
			// serialises only inside one process), as a second server would have.
			testTwoProcesses(t, func(t *testing.T) (Store, Store) {
				d1 := dbtest.New(t)
				client2, err := mongo.Connect(options.Client().ApplyURI(d1.URI))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = client2.Disconnect(context.Background()) })
				d2 := &db.DB{Database: client2.Database(d1.Name()), Client: client2, Embedded: d1.Embedded, URI: d1.URI}
				d2.SetGate(db.NewGate(d1.Embedded))
				return newMongoStore(t, d1), newMongoStore(t, d2)
			})
		})
	})
}

var ct0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func testUser(id, org string, role Role, st Status) UserRecord {
	return UserRecord{User: User{ID: id, Email: id + "@example.org", Name: "Name " + id, Role: role, OrgID: org,
		Status: st, Language: "sv", CreatedAt: ct0}, PasswordHash: "$argon2id$hash-" + id, UpdatedAt: ct0}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// race runs fn n times at once and returns how many returned nil; any
// error other than want fails the test.
func race(t *testing.T, n int, want error, fn func(i int) error) int {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, want):
			t.Fatalf("unexpected error %v", err)
		}
	}
	return wins
}

func testStore(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("organisation contact", func(t *testing.T) { testOrgContactStore(t, open(t)) })

	t.Run("users", func(t *testing.T) {
		st := open(t)
		u := testUser("u1", "org1", RoleVolunteer, StatusActive)
		u.Email = "  Ann.Berg@Example.ORG "
		u.Vetting = &Vetting{By: "c1", At: ct0.Add(time.Minute), Note: "met"}
		u.Suspension = &Suspension{By: "c2", At: ct0.Add(2 * time.Minute), Reason: "why"}
		must(t, st.InsertUser(ctx, u))
		want := u
		want.Email = "ann.berg@example.org"
		got, err := st.User(ctx, "u1")
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("User = %+v %v\nwant %+v", got, err, want)
		}
		if got, err := st.UserByEmail(ctx, "ANN.BERG@example.org"); err != nil || got.ID != "u1" {
			t.Fatalf("UserByEmail in another case = %+v %v", got, err)
		}
		dup := testUser("u2", "org1", RoleVolunteer, StatusActive)
		dup.Email = "ann.BERG@example.org"
		if err := st.InsertUser(ctx, dup); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("same email in another case: %v, want ErrDuplicate", err)
		}
		if err := st.InsertUser(ctx, testUser("u1", "org1", RoleVolunteer, StatusActive)); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("same id: %v, want ErrDuplicate", err)
		}
		if _, err := st.User(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing user: %v", err)
		}
		if _, err := st.UserByEmail(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing email: %v", err)
		}
		must(t, st.InsertUser(ctx, testUser("u3", "org1", RoleParticipant, StatusPending)))
		many, err := st.UsersByID(ctx, []string{"u3", "nobody", "u1"})
		if err != nil || len(many) != 2 {
			t.Fatalf("UsersByID = %+v %v", many, err)
		}

		name, lang := "New Name", "en"
		got, err = st.UpdateNameLanguage(ctx, "u3", &name, nil, ct0.Add(time.Hour))
		if err != nil || got.Name != name || got.Language != "sv" || !got.UpdatedAt.Equal(ct0.Add(time.Hour)) {
			t.Fatalf("UpdateNameLanguage(name) = %+v %v", got, err)
		}
		got, err = st.UpdateNameLanguage(ctx, "u3", nil, &lang, ct0.Add(2*time.Hour))
		if err != nil || got.Name != name || got.Language != "en" {
			t.Fatalf("UpdateNameLanguage(language) = %+v %v", got, err)
		}
		if _, err := st.UpdateNameLanguage(ctx, "nobody", &name, nil, ct0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update missing: %v", err)
		}
		must(t, st.SetPasswordHash(ctx, "u3", "$argon2id$new"))
		if got, _ := st.User(ctx, "u3"); got.PasswordHash != "$argon2id$new" {
			t.Fatalf("hash after SetPasswordHash: %q", got.PasswordHash)
		}
	})

	t.Run("status change race", func(t *testing.T) {
		st := open(t)
		must(t, st.InsertUser(ctx, testUser("p1", "org1", RoleParticipant, StatusPending)))
		wins := race(t, 20, ErrConflict, func(i int) error {
			_, err := st.ChangeStatus(ctx, StatusChange{UserID: "p1", OrgID: "org1", From: StatusPending, To: StatusActive,
				Vetting: &Vetting{By: fmt.Sprintf("c%d", i), At: ct0, Note: "ok"}, At: ct0})
			return err
		})
		t.Logf("20 concurrent approvals: %d won", wins)
		if wins != 1 {
			t.Fatalf("%d approvals won, want exactly 1", wins)
		}
		got, _ := st.User(ctx, "p1")
		if got.Status != StatusActive || got.Vetting == nil || got.Vetting.Note != "ok" || !got.Vetting.At.Equal(ct0) || got.Suspension != nil {
			t.Fatalf("after approval %+v", got)
		}
		if _, err := st.ChangeStatus(ctx, StatusChange{UserID: "p1", OrgID: "other", From: StatusActive, To: StatusSuspended,
			Suspension: &Suspension{By: "c1", At: ct0, Reason: "x"}, At: ct0}); !errors.Is(err, ErrConflict) {
			t.Fatalf("another organisation's member: %v", err)
		}
		got, err := st.ChangeStatus(ctx, StatusChange{UserID: "p1", OrgID: "org1", From: StatusActive, To: StatusSuspended,
			Suspension: &Suspension{By: "c1", At: ct0.Add(time.Hour), Reason: "rude"}, At: ct0.Add(time.Hour)})
		if err != nil || got.Status != StatusSuspended || got.Suspension == nil || got.Suspension.Reason != "rude" ||
			got.Vetting == nil || !got.UpdatedAt.Equal(ct0.Add(time.Hour)) {
			t.Fatalf("suspend: %+v %v", got, err)
		}
	})

	t.Run("members", func(t *testing.T) {
		st := open(t)
		for i := range 12 {
			role, status := RoleVolunteer, StatusActive
			if i%3 == 0 {
				role = RoleParticipant
			}
			if i%2 == 0 {
				status = StatusPending
			}
			must(t, st.InsertUser(ctx, testUser(fmt.Sprintf("m%02d", i), "org1", role, status)))
		}
		must(t, st.InsertUser(ctx, testUser("x01", "org2", RoleVolunteer, StatusActive)))
		count := func(q MemberQuery) int {
			q.Limit = 100
			us, err := st.Members(ctx, "org1", q)
			must(t, err)
			for i, u := range us {
				if u.OrgID != "org1" || (q.Role != "" && u.Role != q.Role) || (q.Status != "" && u.Status != q.Status) ||
					(i > 0 && us[i-1].ID >= u.ID) {
					t.Fatalf("Members(%+v) returned %+v at %d", q, u, i)
				}
			}
			return len(us)
		}
		if n := count(MemberQuery{}); n != 12 {
			t.Fatalf("all members: %d", n)
		}
		if n := count(MemberQuery{Role: RoleParticipant}); n != 4 {
			t.Fatalf("participants: %d", n)
		}
		if n := count(MemberQuery{Status: StatusPending}); n != 6 {
			t.Fatalf("pending: %d", n)
		}
		if n := count(MemberQuery{Role: RoleParticipant, Status: StatusPending}); n != 2 {
			t.Fatalf("pending participants: %d", n)
		}
	})

	t.Run("member pages while inserting", func(t *testing.T) {
		st := open(t)
		before := map[string]bool{}
		for range 40 {
			id := newID()
			before[id] = true
			must(t, st.InsertUser(ctx, testUser(id, "org1", RoleVolunteer, StatusActive)))
		}
		done := make(chan error)
		go func() {
			var err error
			for range 40 {
				if err = st.InsertUser(ctx, testUser(newID(), "org1", RoleVolunteer, StatusActive)); err != nil {
					break
				}
			}
			done <- err
		}()
		seen := map[string]int{}
		after := ""
		for {
			page, err := st.Members(ctx, "org1", MemberQuery{After: after, Limit: 7})
			must(t, err)
			for _, u := range page {
				seen[u.ID]++
			}
			if len(page) < 7 {
				break
			}
			after = page[len(page)-1].ID
		}
		must(t, <-done)
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s seen %d times", id, n)
			}
		}
		for id := range before {
			if seen[id] != 1 {
				t.Fatalf("%s, there before paging began, was skipped", id)
			}
		}
		t.Logf("paged %d members (40 before, 40 inserted meanwhile)", len(seen))
	})

	t.Run("organisations", func(t *testing.T) {
		st := open(t)
		o := Organisation{ID: "o1", Name: "Röda Korset", TimeZone: "Europe/Stockholm", CreatedAt: ct0}
		must(t, st.InsertOrganisation(ctx, o))
		if got, err := st.Organisation(ctx, "o1"); err != nil || got != o {
			t.Fatalf("Organisation = %+v %v", got, err)
		}
		if err := st.InsertOrganisation(ctx, o); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("same id: %v", err)
		}
		if _, err := st.Organisation(ctx, "o2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
	})

	t.Run("invites", func(t *testing.T) { testInvites(t, open(t)) })
	t.Run("invite race", func(t *testing.T) { testInviteRace(t, open(t)) })

	t.Run("refresh rotation race", func(t *testing.T) {
		st := open(t)
		testRotationRace(t, st, st)
	})

	t.Run("sign-ins", func(t *testing.T) {
		st := open(t)
		tok := func(h, fam string, created time.Time) RefreshRecord {
			return RefreshRecord{Hash: h, Family: fam, UserID: "u1", CreatedAt: created, ExpiresAt: created.Add(RefreshTokenTTL)}
		}
		must(t, st.StartSignIn(ctx, SignIn{ID: "f1", UserID: "u1", CreatedAt: ct0}, tok("h1", "f1", ct0)))
		must(t, st.StartSignIn(ctx, SignIn{ID: "f2", UserID: "u1", CreatedAt: ct0.Add(time.Hour)}, tok("h2", "f2", ct0.Add(time.Hour))))
		must(t, st.StartSignIn(ctx, SignIn{ID: "g1", UserID: "u2", CreatedAt: ct0}, RefreshRecord{Hash: "k1", Family: "g1", UserID: "u2", CreatedAt: ct0, ExpiresAt: ct0.Add(time.Hour)}))
		if got, err := st.RefreshToken(ctx, "h1"); err != nil || got != tok("h1", "f1", ct0) {
			t.Fatalf("RefreshToken = %+v %v", got, err)
		}
		if _, err := st.RefreshToken(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing token: %v", err)
		}
		if _, err := st.SignIn(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing sign-in: %v", err)
		}
		must(t, st.RevokeSignIn(ctx, "f1", "logout", ct0.Add(time.Minute)))
		must(t, st.RevokeSignIn(ctx, "f1", "again", ct0.Add(2*time.Minute)))
		si, err := st.SignIn(ctx, "f1")
		if err != nil || !si.Revoked || si.Why != "logout" || si.RevokedAt == nil || !si.RevokedAt.Equal(ct0.Add(time.Minute)) {
			t.Fatalf("revoked sign-in %+v %v", si, err)
		}
		if si, _ := st.SignIn(ctx, "f2"); si.Revoked || si.RevokedAt != nil {
			t.Fatalf("f2 revoked too: %+v", si)
		}
		must(t, st.RevokeUserSignIns(ctx, "u1", "suspended", ct0.Add(3*time.Minute)))
		all, err := st.SignInsOf(ctx, "u1", 10)
		if err != nil || len(all) != 2 || all[0].ID != "f1" || all[1].ID != "f2" || !all[1].Revoked || all[1].Why != "suspended" || all[0].Why != "logout" {
			t.Fatalf("SignInsOf = %+v %v", all, err)
		}
		if si, _ := st.SignIn(ctx, "g1"); si.Revoked {
			t.Fatal("another user's sign-in was revoked")
		}
		// Sweep: k1 has expired; f1 and f2 were revoked long enough ago.
		must(t, st.SweepSignIns(ctx, ct0.Add(2*time.Hour), ct0.Add(4*time.Minute)))
		if _, err := st.RefreshToken(ctx, "k1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired token kept: %v", err)
		}
		if _, err := st.RefreshToken(ctx, "h1"); err != nil {
			t.Fatalf("live token swept: %v", err)
		}
		if _, err := st.SignIn(ctx, "f1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old revoked sign-in kept: %v", err)
		}
		if _, err := st.SignIn(ctx, "g1"); err != nil {
			t.Fatalf("live sign-in swept: %v", err)
		}
	})

	t.Run("sign-in last seen", func(t *testing.T) {
		st := open(t)
		rec := RefreshRecord{Hash: "h1", Family: "f1", UserID: "u1", CreatedAt: ct0, ExpiresAt: ct0.Add(RefreshTokenTTL)}
		must(t, st.StartSignIn(ctx, SignIn{ID: "f1", UserID: "u1", CreatedAt: ct0}, rec))
		if si, err := st.SignIn(ctx, "f1"); err != nil || si.LastSeenAt != nil {
			t.Fatalf("new sign-in already seen: %+v %v", si, err)
		}
		must(t, st.TouchSignIn(ctx, "f1", ct0.Add(10*time.Minute)))
		// A replica with an older request must not move it back.
		must(t, st.TouchSignIn(ctx, "f1", ct0.Add(5*time.Minute)))
		si, err := st.SignIn(ctx, "f1")
		if err != nil || si.LastSeenAt == nil || !si.LastSeenAt.Equal(ct0.Add(10*time.Minute)) {
			t.Fatalf("after touches: %+v %v", si, err)
		}
		if all, err := st.SignInsOf(ctx, "u1", 10); err != nil || len(all) != 1 || all[0].LastSeenAt == nil {
			t.Fatalf("SignInsOf lost last seen: %+v %v", all, err)
		}
		must(t, st.TouchSignIn(ctx, "nope", ct0))
		must(t, st.RevokeSignIn(ctx, "f1", "logout", ct0.Add(11*time.Minute)))
		must(t, st.TouchSignIn(ctx, "f1", ct0.Add(20*time.Minute)))
		if si, _ := st.SignIn(ctx, "f1"); !si.Revoked || !si.LastSeenAt.Equal(ct0.Add(10*time.Minute)) {
			t.Fatalf("a revoked sign-in was touched: %+v", si)
		}
	})

	t.Run("login failures", func(t *testing.T) {
		st := open(t)
		var fs []Failure
		for i := range 6 {
			fs = append(fs, Failure{ID: fmt.Sprintf("a%d", i), Key: "k", At: ct0.Add(time.Duration(i) * time.Minute)})
		}
		fs = append(fs, Failure{ID: "b0", Key: "other", At: ct0.Add(3 * time.Minute)})
		must(t, st.RecordFailures(ctx, fs))
		times, err := st.FailureTimes(ctx, "k", ct0.Add(time.Minute), 3)
		if err != nil || len(times) != 3 || !times[0].Equal(ct0.Add(5*time.Minute)) || !times[2].Equal(ct0.Add(3*time.Minute)) {
			t.Fatalf("FailureTimes = %v %v", times, err)
		}
		if times, _ := st.FailureTimes(ctx, "k", ct0.Add(time.Minute), 10); len(times) != 4 {
			t.Fatalf("in window: %v (the failure exactly at since is outside)", times)
		}
		must(t, st.ForgetFailure(ctx, "a5"))
		if times, _ := st.FailureTimes(ctx, "k", ct0.Add(-time.Hour), 10); len(times) != 5 {
			t.Fatalf("after ForgetFailure: %v", times)
		}
		must(t, st.DeleteFailuresBefore(ctx, ct0.Add(time.Minute)))
		if times, _ := st.FailureTimes(ctx, "k", ct0.Add(-time.Hour), 10); len(times) != 3 {
			t.Fatalf("after DeleteFailuresBefore: %v", times)
		}
		must(t, st.ClearFailures(ctx, "k"))
		if times, _ := st.FailureTimes(ctx, "k", ct0.Add(-time.Hour), 10); len(times) != 0 {
			t.Fatalf("after ClearFailures: %v", times)
		}
		if times, _ := st.FailureTimes(ctx, "other", ct0.Add(-time.Hour), 10); len(times) != 1 {
			t.Fatalf("another key cleared too: %v", times)
		}
	})

	t.Run("audit", func(t *testing.T) {
		st := open(t)
		var es []AuditEntry
		for i := range 25 {
			// Pairs share a millisecond, so the id breaks ties.
			es = append(es, AuditEntry{ID: fmt.Sprintf("e%02d", i), Actor: "c1", Subject: "p1", Action: "member.list",
				At: ct0.Add(time.Duration(i/2) * time.Millisecond)})
		}
		es = append(es, AuditEntry{ID: "z1", Actor: "p1", Subject: "p2", Action: "outing.read", At: ct0})
		must(t, st.AppendAudit(ctx, es[:10]))
		must(t, st.AppendAudit(ctx, es)) // the first ten again: skipped
		var got []AuditEntry
		q := AuditQuery{Subject: "p1", Limit: 4}
		for {
			page, err := st.AuditEntries(ctx, q)
			must(t, err)
			got = append(got, page...)
			if len(page) < q.Limit {
				break
			}
			q.Before = &page[len(page)-1]
		}
		if len(got) != 25 {
			t.Fatalf("paged %d entries, want 25", len(got))
		}
		for i, e := range got {
			if want := es[24-i]; !reflect.DeepEqual(e, want) {
				t.Fatalf("entry %d = %+v, want %+v (newest first)", i, e, want)
			}
		}
		if n, err := st.CountAudit(ctx, AuditQuery{Subject: "p1"}); err != nil || n != 25 {
			t.Fatalf("CountAudit = %d %v", n, err)
		}
		byMe, err := st.AuditEntries(ctx, AuditQuery{Actor: "p1", Limit: 10})
		if err != nil || len(byMe) != 1 || byMe[0].ID != "z1" {
			t.Fatalf("by actor = %+v %v", byMe, err)
		}
		n, err := st.DeleteAuditBefore(ctx, ct0.Add(5*time.Millisecond))
		if err != nil || n != 11 { // e00..e09 and z1
			t.Fatalf("DeleteAuditBefore = %d %v", n, err)
		}
		if n, _ := st.CountAudit(ctx, AuditQuery{Subject: "p1"}); n != 15 {
			t.Fatalf("left after the sweep: %d", n)
		}
	})

	t.Run("erase", func(t *testing.T) {
		st := open(t)
		u := testUser("u1", "org1", RoleParticipant, StatusActive)
		must(t, st.InsertUser(ctx, u))
		must(t, st.InsertUser(ctx, testUser("u2", "org1", RoleParticipant, StatusActive)))
		must(t, st.StartSignIn(ctx, SignIn{ID: "f1", UserID: "u1", CreatedAt: ct0},
			RefreshRecord{Hash: "h1", Family: "f1", UserID: "u1", CreatedAt: ct0, ExpiresAt: ct0.Add(time.Hour)}))
		must(t, st.RotateRefreshToken(ctx, "h1", RefreshRecord{Hash: "h2", Family: "f1", UserID: "u1", CreatedAt: ct0, ExpiresAt: ct0.Add(time.Hour)}, ct0))
		must(t, st.StartSignIn(ctx, SignIn{ID: "f2", UserID: "u2", CreatedAt: ct0},
			RefreshRecord{Hash: "k1", Family: "f2", UserID: "u2", CreatedAt: ct0, ExpiresAt: ct0.Add(time.Hour)}))
		must(t, st.AppendAudit(ctx, []AuditEntry{{ID: "a1", Actor: "c1", Subject: "u1", Action: "member.list", At: ct0}}))
		must(t, st.EraseUser(ctx, "u1"))
		must(t, st.EraseUser(ctx, "u1")) // idempotent
		if _, err := st.User(ctx, "u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("user after erase: %v", err)
		}
		if _, err := st.UserByEmail(ctx, u.Email); !errors.Is(err, ErrNotFound) {
			t.Fatalf("email after erase: %v", err)
		}
		for _, h := range []string{"h1", "h2"} {
			if _, err := st.RefreshToken(ctx, h); !errors.Is(err, ErrNotFound) {
				t.Fatalf("refresh token %s after erase: %v", h, err)
			}
		}
		if s, err := st.SignInsOf(ctx, "u1", 10); err != nil || len(s) != 0 {
			t.Fatalf("sign-ins after erase: %+v %v", s, err)
		}
		if _, err := st.SignIn(ctx, "f2"); err != nil {
			t.Fatalf("another user's sign-in erased: %v", err)
		}
		if _, err := st.User(ctx, "u2"); err != nil {
			t.Fatalf("another user erased: %v", err)
		}
		if n, _ := st.CountAudit(ctx, AuditQuery{Subject: "u1"}); n != 1 {
			t.Fatalf("audit entries after erase: %d, want 1 (ids only, kept)", n)
		}
		// The email is free again, and the old token cannot be rotated.
		must(t, st.InsertUser(ctx, testUser("u1", "org1", RoleParticipant, StatusPending)))
		if err := st.RotateRefreshToken(ctx, "h1", RefreshRecord{Hash: "h3", Family: "f1", UserID: "u1", CreatedAt: ct0, ExpiresAt: ct0.Add(time.Hour)}, ct0); err == nil {
			if _, err := st.SignIn(ctx, "f1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("erased sign-in still there: %v", err)
			}
		}
	})
}

// testRotationRace: 20 rotations of one refresh token at once, split over
// a and b (two processes when they are different stores): exactly one wins.
func testRotationRace(t *testing.T, a, b Store) {
	ctx := context.Background()
	for round := range 3 {
		fam := fmt.Sprintf("f%d", round)
		first := RefreshRecord{Hash: "h-" + fam, Family: fam, UserID: "u1", CreatedAt: ct0, ExpiresAt: ct0.Add(RefreshTokenTTL)}
		must(t, a.StartSignIn(ctx, SignIn{ID: fam, UserID: "u1", CreatedAt: ct0}, first))
		stores := []Store{a, b}
		wins := race(t, 20, ErrConflict, func(i int) error {
			next := RefreshRecord{Hash: fmt.Sprintf("h-%s-%d", fam, i), Family: fam, UserID: "u1", CreatedAt: ct0, ExpiresAt: ct0.Add(RefreshTokenTTL)}
			return stores[i%2].RotateRefreshToken(ctx, first.Hash, next, ct0)
		})
		t.Logf("round %d: 20 concurrent rotations, %d won", round, wins)
		if wins != 1 {
			t.Fatalf("round %d: %d rotations won, want exactly 1", round, wins)
		}
		// Exactly one successor exists.
		var found []string
		for i := range 20 {
			if _, err := b.RefreshToken(ctx, fmt.Sprintf("h-%s-%d", fam, i)); err == nil {
				found = append(found, fmt.Sprint(i))
			}
		}
		sort.Strings(found)
		if len(found) != 1 {
			t.Fatalf("round %d: successors stored %v", round, found)
		}
	}
}

func testTwoProcesses(t *testing.T, openPair func(t *testing.T) (Store, Store)) {
	a, b := openPair(t)
	testRotationRace(t, a, b)
	testInviteRace(t, a, b)
	// Two processes registering one email: one wins.
	wins := race(t, 10, ErrDuplicate, func(i int) error {
		u := testUser(fmt.Sprintf("r%d", i), "org1", RoleVolunteer, StatusPending)
		u.Email = "same@example.org"
		return []Store{a, b}[i%2].InsertUser(context.Background(), u)
	})
	if wins != 1 {
		t.Fatalf("%d registrations of one email won", wins)
	}
}
