package api_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/outcomes"
	"github.com/clavis-app/clavis/wiring"
)

// envOutcomes remembers each test env's outcomes store.
var envOutcomes sync.Map // *testEnv -> outcomes.Store

// testOutcomeOutings is wiring.OutcomeOutings with matching looked up per
// call, because the env's matching service may be added after this one.
type testOutcomeOutings struct{ e *testEnv }

func (o testOutcomeOutings) OutingFacts(ctx context.Context, org string, from, to time.Time) ([]outcomes.OutingFact, error) {
	rows, err := matchingOf(o.e).ReportOutings(ctx, org, from, to)
	out := make([]outcomes.OutingFact, len(rows))
	for i, r := range rows {
		out[i] = outcomes.OutingFact{ID: r.ID, ParticipantID: r.ParticipantID, VolunteerID: r.VolunteerID, Status: string(r.Status),
			CreatedAt: r.CreatedAt, StartsAt: r.StartsAt, EndsAt: r.EndsAt, MatchedAt: r.ConfirmedAt, Postponed: r.PostponeAsks > 0,
			ComfortBefore: r.ComfortBefore, ComfortAfter: r.ComfortAfter}
	}
	return out, err
}

func (o testOutcomeOutings) OutingRolesOf(ctx context.Context, id string) ([]outcomes.OutingRole, error) {
	rows, err := matchingOf(o.e).OutingRolesOf(ctx, id)
	out := make([]outcomes.OutingRole, len(rows))
	for i, r := range rows {
		out[i] = outcomes.OutingRole{OutingID: r.OutingID, Role: r.Role}
	}
	return out, err
}

func (o testOutcomeOutings) ParticipantGender(ctx context.Context, id string) (string, error) {
	return matchingOf(o.e).ParticipantGender(ctx, id)
}

// envGroupStandIns and envExpenseStandIns hold a test's stand-ins for the groups and
// expenses packages (not on this branch), per env; none: zero figures.
var envGroupStandIns, envExpenseStandIns sync.Map

type lazyGroups struct{ e *testEnv }

func (g lazyGroups) GroupFigures(ctx context.Context, org string, from, to time.Time) ([]outcomes.GroupEnrolment, error) {
	if v, ok := envGroupStandIns.Load(g.e); ok {
		return v.(outcomes.Groups).GroupFigures(ctx, org, from, to)
	}
	return nil, nil
}

func (g lazyGroups) EnrolmentIDsOf(ctx context.Context, participantID string) ([]string, error) {
	if v, ok := envGroupStandIns.Load(g.e); ok {
		return v.(outcomes.Groups).EnrolmentIDsOf(ctx, participantID)
	}
	return nil, nil
}

type lazyExpenses struct{ e *testEnv }

func (x lazyExpenses) ApprovedExpensesOre(ctx context.Context, org string, from, to time.Time) (int64, error) {
	if v, ok := envExpenseStandIns.Load(x.e); ok {
		return v.(outcomes.Expenses).ApprovedExpensesOre(ctx, org, from, to)
	}
	return 0, nil
}

// outcomesFor builds an outcomes service on the env (groups and expenses optional).
func outcomesFor(e *testEnv, groups outcomes.Groups, expenses outcomes.Expenses) *outcomes.Service {
	v, ok := envOutcomes.Load(e)
	if !ok {
		panic("test env without outcomes store")
	}
	o := testOutcomeOutings{e}
	svc, err := outcomes.New(outcomes.Config{Store: v.(outcomes.Store), Clock: e.Clock, Members: wiring.OutcomeMembers{A: e.Auth},
		Outings: o, People: o, Groups: groups, Expenses: expenses})
	if err != nil {
		panic(err)
	}
	return svc
}

