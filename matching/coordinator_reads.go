package matching

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// Reads for the coordinators' console: bounded, on indexes, scoped to the
// coordinator's organisation and audited like the API's lists.

// MaxStartingLimit bounds OutingsStarting.
const MaxStartingLimit = 500

// OutingsStarting lists the coordinator's organisation's outings with one
// of statuses starting in [from, to), soonest first, at most limit
// (1..MaxStartingLimit). Each participant shown is audited once.
func (s *Service) OutingsStarting(ctx context.Context, who auth.Identity, statuses []OutingStatus, from, to time.Time, limit int) ([]OutingView, error) {
	if who.Role != auth.RoleCoordinator || who.OrgID == "" {
		return nil, fault.Forbiddenf("only coordinators list their organisation's outings")
	}
	if limit < 1 || limit > MaxStartingLimit {
		return nil, fault.InvalidField("limit", "must be from 1 to 500")
	}
	for _, st := range statuses {
		if !slices.Contains(OutingStatuses, st) {
			return nil, fault.InvalidField("status", "must be one of: open, pending_approval, confirmed, in_progress, completed, cancelled, expired")
		}
	}
	rows, err := s.st.OutingsStarting(ctx, who.OrgID, statuses, from, to, limit)
	if err != nil {
		return nil, fault.Wrap(err, "list outings")
	}
	return s.viewsAudited(ctx, who, rows), nil
}

// manyAuditor records several subjects in one write (the accounts
// directory does); without it each is audited on its own.
type manyAuditor interface {
	AuditMany(ctx context.Context, actorID string, subjectIDs []string, action string) error
}

func (s *Service) viewsAudited(ctx context.Context, who auth.Identity, rows []Outing) []OutingView {
	out := make([]OutingView, 0, len(rows))
	audited := map[string]bool{}
	var subjects []string
	for i := range rows {
		out = append(out, ViewFor(&rows[i], who))
		if pid := rows[i].ParticipantID; pid != "" && pid != who.UserID && !audited[pid] {
			audited[pid] = true
			subjects = append(subjects, pid)
		}
	}
	if m, ok := s.dir.(manyAuditor); ok && len(subjects) > 0 {
		if err := m.AuditMany(ctx, who.UserID, subjects, "outing.list"); err != nil {
			s.log.Warn("audit write failed", "actor_id", who.UserID, "subjects", len(subjects), "action", "outing.list", "error", err.Error())
		}
		return out
	}
	for _, pid := range subjects {
		s.audit(ctx, who.UserID, pid, "outing.list")
	}
	return out
}

// OutingsOfMember lists a participant's or a volunteer's outings, newest
// first, at most limit (1..100), for a coordinator of their organisation;
// anyone else's member is a NotFound.
func (s *Service) OutingsOfMember(ctx context.Context, who auth.Identity, userID string, limit int) ([]OutingView, error) {
	if who.Role != auth.RoleCoordinator || who.OrgID == "" {
		return nil, fault.Forbiddenf("only coordinators list a member's outings")
	}
	if limit < 1 || limit > 100 {
		return nil, fault.InvalidField("limit", "must be from 1 to 100")
	}
	m, err := s.member(ctx, userID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && m.OrgID != who.OrgID) {
		return nil, fault.NotFoundf("no such member")
	}
	if err != nil {
		return nil, fault.Wrap(err, "look up member")
	}
	var f OutingFilter
	switch m.Role {
	case auth.RoleParticipant:
		f.ParticipantID = userID
	case auth.RoleVolunteer:
		f.VolunteerID = userID
	default:
		return nil, fault.NotFoundf("no such member")
	}
	rows, _, err := s.st.OutingsPage(ctx, f, limit, nil)
	if err != nil {
		return nil, fault.Wrap(err, "list outings")
	}
	return s.viewsAudited(ctx, who, rows), nil
}

// OutingsTogether lists the completed outings of a participant of the
// coordinator's organisation with one volunteer, latest first, at most
// limit (1..100): what the two have done together, shown beside a match
// waiting for approval. Anyone else's participant is a NotFound.
func (s *Service) OutingsTogether(ctx context.Context, who auth.Identity, participantID, volunteerID string, limit int) ([]OutingView, error) {
	if who.Role != auth.RoleCoordinator || who.OrgID == "" {
		return nil, fault.Forbiddenf("only coordinators list what two members did together")
	}
	if limit < 1 || limit > 100 {
		return nil, fault.InvalidField("limit", "must be from 1 to 100")
	}
	m, err := s.member(ctx, participantID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && (m.OrgID != who.OrgID || m.Role != auth.RoleParticipant)) {
		return nil, fault.NotFoundf("no such participant")
	}
	if err != nil {
		return nil, fault.Wrap(err, "look up participant")
	}
	rows, err := s.st.CompletedOutingsTogether(ctx, participantID, volunteerID, limit)
	if err != nil {
		return nil, fault.Wrap(err, "list outings together")
	}
	return s.viewsAudited(ctx, who, rows), nil
}

// FeedbackGivenBy lists the feedback a participant of the coordinator's
// organisation gave (their comfort answers before and after), newest first,
// at most limit; audited.
func (s *Service) FeedbackGivenBy(ctx context.Context, who auth.Identity, participantID string, limit int) ([]Feedback, error) {
	if who.Role != auth.RoleCoordinator || who.OrgID == "" {
		return nil, fault.Forbiddenf("only coordinators read a participant's feedback")
	}
	m, err := s.member(ctx, participantID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && (m.OrgID != who.OrgID || m.Role != auth.RoleParticipant)) {
		return nil, fault.NotFoundf("no such participant")
	}
	if err != nil {
		return nil, fault.Wrap(err, "look up participant")
	}
	fs, err := s.st.FeedbackByAuthor(ctx, participantID)
	if err != nil {
		return nil, fault.Wrap(err, "read feedback")
	}
	slices.SortFunc(fs, func(a, b Feedback) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if len(fs) > limit {
		fs = fs[:limit]
	}
	s.audit(ctx, who.UserID, participantID, "feedback.read")
	return fs, nil
}

// SupportNeedsOf is a participant's support needs for a coordinator of
// their organisation (empty until written); anyone else's participant is a
// NotFound. Audited.
func (s *Service) SupportNeedsOf(ctx context.Context, who auth.Identity, participantID string) (SupportNeedsView, error) {
	if who.Role != auth.RoleCoordinator || who.OrgID == "" {
		return SupportNeedsView{}, fault.Forbiddenf("only coordinators read support needs")
	}
	m, err := s.member(ctx, participantID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && (m.OrgID != who.OrgID || m.Role != auth.RoleParticipant)) {
		return SupportNeedsView{}, fault.NotFoundf("no such participant")
	}
	if err != nil {
		return SupportNeedsView{}, fault.Wrap(err, "look up participant")
	}
	out := SupportNeedsView{ParticipantID: participantID}
	p, err := s.st.Participant(ctx, participantID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return out, fault.Wrap(err, "read support needs")
	default:
		out.SupportNeeds, out.UpdatedBy, out.UpdatedAt = p.SupportNeeds, p.SupportNeedsBy, p.SupportNeedsAt
	}
	s.audit(ctx, who.UserID, participantID, "support_needs.read")
	return out, nil
}
