package matching

import (
	"context"
	"errors"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// The outcome report's reads of matching (package outcomes declares what it
// needs; main adapts these to it).

// reportPage is how many outings one page of the report's read holds.
const reportPage = 1000

// ReportOuting is an outing as the outcome report counts it.
type ReportOuting struct {
	ID, ParticipantID, VolunteerID string
	Status                         OutingStatus
	CreatedAt, StartsAt, EndsAt    time.Time
	// ConfirmedAt is the first confirmation (zero: never confirmed).
	ConfirmedAt time.Time
	// ComfortBefore and ComfortAfter are the participant's answers in
	// their feedback (0: not given).
	ComfortBefore, ComfortAfter int
	// PostponeAsks is how many postponements were asked, whatever the answer.
	PostponeAsks int
}

// ReportOutings lists an organisation's outings requested in [from, to),
// with the comfort answers of their participants' feedback, a page at a time.
func (s *Service) ReportOutings(ctx context.Context, orgID string, from, to time.Time) ([]ReportOuting, error) {
	var out []ReportOuting
	var after *pageCursor
	for {
		page, err := s.st.ReportRows(ctx, orgID, from, to, after, reportPage)
		if err != nil {
			return nil, fault.Wrap(err, "read outings")
		}
		out = append(out, page...)
		if len(page) < reportPage {
			break
		}
		last := page[len(page)-1]
		after = &pageCursor{at: last.CreatedAt, id: last.ID}
	}
	return out, nil
}

// OutingRole is one outing a user took part in, as "participant" or "volunteer".
type OutingRole struct {
	OutingID, Role string
}

// OutingRolesOf lists the outings a user is participant or companion of.
func (s *Service) OutingRolesOf(ctx context.Context, userID string) ([]OutingRole, error) {
	outings, err := s.st.OutingsOfUser(ctx, userID)
	if err != nil {
		return nil, fault.Wrap(err, "read outings of user")
	}
	var out []OutingRole
	for _, o := range outings {
		if o.ParticipantID == userID {
			out = append(out, OutingRole{OutingID: o.ID, Role: "participant"})
		}
		if o.VolunteerID == userID {
			out = append(out, OutingRole{OutingID: o.ID, Role: "volunteer"})
		}
	}
	return out, nil
}

// ParticipantGender is the gender a participant stated for follow-up
// ("" without a profile, "unspecified" when never stated).
func (s *Service) ParticipantGender(ctx context.Context, userID string) (string, error) {
	p, err := s.st.Participant(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fault.Wrap(err, "read participant profile")
	}
	if p.Gender == "" {
		return "unspecified", nil
	}
	return p.Gender, nil
}

// ConfirmedAt is when the outing was first confirmed (zero: never).
func (o *Outing) ConfirmedAt() time.Time {
	for _, h := range o.History {
		if h.To == StatusConfirmed {
			return h.At
		}
	}
	return time.Time{}
}
