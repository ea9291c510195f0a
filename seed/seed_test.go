package seed

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/matching"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// The seed makes the demo once: a second run adds nothing and prints the
// same logins; the outings are in the states the demo promises.
func TestSeedIsIdempotent(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	now := time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)
	keys, err := auth.GenerateKeySet()
	if err != nil {
		t.Fatal(err)
	}
	// Accounts in the same MongoDB database, so that the counts below see them.
	accountStore, err := auth.NewMongoStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	accts, err := auth.New(ctx, auth.Config{Store: accountStore, Keys: keys, Clock: clock.NewFake(now), Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	counts := func() map[string]int64 {
		out := map[string]int64{}
		for _, c := range []string{"users", "organisations", matching.CollOutings, matching.CollVolunteers, matching.CollParticipants, matching.CollFeedback} {
			n, err := d.Collection(c).CountDocuments(ctx, bson.M{})
			if err != nil {
				t.Fatal(err)
			}
			out[c] = n
		}
		return out
	}
	var first, second bytes.Buffer
	if err := Run(ctx, d, accts, now, &first); err != nil {
		t.Fatal(err)
	}
	after1 := counts()
	if err := Run(ctx, d, accts, now.Add(time.Hour), &second); err != nil {
		t.Fatalf("second run: %v", err)
	}
	after2 := counts()
	for c, n := range after1 {
		if after2[c] != n {
			t.Fatalf("%s: %d documents after the first run, %d after the second", c, n, after2[c])
		}
	}
	if after1[matching.CollOutings] != 5 || after1[matching.CollVolunteers] != 3 || after1[matching.CollFeedback] != 2 {
		t.Fatalf("seeded %v", after1)
	}
	if first.String() != second.String() || !bytes.Contains(first.Bytes(), []byte("coordinator@demo.clavis.app")) {
		t.Fatalf("logins differ or missing:\n%s\n---\n%s", first.String(), second.String())
	}
	var rows []struct {
		Status string `bson:"status"`
	}
	cur, err := d.Collection(matching.CollOutings).Find(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Status] = true
	}
	for _, st := range []string{"completed", "open", "pending_approval", "confirmed", "cancelled"} {
		if !seen[st] {
			t.Fatalf("no seeded outing is %s: %v", st, seen)
		}
	}
	// Every demo volunteer and participant is vetted (active) by the coordinator.
	tokens, err := accts.Login(ctx, "lena@demo.clavis.app", Password, "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := accts.Authenticate(ctx, tokens.AccessToken)
	if err != nil || id.Status != auth.StatusActive {
		t.Fatalf("lena: %+v %v", id, err)
	}
	u, err := accts.User(ctx, id.UserID)
	if err != nil || u.Vetting == nil {
		t.Fatalf("lena not vetted: %+v %v", u, err)
	}
}
