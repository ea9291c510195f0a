package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/outcomes"
)

// fakeGroups stands in for the groups package: enrolments by id.
type fakeGroups struct{ rows []outcomes.GroupEnrolment }

func (g *fakeGroups) GroupFigures(context.Context, string, time.Time, time.Time) ([]outcomes.GroupEnrolment, error) {
	return append([]outcomes.GroupEnrolment(nil), g.rows...), nil
}

func (g *fakeGroups) EnrolmentIDsOf(_ context.Context, participantID string) ([]string, error) {
	var out []string
	for _, r := range g.rows {
		if r.ParticipantID == participantID {
			out = append(out, r.EnrolmentID)
		}
	}
	return out, nil
}

// erase does what the groups package's erasure would: the id goes.
func (g *fakeGroups) erase(id string) {
	for i := range g.rows {
		if g.rows[i].ParticipantID == id {
			g.rows[i].ParticipantID = outcomes.ErasedID
		}
	}
}

type fakeExpenses int64

func (x fakeExpenses) ApprovedExpensesOre(context.Context, string, time.Time, time.Time) (int64, error) {
	return int64(x), nil
}

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func ip(n int) *int { return &n }

// outcomeFixture is the hand-built organisation of docs/outcomes.md's
// worked example; every figure of its report for 2026-01-01..2026-06-30 is
// worked out by hand in wantFixtureReport.
type outcomeFixture struct {
	org, coord string
	p          [6]person // p[1]..p[5]
	v          [4]person // v[1]..v[3]
	groups     *fakeGroups
}

