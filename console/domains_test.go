package console_test

import (
	"context"
	"time"

	"github.com/clavis-app/clavis/console"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/outcomes"
	"github.com/clavis-app/clavis/wiring"
)

// The browser scenarios of the Groups and Reports pages run on the real
// groups and outcomes services, through the adapters main uses (package
// wiring).

type domains struct {
	Groups   *groups.Service
	GStore   groups.Store
	Outcomes *outcomes.Service
}

func withDomains(d *domains) func(e *env, db *sqlite.DB, c *console.Config) {
	return func(e *env, db *sqlite.DB, c *console.Config) {
		ctx := context.Background()
		var err error
		if d.GStore, err = groups.NewSQLiteStore(ctx, db); err != nil {
			e.t.Fatal(err)
		}
		if d.Groups, err = groups.NewService(groups.Config{Store: d.GStore, Directory: e.Auth, Clock: e.Clock}); err != nil {
			e.t.Fatal(err)
		}
		ost, err := outcomes.NewSQLiteStore(ctx, db)
		if err != nil {
			e.t.Fatal(err)
		}
		if d.Outcomes, err = outcomes.New(outcomes.Config{Store: ost, Clock: e.Clock, Members: wiring.OutcomeMembers{A: e.Auth},
			Outings: wiring.OutcomeOutings{M: e.Outings}, People: e.Outings, Groups: wiring.OutcomeGroups{G: d.Groups}}); err != nil {
			e.t.Fatal(err)
		}
		c.Groups = wiring.ConsoleGroups{G: d.Groups, A: e.Auth}
		c.Reports = wiring.ConsoleReports{O: d.Outcomes}
		c.Progress = wiring.ConsoleProgress{O: d.Outcomes}
	}
}

// runningGroup stores a group that began two days ago, meeting daily at
// 09:00 for two weeks, with these participants enrolled.
func (d *domains) runningGroup(e *env, name string, ps ...person) (*groups.Group, []groups.Session) {
	e.t.Helper()
	loc, _ := time.LoadLocation("Europe/Stockholm")
	var weekly []groups.Slot
	for _, day := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		weekly = append(weekly, groups.Slot{Weekday: day, Start: "09:00", End: "10:00"})
	}
	g := &groups.Group{ID: ids.New(), OrgID: e.Org, Name: name, Kind: groups.KindThemeGroup, TimeZone: "Europe/Stockholm",
		FirstDay: e.Clock.Now().AddDate(0, 0, -2).In(loc).Format(time.DateOnly), Weeks: 2, Weekly: weekly, Capacity: 8,
		CompletionThreshold: 0.75, Place: groups.Place{Description: "Stadsbiblioteket"}, CreatedAt: e.Clock.Now()}
	ss, err := groups.GenerateSessions(g.ID, e.Org, g.FirstDay, g.Weeks, weekly, loc, ids.New)
	if err != nil {
		e.t.Fatal(err)
	}
	g.StartsAt, g.EndsAt = ss[0].StartsAt, ss[len(ss)-1].EndsAt
	ctx := context.Background()
	if err := d.GStore.CreateGroup(ctx, g, ss); err != nil {
		e.t.Fatal(err)
	}
	for _, p := range ps {
		if _, err := d.GStore.Enrol(ctx, groups.Enrolment{ID: ids.New(), GroupID: g.ID, ParticipantID: p.ID, At: e.Clock.Now()}, g.Capacity); err != nil {
			e.t.Fatal(err)
		}
	}
	return g, ss
}
