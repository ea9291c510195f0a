package groups

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/personal"
)

// EscortTarget is what an escort request to group sessions resolves to:
// whom it is for and the sessions (future, not cancelled) to go to.
type EscortTarget struct {
	ParticipantID string
	GroupID       string
	OrgID         string
	Sessions      []SessionView
}

// EscortTargets resolves a companion request to one session (sessionID) or
// to every future session of a group (groupID). The participant is the
// caller or, for a coordinator, participantID; they must hold a place.
func (s *Service) EscortTargets(ctx context.Context, who auth.Identity, participantID, sessionID, groupID string) (EscortTarget, error) {
	field := "group_id"
	if sessionID != "" {
		field = "group_session_id"
		ss, err := s.st.Session(ctx, sessionID)
		if errors.Is(err, ErrNotFound) {
			return EscortTarget{}, fault.InvalidField(field, "no such session")
		}
		if err != nil {
			return EscortTarget{}, fault.Wrap(err, "read session")
		}
		groupID = ss.GroupID
	}
	g, err := s.group(ctx, who, groupID)
	if fault.KindOf(err) == fault.NotFound {
		return EscortTarget{}, fault.InvalidField(field, "no such group session")
	}
	if err != nil {
		return EscortTarget{}, err
	}
	pid, err := s.enrolee(ctx, who, g, participantID)
	if err != nil {
		return EscortTarget{}, err
	}
	e, err := s.st.Enrolment(ctx, g.ID, pid)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return EscortTarget{}, fault.Wrap(err, "read enrolment")
	}
	if e == nil || e.Status != Enrolled {
		return EscortTarget{}, fault.InvalidField(field, "the participant holds no place in this group")
	}
	sessions, err := s.st.Sessions(ctx, g.ID)
	if err != nil {
		return EscortTarget{}, fault.Wrap(err, "list sessions")
	}
	// "Every session" leaves out sessions the participant has an escort to already.
	linked := map[string]bool{}
	if sessionID == "" {
		links, err := s.st.EscortsOf(ctx, g.ID, pid)
		if err != nil {
			return EscortTarget{}, fault.Wrap(err, "read escorts")
		}
		for _, l := range links {
			linked[l.SessionID] = true
		}
	}
	now := s.now()
	out := EscortTarget{ParticipantID: pid, GroupID: g.ID, OrgID: g.OrgID}
	for i := range sessions {
		ss := &sessions[i]
		if sessionID != "" && ss.ID != sessionID || ss.Status == SessionCancelled || !ss.StartsAt.After(now) || linked[ss.ID] {
			continue
		}
		out.Sessions = append(out.Sessions, ss.view(now))
	}
	if len(out.Sessions) == 0 {
		return EscortTarget{}, fault.InvalidField(field, "no future session to go to")
	}
	return out, nil
}

// LinkEscort records that outingID escorts the participant to sessionID.
func (s *Service) LinkEscort(ctx context.Context, groupID, sessionID, participantID, outingID string) error {
	return fault.Wrap(s.st.LinkEscort(ctx, EscortLink{SessionID: sessionID, GroupID: groupID, ParticipantID: participantID, OutingID: outingID}),
		"link escort outing")
}

// EarlierEscorts returns the participant's escort outings to sessions of
// the group that start before before, latest session first: where to look
// for the companion who came last time.
func (s *Service) EarlierEscorts(ctx context.Context, groupID, participantID string, before time.Time) ([]string, error) {
	links, err := s.st.EscortsOf(ctx, groupID, participantID)
	if err != nil || len(links) == 0 {
		return nil, fault.Wrap(err, "read escorts")
	}
	sessions, err := s.st.Sessions(ctx, groupID)
	if err != nil {
		return nil, fault.Wrap(err, "list sessions")
	}
	startOf := map[string]time.Time{}
	for _, ss := range sessions {
		startOf[ss.ID] = ss.StartsAt
	}
	links = slices.DeleteFunc(links, func(l EscortLink) bool { return !startOf[l.SessionID].Before(before) })
	slices.SortStableFunc(links, func(a, b EscortLink) int { return startOf[b.SessionID].Compare(startOf[a.SessionID]) })
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l.OutingID
	}
	return out, nil
}

// PersonalHook exports and erases a participant's enrolments, attendance
// and escort links.
func (s *Service) PersonalHook() personal.Hook {
	return personal.Hook{
		Name: "groups",
		Export: func(ctx context.Context, userID string) (any, error) {
			list, err := s.st.EnrolmentsOf(ctx, userID, "", 1000)
			if err != nil {
				return nil, fault.Wrap(err, "export enrolments")
			}
			out := make([]EnrolmentView, 0, len(list))
			for _, e := range list {
				out = append(out, EnrolmentView{GroupID: e.GroupID, ParticipantID: e.ParticipantID, Status: e.Status, Position: e.Position})
			}
			return map[string]any{"enrolments": out}, nil
		},
		Erase: func(ctx context.Context, userID string) error {
			// Places held are given up first, so the waiting move up.
			list, err := s.st.EnrolmentsOf(ctx, userID, "", 1000)
			if err != nil {
				return fault.Wrap(err, "read enrolments")
			}
			for _, e := range list {
				if e.Status != Enrolled && e.Status != Waiting {
					continue
				}
				_, promoted, err := s.st.Leave(ctx, e.GroupID, userID, s.now())
				if err != nil && !errors.Is(err, ErrNotFound) {
					return fault.Wrap(err, "leave")
				}
				if promoted != nil {
					if g, err := s.st.Group(ctx, e.GroupID); err == nil {
						s.placeGiven(ctx, g, *promoted, PushPromoted)
					}
				}
			}
			// The finished enrolments and marks stay under a tombstone, so
			// that a past period's report does not change.
			return fault.Wrap(s.st.EraseParticipant(ctx, userID, newTombstone()), "erase enrolments")
		},
	}
}
