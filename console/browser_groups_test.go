package console_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/outcomes"
)

// The Groups pages and the Reports page in the browser, on the real groups
// and outcomes services: a coordinator marks attendance in a session's
// register (three marks), then downloads the report's CSV, which has the
// JSON report's figures for the same period.
func TestBrowserGroupsRegisterAndReport(t *testing.T) {
	d := &domains{}
	e := newEnvWith(t, withDomains(d))
	pia := e.user(auth.RoleParticipant, e.Org, auth.StatusActive, "Pia Ek")
	per := e.user(auth.RoleParticipant, e.Org, auth.StatusActive, "Per Lind")
	g, ss := d.runningGroup(e, "Samtalsgrupp Norr", pia, per)
	ctx := tab(t)
	browserSignIn(t, ctx, e, e.Coord)

	run(t, ctx, chromedp.Navigate(e.URL+"/console/groups"), chromedp.WaitVisible(`a[href="/console/groups/`+g.ID+`"]`))
	axe(t, ctx, "11-groups")
	shoot(t, ctx, "11-groups")
	run(t, ctx, chromedp.Click(`a[href="/console/groups/`+g.ID+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`a[href="/console/sessions/`+ss[0].ID+`"]`))
	axe(t, ctx, "12-group")
	shoot(t, ctx, "12-group")
	run(t, ctx, chromedp.Click(`a[href="/console/sessions/`+ss[0].ID+`"]`, chromedp.ByQuery), chromedp.WaitVisible("table.list"))

	// Pia present, Per excused, then Per absent after all: each click is
	// one form post and the register shows the mark pressed.
	mark := func(p person, m string) {
		t.Helper()
		sel := `input[value="` + p.ID + `"] ~ button[value="` + m + `"]`
		run(t, ctx, chromedp.Click(sel, chromedp.ByQuery), chromedp.WaitVisible(sel+`[aria-pressed="true"]`, chromedp.ByQuery))
	}
	mark(pia, "present")
	mark(per, "excused")
	mark(per, "absent")
	axe(t, ctx, "13-register")
	shoot(t, ctx, "13-register")
	_, lines, err := d.Groups.SessionRegister(context.Background(), e.Coord.Who, ss[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range lines {
		got[l.ParticipantID] = l.Mark
	}
	if got[pia.ID] != "present" || got[per.ID] != "absent" {
		t.Fatalf("stored marks %v, want Pia present, Per absent", got)
	}
	var pressed int
	run(t, ctx, chromedp.Evaluate(`document.querySelectorAll('button[aria-pressed="true"]').length`, &pressed))
	if pressed != 2 {
		t.Fatalf("%d marks pressed, want 2 (one per participant)", pressed)
	}

	// Reports: the figures of November; the CSV behind the download link.
	run(t, ctx, chromedp.Navigate(e.URL+"/console/reports?from=2026-11-01&to=2026-11-30"), chromedp.WaitVisible("table.list"))
	axe(t, ctx, "14-reports")
	shoot(t, ctx, "14-reports")
	var body string
	run(t, ctx, chromedp.Evaluate(`fetch(document.querySelector('a[download]').href).then(r => r.text())`, &body,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	rep, err := d.Outcomes.Report(context.Background(), e.Coord.Who, e.Org, "2026-11-01", "2026-11-30")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(rep)
	want, err := outcomes.FlattenJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	csvFig := map[string]string{}
	for _, r := range rows[1:] {
		csvFig[r[0]+"|"+r[1]] = r[2]
	}
	if len(csvFig) != len(want) {
		t.Errorf("csv has %d figures, the JSON report %d", len(csvFig), len(want))
	}
	for _, w := range want {
		if csvFig[w[0]+"|"+w[1]] != w[2] {
			t.Errorf("csv %s (%s) = %q, JSON %q", w[0], w[1], csvFig[w[0]+"|"+w[1]], w[2])
		}
	}
	if csvFig["groups.enrolled|all"] != "2" || csvFig["participants.served|all"] != "2" {
		t.Errorf("csv: %s enrolled, %s served; want 2 and 2", csvFig["groups.enrolled|all"], csvFig["participants.served|all"])
	}
	reportPrints(t, ctx, e.URL+"/console/reports?from=2026-11-01&to=2026-11-30")
}

// A participant's page draws their wellbeing answers and milestones as
// server-rendered SVG charts, from the real outcomes service.
func TestBrowserPersonProgressCharts(t *testing.T) {
	d := &domains{}
	e := newEnvWith(t, withDomains(d))
	pia := e.user(auth.RoleParticipant, e.Org, auth.StatusActive, "Pia Ek")
	bg := context.Background()
	for _, a := range []outcomes.CheckinInput{{Confidence: 2, Social: 1, Occupation: 2}, {Confidence: 3, Social: 2, Occupation: 2}, {Confidence: 4, Social: 4, Occupation: 3}} {
		if _, err := d.Outcomes.AddCheckin(bg, pia.Who, a); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(30 * 24 * time.Hour)
	}
	for _, m := range []outcomes.MilestoneInput{{Kind: "work_practice", On: "2026-12-01"}, {Kind: "job", On: "2027-01-20"}} {
		if _, err := d.Outcomes.AddMilestone(bg, e.Coord.Who, e.Org, pia.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	g, _ := d.runningGroup(e, "Samtalsgrupp Norr", pia)
	ctx := tab(t)
	browserSignIn(t, ctx, e, e.Coord)
	run(t, ctx, chromedp.Navigate(e.URL+"/console/people/"+pia.ID), chromedp.WaitVisible("svg.wb"), chromedp.WaitVisible("svg.timeline"))
	var groupsText string
	run(t, ctx, chromedp.Evaluate(`document.querySelector('section[aria-labelledby="groups-h"]').textContent`, &groupsText))
	if !strings.Contains(groupsText, "Samtalsgrupp Norr") || !strings.Contains(groupsText, "Deltar") {
		t.Fatalf("groups on the participant's page: %q", groupsText)
	}
	var link int
	run(t, ctx, chromedp.Evaluate(`document.querySelectorAll('section[aria-labelledby="groups-h"] a[href="/console/groups/`+g.ID+`"]').length`, &link))
	if link != 1 {
		t.Fatalf("%d links to the group", link)
	}
	var dots, marks int
	run(t, ctx, chromedp.Evaluate(`document.querySelectorAll("svg.wb circle").length`, &dots),
		chromedp.Evaluate(`document.querySelectorAll("svg.timeline circle.milestone").length`, &marks))
	if dots != 9 || marks != 2 {
		t.Fatalf("%d wellbeing dots (want 3 answers × 3), %d milestones (want 2)", dots, marks)
	}
	var s string
	run(t, ctx, chromedp.Evaluate(`document.querySelector("svg.timeline").textContent`, &s))
	if !strings.Contains(s, "Praktik") || !strings.Contains(s, "Arbete") {
		t.Fatalf("timeline labels: %q", s)
	}
	axe(t, ctx, "15-person-progress")
	shoot(t, ctx, "15-person-progress")
}
