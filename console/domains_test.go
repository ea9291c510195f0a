package console_test

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/console"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/outcomes"
)

// The browser scenarios of the Groups and Reports pages run on the real
// groups and outcomes services. These adapters mirror main's
// (serve_console_plugins.go, tested there through HTTP): a test of package
// console cannot import package main.

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
		if d.Outcomes, err = outcomes.New(outcomes.Config{Store: ost, Clock: e.Clock, Members: testMembers{e},
			Outings: testOutings{e}, People: e.Outings, Groups: testGroupFigures{d.Groups}}); err != nil {
			e.t.Fatal(err)
		}
		c.Groups = testGroupsPage{d.Groups, e.Auth}
		c.Reports = testReports{d.Outcomes}
		c.Progress = testProgress{d.Outcomes}
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

type testMembers struct{ e *env }

func (m testMembers) Member(ctx context.Context, id string) (outcomes.Member, error) {
	u, err := m.e.Auth.User(ctx, id)
	return outcomes.Member{ID: u.ID, Role: u.Role, OrgID: u.OrgID, Status: u.Status}, err
}

type testOutings struct{ e *env }

func (o testOutings) OutingFacts(ctx context.Context, org string, from, to time.Time) ([]outcomes.OutingFact, error) {
	rows, err := o.e.Outings.ReportOutings(ctx, org, from, to)
	out := make([]outcomes.OutingFact, len(rows))
	for i, r := range rows {
		out[i] = outcomes.OutingFact{ID: r.ID, ParticipantID: r.ParticipantID, VolunteerID: r.VolunteerID, Status: string(r.Status),
			CreatedAt: r.CreatedAt, StartsAt: r.StartsAt, EndsAt: r.EndsAt, MatchedAt: r.ConfirmedAt,
			ComfortBefore: r.ComfortBefore, ComfortAfter: r.ComfortAfter}
	}
	return out, err
}

func (o testOutings) OutingRolesOf(ctx context.Context, id string) ([]outcomes.OutingRole, error) {
	rows, err := o.e.Outings.OutingRolesOf(ctx, id)
	out := make([]outcomes.OutingRole, len(rows))
	for i, r := range rows {
		out[i] = outcomes.OutingRole{OutingID: r.OutingID, Role: r.Role}
	}
	return out, err
}

type testGroupFigures struct{ g *groups.Service }

