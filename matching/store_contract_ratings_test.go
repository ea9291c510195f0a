package matching

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// contractRatingTotals holds RatingTotalsOf to the sums of RatingsOf's
// rows, through new feedback and the erasure of either side.
func contractRatingTotals(t *testing.T, open func(t *testing.T) Store) {
	t.Run("rating totals", func(t *testing.T) {
		ctx := context.Background()
		st := open(t)
		n := 0
		give := func(participant, volunteer string, role auth.Role, rating int) {
			t.Helper()
			n++
			f := Feedback{ID: fmt.Sprintf("o%d:%s", n, participant), OutingID: fmt.Sprintf("o%d", n), OrgID: "org1", AuthorID: participant,
				AuthorRole: role, ParticipantID: participant, VolunteerID: volunteer, Rating: rating, CreatedAt: contractNow.Add(time.Duration(n) * time.Minute)}
			if err := st.InsertFeedback(ctx, &f); err != nil {
				t.Fatal(err)
			}
		}
		give("p1", "v1", auth.RoleParticipant, 5)
		give("p1", "v1", auth.RoleParticipant, 2)
		give("p2", "v1", auth.RoleParticipant, 4)
		give("p2", "v1", auth.RoleParticipant, 0) // no rating
		give("p1", "v1", auth.RoleVolunteer, 1)   // the volunteer's own feedback
		give("p1", "v2", auth.RoleParticipant, 3)
		give("p3", "v3", auth.RoleParticipant, 1)
		check := func(name string, volunteers []string, participant string, want []ratingTotal) {
			t.Helper()
			got, err := st.RatingTotalsOf(ctx, volunteers, participant)
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(got, func(a, b ratingTotal) int { return strings.Compare(a.VolunteerID, b.VolunteerID) })
			if !slices.Equal(got, want) {
				t.Errorf("%s: %+v\nwant %+v", name, got, want)
			}
			rows, err := st.RatingsOf(ctx, volunteers)
			if err != nil {
				t.Fatal(err)
			}
			sums := totalRatings(rows, participant)
			slices.SortFunc(sums, func(a, b ratingTotal) int { return strings.Compare(a.VolunteerID, b.VolunteerID) })
			if !slices.Equal(sums, want) {
				t.Errorf("%s: RatingsOf sums to %+v", name, sums)
			}
		}
		check("p1 asks", []string{"v1", "v2", "v9", "v1"}, "p1", []ratingTotal{
			{VolunteerID: "v1", Ratings: 3, Sum: 11, RatingsWith: 2, SumWith: 7}, {VolunteerID: "v2", Ratings: 1, Sum: 3, RatingsWith: 1, SumWith: 3}})
		check("no participant", []string{"v1", "v3"}, "", []ratingTotal{{VolunteerID: "v1", Ratings: 3, Sum: 11}, {VolunteerID: "v3", Ratings: 1, Sum: 1}})
		if err := st.EraseFeedbackOf(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		check("p1 erased", []string{"v1", "v2"}, "p1", []ratingTotal{{VolunteerID: "v1", Ratings: 3, Sum: 11}, {VolunteerID: "v2", Ratings: 1, Sum: 3}})
		if err := st.EraseFeedbackOf(ctx, "v1"); err != nil {
			t.Fatal(err)
		}
		check("v1 erased", []string{"v1", "v2"}, "p2", []ratingTotal{{VolunteerID: "v2", Ratings: 1, Sum: 3}})
		give("p2", "v2", auth.RoleParticipant, 5)
		check("after more", []string{"v2"}, "p2", []ratingTotal{{VolunteerID: "v2", Ratings: 2, Sum: 8, RatingsWith: 1, SumWith: 5}})
	})
}
