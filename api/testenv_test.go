package api_test

// testEnv is the shared harness for HTTP tests: a fresh database, a fake
// clock, the real accounts service and the real Fiber app, driven with
// app.Test.
//
// Other areas plug their services in for EVERY test env (so the
// authorization matrix sees their routes working) by appending to
// envServices in an init() of their own test file:
//
//	func init() {
//		envServices = append(envServices, func(e *testEnv, d *api.Deps) {
//			svc, err := matching.New(context.Background(), matching.Config{DB: e.DB, Clock: e.Clock, Personal: e.Personal, Accounts: e.Auth})
//			if err != nil {
//				e.T.Fatal(err)
//			}
//			d.Outings = svc
//		})
//	}
//
// envServices run in order, after the accounts service exists (so e.DB,
// e.Clock, e.Auth and e.Personal are set) and before api.New; the opts of
// one newTestEnv call run after them. Typical test:
//
//	e := newTestEnv(t)
//	org := e.Org("Röda Korset Halmstad")
//	_, coord := e.User(auth.RoleCoordinator, org, auth.StatusActive)
//	status, body := e.Call("GET", "/v1/organisations/"+org+"/members", coord, nil)

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/personal"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
)

// testNow is where every test env's clock starts: a Wednesday, 11:00 in
// Stockholm (CET, UTC+1), well away from daylight-saving changes.
var testNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// testPassword is the password of every user made by testEnv.User.
const testPassword = "correct horse battery staple"

// envServices add other areas' services to every test env; see the top of this file.
var envServices []func(e *testEnv, d *api.Deps)

type testEnv struct {
	T        *testing.T
	Srv      *api.Server
	Clock    *clock.Fake
	Auth     *auth.Service
	Personal *personal.Registry
	// AuthStore is the accounts' store, on AuthSQL (a SQLite file of its own).
	AuthStore auth.Store
	AuthSQL   *sqlite.DB

	// Emails of the users made by User, by id (for tests that log in).
	// Read it directly only while no User call runs; Email is safe anytime.
	Emails   map[string]string
	emailsMu sync.Mutex
	// SigningKey signs this env's access tokens (for tests that forge tokens).
	SigningKey ed25519.PrivateKey
	// SQL is this env's SQLite database (the stores moved off MongoDB).
	SQL *sqlite.DB
	// Matching is the matching service's store, on SQL.
	Matching matching.Store
}

var envUserSeq atomic.Int64

// newTestEnv builds a fresh env. opts change the api.Deps before api.New.
func newTestEnv(t *testing.T, opts ...func(*api.Deps)) *testEnv {
	t.Helper()
	return buildTestEnv(t, t, opts...)
}

