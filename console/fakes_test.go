package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http/cookiejar"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/console"
	"github.com/clavis-app/clavis/matching"
)

func newJar() *cookiejar.Jar {
	j, _ := cookiejar.New(nil)
	return j
}

func reqFor(p person, start time.Time) matching.OutingRequest {
	return matching.OutingRequest{ParticipantID: p.ID, Kind: matching.KindWalk, StartsAt: start, EndsAt: start.Add(time.Hour),
		MeetingPoint: matching.MeetingPoint{Lat: 55.7047, Lon: 13.1910, Description: "Lund C"}}
}

// fakeGroups and fakeReports stand in for the groups and outcomes domains
// (issues 14 and 15) until they are wired: they only show that the pages
// plug in.
type fakeGroups struct{}

func (fakeGroups) Groups(context.Context, auth.Identity) ([]console.GroupRow, error) {
	return []console.GroupRow{{ID: "g1", Name: "Promenadgruppen", Members: 6}}, nil
}

func (fakeGroups) Sessions(context.Context, auth.Identity, string) ([]console.SessionRow, error) {
	return []console.SessionRow{{ID: "s1", StartsAt: time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC), Place: "Slottsparken"}}, nil
}

func (fakeGroups) Register(context.Context, auth.Identity, string) ([]console.AttendanceRow, error) {
	return []console.AttendanceRow{{ParticipantID: "p1", Name: "Pia", Mark: "present"}}, nil
}

func (fakeGroups) GroupsOf(context.Context, auth.Identity, string) ([]console.PersonGroup, error) {
	return []console.PersonGroup{{ID: "g1", Name: "Promenadgruppen", Status: "enrolled", Attended: 3, Held: 4}}, nil
}

func (fakeGroups) MarkAttendance(context.Context, auth.Identity, string, string, string) error {
	return nil
}

type fakeReports struct{}

func (fakeReports) OutcomeReport(_ context.Context, _ auth.Identity, from, to time.Time) (console.Report, error) {
	return console.Report{From: from, To: to, Lines: []console.ReportLine{
		{Measure: "participants", Goal: 10, Actual: 12, Met: true},
		{Measure: "group_completion_rate", Goal: 0.75, Actual: 0.5},
	}, Figures: []console.ReportFigure{
		{Measure: "participants.served", Total: 12, ByGender: map[string]float64{"female": 7, "male": 4, "other": 0, "unspecified": 1}},
		{Measure: "outings.requested", Total: 30},
		{Measure: "wellbeing.confidence_improved_share", Total: 0.6, Share: true, ByGender: map[string]float64{"female": 0.5, "male": 0.75}},
	}}, nil
}

func (fakeReports) OutcomeCSV(_ context.Context, _ auth.Identity, _, _ time.Time, w io.Writer) error {
	_, err := fmt.Fprint(w, "measure,goal,actual\noutings,10,12\n")
	return err
}

type cfg = console.Config

func candidatesQuery() matching.CandidatesQuery {
	return matching.CandidatesQuery{Lang: "sv", Limit: 10, IncludeExcluded: true}
}
