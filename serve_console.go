package main

import (
	"log/slog"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/console"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/outcomes"
	"github.com/clavis-app/clavis/wiring"
)

// consoleMount builds the coordinators' console for the API's Fiber app
// (api.Deps.Extra: mounted before the API's catch-all 404). Groups and
// Reports are served when their services are given.
func consoleMount(cfg config, accounts *auth.Service, outings *matching.Service, matcher *matching.Matcher, clk clock.Clock, log *slog.Logger,
	grp *groups.Service, oc *outcomes.Service) (func(*api.Server), error) {
	ccfg := console.Config{
		Accounts: accounts, Outings: outings, Matcher: matcher, Clock: clk, Logger: log.With("component", "console"),
		IdleTimeout: cfg.ConsoleIdle, SecureCookie: cfg.ConsoleSecureCookie, CheckinGrace: cfg.CheckinGrace,
		ClientAddr: api.ClientIP,
	}
	if grp != nil {
		ccfg.Groups = wiring.ConsoleGroups{G: grp, A: accounts}
	}
	if oc != nil {
		ccfg.Reports = wiring.ConsoleReports{O: oc}
		ccfg.Progress = wiring.ConsoleProgress{O: oc}
	}
	c, err := console.New(ccfg)
	if err != nil {
		return nil, err
	}
	return func(s *api.Server) { c.Mount(s.App) }, nil
}
