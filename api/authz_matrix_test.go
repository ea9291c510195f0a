package api_test

// The authorization matrix: every registered route, called by every kind of
// caller, with the caller's own ids and with foreign ids in the path, and the
// status each must get. TestAuthorizationMatrix fails when a route in
// srv.Routes() lacks a row for any caller kind (or, for a path with
// parameters, for own or foreign ids), and when a row names a route that is
// not registered.
//
// HOW TO ADD YOUR ROUTES (from your own _test.go file in package api_test):
//
//	func init() {
//		// 1. Services: make the matrix's env (and every test env) serve your routes.
//		envServices = append(envServices, func(e *testEnv, d *api.Deps) { d.Outings = ... })
//
//		// 2. Path parameters your routes use, resolved per row. m.Org is the
//		//    caller's organisation, m.OtherOrg the other one; m.Foreign(name)
//		//    says whether this row wants a foreign id for the parameter. "Own"
//		//    means the caller's own resource (a participant's own outing, a
//		//    coordinator's own organisation's outing); "foreign" means another
//		//    organisation's. Create a FRESH resource per call when a row changes
//		//    it (accept, cancel, ...), so rows stay independent.
//		matrixParams["id"] = func(m *matrixCall) string {
//			return createOuting(m, m.OrgFor("id"), ...)
//		}
//
//		// 3. Rows: one line per route with the wanted status per caller kind,
//		//    for own ids and for foreign ids (the second is ignored for paths
//		//    without parameters).
//		matrix = append(matrix, routeRows("POST", "/v1/outings/:id/accept", bodyOf(map[string]any{}),
//			want6{Anon: 401, Participant: 403, Volunteer: 200, Coord: 403, CoordOther: 403, Admin: 403},
//			want6{Anon: 401, Participant: 403, Volunteer: 404, Coord: 403, CoordOther: 403, Admin: 403})...)
//		// Extra single rows (a mixed own/foreign case, a Setup that prepares
//		// state, a Check on the body) can be appended as matrixRow values.
//	}
//
// Callers are fresh active accounts made for each row (so DELETE /v1/me and
// state changes do not leak between rows): participant, volunteer and
// coordinator in organisation A, "coordinator_other_org" in organisation B,
// and an admin (no organisation; its "own" organisation is A).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
)

type callerKind string

const (
	asAnonymous        callerKind = "anonymous"
	asParticipant      callerKind = "participant"
	asVolunteer        callerKind = "volunteer"
	asCoordinator      callerKind = "coordinator"
	asCoordinatorOther callerKind = "coordinator_other_org"
	asAdmin            callerKind = "admin"
)

var callerKinds = []callerKind{asAnonymous, asParticipant, asVolunteer, asCoordinator, asCoordinatorOther, asAdmin}

// matrixRow is one expected answer of one route to one caller.
type matrixRow struct {
	Method string
	// Route is the template exactly as registered, e.g. /v1/organisations/:org_id/members.
	Route string
	As    callerKind
	// Foreign fills every path parameter with a foreign id.
	Foreign bool
	// ForeignParams, when set, makes only these parameters foreign (a mixed
	// row, e.g. own organisation with another organisation's member).
	// Rows with ForeignParams do not count towards coverage.
	ForeignParams []string
	// Query is appended after "?" when set.
	Query string
	// Setup runs before the path is resolved.
	Setup func(m *matrixCall)
	// Body builds the request body (nil: none).
	Body func(m *matrixCall) any
	Want int
	// Check, when set, looks further at a response with the wanted status.
	Check func(m *matrixCall, body []byte)
}

// matrixWorld is shared by the rows of one route (each route gets a fresh
// env and world).
type matrixWorld struct {
	Env        *testEnv
	OrgA, OrgB string
	// Values is free space for other areas' shared fixtures.
	Values map[string]any
}

// matrixCall is one row being run.
type matrixCall struct {
	T     *testing.T
	Env   *testEnv
	World *matrixWorld
	Row   matrixRow
	// CallerID and Token are empty for the anonymous caller.
	CallerID, Token string
	// Org is the caller's organisation (A for anonymous and admin); OtherOrg the other.
	Org, OtherOrg string
	// Params are the path parameters resolved so far.
	Params map[string]string
}

// Foreign reports whether this row wants a foreign id for param.
func (m *matrixCall) Foreign(param string) bool {
	if len(m.Row.ForeignParams) > 0 {
		for _, p := range m.Row.ForeignParams {
			if p == param {
				return true
			}
		}
		return false
	}
	return m.Row.Foreign
}

// OrgFor is the organisation a resource for param should belong to.
func (m *matrixCall) OrgFor(param string) string {
	if m.Foreign(param) {
		return m.OtherOrg
	}
	return m.Org
}

