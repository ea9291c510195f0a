package api_test

// Issue 12: request plumbing refuses what it used to swallow. Each test
// here failed before its fix.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/logtest"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// gzipBomb gzips n zero bytes, then gzips that again: what a client sends
// as "Content-Encoding: gzip, gzip".
func gzipBomb(t *testing.T, n int) []byte {
	t.Helper()
	var inner bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&inner, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for written := 0; written < n; written += len(zeros) {
		if _, err := zw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	_ = zw.Close()
	var outer bytes.Buffer
	zw, _ = gzip.NewWriterLevel(&outer, gzip.BestCompression)
	_, _ = zw.Write(inner.Bytes())
	_ = zw.Close()
	return outer.Bytes()
}

func vmHWM() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "?"
}

// Item 4: a nested gzip body to the public login route is refused with 415
// before anything inflates it; the process allocates next to nothing for it
// (it used to inflate every layer: 980 bytes cost 2.1 GB; a 256 MiB bomb
// made this test allocate 1.8 GB and raise the peak RSS to 1.3 GB).
func TestCompressedBodyRefusedBeforeInflating(t *testing.T) {
	e := newTestEnv(t)
	// Made by gzipping 1 GiB of zeros twice (as gzipBomb does), stored so
	// that the test does not spend a minute compressing under -race.
	const inflated = 1 << 30
	bomb, err := os.ReadFile("testdata/gzip-gzip-1GiB.bin")
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	hwmBefore := vmHWM()
	resp, body := e.Do("POST", "/v1/auth/login", "", bomb, "Content-Encoding", "gzip, gzip")
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d-byte body inflating to %d MiB: status %d; allocated %.1f MiB during the request; heap in use %.1f → %.1f MiB; VmHWM %s → %s",
		len(bomb), inflated>>20, resp.StatusCode, float64(allocated)/(1<<20),
		float64(before.HeapInuse)/(1<<20), float64(after.HeapInuse)/(1<<20), hwmBefore, vmHWM())
	if resp.StatusCode != 415 {
		t.Fatalf("status %d, want 415: %s", resp.StatusCode, body)
	}
	if p := checkProblem(t, resp, body); p.Type != api.ProblemBase+"unsupported-media-type" {
		t.Fatalf("type %q", p.Type)
	}
	if allocated > 16<<20 {
		t.Fatalf("the request allocated %d MiB: the body was inflated", allocated>>20)
	}
	// A single layer is refused the same way, on any route.
	if st, b := e.Call("POST", "/v1/auth/register", "", gzipBomb(t, 1<<20), "Content-Encoding", "gzip"); st != 415 {
		t.Fatalf("gzip register: %d %s", st, b)
	}
	// "identity" is no encoding at all.
	if st, b := e.Call("POST", "/v1/auth/login", "", map[string]string{"email": "a@example.org", "password": "whatever123"}, "Content-Encoding", "identity"); st != 401 {
		t.Fatalf("identity: %d %s", st, b)
	}
}

// Item 5: behind a trusted proxy the per-address login limit holds although
// the client writes a new address at the left of X-Forwarded-For each time.
func TestLoginLimitBehindProxyIgnoresForgedAddresses(t *testing.T) {
	e := newTestEnv(t, func(d *api.Deps) { d.TrustedProxies = []string{"0.0.0.0/8", "10.0.0.0/8"} })
	for i := range auth.AddrFailureLimit {
		// The ingress (10.0.0.5) appended the real client, 203.0.113.7.
		xff := fmt.Sprintf("198.51.100.%d, 203.0.113.7, 10.0.0.5", i)
		if st, b := e.Call("POST", "/v1/auth/login", "", map[string]string{"email": fmt.Sprintf("nobody-%d@example.org", i), "password": "whatever123"},
			"X-Forwarded-For", xff); st != 401 {
			t.Fatalf("failure %d: %d %s", i, st, b)
		}
	}
	st, b := e.Call("POST", "/v1/auth/login", "", map[string]string{"email": "nobody@example.org", "password": "whatever123"},
		"X-Forwarded-For", "192.0.2.99, 203.0.113.7")
	if st != 429 {
		t.Fatalf("after %d failures from 203.0.113.7 with forged prefixes: %d, want 429: %s", auth.AddrFailureLimit, st, b)
	}
	// Another real client behind the same proxy is not blocked.
	if st, b := e.Call("POST", "/v1/auth/login", "", map[string]string{"email": "nobody@example.org", "password": "whatever123"},
		"X-Forwarded-For", "203.0.113.7, 203.0.113.8"); st != 401 {
		t.Fatalf("another client: %d %s", st, b)
	}
}

