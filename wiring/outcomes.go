package wiring

import (
	"context"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/expenses"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/outcomes"
)

// OutcomeMembers adapts the accounts service to outcomes.Members.
type OutcomeMembers struct{ A *auth.Service }

func (m OutcomeMembers) Member(ctx context.Context, userID string) (outcomes.Member, error) {
	u, err := m.A.User(ctx, userID)
	if err != nil {
		return outcomes.Member{}, err
	}
	return outcomes.Member{ID: u.ID, Role: u.Role, OrgID: u.OrgID, Status: u.Status}, nil
}

// OutcomeOutings adapts matching to outcomes.Outings.
type OutcomeOutings struct{ M *matching.Service }

func (o OutcomeOutings) OutingFacts(ctx context.Context, orgID string, from, to time.Time) ([]outcomes.OutingFact, error) {
	rows, err := o.M.ReportOutings(ctx, orgID, from, to)
	out := make([]outcomes.OutingFact, len(rows))
	for i, r := range rows {
		out[i] = outcomes.OutingFact{ID: r.ID, ParticipantID: r.ParticipantID, VolunteerID: r.VolunteerID, Status: string(r.Status),
			CreatedAt: r.CreatedAt, StartsAt: r.StartsAt, EndsAt: r.EndsAt, MatchedAt: r.ConfirmedAt, Postponed: r.PostponeAsks > 0,
			ComfortBefore: r.ComfortBefore, ComfortAfter: r.ComfortAfter}
	}
	return out, err
}

func (o OutcomeOutings) OutingRolesOf(ctx context.Context, userID string) ([]outcomes.OutingRole, error) {
	rows, err := o.M.OutingRolesOf(ctx, userID)
	out := make([]outcomes.OutingRole, len(rows))
	for i, r := range rows {
		out[i] = outcomes.OutingRole{OutingID: r.OutingID, Role: r.Role}
	}
	return out, err
}

// OutcomeExpenses adapts the expenses service to outcomes.Expenses: the
// approved expenses of the outings that took place in the period.
type OutcomeExpenses struct{ X *expenses.Service }

func (x OutcomeExpenses) ApprovedExpensesOre(ctx context.Context, orgID string, from, to time.Time) (int64, error) {
	return x.X.ApprovedOre(ctx, orgID, from, to)
}

// OutcomeGroups adapts the groups service to outcomes.Groups. A groups
// tombstone reads as outcomes' ErasedID, so that the report finds the erased
// person's own tombstone (and gender) by enrolment id.
type OutcomeGroups struct{ G *groups.Service }

func (g OutcomeGroups) GroupFigures(ctx context.Context, orgID string, from, to time.Time) ([]outcomes.GroupEnrolment, error) {
	rows, err := g.G.PeriodEnrolments(ctx, orgID, from, to)
	out := make([]outcomes.GroupEnrolment, len(rows))
	for i, r := range rows {
		pid := r.ParticipantID
		if groups.IsErased(pid) {
			pid = outcomes.ErasedID
		}
		out[i] = outcomes.GroupEnrolment{EnrolmentID: r.EnrolmentID, ParticipantID: pid, Completed: r.Completed}
	}
	return out, err
}

func (g OutcomeGroups) EnrolmentIDsOf(ctx context.Context, participantID string) ([]string, error) {
	return g.G.EnrolmentIDsOf(ctx, participantID)
}