// matrixParams resolve path parameters by name; other areas add theirs.
var matrixParams = map[string]func(m *matrixCall) string{
	"org_id": func(m *matrixCall) string { return m.OrgFor("org_id") },
	// user_id: a fresh pending participant, so approve and suspend always
	// find a state they can change.
	"user_id": func(m *matrixCall) string {
		id, _ := m.Env.User(auth.RoleParticipant, m.OrgFor("user_id"), auth.StatusPending)
		return id
	},
}

// matrixWorldSetups run once per route's world, after both organisations exist.
var matrixWorldSetups []func(w *matrixWorld)

// matrix is the table; other files append to it in init().
var matrix []matrixRow

// want6 is the wanted status per caller kind.
type want6 struct{ Anon, Participant, Volunteer, Coord, CoordOther, Admin int }

func (w want6) of(k callerKind) int {
	switch k {
	case asAnonymous:
		return w.Anon
	case asParticipant:
		return w.Participant
	case asVolunteer:
		return w.Volunteer
	case asCoordinator:
		return w.Coord
	case asCoordinatorOther:
		return w.CoordOther
	default:
		return w.Admin
	}
}

// all is a want6 with the same status for everyone.
func all(status int) want6 { return want6{status, status, status, status, status, status} }

// signedIn is anonymous 401 and everyone else status.
func signedIn(status int) want6 { return want6{401, status, status, status, status, status} }

var pathParam = regexp.MustCompile(`:([a-zA-Z_]+)`)

// routeRows expands one route into a row per caller kind, for own ids and,
// when the path has parameters, for foreign ids.
func routeRows(method, route string, body func(m *matrixCall) any, own, foreign want6) []matrixRow {
	var rows []matrixRow
	for _, k := range callerKinds {
		rows = append(rows, matrixRow{Method: method, Route: route, As: k, Body: body, Want: own.of(k)})
		if pathParam.MatchString(route) {
			rows = append(rows, matrixRow{Method: method, Route: route, As: k, Foreign: true, Body: body, Want: foreign.of(k)})
		}
	}
	return rows
}

// bodyOf is a Body that always sends v.
func bodyOf(v any) func(*matrixCall) any { return func(*matrixCall) any { return v } }

var matrixSeq atomic.Int64

// freshLogin signs a new active participant of org in and returns its tokens.
func freshLogin(m *matrixCall, org string) auth.Tokens {
	m.T.Helper()
	id, _ := m.Env.User(auth.RoleParticipant, org, auth.StatusActive)
	t, err := m.Env.Auth.Login(context.Background(), m.Env.Emails[id], testPassword, "")
	if err != nil {
		m.T.Fatalf("login: %v", err)
	}
	return t
}