func buildOutcomeFixture(t *testing.T, e *testEnv) *outcomeFixture {
	t.Helper()
	ctx := context.Background()
	f := &outcomeFixture{org: e.Org("Klara Livet Halmstad")}
	_, f.coord = e.User(auth.RoleCoordinator, f.org, auth.StatusActive)
	for i := 1; i <= 5; i++ {
		f.p[i] = newPerson(e, auth.RoleParticipant, f.org)
	}
	for i := 1; i <= 3; i++ {
		f.v[i] = newPerson(e, auth.RoleVolunteer, f.org)
	}
	// Genders: P1, P2 female, P3 male, P4 other; P5 has no profile (unspecified).
	for i, g := range map[int]string{1: "female", 2: "female", 3: "male", 4: "other"} {
		st, body := e.Call("PUT", "/v1/participants/me/profile", f.p[i].Token, map[string]any{"languages": []string{"sv"}, "companion_gender": "any", "gender": g})
		e.Want(st, body, 200)
	}
	type o struct {
		id            string
		p, v          int
		status        matching.OutingStatus
		created       string
		waitMin       int // minutes to the first confirmation; -1 never
		start         string
		hours         float64
		before, after int
	}
	outings := []o{
		{"O1", 1, 1, matching.StatusCompleted, "2026-01-10 10:00", 60, "2026-01-15 10:00", 2, 2, 4},
		{"O2", 1, 1, matching.StatusCompleted, "2026-02-01 10:00", 30, "2026-02-05 10:00", 1, 3, 3},
		{"O3", 1, 2, matching.StatusCompleted, "2026-03-01 10:00", 120, "2026-03-03 14:00", 1.5, 0, 0},
		{"O4", 2, 2, matching.StatusCompleted, "2026-01-20 09:00", 10, "2026-01-22 10:00", 2, 1, 3},
		{"O5", 2, 2, matching.StatusCompleted, "2026-04-01 10:00", 20, "2026-04-03 10:00", 1, 4, 2},
		{"O6", 3, 3, matching.StatusCompleted, "2026-05-01 10:00", 240, "2026-05-02 10:00", 2, 0, 0},
		{"O7", 3, 0, matching.StatusCancelled, "2026-05-05 10:00", -1, "2026-05-09 10:00", 1, 0, 0},
		{"O8", 4, 0, matching.StatusExpired, "2026-06-01 10:00", -1, "2026-06-03 10:00", 1, 0, 0},
		{"O9", 5, 0, matching.StatusOpen, "2026-06-10 10:00", -1, "2026-12-10 10:00", 1, 0, 0},
		{"O10", 4, 1, matching.StatusConfirmed, "2026-06-15 10:00", 90, "2026-12-01 10:00", 1, 0, 0},
		{"O11", 1, 1, matching.StatusCompleted, "2025-12-15 10:00", 10, "2025-12-20 10:00", 1, 1, 5}, // before the period
		{"O12", 2, 2, matching.StatusCompleted, "2026-07-05 10:00", 10, "2026-07-06 10:00", 1, 1, 5}, // after it
	}
	for _, x := range outings {
		created, start := day(x.created), day(x.start)
		out := &matching.Outing{ID: f.org + "-" + x.id, ParticipantID: f.p[x.p].ID, OrgID: f.org, Kind: matching.KindCafe,
			StartsAt: start, EndsAt: start.Add(time.Duration(x.hours * float64(time.Hour))), CompanionGender: "any", Language: "sv",
			MeetingPoint: matching.MeetingPoint{Lat: 56.67, Lon: 12.86, Description: "Stora torg"},
			Status:       x.status, CreatedAt: created, CreatedBy: f.p[x.p].ID, UpdatedAt: created, Version: 1,
			History:            []matching.HistoryEntry{{At: created, ActorID: f.p[x.p].ID, To: matching.StatusOpen}},
			ExcludedVolunteers: []string{}, DeclinedBy: []string{}, PendingEvents: []matching.Event{}}
		if x.v > 0 {
			out.VolunteerID = f.v[x.v].ID
		}
		if x.waitMin >= 0 {
			at := created.Add(time.Duration(x.waitMin) * time.Minute)
			out.History = append(out.History,
				matching.HistoryEntry{At: at.Add(-time.Minute), ActorID: out.VolunteerID, From: matching.StatusOpen, To: matching.StatusPendingApproval},
				matching.HistoryEntry{At: at, ActorID: "coord", From: matching.StatusPendingApproval, To: matching.StatusConfirmed})
		}
		if err := e.Matching.InsertOuting(ctx, out); err != nil {
			t.Fatal(err)
		}
		if x.before > 0 {
			fb := &matching.Feedback{ID: out.ID + ":p", OutingID: out.ID, OrgID: f.org, AuthorID: out.ParticipantID, AuthorRole: auth.RoleParticipant,
				ParticipantID: out.ParticipantID, VolunteerID: out.VolunteerID, Rating: 5, Comment: "bra", ComfortBefore: ip(x.before), ComfortAfter: ip(x.after), CreatedAt: out.EndsAt}
			if err := e.Matching.InsertFeedback(ctx, fb); err != nil {
				t.Fatal(err)
			}
			// The volunteer's feedback carries no comfort and must not count.
			vfb := &matching.Feedback{ID: out.ID + ":v", OutingID: out.ID, OrgID: f.org, AuthorID: out.VolunteerID, AuthorRole: auth.RoleVolunteer,
				ParticipantID: out.ParticipantID, VolunteerID: out.VolunteerID, Rating: 4, CreatedAt: out.EndsAt}
			if err := e.Matching.InsertFeedback(ctx, vfb); err != nil {
				t.Fatal(err)
			}
		}
	}
	v, _ := envOutcomes.Load(e)
	st := v.(outcomes.Store)
	checkins := []struct {
		p                   int
		at                  string
		conf, social, occup int
	}{
		{1, "2025-11-01 09:00", 2, 2, 1}, {1, "2026-03-01 09:00", 3, 2, 2}, {1, "2026-06-01 09:00", 4, 1, 2},
		{2, "2026-02-01 09:00", 2, 2, 2}, {2, "2026-05-01 09:00", 2, 3, 2},
		{3, "2026-01-15 09:00", 3, 3, 3},
		{4, "2026-01-05 09:00", 1, 1, 1}, {4, "2026-07-10 09:00", 5, 5, 5},
		{5, "2025-10-01 09:00", 2, 2, 2}, {5, "2026-04-01 09:00", 3, 3, 3},
	}
	for i, c := range checkins {
		if err := st.InsertCheckin(ctx, &outcomes.Checkin{ID: fmt.Sprintf("%s-c%d", f.org, i), UserID: f.p[c.p].ID, OrgID: f.org, At: day(c.at),
			Confidence: c.conf, Social: c.social, Occupation: c.occup}); err != nil {
			t.Fatal(err)
		}
	}
	milestones := []struct {
		p        int
		kind, on string
	}{{1, "job", "2026-03-15"}, {1, "study", "2026-05-01"}, {3, "work_practice", "2026-02-10"},
		{4, "meaningful_occupation", "2025-12-20"}, {5, "meaningful_occupation", "2026-06-30"}}
	for _, m := range milestones {
		st, body := e.Call("POST", "/v1/organisations/"+f.org+"/participants/"+f.p[m.p].ID+"/milestones", f.coord,
			map[string]any{"kind": m.kind, "on": m.on, "note": "noted by hand"})
		e.Want(st, body, 201)
	}
	pulses := []struct {
		v            int
		at           string
		secure, info int
	}{{1, "2026-02-01 12:00", 4, 3}, {2, "2026-05-01 12:00", 5, 4}, {3, "2026-07-01 12:00", 1, 1}}
	for i, p := range pulses {
		if err := st.InsertPulse(ctx, &outcomes.Pulse{ID: fmt.Sprintf("%s-u%d", f.org, i), UserID: f.v[p.v].ID, OrgID: f.org, At: day(p.at),
			SecureInRole: p.secure, InformationGood: p.info}); err != nil {
			t.Fatal(err)
		}
	}
	f.groups = &fakeGroups{rows: []outcomes.GroupEnrolment{
		{EnrolmentID: "e1", ParticipantID: f.p[1].ID, Completed: true},
		{EnrolmentID: "e2", ParticipantID: f.p[2].ID},
		{EnrolmentID: "e4", ParticipantID: f.p[4].ID, Completed: true},
		{EnrolmentID: "e5", ParticipantID: f.p[5].ID},
	}}
	envGroupStandIns.Store(e, f.groups)
	envExpenseStandIns.Store(e, outcomes.Expenses(fakeExpenses(12345)))
	st2, body := e.Call("PUT", "/v1/organisations/"+f.org+"/goals", f.coord, map[string]any{
		"participants": 4, "group_completion_rate": 0.5, "confidence_improved_share": 0.7, "social_improved_share": 0.25, "milestone_people": 3})
	e.Want(st2, body, 200)
	return f
}