func (t testGroupFigures) GroupFigures(ctx context.Context, org string, from, to time.Time) ([]outcomes.GroupEnrolment, error) {
	rows, err := t.g.PeriodEnrolments(ctx, org, from, to)
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

func (t testGroupFigures) EnrolmentIDsOf(ctx context.Context, id string) ([]string, error) {
	return t.g.EnrolmentIDsOf(ctx, id)
}

type testGroupsPage struct {
	g *groups.Service
	a *auth.Service
}

func (p testGroupsPage) Groups(ctx context.Context, who auth.Identity) ([]console.GroupRow, error) {
	page, err := p.g.Groups(ctx, who, who.OrgID, 100, "")
	out := make([]console.GroupRow, len(page.Items))
	for i, g := range page.Items {
		out[i] = console.GroupRow{ID: g.ID, Name: g.Name, Members: g.EnrolledCount}
	}
	return out, err
}

func (p testGroupsPage) Sessions(ctx context.Context, who auth.Identity, groupID string) ([]console.SessionRow, error) {
	page, err := p.g.Sessions(ctx, who, groupID, 100, "")
	out := make([]console.SessionRow, len(page.Items))
	for i, s := range page.Items {
		out[i] = console.SessionRow{ID: s.ID, StartsAt: s.StartsAt, Place: "Stadsbiblioteket"}
	}
	return out, err
}

func (p testGroupsPage) Register(ctx context.Context, who auth.Identity, sessionID string) ([]console.AttendanceRow, error) {
	_, lines, err := p.g.SessionRegister(ctx, who, sessionID)
	out := make([]console.AttendanceRow, len(lines))
	for i, l := range lines {
		u, _ := p.a.User(ctx, l.ParticipantID)
		out[i] = console.AttendanceRow{ParticipantID: l.ParticipantID, Name: u.Name, Mark: l.Mark}
	}
	return out, err
}

func (p testGroupsPage) MarkAttendance(ctx context.Context, who auth.Identity, sessionID, participantID, mark string) error {
	gid, _, err := p.g.SessionRegister(ctx, who, sessionID)
	if err != nil {
		return err
	}
	_, err = p.g.PutAttendance(ctx, who, gid, sessionID, []groups.MarkInput{{ParticipantID: participantID, Mark: mark}})
	return err
}

type testReports struct{ o *outcomes.Service }

func (r testReports) report(ctx context.Context, who auth.Identity, from, to time.Time) (outcomes.Report, error) {
	return r.o.Report(ctx, who, who.OrgID, from.Format(time.DateOnly), to.AddDate(0, 0, -1).Format(time.DateOnly))
}

func (r testReports) OutcomeReport(ctx context.Context, who auth.Identity, from, to time.Time) (console.Report, error) {
	rep, err := r.report(ctx, who, from, to)
	out := console.Report{From: from, To: to}
	for _, g := range rep.Goals {
		out.Lines = append(out.Lines, console.ReportLine{Measure: g.Key, Goal: g.Target, Actual: g.Actual, Met: g.Met})
	}
	out.Figures = testFigures(rep)
	return out, err
}

// testFigures copies serve_console_plugins.go's consoleFigures (package main).
func testFigures(r outcomes.Report) []console.ReportFigure {
	count := func(m string, total int, f, ma, o, u int) console.ReportFigure {
		return console.ReportFigure{Measure: m, Total: float64(total), ByGender: map[string]float64{
			"female": float64(f), "male": float64(ma), "other": float64(o), "unspecified": float64(u)}}
	}
	share := func(m string, total, f, ma, o, u float64) console.ReportFigure {
		return console.ReportFigure{Measure: m, Total: total, Share: true, ByGender: map[string]float64{
			"female": f, "male": ma, "other": o, "unspecified": u}}
	}
	p, g, w, ms := r.Participants.ByGender, r.Groups.ByGender, r.Wellbeing.ByGender, r.Milestones.ByGender
	return []console.ReportFigure{
		count("participants.served", r.Participants.Served, p.Female.Served, p.Male.Served, p.Other.Served, p.Unspecified.Served),
		{Measure: "outings.requested", Total: float64(r.Outings.Requested)},
		{Measure: "outings.matched", Total: float64(r.Outings.Matched)},
		{Measure: "outings.completed", Total: float64(r.Outings.Completed)},
		count("groups.enrolled", r.Groups.Enrolled, g.Female.Enrolled, g.Male.Enrolled, g.Other.Enrolled, g.Unspecified.Enrolled),
		count("groups.completed", r.Groups.Completed, g.Female.Completed, g.Male.Completed, g.Other.Completed, g.Unspecified.Completed),
		count("wellbeing.followed_up", r.Wellbeing.FollowedUp, w.Female.FollowedUp, w.Male.FollowedUp, w.Other.FollowedUp, w.Unspecified.FollowedUp),
		share("wellbeing.confidence_improved_share", r.Wellbeing.ConfidenceImprovedShare, w.Female.ConfidenceImprovedShare,
			w.Male.ConfidenceImprovedShare, w.Other.ConfidenceImprovedShare, w.Unspecified.ConfidenceImprovedShare),
		share("wellbeing.social_improved_share", r.Wellbeing.SocialImprovedShare, w.Female.SocialImprovedShare,
			w.Male.SocialImprovedShare, w.Other.SocialImprovedShare, w.Unspecified.SocialImprovedShare),
		count("milestones.people", r.Milestones.People, ms.Female.People, ms.Male.People, ms.Other.People, ms.Unspecified.People),
	}
}

func (r testReports) OutcomeCSV(ctx context.Context, who auth.Identity, from, to time.Time, w io.Writer) error {
	rep, err := r.report(ctx, who, from, to)
	if err != nil {
		return err
	}
	b, err := rep.CSV()
	if err != nil {
		return err
	}
	_, err = io.Copy(w, bytes.NewReader(b))
	return err
}

type testProgress struct{ o *outcomes.Service }

func (p testProgress) Progress(ctx context.Context, who auth.Identity, pid string) ([]console.WellbeingAnswer, []console.MilestoneMark, error) {
	cs, err := p.o.ParticipantCheckins(ctx, who, who.OrgID, pid, outcomes.MaxListLimit)
	if err != nil {
		return nil, nil, err
	}
	ms, err := p.o.Milestones(ctx, who, who.OrgID, pid, outcomes.MaxListLimit)
	if err != nil {
		return nil, nil, err
	}
	answers := make([]console.WellbeingAnswer, len(cs.Items))
	for i, c := range cs.Items {
		answers[i] = console.WellbeingAnswer{At: c.At, Confidence: c.Confidence, Social: c.Social, Occupation: c.Occupation}
	}
	var marks []console.MilestoneMark
	for _, m := range ms.Items {
		on, err := time.Parse(time.DateOnly, m.On)
		if err != nil {
			return nil, nil, err
		}
		marks = append(marks, console.MilestoneMark{On: on, Kind: m.Kind})
	}
	return answers, marks, nil
}
