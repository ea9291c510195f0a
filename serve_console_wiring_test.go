package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/outcomes"
	"github.com/clavis-app/clavis/wiring"
)

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// The console's Groups and Reports pages on the real groups and outcomes
// services, through the wiring package's adapters, as main builds them: a coordinator marks a participant
// excused in a session's register, and the report's CSV counts the group's
// enrolments as the report does.
func TestConsoleOnRealGroupsAndOutcomes(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	db := sqlitetest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ast, err := auth.NewSQLiteStore(ctx, db)
	must(t, err)
	accounts, err := auth.New(ctx, auth.Config{Store: ast, Keys: auth.NewKeySet(priv), Clock: clk, Hash: auth.TestHashParams})
	must(t, err)
	mst, err := matching.NewSQLiteStore(ctx, db)
	must(t, err)
	outings, err := matching.NewService(ctx, mst, matching.Config{Clock: clk, Directory: matching.AccountsDirectory(accounts)})
	must(t, err)
	matcher, err := matching.NewMatcher(ctx, outings, matching.MatcherConfig{})
	must(t, err)
	gst, err := groups.NewSQLiteStore(ctx, db)
	must(t, err)
	grp, err := groups.NewService(groups.Config{Store: gst, Directory: accounts, Clock: clk, Logger: log})
	must(t, err)
	ost, err := outcomes.NewSQLiteStore(ctx, db)
	must(t, err)
	oc, err := outcomes.New(outcomes.Config{Store: ost, Clock: clk, Logger: log, Members: wiring.OutcomeMembers{A: accounts},
		Outings: wiring.OutcomeOutings{M: outings}, People: outings, Groups: wiring.OutcomeGroups{G: grp}})
	must(t, err)
	mount, err := consoleMount(config{}, accounts, outings, matcher, clk, log, grp, oc)
	must(t, err)
	idem, err := api.NewIdempotencySQLite(ctx, db)
	must(t, err)
	srv, err := api.New(api.Deps{Logger: log, DB: db, Auth: accounts, Accounts: accounts, Clock: clk, Idempotency: idem,
		Matching: outings, Matcher: matcher, Extra: mount})
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	go func() { _ = srv.App.Listener(ln) }()
	t.Cleanup(func() { _ = srv.App.ShutdownWithTimeout(2 * time.Second) })
	base := "http://" + ln.Addr().String()

	org, err := accounts.CreateOrganisation(ctx, "Röda Korset Halmstad", "Europe/Stockholm")
	must(t, err)
	const pw = "correct horse battery staple"
	user := func(role auth.Role, email, name string) auth.User {
		u, err := accounts.CreateUser(ctx, auth.NewUser{Email: email, Password: pw, Name: name, Role: role, OrgID: org.ID, Language: "sv", Status: auth.StatusActive})
		must(t, err)
		return u
	}
	user(auth.RoleCoordinator, "cora@example.org", "Cora Berg")
	pia, per := user(auth.RoleParticipant, "pia@example.org", "Pia Ek"), user(auth.RoleParticipant, "per@example.org", "Per Lind")

	// A group that began two days ago, meeting daily at 09:00.
	loc, _ := time.LoadLocation("Europe/Stockholm")
	var weekly []groups.Slot
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		weekly = append(weekly, groups.Slot{Weekday: d, Start: "09:00", End: "10:00"})
	}
	g := &groups.Group{ID: ids.New(), OrgID: org.ID, Name: "Samtalsgrupp Norr", Kind: groups.KindThemeGroup, TimeZone: "Europe/Stockholm",
		FirstDay: clk.Now().AddDate(0, 0, -2).In(loc).Format(time.DateOnly), Weeks: 2, Weekly: weekly, Capacity: 5, CompletionThreshold: 0.75,
		Place: groups.Place{Description: "Biblioteket"}, CreatedAt: clk.Now()}
	ss, err := groups.GenerateSessions(g.ID, org.ID, g.FirstDay, g.Weeks, weekly, loc, ids.New)
	must(t, err)
	g.StartsAt, g.EndsAt = ss[0].StartsAt, ss[len(ss)-1].EndsAt
	must(t, gst.CreateGroup(ctx, g, ss))
	for _, p := range []auth.User{pia, per} {
		_, err := gst.Enrol(ctx, groups.Enrolment{ID: ids.New(), GroupID: g.ID, ParticipantID: p.ID, At: clk.Now()}, g.Capacity)
		must(t, err)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(base + path)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	post := func(path string, form url.Values) string {
		t.Helper()
		resp, err := c.PostForm(base+path, form)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	m := consoleCSRF.FindStringSubmatch(get("/console/login"))
	body := post("/console/login", url.Values{"csrf": {m[1]}, "email": {"cora@example.org"}, "password": {pw}})
	csrf := consoleCSRF.FindStringSubmatch(body)[1]

	if body := get("/console/groups"); !strings.Contains(body, "Samtalsgrupp Norr") || !strings.Contains(body, "/console/groups/"+g.ID) {
		t.Fatalf("groups page lacks the group: %s", body)
	}
	if body := get("/console/groups/" + g.ID); !strings.Contains(body, "/console/sessions/"+ss[0].ID) || !strings.Contains(body, "Biblioteket") {
		t.Fatalf("group page lacks its first session: %s", body)
	}
	body = post("/console/sessions/"+ss[0].ID+"/attendance", url.Values{"csrf": {csrf}, "participant": {per.ID}, "mark": {"excused"}})
	if !strings.Contains(body, "Per Lind") || !regexp.MustCompile(`value="excused" aria-pressed="true"`).MatchString(body) {
		t.Fatalf("register after marking Per excused: %s", body)
	}
	_, lines, err := grp.SessionRegister(ctx, auth.Identity{UserID: "x", Role: auth.RoleCoordinator, OrgID: org.ID, Status: auth.StatusActive}, ss[0].ID)
	must(t, err)
	marks := map[string]string{}
	for _, l := range lines {
		marks[l.ParticipantID] = l.Mark
	}
	if marks[per.ID] != groups.MarkExcused || marks[pia.ID] != "" {
		t.Fatalf("stored marks %v, want Per excused and Pia unmarked", marks)
	}

	// Pia's page draws her wellbeing answers (ConsoleProgress).
	piaWho := auth.Identity{UserID: pia.ID, Role: auth.RoleParticipant, OrgID: org.ID, Status: auth.StatusActive}
	_, err = oc.AddCheckin(ctx, piaWho, outcomes.CheckinInput{Confidence: 2, Social: 3, Occupation: 4})
	must(t, err)
	if body := get("/console/people/" + pia.ID); !strings.Contains(body, `class="chart wb"`) || strings.Count(body, `<circle`) != 3 {
		t.Fatalf("Pia's page lacks her wellbeing chart: %s", body)
	}

	q := "?from=2026-11-01&to=2026-11-30"
	// The goals in words, and the figures by gender from ConsoleReports.
	body = get("/console/reports" + q)
	for _, want := range []string{"Andel som fullföljt en grupp", "Inte uppfyllt",
		`<th scope="row">Inskrivna i grupper</th><td class="num">2</td><td class="num">0</td><td class="num">0</td><td class="num">0</td><td class="num">2</td>`,
		`<th scope="row">Deltagare som fått stöd</th><td class="num">2</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("reports page lacks %s", want)
		}
	}
	if strings.Contains(body, "group_completion_rate") {
		t.Fatalf("reports page shows a raw goal key: %s", body)
	}
	rows, err := csv.NewReader(strings.NewReader(get("/console/reports.csv" + q))).ReadAll()
	must(t, err)
	got := map[string]string{}
	for _, r := range rows {
		got[r[0]+"|"+r[1]] = r[2]
	}
	if got["groups.enrolled|all"] != "2" || got["groups.enrolled|unspecified"] != "2" || got["participants.served|all"] != "2" {
		t.Fatalf("csv figures: enrolled %q (unspecified %q), served %q; want 2, 2, 2", got["groups.enrolled|all"],
			got["groups.enrolled|unspecified"], got["participants.served|all"])
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
