package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
)

// Data written by the Mongo engine, read raw and imported into SQLite,
// reads back the same through the Store.
func TestImportMongoDocuments(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	src, err := NewMongoStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := NewSQLiteStore(ctx, sqlitetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	start := ct0.Add(30 * time.Hour)
	for i := range 3 {
		if _, _, err := src.RegisterDevice(ctx, fmt.Sprintf("u%d", i), fmt.Sprintf("tok-%d", i), "ios", ct0, MaxDevicesPerUser); err != nil {
			t.Fatal(err)
		}
	}
	// A refresh moves updated_at past registered_at.
	if _, _, err := src.RegisterDevice(ctx, "u1", "tok-1", "android", ct0.Add(time.Hour), MaxDevicesPerUser); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, src, 4,
		testJob("j-retried", kindEvent, matching.EventApproved, "o1", "u0", start, ct0),
		testJob("j-due", kindEvent, matching.EventOffer, "o1", "u1", start, ct0.Add(time.Minute)),
		testJob("j-reminder", kindReminder, matching.EventReminder, "o1", "u2", start, start.Add(-2*time.Hour)),
		testJob("j-done", kindEvent, matching.EventAccepted, "o2", "u2", start, ct0))
	won, err := src.ClaimDueJobs(ctx, "old-server", ct0, time.Minute, 10)
	if err != nil || len(won) != 2 {
		t.Fatalf("claim %d, %v", len(won), err)
	}
	for _, j := range won {
		if j.DedupKey == "j-retried" {
			err = src.RetryJobAt(ctx, j.Claim, ct0.Add(5*time.Minute), Attempt{Failures: 1, LastError: "unavailable: 503", Delivered: []string{"abc"}})
		} else {
			err = src.FinishJob(ctx, j.Claim, Finish{Outcome: outcomeDelivered, At: ct0})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := src.RecordEvent(ctx, "ev-1", ct0); err != nil {
		t.Fatal(err)
	}

	total := map[string]int{}
	for _, coll := range []string{"devices", "push_jobs", "push_claims", "push_done", "push_events"} {
		cur, err := d.Collection(coll).Find(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.Raw
		for cur.Next(ctx) {
			docs = append(docs, slices.Clone(cur.Current))
		}
		if err := cur.Err(); err != nil {
			t.Fatal(err)
		}
		n, err := ImportMongoDocuments(ctx, dst, coll, docs)
		if err != nil {
			t.Fatalf("import %s: %v", coll, err)
		}
		total[coll] = n
		t.Logf("%s: %d documents read, %d imported", coll, len(docs), n)
	}
	if total["devices"] != 3 || total["push_jobs"] != 3 || total["push_events"] != 1 || total["push_claims"] != 0 || total["push_done"] != 0 {
		t.Fatalf("imported %v", total)
	}
	if _, err := ImportMongoDocuments(ctx, dst, "outings", nil); err == nil {
		t.Fatal("a foreign collection was accepted")
	}

	users := []string{"u0", "u1", "u2"}
	want, _ := src.DevicesOfUsers(ctx, users, 10)
	got, _ := dst.DevicesOfUsers(ctx, users, 10)
	byToken := func(a, b Device) int { return compareStrings(a.Token, b.Token) }
	slices.SortFunc(want, byToken)
	slices.SortFunc(got, byToken)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("devices\n got %v\nwant %v", got, want)
	}
	for _, u := range users {
		w, _ := src.PendingJobsOf(ctx, u)
		g, _ := dst.PendingJobsOf(ctx, u)
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Fatalf("pending jobs of %s\n got %+v\nwant %+v", u, g, w)
		}
	}
	if seen, _ := dst.EventSeen(ctx, "ev-1"); !seen {
		t.Fatal("consumed event not imported")
	}
	// The retried job carries on at its next attempt.
	next, err := dst.ClaimDueJobs(ctx, "new-server", ct0.Add(5*time.Minute), time.Minute, 10)
	if err != nil || len(next) != 2 || next[1].DedupKey != "j-retried" || next[1].Attempt != 2 || next[1].Failures != 1 || next[0].Attempt != 1 {
		t.Fatalf("claim after import: %+v, %v", next, err)
	}
	if _, err := dst.FinishedJob(ctx, jobID("j-done")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finished job imported: %v", err)
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
