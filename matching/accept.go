package matching

import (
	"slices"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// CanAccept is the one place that says whether volunteer who (with profile
// p) may accept o. For now it holds the rules of the outings issue: an
// active volunteer of the outing's organisation, not excluded or declined,
// whose weekly availability covers the outing. The matching issue extends
// it to every hard rule of design.md (travel radius, language, gender,
// weekly cap, travel time) through the ranking's check, so that who may
// accept and who is offered stay the same set. Whether the volunteer is
// busy then is checked by the store, against their commitments.
func CanAccept(o *Outing, who auth.Identity, p *VolunteerProfile) error {
	switch {
	case who.Role != auth.RoleVolunteer || who.OrgID != o.OrgID:
		return fault.NotFoundf("no such outing")
	case who.Status != auth.StatusActive:
		return fault.Forbiddenf("your account is %s; a coordinator must approve it first", who.Status)
	case slices.Contains(o.ExcludedVolunteers, who.UserID):
		return fault.Forbiddenf("a coordinator has chosen another companion for this outing")
	case slices.Contains(o.DeclinedBy, who.UserID):
		return fault.Forbiddenf("you have declined this outing")
	case p == nil || p.Availability == nil:
		return fault.Forbiddenf("set your weekly availability before accepting outings")
	}
	week := p.Week()
	if week == nil || !week.Covers(o.StartsAt, o.EndsAt) {
		return fault.Forbiddenf("your availability does not cover this outing")
	}
	return nil
}

// overlaps reports whether [a1, a2) and [b1, b2) share any time.
func overlaps(c Commitment, o *Outing) bool {
	return c.StartsAt.Before(o.EndsAt) && o.StartsAt.Before(c.EndsAt)
}

// holdsOutingTime reports whether o still ties volunteerID's time: a
// commitment on the profile counts only while this does.
func holdsOutingTime(o *Outing, volunteerID string) bool {
	if o.VolunteerID != volunteerID {
		return false
	}
	switch o.Status {
	case StatusPendingApproval, StatusConfirmed, StatusInProgress:
		return true
	}
	return false
}