// buildTestEnv is newTestEnv for any testing.TB (fuzz targets and
// benchmarks); T is nil unless tb is a *testing.T.
func buildTestEnv(tb testing.TB, t *testing.T, opts ...func(*api.Deps)) *testEnv {
	tb.Helper()
	ctx := context.Background()
	e := &testEnv{T: t, SQL: sqlitetest.New(tb), Clock: clock.NewFake(testNow), Personal: &personal.Registry{}, Emails: map[string]string{}}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	e.SigningKey = priv
	keys := auth.NewKeySet(priv)
	e.AuthSQL = e.SQL
	if e.AuthStore, err = auth.NewSQLiteStore(ctx, e.AuthSQL); err != nil {
		tb.Fatal(err)
	}
	e.Auth, err = auth.New(ctx, auth.Config{Store: e.AuthStore, Keys: keys, Clock: e.Clock, Personal: e.Personal, Hash: auth.TestHashParams})
	if err != nil {
		tb.Fatal(err)
	}
	idem, err := api.NewIdempotencySQLite(ctx, e.SQL)
	if err != nil {
		tb.Fatal(err)
	}
	deps := api.Deps{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		DB:          e.SQL,
		Auth:        e.Auth,
		Accounts:    e.Auth,
		Clock:       e.Clock,
		Idempotency: idem,
	}
	for _, add := range envServices {
		add(e, &deps)
	}
	for _, o := range opts {
		o(&deps)
	}
	e.Srv, err = api.New(deps)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func (e *testEnv) tb() testing.TB {
	if e.T != nil {
		return e.T
	}
	panic("testEnv built without a *testing.T")
}

// authCount runs a count query on the accounts' SQLite tables.
func (e *testEnv) authCount(query string, args ...any) int64 {
	e.tb().Helper()
	var n int64
	if err := e.AuthSQL.QueryRow(query, args...).Scan(&n); err != nil {
		e.tb().Fatalf("%s: %v", query, err)
	}
	return n
}

// Org creates an organisation in Europe/Stockholm and returns its id.
func (e *testEnv) Org(name string) string {
	e.tb().Helper()
	o, err := e.Auth.CreateOrganisation(context.Background(), name, "Europe/Stockholm")
	if err != nil {
		e.tb().Fatalf("create organisation %q: %v", name, err)
	}
	return o.ID
}

// testNames gives each role a recognisable first name, so privacy tests can
// check that only the first name is shown.
var testNames = map[auth.Role]string{
	auth.RoleParticipant: "Pia Lindqvist",
	auth.RoleVolunteer:   "Vera Holm",
	auth.RoleCoordinator: "Cora Berg",
	auth.RoleAdmin:       "Ada Strand",
}

// User creates an account directly through the accounts service (any
// role and status; orgID is ignored for admins) and returns its id and an
// access token. Its email is in e.Emails, its password is testPassword.
func (e *testEnv) User(role auth.Role, orgID string, status auth.Status) (id, token string) {
	e.tb().Helper()
	ctx := context.Background()
	email := fmt.Sprintf("%s-%d@example.org", role, envUserSeq.Add(1))
	u, err := e.Auth.CreateUser(ctx, auth.NewUser{Email: email, Password: testPassword, Name: testNames[role],
		Role: role, OrgID: orgID, Language: "sv", Status: status})
	if err != nil {
		e.tb().Fatalf("create %s: %v", role, err)
	}
	token, err = e.Auth.IssueAccessToken(ctx, u.ID)
	if err != nil {
		e.tb().Fatalf("token for %s: %v", role, err)
	}
	e.emailsMu.Lock()
	e.Emails[u.ID] = email
	e.emailsMu.Unlock()
	return u.ID, token
}

// Email is the address of a user made by User (safe for concurrent use).
func (e *testEnv) Email(id string) string {
	e.emailsMu.Lock()
	defer e.emailsMu.Unlock()
	return e.Emails[id]
}

// Do sends a request through app.Test and returns the response and its body.
// body may be nil, a []byte sent as is, or a value sent as JSON; headers are
// name, value pairs.
func (e *testEnv) Do(method, path, token string, body any, headers ...string) (*http.Response, []byte) {
	e.tb().Helper()
	return doRequest(e.tb(), e.Srv, method, path, token, body, headers...)
}

// Call is Do returning only the status and the body.
func (e *testEnv) Call(method, path, token string, body any, headers ...string) (int, []byte) {
	e.tb().Helper()
	resp, b := e.Do(method, path, token, body, headers...)
	return resp.StatusCode, b
}

func doRequest(tb testing.TB, srv *api.Server, method, path, token string, body any, headers ...string) (*http.Response, []byte) {
	tb.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			tb.Fatalf("marshal body: %v", err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.App.Test(req, -1)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	checkContract(tb, srv, req, resp, out)
	return resp, out
}

// Decode unmarshals a JSON body into v, failing the test on error.
func (e *testEnv) Decode(body []byte, v any) {
	e.tb().Helper()
	if err := json.Unmarshal(body, v); err != nil {
		e.tb().Fatalf("decode %s: %v", body, err)
	}
}

// Want fails the test unless status is want, showing the body.
func (e *testEnv) Want(status int, body []byte, want int) {
	e.tb().Helper()
	if status != want {
		e.tb().Fatalf("status %d, want %d: %s", status, want, body)
	}
}

// Problem decodes an RFC 9457 body.
func (e *testEnv) Problem(body []byte) api.Problem {
	e.tb().Helper()
	var p api.Problem
	e.Decode(body, &p)
	return p
}
