package matching

import (
	"context"
	"slices"
	"testing"
	"time"
)

func (s *countingStore) PostponementsDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	s.count("PostponementsDue")
	return s.inner.PostponementsDue(ctx, now, limit)
}

// testCareStore: a move's patch (times, postponement, ended_early,
// recognise_by) is written and cleared alike on both engines, and
// PostponementsDue finds exactly the confirmed outings whose answer is late.
func testCareStore(t *testing.T, st Store) {
	ctx := context.Background()
	start := contractNow.Add(48 * time.Hour)
	for _, id := range []string{"c1", "c2", "c3"} {
		o := contractOuting(id, "p1", start, contractNow)
		o.Status, o.VolunteerID = StatusConfirmed, "v1"
		if err := st.InsertOuting(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	patch := func(id string, p *OutingPatch) {
		t.Helper()
		if _, _, err := st.TransitionOuting(ctx, id, contractNow, func(_ context.Context, o *Outing) (Move, error) {
			return Move{Action: ActionPostpone, Actor: "p1", From: o.Status, To: o.Status, Patch: p}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	due := func(at time.Time) []string {
		t.Helper()
		ids, err := st.PostponementsDue(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	answerBy := contractNow.Add(12 * time.Hour)
	for _, id := range []string{"c1", "c2"} {
		patch(id, &OutingPatch{Postponement: &Postponement{StartsAt: start.Add(24 * time.Hour), EndsAt: start.Add(26 * time.Hour),
			AskedAt: contractNow, AskedBy: "p1", AnswerBy: answerBy, AnswerByMs: answerBy.UnixMilli(), FromStartAt: start}})
	}
	if got := due(answerBy.Add(-time.Millisecond)); len(got) != 0 {
		t.Fatalf("due before the answer time: %v", got)
	}
	if got := due(answerBy); !slices.Equal(got, []string{"c1", "c2"}) {
		t.Fatalf("due at the answer time: %v, want c1 c2", got)
	}
	// Answered: moved and cleared; a line for the day set, then emptied.
	line := "green scarf"
	patch("c1", &OutingPatch{StartsAt: start.Add(24 * time.Hour), EndsAt: start.Add(26 * time.Hour), ClearPostponement: true, RecogniseBy: &line})
	o, err := st.Outing(ctx, "c1")
	if err != nil || o.Postponement != nil || !o.StartsAt.Equal(start.Add(24*time.Hour)) || !o.EndsAt.Equal(start.Add(26*time.Hour)) || o.RecogniseBy != line {
		t.Fatalf("after the answer: %+v %v", o, err)
	}
	if got := due(answerBy.Add(time.Hour)); !slices.Equal(got, []string{"c2"}) {
		t.Fatalf("due after c1 was answered: %v, want c2", got)
	}
	empty := ""
	patch("c1", &OutingPatch{RecogniseBy: &empty, EndedEarly: true})
	if o, err = st.Outing(ctx, "c1"); err != nil || o.RecogniseBy != "" || !o.EndedEarly {
		t.Fatalf("cleared line, ended early: %+v %v", o, err)
	}
	// An outing no longer confirmed is not due, whatever its document says.
	if _, _, err := st.TransitionOuting(ctx, "c2", contractNow, func(_ context.Context, o *Outing) (Move, error) {
		return Move{Action: ActionCancel, Actor: "p1", From: o.Status, To: StatusCancelled}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := due(answerBy.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("due after c2 was cancelled: %v", got)
	}
}
