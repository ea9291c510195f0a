package matching

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// Reads of what the PUTs and POSTs wrote, for apps that start without
// local state (docs/api.md, "Organisations" and "Outings").

// FeedbackList is the answer to GET /v1/outings/{id}/feedback.
type FeedbackList struct {
	Items []Feedback `json:"items"`
}

// FeedbackOn lists an outing's feedback, oldest first: all of it for the
// organisation's coordinators (audited), only their own for the
// participant and the companion.
func (s *Service) FeedbackOn(ctx context.Context, who auth.Identity, outingID string) (FeedbackList, error) {
	o, err := s.st.Outing(ctx, outingID)
	if err != nil {
		return FeedbackList{}, notFoundOr(err, "outing")
	}
	rel := RelationOf(o, who)
	switch rel {
	case RelNone:
		return FeedbackList{}, fault.NotFoundf("no such outing")
	case RelParticipant, RelCompanion, RelCoordinator:
	default:
		return FeedbackList{}, fault.Forbiddenf("only the outing's participant, companion and coordinators see its feedback")
	}
	all, err := s.st.FeedbackOnOuting(ctx, outingID)
	if err != nil {
		return FeedbackList{}, fault.Wrap(err, "read feedback")
	}
	out := FeedbackList{Items: []Feedback{}}
	for _, f := range all {
		if rel == RelCoordinator || f.AuthorID == who.UserID {
			out.Items = append(out.Items, f)
		}
	}
	if rel == RelCoordinator && len(out.Items) > 0 {
		s.audit(ctx, who.UserID, o.ParticipantID, "feedback.read")
	}
	return out, nil
}

// VolunteerProfileOf is the caller's volunteer profile; NotFound before
// their first PUT of it (setting only availability does not count).
func (s *Service) VolunteerProfileOf(ctx context.Context, who auth.Identity) (VolunteerProfileView, error) {
	p, err := s.volunteerOf(ctx, who)
	if err != nil {
		return VolunteerProfileView{}, err
	}
	if !p.HasProfile {
		return VolunteerProfileView{}, fault.NotFoundf("no volunteer profile yet: PUT it first")
	}
	return p.view(), nil
}

// AvailabilityOf is the caller's availability; NotFound before their first PUT of it.
func (s *Service) AvailabilityOf(ctx context.Context, who auth.Identity) (AvailabilityView, error) {
	p, err := s.volunteerOf(ctx, who)
	if err != nil {
		return AvailabilityView{}, err
	}
	v := p.availabilityView()
	if v == nil {
		return AvailabilityView{}, fault.NotFoundf("no availability yet: PUT it first")
	}
	return *v, nil
}

func (s *Service) volunteerOf(ctx context.Context, who auth.Identity) (*VolunteerProfile, error) {
	if who.Role != auth.RoleVolunteer {
		return nil, fault.Forbiddenf("only volunteers have a volunteer profile")
	}
	p, err := s.st.Volunteer(ctx, who.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, fault.NotFoundf("no volunteer profile yet: PUT it first")
	}
	if err != nil {
		return nil, fault.Wrap(err, "read volunteer profile")
	}
	return p, nil
}

func (p *VolunteerProfile) availabilityView() *AvailabilityView {
	if p == nil || p.Availability == nil {
		return nil
	}
	a := p.Availability
	return &AvailabilityView{UserID: p.UserID, TimeZone: a.TimeZone, Weekly: nonNil(a.Weekly), Exceptions: nonNil(a.Exceptions), UpdatedAt: p.UpdatedAt}
}

// ParticipantProfileOf is the caller's participant profile; NotFound before
// their first PUT (a coordinator's support needs alone make none).
func (s *Service) ParticipantProfileOf(ctx context.Context, who auth.Identity) (ParticipantProfileView, error) {
	if who.Role != auth.RoleParticipant {
		return ParticipantProfileView{}, fault.Forbiddenf("only participants have a participant profile")
	}
	p, err := s.st.Participant(ctx, who.UserID)
	if errors.Is(err, ErrNotFound) || (err == nil && len(p.Languages) == 0) {
		return ParticipantProfileView{}, fault.NotFoundf("no participant profile yet: PUT it first")
	}
	if err != nil {
		return ParticipantProfileView{}, fault.Wrap(err, "read participant profile")
	}
	return p.view(), nil
}

// VolunteerOverview is matching's part of a coordinator's view of one
// volunteer: profile and availability (nil until set) and how many outings
// they have this week.
type VolunteerOverview struct {
	Profile      *VolunteerProfileView `json:"profile"`
	Availability *AvailabilityView     `json:"availability"`
	// OutingsThisWeek counts pending, confirmed, in-progress and completed
	// outings starting in the current Monday-to-Sunday week of the
	// organisation's time zone: what the weekly cap is checked against.
	OutingsThisWeek int `json:"outings_this_week"`
}

// VolunteerOverviewOf is VolunteerOverview for volunteerID. The caller (the
// API) has checked that who coordinates the volunteer's organisation.
func (s *Service) VolunteerOverviewOf(ctx context.Context, who auth.Identity, volunteerID string) (VolunteerOverview, error) {
	if who.Role != auth.RoleCoordinator {
		return VolunteerOverview{}, fault.Forbiddenf("only coordinators see a volunteer's overview")
	}
	var out VolunteerOverview
	p, err := s.st.Volunteer(ctx, volunteerID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return out, fault.Wrap(err, "read volunteer profile")
	}
	if p != nil {
		if p.HasProfile {
			v := p.view()
			out.Profile = &v
		}
		out.Availability = p.availabilityView()
	}
	loc, err := time.LoadLocation(s.orgTimeZone(ctx, who.OrgID))
	if err != nil {
		loc = time.UTC
	}
	week := isoWeek(s.now(), loc)
	rows, err := s.st.BookingsOf(ctx, []string{volunteerID}, bookingQuery{load: []span{week}})
	if err != nil {
		return out, fault.Wrap(err, "read the volunteer's outings")
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if r.VolunteerID == volunteerID && !seen[r.ID] && slices.Contains(countedStatuses, r.Status) &&
			!r.StartsAt.Before(week.from) && r.StartsAt.Before(week.to) {
			seen[r.ID] = true
			out.OutingsThisWeek++
		}
	}
	return out, nil
}