// wantFixtureReport is the report worked out by hand (docs/outcomes.md, "Worked example").
func wantFixtureReport(org string) string {
	zeroW := `{"followed_up":0,"confidence_improved_share":0,"social_improved_share":0}`
	return `{"organisation_id":"` + org + `","from":"2026-01-01","to":"2026-06-30",
	"participants":{"served":5,"by_gender":{"female":{"served":2},"male":{"served":1},"other":{"served":1},"unspecified":{"served":1}}},
	"outings":{"requested":10,"matched":7,"completed":6,"cancelled":1,"expired":1,"postponed":0,"median_minutes_to_match":60,"familiar_share":0.6667},
	"comfort":{"pairs":4,"mean_change":0.5,"improved_share":0.5},
	"groups":{"enrolled":4,"completed":2,"completion_rate":0.5,"by_gender":{
		"female":{"enrolled":2,"completed":1,"completion_rate":0.5},"male":{"enrolled":0,"completed":0,"completion_rate":0},
		"other":{"enrolled":1,"completed":1,"completion_rate":1},"unspecified":{"enrolled":1,"completed":0,"completion_rate":0}}},
	"wellbeing":{"followed_up":3,"confidence_improved_share":0.6667,"social_improved_share":0.6667,"by_gender":{
		"female":{"followed_up":2,"confidence_improved_share":0.5,"social_improved_share":0.5},"male":` + zeroW + `,"other":` + zeroW + `,
		"unspecified":{"followed_up":1,"confidence_improved_share":1,"social_improved_share":1}}},
	"milestones":{"people":3,"by_kind":{"work_practice":1,"job":1,"study":1,"meaningful_occupation":1},
		"by_gender":{"female":{"people":1},"male":{"people":1},"other":{"people":0},"unspecified":{"people":1}}},
	"volunteers":{"active":3,"hours":9.5,"load_gini":0.2222,"pulse":{"answers":2,"secure_mean":4.5,"information_mean":3.5}},
	"expenses":{"approved_ore":12345},
	"goals":[{"key":"participants","target":4,"actual":5,"met":true},
		{"key":"group_completion_rate","target":0.5,"actual":0.5,"met":true},
		{"key":"confidence_improved_share","target":0.7,"actual":0.6667,"met":false},
		{"key":"social_improved_share","target":0.25,"actual":0.6667,"met":true},
		{"key":"milestone_people","target":3,"actual":3,"met":true}]}`
}

func canonicalJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	out, _ := json.MarshalIndent(v, "", " ")
	return string(out)
}

// flattenForCSV is the test's own reading of the JSON as CSV rows: a
// number's path is the figure, by_gender.<g> moves to the gender column,
// goals are named by key.
func flattenForCSV(prefix []string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			flattenForCSV(append(append([]string{}, prefix...), k), val, out)
		}
	case []any:
		for _, it := range x {
			obj := it.(map[string]any)
			key := obj["key"].(string)
			for k, val := range obj {
				if k != "key" {
					flattenForCSV(append(append([]string{}, prefix...), key, k), val, out)
				}
			}
		}
	default:
		gender, fig := "all", prefix
		for i := 0; i+1 < len(prefix); i++ {
			if prefix[i] == "by_gender" {
				gender = prefix[i+1]
				fig = append(append([]string{}, prefix[:i]...), prefix[i+2:]...)
			}
		}
		var s string
		switch y := x.(type) {
		case float64:
			s = strconv.FormatFloat(y, 'f', -1, 64)
		case bool:
			s = strconv.FormatBool(y)
		default:
			s = fmt.Sprint(y)
		}
		out[strings.Join(fig, ".")+"|"+gender] = s
	}
}

func csvRows(t *testing.T, body []byte) map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	if strings.Join(recs[0], ",") != "figure,gender,value" {
		t.Fatalf("csv header %v", recs[0])
	}
	out := map[string]string{}
	for _, r := range recs[1:] {
		k := r[0] + "|" + r[1]
		if _, dup := out[k]; dup {
			t.Fatalf("csv repeats %s", k)
		}
		out[k] = r[2]
	}
	return out
}

func (e *testEnv) getReport(t *testing.T, org, token, query, accept, suffix string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", "/v1/organisations/"+org+"/reports/outcomes"+suffix+"?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := e.Srv.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("report %s: %d %s", suffix, res.StatusCode, buf.String())
	}
	wantType := "application/json"
	if accept == "text/csv" || suffix == ".csv" {
		wantType = "text/csv"
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
		t.Fatalf("Content-Type %q, want %s", ct, wantType)
	}
	return buf.Bytes()
}

