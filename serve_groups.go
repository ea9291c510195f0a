package main

import (
	"log/slog"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/personal"
	"github.com/clavis-app/clavis/notify"
)

// newGroups builds the groups service: accounts answer who people are,
// notify's durable jobs carry its pushes and reminders.
func newGroups(st *stores, accounts *auth.Service, notifier *notify.Service, clk clock.Clock, log *slog.Logger, people *personal.Registry) (*groups.Service, error) {
	svc, err := groups.NewService(groups.Config{Store: st.groups, Directory: accounts, Notifier: notifier.Groups(), Clock: clk,
		Logger: log.With("component", "groups")})
	if err != nil {
		return nil, err
	}
	people.Register(svc.PersonalHook())
	return svc, nil
}
