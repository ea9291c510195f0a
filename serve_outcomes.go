package main

import (
	"log/slog"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/expenses"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/personal"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
	"github.com/clavis-app/clavis/outcomes"
	"github.com/clavis-app/clavis/wiring"
)

// outcomeAskSweep is how often due wellbeing and pulse asks are looked for.
const outcomeAskSweep = 10 * time.Minute

// newOutcomes builds the outcomes service on the other packages' reads.
// Its personal hook is registered after matching's and groups' so that
// erasure runs it first, while the person's outings and enrolments still
// name them. The report's expense total comes from the expenses package.
func newOutcomes(st outcomes.Store, clk clock.Clock, log *slog.Logger, every time.Duration,
	accounts *auth.Service, outings *matching.Service, notifier *notify.Service, grp *groups.Service, people *personal.Registry,
	spending *expenses.Service) (*outcomes.Service, error) {
	cfg := outcomes.Config{
		Store: st, Clock: clk, Logger: log, WellbeingEvery: every,
		Members: wiring.OutcomeMembers{A: accounts}, Outings: wiring.OutcomeOutings{M: outings}, People: outings, Pusher: notifier,
	}
	if grp != nil {
		cfg.Groups = wiring.OutcomeGroups{G: grp}
	}
	if spending != nil {
		cfg.Expenses = wiring.OutcomeExpenses{X: spending}
	}
	svc, err := outcomes.New(cfg)
	if err != nil {
		return nil, err
	}
	people.Register(svc.PersonalHook())
	accounts.OnStatusChange(svc.StatusHook)
	return svc, nil
}
