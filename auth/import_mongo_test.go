package auth

import (
	"context"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db/dbtest"
)

// Accounts written by the MongoDB engine (on FerretDB), read back raw from
// their collections and imported into SQLite, are the same accounts: ids,
// hashes (the password still works), statuses, vetting, suspension, times.
func TestImportMongoDocumentsIntoSQLite(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	keys, _ := GenerateKeySet()
	clk := clock.NewFake(t0)
	old := newTestService(t, newMongoStore(t, d), clk, keys)
	org, err := old.CreateOrganisation(ctx, "Röda Korset", "Europe/Stockholm")
	must(t, err)
	coord := mustUser(t, old, RoleCoordinator, org.ID, StatusActive)
	actor := Identity{UserID: coord.ID, Role: RoleCoordinator, OrgID: org.ID, Status: StatusActive}
	var ids []string
	for i := range 3 {
		clk.Advance(time.Minute)
		u := mustUser(t, old, []Role{RoleParticipant, RoleVolunteer}[i%2], org.ID, StatusPending)
		ids = append(ids, u.ID)
	}
	clk.Advance(time.Minute)
	_, err = old.Approve(ctx, actor, org.ID, ids[0], "met at the office")
	must(t, err)
	_, err = old.Approve(ctx, actor, org.ID, ids[1], "")
	must(t, err)
	clk.Advance(time.Minute)
	_, err = old.Suspend(ctx, actor, org.ID, ids[1], "no-shows")
	must(t, err)
	_, err = old.Members(ctx, actor, org.ID, MemberFilter{})
	must(t, err)
	_, err = old.Login(ctx, coord.Email, "correct horse battery", "192.0.2.1")
	must(t, err)
	ids = append(ids, coord.ID)

	raw := func(coll string) []bson.Raw {
		cur, err := d.Collection(coll).Find(ctx, bson.M{})
		must(t, err)
		var out []bson.Raw
		for cur.Next(ctx) {
			out = append(out, append(bson.Raw(nil), cur.Current...))
		}
		must(t, cur.Err())
		return out
	}
	dst := newSQLiteStore(t)
	want := map[string]int{collOrgs: 1, collUsers: 4, collAudit: 3, collFamilies: 0, collRefresh: 0, collUsed: 0, collFailures: 0}
	for _, coll := range []string{collOrgs, collUsers, collAudit, collFamilies, collRefresh, collUsed, collFailures} {
		n, err := ImportMongoDocuments(ctx, dst, coll, raw(coll))
		if err != nil || n != want[coll] {
			t.Fatalf("import %s: %d, %v; want %d", coll, n, err, want[coll])
		}
	}
	src := old.store
	for _, id := range ids {
		a, err := src.User(ctx, id)
		must(t, err)
		b, err := dst.User(ctx, id)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("user %s:\nmongo  %+v\nsqlite %+v (%v)", id, a, b, err)
		}
	}
	if a, _ := src.User(ctx, ids[1]); a.Suspension == nil || a.Vetting == nil || a.Status != StatusSuspended {
		t.Fatalf("the fixture lacks a vetted and suspended member: %+v", a)
	}
	if o, err := dst.Organisation(ctx, org.ID); err != nil || o != org {
		t.Fatalf("organisation %+v %v, want %+v", o, err, org)
	}
	for _, subject := range []string{ids[0], ids[2]} { // the participants
		a, _ := src.AuditEntries(ctx, AuditQuery{Subject: subject, Limit: 100})
		b, err := dst.AuditEntries(ctx, AuditQuery{Subject: subject, Limit: 100})
		if err != nil || len(a) == 0 || !reflect.DeepEqual(a, b) {
			t.Fatalf("audit about %s:\nmongo  %+v\nsqlite %+v (%v)", subject, a, b, err)
		}
	}

	// The moved accounts sign in with their old passwords.
	moved := newTestService(t, dst, clk, keys)
	if _, err := moved.Login(ctx, coord.Email, "correct horse battery", "192.0.2.1"); err != nil {
		t.Fatalf("sign-in after the move: %v", err)
	}
	// Running the import again writes no account twice.
	if n, err := ImportMongoDocuments(ctx, dst, collUsers, raw(collUsers)); err != nil || n != 0 {
		t.Fatalf("second import of users: %d, %v", n, err)
	}
	if n, err := ImportMongoDocuments(ctx, dst, collAudit, raw(collAudit)); err != nil || n != 3 {
		t.Fatalf("second import of audit: %d, %v", n, err)
	}
	if n, _ := dst.CountAudit(ctx, AuditQuery{Actor: coord.ID}); n != 3 {
		t.Fatalf("%d audit entries after importing twice, want 3", n)
	}
	if _, err := ImportMongoDocuments(ctx, dst, "outings", nil); err == nil {
		t.Fatal("an unknown collection was accepted")
	}
}
