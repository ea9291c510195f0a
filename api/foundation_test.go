package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

type echoBody struct {
	Name  string `json:"name" validate:"required,min=2"`
	Kind  string `json:"kind" validate:"required,oneof=cafe walk"`
	Point struct {
		Lat float64 `json:"lat" validate:"latitude"`
	} `json:"point"`
}

// testExtras adds routes that exist only in tests: one that panics and one
// that decodes a body, to prove the error paths.
func testExtras(s *api.Server) {
	_ = s.Handle(api.Route{Method: "GET", Path: "/test/panic", Summary: "panics"}, func(c *fiber.Ctx) error {
		panic("boom with a secret detail")
	})
	_ = s.Handle(api.Route{Method: "POST", Path: "/test/echo", Summary: "echo", Request: echoBody{}, Response: echoBody{}}, func(c *fiber.Ctx) error {
		var b echoBody
		if err := s.Bind(c, &b); err != nil {
			return err
		}
		return c.JSON(b)
	})
}

func newFoundationServer(t *testing.T, logs io.Writer) *api.Server {
	t.Helper()
	d := sqlitetest.New(t)
	if logs == nil {
		logs = io.Discard
	}
	srv, err := api.New(api.Deps{DB: d, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Extra: testExtras})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func do(t *testing.T, app *fiber.App, method, path string, body []byte, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := app.Test(req, 10_000)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func problemOf(t *testing.T, resp *http.Response, body []byte) api.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, body)
	}
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Status != resp.StatusCode {
		t.Fatalf("problem status %d != HTTP status %d", p.Status, resp.StatusCode)
	}
	return p
}

func TestErrorsAreProblems(t *testing.T) {
	var logs bytes.Buffer
	srv := newFoundationServer(t, &logs)
	cases := []struct {
		name, method, path string
		body               []byte
		status             int
		slug               string
		field              string
	}{
		{"unknown route", "GET", "/nope", nil, 404, "not-found", ""},
		{"wrong method", "DELETE", "/healthz", nil, 405, "method-not-allowed", ""},
		{"malformed json", "POST", "/test/echo", []byte(`{"name": `), 400, "malformed", ""},
		{"empty body", "POST", "/test/echo", []byte(``), 400, "malformed", ""},
		{"wrong type", "POST", "/test/echo", []byte(`{"name": 5, "kind":"cafe"}`), 422, "validation", "name"},
		{"unknown enum", "POST", "/test/echo", []byte(`{"name": "Sara", "kind":"disco"}`), 422, "validation", "kind"},
		{"missing field", "POST", "/test/echo", []byte(`{"kind":"cafe"}`), 422, "validation", "name"},
		{"nested rule", "POST", "/test/echo", []byte(`{"name":"Sara","kind":"cafe","point":{"lat":123}}`), 422, "validation", "point.lat"},
		{"panic", "GET", "/test/panic", nil, 500, "internal", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, srv.App, tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			p := problemOf(t, resp, body)
			if p.Type != api.ProblemBase+tc.slug {
				t.Fatalf("type %q, want slug %q", p.Type, tc.slug)
			}
			if tc.field != "" {
				if len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
					t.Fatalf("errors %+v, want field %q", p.Errors, tc.field)
				}
			}
			if tc.status == 500 && strings.Contains(string(body), "secret") {
				t.Fatalf("internal detail leaked to the client: %s", body)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatal("no X-Request-Id")
			}
		})
	}
	if !strings.Contains(logs.String(), "boom with a secret detail") || !strings.Contains(logs.String(), `"request_id"`) {
		t.Fatalf("the panic should be logged with its request id; log:\n%s", logs.String())
	}
}

