package matching

import (
	"context"
	"errors"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// Reschedule moves an outing to new times and keeps its companion: the
// group session it goes to was moved by a coordinator of its organisation.
// Open, pending and confirmed outings move; the outing gets a history entry
// (its status unchanged), a new version and an outing.rescheduled event,
// from which notify moves its reminder and check-in jobs. The companion's
// commitment moves with it.
func (s *Service) Reschedule(ctx context.Context, who auth.Identity, id string, start, end time.Time, reason string) (OutingView, error) {
	if who.Role != auth.RoleCoordinator {
		return OutingView{}, fault.Forbiddenf("only coordinators move outings")
	}
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		return OutingView{}, fault.InvalidField("reason", "must be at most 500 characters")
	}
	now := s.now()
	start, end = start.UTC().Truncate(time.Millisecond), end.UTC().Truncate(time.Millisecond)
	if !start.After(now) {
		return OutingView{}, fault.InvalidField("starts_at", "must be in the future")
	}
	if !end.After(start) || end.Sub(start) > MaxOutingLength {
		return OutingView{}, fault.InvalidField("ends_at", "must be after starts_at, within 12 hours")
	}
	var after Outing
	err := s.st.UpdateOuting(ctx, id, func(o *Outing) (bool, error) {
		if o.OrgID != who.OrgID {
			return false, fault.NotFoundf("no such outing")
		}
		if !slices.Contains([]OutingStatus{StatusOpen, StatusPendingApproval, StatusConfirmed}, o.Status) {
			return false, fault.StateConflictf("a %s outing cannot be moved", o.Status)
		}
		if o.StartsAt.Equal(start) && o.EndsAt.Equal(end) {
			after = *o
			return false, nil
		}
		o.StartsAt, o.EndsAt = start, end
		o.Version++
		o.UpdatedAt = now
		o.History = append(slices.Clone(o.History), HistoryEntry{At: now, ActorID: who.UserID, From: o.Status, To: o.Status, Reason: reason})
		ev := s.stampEvents(o, now, []Event{{Type: EventRescheduled, VolunteerID: o.VolunteerID}})
		o.PendingEvents = append(slices.Clone(o.PendingEvents), ev...)
		o.HasPendingEvents = true
		after = *o
		return true, nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return OutingView{}, fault.NotFoundf("no such outing")
	case errors.Is(err, ErrConflict):
		return OutingView{}, fault.StateConflictf("the outing changed meanwhile; reload it and try again")
	case err != nil:
		return OutingView{}, fault.Wrap(err, "move outing")
	}
	if after.VolunteerID != "" {
		if err := s.moveCommitment(ctx, after.VolunteerID, after.ID, start, end); err != nil {
			s.log.Warn("move volunteer commitment failed", "outing_id", after.ID, "error", err.Error())
		}
	}
	s.notifyDispatcher(after.ID)
	return ViewFor(&after, who), nil
}

func (s *Service) moveCommitment(ctx context.Context, volunteerID, outingID string, start, end time.Time) error {
	_, err := s.st.UpdateVolunteer(ctx, volunteerID, false, func(p *VolunteerProfile) (bool, error) {
		changed := false
		for i := range p.Commitments {
			if p.Commitments[i].OutingID == outingID {
				p.Commitments[i].StartsAt, p.Commitments[i].EndsAt = start, end
				changed = true
			}
		}
		return changed, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