// Item 10: names match exactly; unknown and repeated names are a 422 naming
// them. A repeated organisation_id used to move a registration (last wins).
func TestStrictJSONNames(t *testing.T) {
	srv := newFoundationServer(t, nil)
	for _, tc := range []struct {
		name, body string
		fields     []string
	}{
		{"duplicate", `{"name":"Sara","kind":"cafe","name":"Bo"}`, []string{"name"}},
		{"duplicates", `{"name":"Sara","kind":"cafe","kind":"walk","name":"Bo"}`, []string{"kind", "name"}},
		{"nested duplicate", `{"name":"Sara","kind":"cafe","point":{"lat":1,"lat":2}}`, []string{"point.lat"}},
		{"wrong case", `{"Name":"Sara","kind":"cafe"}`, []string{"Name"}},
		{"unknown", `{"name":"Sara","kind":"cafe","colour":"red"}`, []string{"colour"}},
		{"nested unknown", `{"name":"Sara","kind":"cafe","point":{"lat":1,"lng":2}}`, []string{"point.lng"}},
	} {
		resp, body := do(t, srv.App, "POST", "/test/echo", []byte(tc.body))
		if resp.StatusCode != 422 {
			t.Errorf("%s: status %d, want 422: %s", tc.name, resp.StatusCode, body)
			continue
		}
		p := problemOf(t, resp, body)
		var got []string
		for _, f := range p.Errors {
			got = append(got, f.Field)
		}
		if p.Type != api.ProblemBase+"validation" || strings.Join(got, ",") != strings.Join(tc.fields, ",") {
			t.Errorf("%s: %s fields %v, want %v", tc.name, p.Type, got, tc.fields)
		}
	}
	if resp, body := do(t, srv.App, "POST", "/test/echo", []byte(`{"name":"Sara","kind":"cafe"} {"name":"Bo"}`)); resp.StatusCode != 400 {
		t.Errorf("two values: %d %s", resp.StatusCode, body)
	}

	e := newTestEnv(t)
	org, other := e.Org("Röda Korset Halmstad"), e.Org("Röda Korset Blekinge")
	raw := fmt.Sprintf(`{"email":"dup@example.org","password":%q,"name":"Sara Ek","role":"volunteer","organisation_id":%q,"language":"sv","organisation_id":%q}`,
		testPassword, org, other)
	st, b := e.Call("POST", "/v1/auth/register", "", []byte(raw))
	if st != 422 || !strings.Contains(string(b), `"field":"organisation_id"`) {
		t.Fatalf("register with two organisation_ids: %d %s", st, b)
	}
	raw = fmt.Sprintf(`{"email":"case@example.org","password":%q,"name":"Sara Ek","ROLE":"coordinator","role":"volunteer","organisation_id":%q,"language":"sv"}`, testPassword, org)
	st, b = e.Call("POST", "/v1/auth/register", "", []byte(raw))
	if st != 422 || !strings.Contains(string(b), `"field":"ROLE"`) {
		t.Fatalf("register with ROLE: %d %s", st, b)
	}
}

// Item 9: control characters are refused in every string of every body,
// named by field; tab, newline and carriage return are text.
func TestControlCharactersRefused(t *testing.T) {
	srv := newFoundationServer(t, nil)
	for _, tc := range []struct{ body, field string }{
		{`{"name":"Sa\u0000ra","kind":"cafe"}`, "name"},
		{`{"name":"Sara\u001b[2J","kind":"cafe"}`, "name"},
		{`{"name":"Sara\u007f","kind":"cafe"}`, "name"},
		{`{"name":"Sara\u0085","kind":"cafe"}`, "name"},
		{"{\"name\":\"Sara\u009b\",\"kind\":\"cafe\"}", "name"}, // a raw C1 byte pair, not an escape
		{`{"name":"Sara","kind":"cafe\u0000"}`, "kind"},
	} {
		resp, body := do(t, srv.App, "POST", "/test/echo", []byte(tc.body))
		if resp.StatusCode != 422 || !strings.Contains(string(body), `"field":"`+tc.field+`"`) || !strings.Contains(string(body), "control characters") {
			t.Errorf("%s: %d %s", tc.body, resp.StatusCode, body)
		}
	}
	resp, body := do(t, srv.App, "POST", "/test/echo", []byte(`{"name":"Sara\tEk\r\nrad två","kind":"cafe"}`))
	if resp.StatusCode != 200 {
		t.Errorf("tab and newlines: %d %s", resp.StatusCode, body)
	}
	// On a real route, in a nested list: a volunteer's skills.
	e := newTestEnv(t)
	raw := fmt.Sprintf(`{"email":"nul@example.org","password":%q,"name":"Sara\u0000Ek","role":"volunteer","organisation_id":%q,"language":"sv"}`, testPassword, e.Org("Halmstad"))
	if st, b := e.Call("POST", "/v1/auth/register", "", []byte(raw)); st != 422 || !strings.Contains(string(b), `"field":"name"`) {
		t.Fatalf("register with NUL in the name: %d %s", st, b)
	}
}

