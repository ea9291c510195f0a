package matching

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// What the Mongo engine wrote, read raw and imported into SQLite, reads
// back the same through the store: outings with history, events, offers
// and versions; profiles; feedback; preferences.
func TestImportMongoDocumentsIntoSQLite(t *testing.T) {
	ctx := context.Background()
	src, err := NewMongoStore(ctx, dbtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, src)
	w := newWaves(f, MatcherConfig{})
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cecilia Berg")
	v := f.volunteer("Vera Holm")
	if _, err := f.svc.PutParticipantProfile(ctx, p, ParticipantProfileInput{Languages: []string{"sv"}, CompanionGender: "any"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetSupportNeeds(ctx, c, p.UserID, "quiet places"); err != nil {
		t.Fatal(err)
	}
	done := f.outing(p, 3*time.Hour)
	w.deliver() // the first wave reaches v
	must(t)(f.svc.Accept(ctx, v, done.ID))
	must(t)(f.svc.Approve(ctx, c, done.ID))
	f.clock.Advance(3 * time.Hour)
	must(t)(f.svc.CheckIn(ctx, p, done.ID))
	must(t)(f.svc.Complete(ctx, v, done.ID))
	if _, err := f.svc.GiveFeedback(ctx, p, done.ID, FeedbackInput{Rating: 5, Comment: "kind"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.m.SetPreference(ctx, p, v.UserID, PreferencePreferred); err != nil {
		t.Fatal(err)
	}
	open := f.outing(p, 50*time.Hour) // events still pending, offers not yet sent
	w.deliver()
	pending := f.outing(p, 70*time.Hour)
	must(t)(f.svc.Accept(ctx, v, pending.ID))

	dst, err := NewSQLiteStore(ctx, sqlitetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	ms := src.(*mongoStore)
	total := 0
	for _, coll := range []string{CollOutings, CollVolunteers, CollParticipants, CollFeedback, CollPreferences} {
		cur, err := ms.d.Collection(coll).Find(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var raws []bson.Raw
		if err := cur.All(ctx, &raws); err != nil {
			t.Fatal(err)
		}
		n, err := ImportMongoDocuments(ctx, dst, coll, raws)
		if err != nil || n != len(raws) || n == 0 {
			t.Fatalf("%s: imported %d of %d: %v", coll, n, len(raws), err)
		}
		total += n
		// A second run writes no outing or feedback twice.
		if again, err := ImportMongoDocuments(ctx, dst, coll, raws); err != nil || (coll == CollOutings || coll == CollFeedback) && again != 0 {
			t.Fatalf("%s again: %d %v", coll, again, err)
		}
	}
	t.Logf("imported %d documents", total)
	if _, err := ImportMongoDocuments(ctx, dst, "users", nil); err == nil {
		t.Fatal("an unknown collection was accepted")
	}

	same := func(what string, a, b any) {
		t.Helper()
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("%s differs:\nmongo  %s\nsqlite %s", what, ja, jb)
		}
	}
	for _, id := range []string{done.ID, open.ID, pending.ID} {
		a, err1 := src.OfferDoc(ctx, id)
		b, err2 := dst.OfferDoc(ctx, id)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		same("offer state of "+id, a.OfferState, b.OfferState)
		oa, _ := src.Outing(ctx, id)
		ob, _ := dst.Outing(ctx, id)
		same("outing "+id, oa, ob)
	}
	if o, _ := dst.Outing(ctx, done.ID); o.Version != 5 || len(o.History) != 5 {
		t.Fatalf("completed outing: version %d, %d history entries", o.Version, len(o.History))
	}
	for _, id := range []string{v.UserID} {
		a, _ := src.Volunteer(ctx, id)
		b, _ := dst.Volunteer(ctx, id)
		same("volunteer profile", a, b)
	}
	pa, _ := src.Participant(ctx, p.UserID)
	pb, _ := dst.Participant(ctx, p.UserID)
	same("participant profile", pa, pb)
	fa, _ := src.FeedbackOnOuting(ctx, done.ID)
	fb, _ := dst.FeedbackOnOuting(ctx, done.ID)
	same("feedback", fa, fb)
	ra, _ := src.RatingsOf(ctx, []string{v.UserID})
	rb, _ := dst.RatingsOf(ctx, []string{v.UserID})
	same("ratings", ra, rb)
	xa, _ := src.Preferences(ctx, p.UserID)
	xb, _ := dst.Preferences(ctx, p.UserID)
	same("preferences", xa, xb)
	oa, _ := src.OffersFor(ctx, v.UserID)
	ob, _ := dst.OffersFor(ctx, v.UserID)
	if len(oa) == 0 || len(oa) != len(ob) {
		t.Fatalf("offers for v: mongo %d, sqlite %d", len(oa), len(ob))
	}
	for _, id := range []string{p.UserID, v.UserID, c.UserID} {
		a, _ := src.OutingsOfUser(ctx, id)
		b, _ := dst.OutingsOfUser(ctx, id)
		if len(a) != len(b) {
			t.Fatalf("outings of %s: mongo %d, sqlite %d", id, len(a), len(b))
		}
	}
}