func init() {
	ops := []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}
	for _, p := range ops {
		matrix = append(matrix, routeRows("GET", p, nil, all(200), want6{})...)
	}

	// Accounts.
	matrix = append(matrix, routeRows("POST", "/v1/auth/register", func(m *matrixCall) any {
		return map[string]any{"email": fmt.Sprintf("reg-%d@example.org", matrixSeq.Add(1)), "password": testPassword,
			"name": "Nils Nyberg", "role": "participant", "organisation_id": m.Org, "language": "sv"}
	}, all(201), want6{})...)
	matrix = append(matrix, routeRows("POST", "/v1/auth/login", func(m *matrixCall) any {
		id, _ := m.Env.User(auth.RoleVolunteer, m.Org, auth.StatusActive)
		return map[string]any{"email": m.Env.Emails[id], "password": testPassword}
	}, all(200), want6{})...)
	matrix = append(matrix, routeRows("POST", "/v1/auth/refresh", func(m *matrixCall) any {
		return map[string]any{"refresh_token": freshLogin(m, m.Org).RefreshToken}
	}, all(200), want6{})...)
	matrix = append(matrix, routeRows("POST", "/v1/auth/logout", func(m *matrixCall) any {
		if m.CallerID == "" {
			return map[string]any{"refresh_token": freshLogin(m, m.Org).RefreshToken}
		}
		t, err := m.Env.Auth.Login(context.Background(), m.Env.Emails[m.CallerID], testPassword, "")
		if err != nil {
			m.T.Fatalf("login: %v", err)
		}
		return map[string]any{"refresh_token": t.RefreshToken}
	}, signedIn(204), want6{})...)
	matrix = append(matrix, routeRows("GET", "/v1/me", nil, signedIn(200), want6{})...)
	matrix = append(matrix, routeRows("PATCH", "/v1/me", bodyOf(map[string]any{"language": "en"}), signedIn(200), want6{})...)
	matrix = append(matrix, routeRows("GET", "/v1/me/export", nil, signedIn(200), want6{})...)
	matrix = append(matrix, routeRows("DELETE", "/v1/me", nil, signedIn(204), want6{})...)

	// Organisations.
	matrix = append(matrix, routeRows("POST", "/v1/organisations",
		bodyOf(map[string]any{"name": "Svenska kyrkan Halmstad", "time_zone": "Europe/Stockholm"}),
		want6{Anon: 401, Participant: 403, Volunteer: 403, Coord: 403, CoordOther: 403, Admin: 201}, want6{})...)
	matrix = append(matrix, routeRows("POST", "/v1/organisations/:org_id/coordinators", func(m *matrixCall) any {
		return map[string]any{"email": fmt.Sprintf("coord-%d@example.org", matrixSeq.Add(1)), "password": testPassword, "name": "Karin Ek", "language": "sv"}
	},
		want6{Anon: 401, Participant: 403, Volunteer: 403, Coord: 403, CoordOther: 403, Admin: 201},
		want6{Anon: 401, Participant: 403, Volunteer: 403, Coord: 403, CoordOther: 403, Admin: 201})...)
	coordOnly := want6{Anon: 401, Participant: 403, Volunteer: 403, Coord: 200, CoordOther: 200, Admin: 403}
	coordForeign := want6{Anon: 401, Participant: 403, Volunteer: 403, Coord: 404, CoordOther: 404, Admin: 403}
	matrix = append(matrix, routeRows("GET", "/v1/organisations/:org_id/members", nil, coordOnly, coordForeign)...)
	matrix = append(matrix, routeRows("POST", "/v1/organisations/:org_id/members/:user_id/approve",
		bodyOf(map[string]any{"note": "met in person, references checked"}), coordOnly, coordForeign)...)
	matrix = append(matrix, routeRows("POST", "/v1/organisations/:org_id/members/:user_id/suspend",
		bodyOf(map[string]any{"reason": "asked to pause"}), coordOnly, coordForeign)...)
	// Own organisation in the path, another organisation's member: still 404.
	for _, r := range []struct{ route, body string }{
		{"/v1/organisations/:org_id/members/:user_id/approve", `{}`},
		{"/v1/organisations/:org_id/members/:user_id/suspend", `{"reason":"x"}`},
	} {
		for _, k := range []callerKind{asCoordinator, asCoordinatorOther} {
			matrix = append(matrix, matrixRow{Method: "POST", Route: r.route, As: k, ForeignParams: []string{"user_id"},
				Body: bodyOf([]byte(r.body)), Want: 404})
		}
	}
}

// newMatrixCaller makes a fresh account of kind k.
func newMatrixCaller(m *matrixCall, k callerKind) {
	w := m.World
	m.Org, m.OtherOrg = w.OrgA, w.OrgB
	switch k {
	case asAnonymous:
	case asParticipant:
		m.CallerID, m.Token = m.Env.User(auth.RoleParticipant, w.OrgA, auth.StatusActive)
	case asVolunteer:
		m.CallerID, m.Token = m.Env.User(auth.RoleVolunteer, w.OrgA, auth.StatusActive)
	case asCoordinator:
		m.CallerID, m.Token = m.Env.User(auth.RoleCoordinator, w.OrgA, auth.StatusActive)
	case asCoordinatorOther:
		m.Org, m.OtherOrg = w.OrgB, w.OrgA
		m.CallerID, m.Token = m.Env.User(auth.RoleCoordinator, w.OrgB, auth.StatusActive)
	case asAdmin:
		m.CallerID, m.Token = m.Env.User(auth.RoleAdmin, "", auth.StatusActive)
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	routes := newTestEnv(t).Srv.Routes()
	for _, gap := range matrixGaps(routes, matrix) {
		t.Error(gap)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Each route gets its own env and world: on the embedded store every
	// query but an _id lookup scans its collection, so one env shared by
	// hundreds of rows made later rows ever slower (158 s for 298 rows).
	var order []string
	groups := map[string][]matrixRow{}
	for _, row := range matrix {
		key := row.Method + " " + row.Route
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], row)
	}
	for _, key := range order {
		e := newTestEnv(t)
		w := &matrixWorld{Env: e, OrgA: e.Org("Röda Korset Halmstad"), OrgB: e.Org("Stadsmissionen Göteborg"), Values: map[string]any{}}
		for _, setup := range matrixWorldSetups {
			setup(w)
		}
		for _, row := range groups[key] {
			runMatrixRow(t, e, w, row)
		}
	}
	t.Logf("authorization matrix: %d rows over %d routes", len(matrix), len(routes))
}

