package matching

import (
	"context"
	"slices"
	"testing"
	"time"
)

// contractOutingsStarting: an organisation's outings by status and start
// window, soonest first, bounded; other organisations and statuses left out.
func contractOutingsStarting(t *testing.T, open func(t *testing.T) Store) {
	t.Run("outings starting", func(t *testing.T) {
		ctx := context.Background()
		st := open(t)
		mk := func(id string, start time.Duration, status OutingStatus, org string) {
			o := contractOuting(id, "p1", contractNow.Add(start), contractNow.Add(-time.Hour))
			o.Status, o.OrgID = status, org
			if err := st.InsertOuting(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		mk("late", 30*time.Hour, StatusConfirmed, "org1")
		mk("early", 2*time.Hour, StatusOpen, "org1")
		mk("mid", 10*time.Hour, StatusPendingApproval, "org1")
		mk("done", 5*time.Hour, StatusCompleted, "org1")
		mk("other", 3*time.Hour, StatusOpen, "org2")
		mk("before", -time.Hour, StatusOpen, "org1")
		mk("after", 48*time.Hour, StatusOpen, "org1")
		ids := func(os []Outing) []string {
			var out []string
			for _, o := range os {
				out = append(out, o.ID)
			}
			return out
		}
		live := []OutingStatus{StatusOpen, StatusPendingApproval, StatusConfirmed}
		got, err := st.OutingsStarting(ctx, "org1", live, contractNow, contractNow.Add(48*time.Hour), 10)
		if err != nil || !slices.Equal(ids(got), []string{"early", "mid", "late"}) {
			t.Fatalf("starting: %v %v", ids(got), err)
		}
		if got[0].ParticipantName != "Sara Lind" || !got[0].StartsAt.Equal(contractNow.Add(2*time.Hour)) {
			t.Fatalf("doc: %+v", got[0])
		}
		if got, _ := st.OutingsStarting(ctx, "org1", live, contractNow, contractNow.Add(48*time.Hour), 2); !slices.Equal(ids(got), []string{"early", "mid"}) {
			t.Fatalf("limit: %v", ids(got))
		}
		if got, _ := st.OutingsStarting(ctx, "org1", []OutingStatus{StatusCompleted}, contractNow, contractNow.Add(48*time.Hour), 10); !slices.Equal(ids(got), []string{"done"}) {
			t.Fatalf("completed: %v", ids(got))
		}
		if got, _ := st.OutingsStarting(ctx, "org3", live, contractNow, contractNow.Add(48*time.Hour), 10); len(got) != 0 {
			t.Fatalf("unknown organisation: %v", ids(got))
		}
	})
}

func (s *countingStore) OutingsStarting(ctx context.Context, orgID string, statuses []OutingStatus, from, to time.Time, limit int) ([]Outing, error) {
	s.count("OutingsStarting")
	return s.inner.OutingsStarting(ctx, orgID, statuses, from, to, limit)
}