func TestValidBodyPasses(t *testing.T) {
	srv := newFoundationServer(t, nil)
	resp, body := do(t, srv.App, "POST", "/test/echo", []byte(`{"name":"Sara","kind":"walk"}`))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"Sara"`) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	srv := newFoundationServer(t, nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, body := do(t, srv.App, "GET", p, nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
}

// A database that does not answer makes /readyz a 503 within about a second.
func TestReadinessFailsWhenDatabaseIsDown(t *testing.T) {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1/").SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	srv, err := api.New(api.Deps{DB: pingClient{client}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, body := do(t, srv.App, "GET", "/readyz", nil)
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503: %s", resp.StatusCode, body)
	}
	problemOf(t, resp, body)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("readyz took %v; it must give up after about 1 s", took)
	}
}

type pingClient struct{ c *mongo.Client }

func (p pingClient) Ping(ctx context.Context) error { return p.c.Ping(ctx, nil) }

func TestMetricsCountRequestsByRouteTemplate(t *testing.T) {
	srv := newFoundationServer(t, nil)
	do(t, srv.App, "GET", "/healthz", nil)
	do(t, srv.App, "GET", "/no/such/thing", nil)
	do(t, srv.App, "DELETE", "/healthz", nil)
	_, body := do(t, srv.App, "GET", "/metrics", nil)
	text := string(body)
	for _, want := range []string{
		`clavis_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`clavis_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`clavis_http_requests_total{method="DELETE",route="unmatched",status="405"} 1`,
		`clavis_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200"`,
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("metrics lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "/no/such/thing") {
		t.Fatal("raw paths must not become metric labels")
	}
}

// The served document is valid OpenAPI 3.1 by kin-openapi's validator and
// describes every route the app serves.
func TestOpenAPIDocumentIsValidAndComplete(t *testing.T) {
	srv := newFoundationServer(t, nil)
	resp, body := do(t, srv.App, "GET", "/openapi.json", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	for _, r := range srv.App.GetRoutes(true) {
		if r.Method == "HEAD" || r.Path == "/" {
			continue
		}
		p := api.OpenAPIPath(r.Path)
		item := doc.Paths.Find(p)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s %s is served but not documented", r.Method, r.Path)
		}
	}
	_, page := do(t, srv.App, "GET", "/docs", nil)
	if !strings.Contains(string(page), "/openapi.json") || strings.Contains(string(page), "https://") {
		t.Fatal("/docs must render /openapi.json with no external assets")
	}
}

// A body over 64 KiB is refused with a 413 problem before any handler runs.
// app.Test cannot carry such a body, so this goes through a real listener,
// on a raw connection: the server answers as soon as it reads the declared
// length, and an HTTP client still uploading would see a reset instead.
func TestOversizeBodyOverRealListener(t *testing.T) {
	srv := newFoundationServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.App.Listener(ln) }()
	t.Cleanup(func() { _ = srv.App.Shutdown() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	head := fmt.Sprintf("POST /test/echo HTTP/1.1\r\nHost: clavis\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 70*1024)
	if _, err := conn.Write([]byte(head + `{"name":"`)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413: %s", resp.StatusCode, body)
	}
	if p := problemOf(t, resp, body); p.Type != api.ProblemBase+"payload-too-large" {
		t.Fatalf("type %q", p.Type)
	}
}

// Behind a trusted ingress the client address comes from X-Forwarded-For;
// from anyone else the header is ignored (it could be forged).
func TestClientAddressFromTrustedProxyOnly(t *testing.T) {
	ipRoute := func(s *api.Server) {
		_ = s.Handle(api.Route{Method: "GET", Path: "/test/ip", Summary: "ip"}, func(c *fiber.Ctx) error {
			return c.SendString(api.ClientIP(c))
		})
	}
	for _, tc := range []struct {
		trusted []string
		want    string
	}{
		{[]string{"0.0.0.0/8"}, "203.0.113.7"}, // app.Test connects from 0.0.0.0
		{[]string{"10.0.0.0/8"}, "0.0.0.0"},
		{nil, "0.0.0.0"},
	} {
		srv, err := api.New(api.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TrustedProxies: tc.trusted, Extra: ipRoute})
		if err != nil {
			t.Fatal(err)
		}
		_, body := do(t, srv.App, "GET", "/test/ip", nil, "X-Forwarded-For", "203.0.113.7")
		if string(body) != tc.want {
			t.Errorf("trusted %v: client address %q, want %q", tc.trusted, body, tc.want)
		}
	}
}
