package groups

import (
	"context"
	"errors"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// RegisterLine is one participant in a session's register: Mark is
// present, absent, excused or "" (not marked yet).
type RegisterLine struct {
	ParticipantID string
	Mark          string
}

// SessionRegister returns a session's group id and the participants
// holding a place in the group with their marks at it (coordinators of the
// group's organisation; the console's register page).
func (s *Service) SessionRegister(ctx context.Context, who auth.Identity, sessionID string) (string, []RegisterLine, error) {
	ss, err := s.st.Session(ctx, sessionID)
	if errors.Is(err, ErrNotFound) {
		return "", nil, fault.NotFoundf("no such session")
	}
	if err != nil {
		return "", nil, fault.Wrap(err, "read session")
	}
	g, _, err := s.coordinatorSession(ctx, who, ss.GroupID, sessionID)
	if err != nil {
		return "", nil, err
	}
	marks, err := s.st.Marks(ctx, g.ID)
	if err != nil {
		return "", nil, fault.Wrap(err, "read marks")
	}
	at := map[string]string{}
	for _, m := range marks {
		if m.SessionID == sessionID {
			at[m.ParticipantID] = m.Mark
		}
	}
	var out []RegisterLine
	for after := int64(0); ; {
		list, err := s.st.Enrolments(ctx, g.ID, after, 100)
		if err != nil {
			return "", nil, fault.Wrap(err, "list enrolments")
		}
		for _, e := range list {
			if e.Status == Enrolled || e.Status == Completed || e.Status == NotCompleted {
				out = append(out, RegisterLine{ParticipantID: e.ParticipantID, Mark: at[e.ParticipantID]})
			}
		}
		if len(list) < 100 {
			return g.ID, out, nil
		}
		after = list[len(list)-1].Seq
	}
}
