package main

import (
	"context"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/expenses"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
)

// careServices builds the expenses over the outings (who was the companion
// of which completed outing), the pushes and the accounts (names for the
// payout export).
func careServices(cfg config, st *stores, clk clock.Clock, outings *matching.Service, accounts *auth.Service, notifier *notify.Service) (*expenses.Service, error) {
	return expenses.New(st.expenses, expenses.Config{
		Clock: clk, MaxPerOuting: int64(cfg.ExpenseMaxOre),
		Outings:  ExpenseOutings{outings},
		Notifier: ExpensePushes{notifier},
		Name:     AccountName(accounts),
	})
}

// ExpenseOutings adapts matching to what expenses ask of an outing.
type ExpenseOutings struct{ M *matching.Service }

// CompanionOuting implements expenses.Outings.
func (a ExpenseOutings) CompanionOuting(ctx context.Context, who auth.Identity, id string) (expenses.Outing, error) {
	f, err := a.M.CompanionOuting(ctx, who, id)
	return expenses.Outing{ID: f.ID, OrgID: f.OrgID, VolunteerID: f.VolunteerID, Completed: f.Completed,
		CompletedAt: f.CompletedAt, StartsAt: f.StartsAt}, err
}

// expenseNewsFor is how long a decided expense's push stays worth sending.
const expenseNewsFor = 7 * 24 * time.Hour

// ExpensePushes tells a volunteer about their decided expense (once per decision).
type ExpensePushes struct{ N *notify.Service }

// ExpenseDecided implements expenses.Notifier.
func (p ExpensePushes) ExpenseDecided(ctx context.Context, e expenses.Expense) error {
	return p.N.PushAboutOuting(ctx, notify.ExpenseDecided, e.ID+":"+string(e.Status), e.VolunteerID, e.OrgID, e.OutingID,
		e.OutingDate, e.DecidedAt.Add(expenseNewsFor)) // DecidedAt is set on a decided expense
}

// AccountName is a user's name as the accounts know it ("" when unknown).
func AccountName(accounts *auth.Service) func(context.Context, string) string {
	dir := matching.AccountsDirectory(accounts)
	return func(ctx context.Context, id string) string {
		m, err := dir.Member(ctx, id)
		if err != nil {
			return ""
		}
		return m.Name
	}
}
