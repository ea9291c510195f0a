// Package wiring adapts one domain's service to the narrow interface
// another declares: outcomes reading accounts, outings, groups and
// expenses, and the console's Groups, Reports and a person's progress
// reading groups and outcomes. The domains never import each other; main
// builds the services and hands them these adapters, and the tests of api
// and console use the same ones instead of copies.
package wiring

import (
	"context"
	"io"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/console"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/outcomes"
)

// consoleGroupsPage bounds the Groups page and a group's sessions (a group
// has at most 104 weeks of 14 sessions).
const consoleGroupsPage = 100

// ConsoleGroups adapts the groups service (and accounts, for names) to the
// console's Groups page.
type ConsoleGroups struct {
	G *groups.Service
	A *auth.Service
}

func (c ConsoleGroups) Groups(ctx context.Context, who auth.Identity) ([]console.GroupRow, error) {
	page, err := c.G.Groups(ctx, who, who.OrgID, consoleGroupsPage, "")
	if err != nil {
		return nil, err
	}
	out := make([]console.GroupRow, len(page.Items))
	for i, g := range page.Items {
		out[i] = console.GroupRow{ID: g.ID, Name: g.Name, Members: g.EnrolledCount}
	}
	return out, nil
}

func (c ConsoleGroups) Sessions(ctx context.Context, who auth.Identity, groupID string) ([]console.SessionRow, error) {
	g, err := c.G.Group(ctx, who, groupID)
	if err != nil {
		return nil, err
	}
	var out []console.SessionRow
	for cursor := ""; ; {
		page, err := c.G.Sessions(ctx, who, groupID, consoleGroupsPage, cursor)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Items {
			out = append(out, console.SessionRow{ID: s.ID, StartsAt: s.StartsAt, Place: g.Place.Description})
		}
		if cursor = page.NextCursor; cursor == "" {
			return out, nil
		}
	}
}

func (c ConsoleGroups) Register(ctx context.Context, who auth.Identity, sessionID string) ([]console.AttendanceRow, error) {
	_, lines, err := c.G.SessionRegister(ctx, who, sessionID)
	if err != nil {
		return nil, err
	}
	out := make([]console.AttendanceRow, len(lines))
	for i, l := range lines {
		name := l.ParticipantID
		if u, err := c.A.User(ctx, l.ParticipantID); err == nil {
			name = u.Name
		}
		out[i] = console.AttendanceRow{ParticipantID: l.ParticipantID, Name: name, Mark: l.Mark}
	}
	return out, nil
}

func (c ConsoleGroups) GroupsOf(ctx context.Context, who auth.Identity, participantID string) ([]console.PersonGroup, error) {
	page, err := c.G.ParticipantGroups(ctx, who, participantID, consoleGroupsPage, "")
	if err != nil {
		return nil, err
	}
	out := make([]console.PersonGroup, len(page.Items))
	for i, g := range page.Items {
		out[i] = console.PersonGroup{ID: g.GroupID, Name: g.Group.Name, Status: g.Status, Position: g.Position, Attended: g.Attended, Held: g.Held}
	}
	return out, nil
}

func (c ConsoleGroups) MarkAttendance(ctx context.Context, who auth.Identity, sessionID, participantID, mark string) error {
	groupID, _, err := c.G.SessionRegister(ctx, who, sessionID)
	if err != nil {
		return err
	}
	_, err = c.G.PutAttendance(ctx, who, groupID, sessionID, []groups.MarkInput{{ParticipantID: participantID, Mark: mark}})
	return err
}

// ConsoleReports adapts the outcomes service to the console's Reports page.
// The console's period ends before `to`; the report's last day is inclusive.
type ConsoleReports struct{ O *outcomes.Service }

func (c ConsoleReports) report(ctx context.Context, who auth.Identity, from, to time.Time) (outcomes.Report, error) {
	return c.O.Report(ctx, who, who.OrgID, from.Format(time.DateOnly), to.AddDate(0, 0, -1).Format(time.DateOnly))
}

func (c ConsoleReports) OutcomeReport(ctx context.Context, who auth.Identity, from, to time.Time) (console.Report, error) {
	r, err := c.report(ctx, who, from, to)
	if err != nil {
		return console.Report{}, err
	}
	out := console.Report{From: from, To: to}
	for _, g := range r.Goals {
		line := console.ReportLine{Measure: g.Key, Goal: g.Target, Actual: g.Actual, Met: g.Met}
		if g.Key == "group_completion_rate" {
			b := r.Groups.ByGender
			line.ByGender = map[string]float64{"female": b.Female.CompletionRate, "male": b.Male.CompletionRate,
				"other": b.Other.CompletionRate, "unspecified": b.Unspecified.CompletionRate}
		}
		out.Lines = append(out.Lines, line)
	}
	out.Figures = consoleFigures(r)
	return out, nil
}

// consoleFigures are the report's main figures, by gender where the
// outcomes report splits them (outings it does not).
func consoleFigures(r outcomes.Report) []console.ReportFigure {
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

func (c ConsoleReports) OutcomeCSV(ctx context.Context, who auth.Identity, from, to time.Time, w io.Writer) error {
	r, err := c.report(ctx, who, from, to)
	if err != nil {
		return err
	}
	b, err := r.CSV()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ConsoleProgress adapts the outcomes service to a participant's page:
// their latest wellbeing answers and milestones.
type ConsoleProgress struct{ O *outcomes.Service }

func (p ConsoleProgress) Progress(ctx context.Context, who auth.Identity, participantID string) ([]console.WellbeingAnswer, []console.MilestoneMark, error) {
	cs, err := p.O.ParticipantCheckins(ctx, who, who.OrgID, participantID, outcomes.MaxListLimit)
	if err != nil {
		return nil, nil, err
	}
	ms, err := p.O.Milestones(ctx, who, who.OrgID, participantID, outcomes.MaxListLimit)
	if err != nil {
		return nil, nil, err
	}
	return progressOf(cs.Items, ms.Items)
}

func progressOf(cs []outcomes.Checkin, ms []outcomes.Milestone) ([]console.WellbeingAnswer, []console.MilestoneMark, error) {
	answers := make([]console.WellbeingAnswer, len(cs))
	for i, c := range cs {
		answers[i] = console.WellbeingAnswer{At: c.At, Confidence: c.Confidence, Social: c.Social, Occupation: c.Occupation}
	}
	marks := make([]console.MilestoneMark, 0, len(ms))
	for _, m := range ms {
		on, err := time.Parse(time.DateOnly, m.On)
		if err != nil {
			return nil, nil, err
		}
		marks = append(marks, console.MilestoneMark{On: on, Kind: m.Kind})
	}
	return answers, marks, nil
}