// Item 11: a body must be sent as application/json; an action without a
// body needs no Content-Type; a wrong method says what is allowed.
func TestBodiesMustBeJSON(t *testing.T) {
	e := newTestEnv(t)
	login := `{"email":"a@example.org","password":"whatever123"}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/xml", "application/json-seq", ""} {
		resp, b := doRaw(t, e.Srv, "POST", "/v1/auth/login", "", []byte(login), "Content-Type", ct)
		if resp.StatusCode != 415 {
			t.Errorf("Content-Type %q: %d, want 415: %s", ct, resp.StatusCode, b)
			continue
		}
		if p := checkProblem(t, resp, b); p.Type != api.ProblemBase+"unsupported-media-type" {
			t.Errorf("Content-Type %q: type %q", ct, p.Type)
		}
	}
	// No body at all where one is required.
	if resp, b := doRaw(t, e.Srv, "POST", "/v1/auth/login", "", nil); resp.StatusCode != 415 {
		t.Errorf("no body: %d %s", resp.StatusCode, b)
	}
	if resp, b := doRaw(t, e.Srv, "POST", "/v1/auth/login", "", []byte(login), "Content-Type", "Application/JSON; charset=utf-8"); resp.StatusCode != 401 {
		t.Errorf("JSON with a charset: %d %s", resp.StatusCode, b)
	}
	org := e.Org("Halmstad")
	_, coord := e.User(auth.RoleCoordinator, org, auth.StatusActive)
	vol, _ := e.User(auth.RoleVolunteer, org, auth.StatusPending)
	if resp, b := doRaw(t, e.Srv, "POST", "/v1/organisations/"+org+"/members/"+vol+"/approve", coord, nil); resp.StatusCode != 200 {
		t.Errorf("approve without a body or Content-Type: %d %s", resp.StatusCode, b)
	}
	resp, b := doRaw(t, e.Srv, "PUT", "/v1/me", coord, nil)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "DELETE, GET, PATCH" {
		t.Errorf("PUT /v1/me: %d Allow %q: %s", resp.StatusCode, resp.Header.Get("Allow"), b)
	}
	checkProblem(t, resp, b)
}

// doRaw sends body with exactly the headers given (no implied Content-Type).
func doRaw(t *testing.T, srv *api.Server, method, path, token string, body []byte, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := srv.App.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Item 12: the authentication scheme is case-insensitive (RFC 9110 11.1).
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	e := newTestEnv(t)
	_, tok := e.User(auth.RoleVolunteer, e.Org("Halmstad"), auth.StatusActive)
	for _, h := range []string{"Bearer " + tok, "bearer " + tok, "BEARER " + tok, "bEaReR   " + tok + " "} {
		if st, b := e.Call("GET", "/v1/me", "", nil, "Authorization", h); st != 200 {
			t.Errorf("%q: %d %s", h[:8], st, b)
		}
	}
	for _, h := range []string{"Basic " + tok, "Bearer", "Bearer ", tok, "Bearer" + tok} {
		if st, _ := e.Call("GET", "/v1/me", "", nil, "Authorization", h); st != 401 {
			t.Errorf("%q accepted: %d", h, st)
		}
	}
}

// Item 13: requests fasthttp refuses before routing (413 body, 431
// headers) are in the access log and the request metric like any other.
func TestPreRoutingErrorsAreLoggedAndCounted(t *testing.T) {
	var logs logtest.Buffer
	srv, err := api.New(api.Deps{DB: sqlitetest.New(t), Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Extra: testExtras})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.App.Listener(ln) }()
	t.Cleanup(func() { _ = srv.App.Shutdown() })
	send := func(head string) int {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(head)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if p := checkProblem(t, resp, b); strings.Contains(p.Type, "/http-") {
			t.Errorf("%d has no stable problem type: %s", resp.StatusCode, p.Type)
		}
		return resp.StatusCode
	}
	if st := send(fmt.Sprintf("POST /test/echo HTTP/1.1\r\nHost: clavis\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 70*1024)); st != 413 {
		t.Fatalf("oversize body: %d", st)
	}
	if st := send("GET /healthz HTTP/1.1\r\nHost: clavis\r\nX-Junk: " + strings.Repeat("a", 16*1024) + "\r\n\r\n"); st != 431 {
		t.Fatalf("oversize headers: %d", st)
	}
	_, metrics := do(t, srv.App, "GET", "/metrics", nil)
	for _, st := range []string{"413", "431"} {
		if !strings.Contains(logs.String(), `"status":`+st) {
			t.Errorf("no access log line with status %s:\n%s", st, logs.String())
		}
		if !strings.Contains(string(metrics), `route="unmatched",status="`+st+`"} 1`) {
			t.Errorf("no request metric with status %s", st)
		}
	}
}