func TestOutcomeReportOfTheHandBuiltFixture(t *testing.T) {
	e := newTestEnv(t)
	f := buildOutcomeFixture(t, e)
	q := "from=2026-01-01&to=2026-06-30"
	got := e.getReport(t, f.org, f.coord, q, "", "")
	if g, w := canonicalJSON(t, got), canonicalJSON(t, []byte(wantFixtureReport(f.org))); g != w {
		t.Fatalf("report:\n%s\nwant (by hand):\n%s", g, w)
	}
	// CSV, both ways of asking, equal to the JSON figure by figure.
	var doc any
	_ = json.Unmarshal(got, &doc)
	want := map[string]string{}
	flattenForCSV(nil, doc, want)
	for _, how := range []struct{ accept, suffix string }{{"text/csv", ""}, {"", ".csv"}} {
		rows := csvRows(t, e.getReport(t, f.org, f.coord, q, how.accept, how.suffix))
		if len(rows) != len(want) {
			t.Errorf("csv (%s%s) has %d rows, JSON %d figures", how.accept, how.suffix, len(rows), len(want))
		}
		for k, w := range want {
			if rows[k] != w {
				t.Errorf("csv (%s%s) %s = %q, JSON %q", how.accept, how.suffix, k, rows[k], w)
			}
		}
	}
	// A few rows spelled out, as a funder's spreadsheet reads them.
	csvBody := e.getReport(t, f.org, f.coord, q, "text/csv", "")
	if dir := os.Getenv("CLAVIS_FIXTURE_OUT"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "fixture-report.json"), []byte(canonicalJSON(t, got)+"\n"), 0o644)
		_ = os.WriteFile(filepath.Join(dir, "fixture-report.csv"), csvBody, 0o644)
	}
	rows := csvRows(t, csvBody)
	for k, w := range map[string]string{"participants.served|all": "5", "participants.served|female": "2",
		"wellbeing.confidence_improved_share|female": "0.5", "goals.confidence_improved_share.met|all": "false",
		"volunteers.load_gini|all": "0.2222", "groups.completion_rate|other": "1", "milestones.by_kind.job|all": "1"} {
		if rows[k] != w {
			t.Errorf("csv %s = %q, want %q", k, rows[k], w)
		}
	}

	// Two participants erase their accounts: the same report, to the figure.
	for _, i := range []int{1, 3} {
		st, body := e.Call("DELETE", "/v1/me", f.p[i].Token, nil)
		e.Want(st, body, 204)
		f.groups.erase(f.p[i].ID)
	}
	after := e.getReport(t, f.org, f.coord, q, "", "")
	if g, w := canonicalJSON(t, after), canonicalJSON(t, got); g != w {
		t.Fatalf("after erasing two participants the report changed:\n%s\nbefore:\n%s", g, w)
	}
	// ...and nothing outcomes keeps names them, nor keeps their notes.
	for _, i := range []int{1, 3} {
		for _, q := range []string{`SELECT count(*) FROM wellbeing_checkins WHERE user_id = ?`, `SELECT count(*) FROM milestones WHERE participant_id = ?`,
			`SELECT count(*) FROM outcome_asks WHERE user_id = ?`, `SELECT count(*) FROM outcome_tombstones WHERE doc LIKE '%' || ? || '%'`} {
			var n int
			if err := e.SQL.QueryRow(q, f.p[i].ID).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s for an erased participant: %d %v", q, n, err)
			}
		}
	}
	var notes int
	_ = e.SQL.QueryRow(`SELECT count(*) FROM milestones WHERE organisation_id = ? AND note != ''`, f.org).Scan(&notes)
	if notes != 2 { // P4's and P5's stay
		t.Errorf("%d milestone notes left, want 2 (the erased participants' go)", notes)
	}
}

