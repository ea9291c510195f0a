package groups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// ErasedPrefix begins the participant id that an erased participant's
// enrolments and marks keep: one random tombstone per erasure, with no way
// back to the account.
const ErasedPrefix = "erased-"

// IsErased tells whether a participant id is an erasure tombstone.
func IsErased(participantID string) bool { return strings.HasPrefix(participantID, ErasedPrefix) }

func newTombstone() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return ErasedPrefix + hex.EncodeToString(b)
}

// maxPeriodEnrolments bounds one report period's enrolments.
const maxPeriodEnrolments = 100000

// PeriodEnrolment is one enrolment as the outcome report counts it.
type PeriodEnrolment struct {
	EnrolmentID   string
	ParticipantID string // an ErasedPrefix tombstone after an erasure
	Completed     bool
}

// PeriodEnrolments lists the enrolments in an organisation's groups that ran
// in [from, to): groups not cancelled whose first session starts before to
// and whose last ends after from; enrolments enrolled, completed or not
// completed (waiting and left ones held no place to the end).
func (s *Service) PeriodEnrolments(ctx context.Context, orgID string, from, to time.Time) ([]PeriodEnrolment, error) {
	list, err := s.st.PeriodEnrolments(ctx, orgID, from, to, maxPeriodEnrolments)
	if err != nil {
		return nil, fault.Wrap(err, "period enrolments")
	}
	seen := map[string]bool{}
	var gids []string
	for _, e := range list {
		if !seen[e.GroupID] {
			seen[e.GroupID] = true
			gids = append(gids, e.GroupID)
		}
	}
	cancelled := map[string]bool{}
	for i := 0; i < len(gids); i += 500 {
		gs, err := s.st.GroupsByID(ctx, gids[i:min(i+500, len(gids))])
		if err != nil {
			return nil, fault.Wrap(err, "period groups")
		}
		for _, g := range gs {
			cancelled[g.ID] = g.Cancelled
		}
	}
	out := make([]PeriodEnrolment, 0, len(list))
	for _, e := range list {
		if cancelled[e.GroupID] {
			continue
		}
		out = append(out, PeriodEnrolment{EnrolmentID: e.ID, ParticipantID: e.ParticipantID, Completed: e.Status == Completed})
	}
	return out, nil
}

// EnrolmentIDsOf lists a participant's enrolment ids (read by the outcome
// report's erasure before groups puts a tombstone in their place).
func (s *Service) EnrolmentIDsOf(ctx context.Context, participantID string) ([]string, error) {
	ids, err := s.st.EnrolmentIDsOf(ctx, participantID, maxPeriodEnrolments)
	return ids, fault.Wrap(err, "enrolment ids")
}