func runMatrixRow(t *testing.T, e *testEnv, w *matrixWorld, row matrixRow) {
	ids := "own"
	if row.Foreign {
		ids = "foreign"
	}
	if len(row.ForeignParams) > 0 {
		ids = "foreign_" + strings.Join(row.ForeignParams, "_")
	}
	name := fmt.Sprintf("%s %s as %s %s", row.Method, row.Route, row.As, ids)
	t.Run(name, func(t *testing.T) {
		m := &matrixCall{T: t, Env: e, World: w, Row: row, Params: map[string]string{}}
		outer := e.T
		e.T = t
		defer func() { e.T = outer }()
		newMatrixCaller(m, row.As)
		if row.Setup != nil {
			row.Setup(m)
		}
		path := pathParam.ReplaceAllStringFunc(row.Route, func(p string) string {
			name := p[1:]
			resolve, ok := matrixParams[name]
			if !ok {
				t.Fatalf("no matrixParams resolver for :%s", name)
			}
			v := resolve(m)
			m.Params[name] = v
			return v
		})
		if row.Query != "" {
			path += "?" + row.Query
		}
		var body any
		if row.Body != nil {
			body = row.Body(m)
		}
		resp, b := doRequest(t, e.Srv, row.Method, path, m.Token, body)
		if resp.StatusCode != row.Want {
			t.Fatalf("%s %s: status %d, want %d: %s", row.Method, path, resp.StatusCode, row.Want, b)
		}
		if resp.StatusCode >= 400 {
			checkProblem(t, resp, b)
		}
		if row.Check != nil {
			row.Check(m, b)
		}
	})
}

// matrixGaps lists what the table misses: a route without a row for some
// caller kind (own ids, and foreign ids when the path has parameters), or
// a row for a route that is not registered.
func matrixGaps(routes []api.Route, rows []matrixRow) []string {
	type cov struct {
		key     string
		as      callerKind
		foreign bool
	}
	covered := map[cov]bool{}
	for _, r := range rows {
		if len(r.ForeignParams) == 0 {
			covered[cov{r.Method + " " + r.Route, r.As, r.Foreign}] = true
		}
	}
	var gaps []string
	registered := map[string]bool{}
	for _, r := range routes {
		key := r.Method + " " + r.Path
		registered[key] = true
		for _, k := range callerKinds {
			if !covered[cov{key, k, false}] {
				gaps = append(gaps, fmt.Sprintf("route %s has no matrix row for %s with own ids", key, k))
			}
			if pathParam.MatchString(r.Path) && !covered[cov{key, k, true}] {
				gaps = append(gaps, fmt.Sprintf("route %s has no matrix row for %s with foreign ids", key, k))
			}
		}
	}
	for _, r := range rows {
		if !registered[r.Method+" "+r.Route] {
			gaps = append(gaps, fmt.Sprintf("matrix row for %s %s, which is not a registered route", r.Method, r.Route))
		}
	}
	return gaps
}

// A route added without rows, or with rows for only some callers, is caught.
func TestMatrixCatchesUncoveredRoutes(t *testing.T) {
	e := newTestEnv(t, func(d *api.Deps) {
		d.Extra = func(s *api.Server) {
			_ = s.Handle(api.Route{Method: "GET", Path: "/v1/test/things/:id", Summary: "test only", Roles: []auth.Role{auth.RoleAdmin}},
				func(c *fiber.Ctx) error { return c.SendStatus(200) })
		}
	})
	if gaps := matrixGaps(e.Srv.Routes(), matrix); len(gaps) != 12 {
		t.Fatalf("want 12 gaps (6 callers x own/foreign) for the unlisted route, got %d: %v", len(gaps), gaps)
	}
	partial := append(append([]matrixRow(nil), matrix...),
		routeRows("GET", "/v1/test/things/:id", nil, all(403), all(403))[:5]...)
	if gaps := matrixGaps(e.Srv.Routes(), partial); len(gaps) != 7 {
		t.Fatalf("want 7 gaps for a partly listed route, got %d: %v", len(gaps), gaps)
	}
	stale := append(append([]matrixRow(nil), matrix...), matrixRow{Method: "GET", Route: "/v1/gone", As: asAdmin, Want: 200})
	if gaps := matrixGaps(newTestEnv(t).Srv.Routes(), stale); len(gaps) != 1 {
		t.Fatalf("want 1 gap for a row naming no route, got %v", gaps)
	}
}

// checkProblem asserts an RFC 9457 body whose status matches the response.
func checkProblem(t *testing.T, resp *http.Response, body []byte) api.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json: %s", ct, body)
	}
	p := api.Problem{}
	if err := json.Unmarshal(body, &p); err != nil || p.Status != resp.StatusCode || !strings.HasPrefix(p.Type, api.ProblemBase) {
		t.Fatalf("bad problem %s (err %v)", body, err)
	}
	return p
}
