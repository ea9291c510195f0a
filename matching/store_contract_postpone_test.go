package matching

import (
	"context"
	"testing"
	"time"
)

// contractPostponeAsks: the report rows count the postponements asked,
// kept after the answer cleared the pending move.
func contractPostponeAsks(t *testing.T, open func(t *testing.T) Store) {
	t.Run("report rows count postponements asked", func(t *testing.T) {
		ctx := context.Background()
		st := open(t)
		o := contractOuting("q1", "p1", contractNow.Add(100*time.Hour), contractNow.Add(time.Hour))
		o.Status, o.VolunteerID = StatusConfirmed, "v1"
		for _, o := range []*Outing{o, contractOuting("q2", "p1", contractNow.Add(100*time.Hour), contractNow.Add(2*time.Hour))} {
			if err := st.InsertOuting(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		asks := func() map[string]int {
			t.Helper()
			rows, err := st.ReportRows(ctx, "org1", contractNow, contractNow.Add(72*time.Hour), nil, 10)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, r := range rows {
				got[r.ID] = r.PostponeAsks
			}
			return got
		}
		if got := asks(); got["q1"] != 0 || got["q2"] != 0 || len(got) != 2 {
			t.Fatalf("before any ask: %v", got)
		}
		at := contractNow.Add(3 * time.Hour)
		for n := 1; n <= 2; n++ {
			// Asked, then answered (the pending move cleared): the count stays.
			if _, _, err := st.TransitionOuting(ctx, "q1", at, func(_ context.Context, o *Outing) (Move, error) {
				p := &Postponement{StartsAt: o.StartsAt.Add(24 * time.Hour), EndsAt: o.EndsAt.Add(24 * time.Hour), AskedAt: at, AskedBy: "p1", AnswerBy: at.Add(time.Hour)}
				return Move{Action: ActionPostpone, Actor: "p1", From: o.Status, To: o.Status, Record: true, Reason: postponeAskedReason,
					Patch: &OutingPatch{Postponement: p, PostponeAsks: o.PostponeAsks + 1}}, nil
			}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := st.TransitionOuting(ctx, "q1", at.Add(time.Minute), func(_ context.Context, o *Outing) (Move, error) {
				return Move{Action: ActionPostpone, Actor: "v1", From: o.Status, To: o.Status, Record: true, Patch: &OutingPatch{ClearPostponement: true}}, nil
			}); err != nil {
				t.Fatal(err)
			}
			if got := asks(); got["q1"] != n || got["q2"] != 0 {
				t.Fatalf("after ask %d: %v", n, got)
			}
			if got, err := st.Outing(ctx, "q1"); err != nil || got.PostponeAsks != n || got.Postponement != nil {
				t.Fatalf("outing after ask %d: %+v %v", n, got, err)
			}
		}
	})
}
