package groups

import (
	"context"
	"errors"

	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

// Continuity of escorts within a group: the volunteer confirmed for (or
// done with) a participant's escort to one session is offered the
// participant's later escorts that are still open, alone and first. The
// later outings of an "every session" request are made with their offers
// held back until the start of the session before (api sets
// HoldOffersUntil), so the companion of that session has the first chance;
// past that bound they go to the usual waves.

// CompanionPreferrer offers an open outing to one volunteer first;
// *matching.Matcher implements it.
type CompanionPreferrer interface {
	PreferCompanion(ctx context.Context, outingID, volunteerID string) error
}

// EscortSink passes outing events on to next and, when an escort outing's
// companion is confirmed or has completed it, offers the participant's
// later escorts in the group to that companion first. An error has the
// dispatcher deliver the event again (next is idempotent by event id).
func (s *Service) EscortSink(next matching.EventSink, outings CompanionPreferrer) matching.EventSink {
	return escortSink{s: s, next: next, outings: outings}
}

type escortSink struct {
	s       *Service
	next    matching.EventSink
	outings CompanionPreferrer
}

func (k escortSink) Consume(ctx context.Context, e matching.Event) error {
	if err := k.next.Consume(ctx, e); err != nil {
		return err
	}
	if (e.Type != matching.EventApproved && e.Type != matching.EventCompleted) || e.VolunteerID == "" {
		return nil
	}
	return k.s.escortConfirmed(ctx, k.outings, e.OutingID, e.VolunteerID)
}

func (s *Service) escortConfirmed(ctx context.Context, outings CompanionPreferrer, outingID, volunteerID string) error {
	link, err := s.st.EscortByOuting(ctx, outingID)
	if errors.Is(err, ErrNotFound) {
		return nil // not an escort to a group session
	}
	if err != nil {
		return fault.Wrap(err, "read escort link")
	}
	sessions, err := s.st.Sessions(ctx, link.GroupID)
	if err != nil {
		return fault.Wrap(err, "list sessions")
	}
	startOf := map[string]int64{}
	for _, ss := range sessions {
		startOf[ss.ID] = ss.StartsAt.UnixMilli()
	}
	links, err := s.st.EscortsOf(ctx, link.GroupID, link.ParticipantID)
	if err != nil {
		return fault.Wrap(err, "read escorts")
	}
	for _, l := range links {
		if startOf[l.SessionID] <= startOf[link.SessionID] || l.OutingID == outingID {
			continue
		}
		if err := outings.PreferCompanion(ctx, l.OutingID, volunteerID); err != nil {
			return fault.Wrap(err, "offer the companion first")
		}
	}
	return nil
}