func TestOutcomeBadInput(t *testing.T) {
	e := newTestEnv(t)
	org, other := e.Org("A"), e.Org("B")
	_, coord := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	p := newPerson(e, auth.RoleParticipant, org)
	foreign := newPerson(e, auth.RoleParticipant, other)
	v, _ := envOutcomes.Load(e)
	count := func() int {
		var n int
		_ = e.SQL.QueryRow(`SELECT (SELECT count(*) FROM wellbeing_checkins) + (SELECT count(*) FROM milestones) + (SELECT count(*) FROM volunteer_pulse) + (SELECT count(*) FROM outcome_goals)`).Scan(&n)
		return n
	}
	_ = v
	cases := []struct {
		method, path, token string
		body                any
		status              int
		field               string
	}{
		{"POST", "/v1/participants/me/wellbeing", p.Token, map[string]any{"confidence": 6, "social": 3, "occupation": 3}, 422, "confidence"},
		{"POST", "/v1/participants/me/wellbeing", p.Token, map[string]any{"confidence": 3, "social": 0, "occupation": 3}, 422, "social"},
		{"POST", "/v1/participants/me/wellbeing", p.Token, map[string]any{"confidence": 3, "social": 3}, 422, "occupation"},
		{"POST", "/v1/organisations/" + org + "/participants/" + p.ID + "/milestones", coord, map[string]any{"kind": "job", "on": "2026-11-27"}, 422, "on"},
		{"POST", "/v1/organisations/" + org + "/participants/" + p.ID + "/milestones", coord, map[string]any{"kind": "job", "on": "25/11/2026"}, 422, "on"},
		{"POST", "/v1/organisations/" + org + "/participants/" + p.ID + "/milestones", coord, map[string]any{"kind": "retired", "on": "2026-11-20"}, 422, "kind"},
		{"POST", "/v1/organisations/" + org + "/participants/" + foreign.ID + "/milestones", coord, map[string]any{"kind": "job", "on": "2026-11-20"}, 404, ""},
		{"PUT", "/v1/organisations/" + org + "/goals", coord, map[string]any{"participants": 10, "group_completion_rate": 1.5, "confidence_improved_share": 0.5, "social_improved_share": 0.2, "milestone_people": 1}, 422, "group_completion_rate"},
		{"GET", "/v1/organisations/" + org + "/reports/outcomes?from=2026-06-01&to=2026-05-31", coord, nil, 422, "to"},
		{"GET", "/v1/organisations/" + org + "/reports/outcomes?from=2020-01-01&to=2025-01-02", coord, nil, 422, "to"},
		{"GET", "/v1/organisations/" + org + "/reports/outcomes?from=2026-01-01", coord, nil, 422, "to"},
		{"GET", "/v1/organisations/" + org + "/participants/" + foreign.ID + "/wellbeing", coord, nil, 404, ""},
	}
	for _, c := range cases {
		before := count()
		st, body := e.Call(c.method, c.path, c.token, c.body)
		if st != c.status {
			t.Errorf("%s %s %v: %d %s, want %d", c.method, c.path, c.body, st, body, c.status)
			continue
		}
		if c.field != "" {
			if pr := e.Problem(body); !strings.Contains(string(body), `"`+c.field+`"`) {
				t.Errorf("%s %s: problem %+v does not name %s", c.method, c.path, pr, c.field)
			}
		}
		if count() != before {
			t.Errorf("%s %s: something was written", c.method, c.path)
		}
	}
	// Exactly five years is fine; today's milestone too.
	st, body := e.Call("GET", "/v1/organisations/"+org+"/reports/outcomes?from=2020-01-01&to=2025-01-01", coord, nil)
	e.Want(st, body, 200)
	st, body = e.Call("POST", "/v1/organisations/"+org+"/participants/"+p.ID+"/milestones", coord, map[string]any{"kind": "job", "on": testNow.Format("2006-01-02")})
	e.Want(st, body, 201)
	_ = sort.Strings
}

// Gender on the participant profile: optional, one of four, kept when a
// later PUT leaves it out, unspecified until stated.
func TestParticipantGenderForFollowUp(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("A")
	p := newPerson(e, auth.RoleParticipant, org)
	put := func(body map[string]any) (int, []byte) {
		return e.Call("PUT", "/v1/participants/me/profile", p.Token, body)
	}
	base := func(extra map[string]any) map[string]any {
		b := map[string]any{"languages": []string{"sv"}, "companion_gender": "any"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	st, body := put(base(nil))
	e.Want(st, body, 200)
	if !strings.Contains(string(body), `"gender":"unspecified"`) {
		t.Fatalf("no gender stated: %s", body)
	}
	st, body = put(base(map[string]any{"gender": "woman"}))
	if st != 422 || !strings.Contains(string(body), `"field":"gender"`) {
		t.Fatalf("gender woman: %d %s", st, body)
	}
	st, body = put(base(map[string]any{"gender": "other"}))
	e.Want(st, body, 200)
	st, body = put(base(map[string]any{"companion_gender": "female"}))
	e.Want(st, body, 200)
	st, body = e.Call("GET", "/v1/participants/me/profile", p.Token, nil)
	e.Want(st, body, 200)
	if !strings.Contains(string(body), `"gender":"other"`) || !strings.Contains(string(body), `"companion_gender":"female"`) {
		t.Fatalf("after a PUT without gender: %s", body)
	}
}
