package matching

import (
	"context"
	"time"
)

// maxConfirmedWindow bounds one reconciler read; a busy 48 h window beyond
// it is picked up on the next pass, since the query is sorted by start.
const maxConfirmedWindow = 5000

// ConfirmedOuting is what a reminder needs of a confirmed outing: ids and
// times only.
type ConfirmedOuting struct {
	ID            string    `bson:"_id"`
	OrgID         string    `bson:"organisation_id"`
	ParticipantID string    `bson:"participant_id"`
	VolunteerID   string    `bson:"volunteer_id"`
	StartsAt      time.Time `bson:"starts_at"`
	EndsAt        time.Time `bson:"ends_at"`
}

// ConfirmedOutingsBetween lists confirmed outings starting in [from, to),
// soonest first, so that notify's reconciler can make sure each has its
// reminders even if an event was lost before this process started.
func (s *Service) ConfirmedOutingsBetween(ctx context.Context, from, to time.Time) ([]ConfirmedOuting, error) {
	out, err := s.st.ConfirmedOutingsBetween(ctx, from, to, maxConfirmedWindow)
	if err != nil {
		return nil, err
	}
	return nonNil(out), nil
}