func init() {
	// This file's name sorts after outing_env_test.go, so this runs after
	// matching's env service: outcomes' personal hook must be registered
	// after matching's (erasure runs hooks in reverse), as serve.go does.
	envServices = append(envServices, func(e *testEnv, d *api.Deps) {
		if d.Matching == nil {
			panic("outcomes' env service runs before matching's: its erasure would find the outings stripped")
		}
		st, err := outcomes.NewSQLiteStore(context.Background(), e.SQL)
		if err != nil {
			panic(fmt.Sprintf("outcomes store: %v", err))
		}
		envOutcomes.Store(e, st)
		d.Outcomes = outcomesFor(e, lazyGroups{e}, lazyExpenses{e})
		e.Personal.Register(d.Outcomes.PersonalHook())
	})

	// participant_id: an active participant of the row's organisation. The
	// groups rows' maker (group_test.go, whose init runs first) gives one
	// too, and also enrols them in the row's group: keep it.
	if _, ok := matrixParams["participant_id"]; !ok {
		matrixParams["participant_id"] = func(m *matrixCall) string {
			id, _ := m.Env.User(auth.RoleParticipant, m.OrgFor("participant_id"), auth.StatusActive)
			return id
		}
	}
	onlyP := want6{401, 201, 403, 403, 403, 403}
	matrix = append(matrix, routeRows("POST", "/v1/participants/me/wellbeing",
		bodyOf(map[string]any{"confidence": 3, "social": 2, "occupation": 4}), onlyP, want6{})...)
	matrix = append(matrix, routeRows("GET", "/v1/participants/me/wellbeing", nil, want6{401, 200, 403, 403, 403, 403}, want6{})...)
	matrix = append(matrix, routeRows("POST", "/v1/volunteers/me/pulse",
		bodyOf(map[string]any{"secure_in_role": 4, "information_good": 5}), want6{401, 403, 201, 403, 403, 403}, want6{})...)

	coord200 := want6{401, 403, 403, 200, 200, 403}
	coordForeign := want6{401, 403, 403, 404, 404, 403}
	milestone := bodyOf(map[string]any{"kind": "job", "on": "2026-11-20", "note": "café, 20 h a week"})
	perParticipant := []struct {
		method, route string
		body          func(*matrixCall) any
		ok            int
	}{
		{"GET", "/v1/organisations/:org_id/participants/:participant_id/wellbeing", nil, 200},
		{"POST", "/v1/organisations/:org_id/participants/:participant_id/milestones", milestone, 201},
		{"GET", "/v1/organisations/:org_id/participants/:participant_id/milestones", nil, 200},
	}
	for _, r := range perParticipant {
		own := coord200
		own.Coord, own.CoordOther = r.ok, r.ok
		matrix = append(matrix, routeRows(r.method, r.route, r.body, own, coordForeign)...)
		// Own organisation in the path, another organisation's participant: 404.
		for _, k := range []callerKind{asCoordinator, asCoordinatorOther} {
			matrix = append(matrix, matrixRow{Method: r.method, Route: r.route, As: k, ForeignParams: []string{"participant_id"}, Body: r.body, Want: 404})
		}
	}
	matrix = append(matrix, routeRows("GET", "/v1/organisations/:org_id/goals", nil, coord200, coordForeign)...)
	matrix = append(matrix, routeRows("PUT", "/v1/organisations/:org_id/goals", bodyOf(map[string]any{
		"participants": 80, "group_completion_rate": 0.5, "confidence_improved_share": 0.5, "social_improved_share": 0.25, "milestone_people": 10,
	}), coord200, coordForeign)...)
	for _, route := range []string{"/v1/organisations/:org_id/reports/outcomes", "/v1/organisations/:org_id/reports/outcomes.csv"} {
		for _, row := range routeRows("GET", route, nil, want6{401, 403, 403, 200, 200, 200}, want6{401, 403, 403, 404, 404, 200}) {
			row.Query = "from=2026-01-01&to=2026-12-31"
			matrix = append(matrix, row)
		}
	}
}

// The outcome routes' rows of the authorization matrix, written out for
// the record when CLAVIS_MATRIX_OUT names a file; every route has
// a row for every caller with own and foreign ids.
func TestOutcomeMatrixRows(t *testing.T) {
	var b strings.Builder
	per := map[string]int{}
	for _, r := range matrix {
		if !strings.Contains(r.Route, "wellbeing") && !strings.Contains(r.Route, "milestones") && !strings.Contains(r.Route, "pulse") &&
			!strings.Contains(r.Route, "/goals") && !strings.Contains(r.Route, "reports/outcomes") {
			continue
		}
		ids := "own"
		switch {
		case len(r.ForeignParams) > 0:
			ids = "foreign " + strings.Join(r.ForeignParams, ",")
		case r.Foreign:
			ids = "foreign"
		}
		fmt.Fprintf(&b, "%-6s %-72s %-22s %-22s %d\n", r.Method, r.Route, r.As, ids, r.Want)
		per[r.Method+" "+r.Route]++
	}
	if len(per) != 10 {
		t.Fatalf("%d outcome routes in the matrix, want 10: %v", len(per), per)
	}
	for route, n := range per {
		if n < len(callerKinds) {
			t.Errorf("%s has %d rows", route, n)
		}
	}
	if dest := os.Getenv("CLAVIS_MATRIX_OUT"); dest != "" {
		if err := os.WriteFile(dest, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
