package api_test

// Every response of the HTTP tests is checked against the served
// /openapi.json (doRequest calls checkContract): its status must be
// documented for the operation, its Content-Type must be one the operation
// declares, and its body and headers must match the schemas. So a handler
// and its schema cannot drift apart without a test failing. A test that
// sends something deliberately outside the contract and expects an
// undocumented answer opts out with e.SkipContract().

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
)

func init() {
	// The docs page and the metrics are documented as strings.
	for _, mt := range []string{"text/html", "text/plain"} {
		openapi3filter.RegisterBodyDecoder(mt, func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(r)
			return string(b), err
		})
	}
}

var (
	// contractDocs holds each loaded document by the hash of its JSON, as
	// most envs serve the same one; contractOf maps a server to its own.
	contractDocs sync.Map // [32]byte -> *openapi3.T
	contractOf   sync.Map // *api.Server -> *openapi3.T
	contractSkip sync.Map // *api.Server -> bool
)

// SkipContract turns the response validation off for this env's server.
func (e *testEnv) SkipContract() { contractSkip.Store(e.Srv, true) }

// servedContract loads the document srv serves, once per server.
func servedContract(srv *api.Server) (*openapi3.T, error) {
	if d, ok := contractOf.Load(srv); ok {
		return d.(*openapi3.T), nil
	}
	resp, err := srv.App.Test(httptest.NewRequest("GET", "/openapi.json", nil), -1)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /openapi.json: %d", resp.StatusCode)
	}
	sum := sha256.Sum256(raw)
	d, ok := contractDocs.Load(sum)
	if !ok {
		doc, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			return nil, fmt.Errorf("load /openapi.json: %w", err)
		}
		d, _ = contractDocs.LoadOrStore(sum, doc)
	}
	contractOf.Store(srv, d)
	return d.(*openapi3.T), nil
}

// checkContract validates one answer; see the top of this file.
func checkContract(tb testing.TB, srv *api.Server, req *http.Request, resp *http.Response, body []byte) {
	tb.Helper()
	if skip, _ := contractSkip.Load(srv); skip != nil {
		return
	}
	doc, err := servedContract(srv)
	if err != nil {
		tb.Fatalf("contract: %v", err)
	}
	if err := validateAnswer(doc, req, resp.StatusCode, resp.Header, body); err != nil {
		tb.Fatalf("contract: %s %s answered %d outside /openapi.json: %v\nbody: %.600s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
}

// validateAnswer checks one answer against doc. Requests to paths or
// methods the document does not have (404 and 405 answers, HEAD and CORS
// preflights) have no operation to check against and pass.
func validateAnswer(doc *openapi3.T, req *http.Request, status int, header http.Header, body []byte) error {
	route, params := findOperation(doc, req.Method, req.URL.Path)
	if route == nil {
		return nil
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return err
	}
	// openapi3filter skips the body of a response declared without
	// content; such an answer must have none.
	if r := route.Operation.Responses.Status(status); r != nil && r.Value != nil && len(r.Value.Content) == 0 && len(bytes.TrimSpace(body)) > 0 {
		return fmt.Errorf("status %d is documented without a body, got %d bytes", status, len(body))
	}
	return nil
}

// findOperation matches a concrete path to the document's templates, the
// one with the fewest parameters first (/v1/volunteers/me/... before
// /v1/volunteers/{id}/...).
func findOperation(doc *openapi3.T, method, path string) (*routers.Route, map[string]string) {
	var best *routers.Route
	var bestParams map[string]string
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for tmpl, item := range doc.Paths.Map() {
		op := item.GetOperation(method)
		if op == nil {
			continue
		}
		ts := strings.Split(strings.Trim(tmpl, "/"), "/")
		if len(ts) != len(segs) {
			continue
		}
		params := map[string]string{}
		for i, t := range ts {
			if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") && segs[i] != "" {
				params[t[1:len(t)-1]] = segs[i]
			} else if t != segs[i] {
				params = nil
				break
			}
		}
		if params != nil && (best == nil || len(params) < len(bestParams)) {
			best = &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: op}
			bestParams = params
		}
	}
	return best, bestParams
}

// TestContractCatchesDrift proves the check above can fail: real answers
// of the app are validated against copies of the served document, each
// broken in one way a handler and its schema could drift apart.
func TestContractCatchesDrift(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	pia := newPerson(e, auth.RoleParticipant, org)
	id := createOuting(e, pia, testNow.Add(48*time.Hour))
	get := func(path string) (*http.Request, *http.Response, []byte) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+pia.Token)
		resp, err := e.Srv.App.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return req, resp, b
	}
	okReq, okResp, okBody := get("/v1/outings/" + id)
	nfReq, nfResp, nfBody := get("/v1/outings/no-such-outing")
	if okResp.StatusCode != 200 || nfResp.StatusCode != 404 {
		t.Fatalf("set-up: %d %s / %d %s", okResp.StatusCode, okBody, nfResp.StatusCode, nfBody)
	}
	served, err := servedContract(e.Srv)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(served)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		break_ func(d *openapi3.T)
		req    *http.Request
		resp   *http.Response
		body   []byte
		want   string
	}{
		{"intact document", func(*openapi3.T) {}, okReq, okResp, okBody, ""},
		{"a status value left out of the enum", func(d *openapi3.T) {
			d.Components.Schemas["OutingView"].Value.Properties["status"].Value.Enum = []any{"confirmed"}
		}, okReq, okResp, okBody, `Error at "/status"`},
		{"a field typed wrong", func(d *openapi3.T) {
			d.Components.Schemas["OutingView"].Value.Properties["version"].Value.Type = &openapi3.Types{"string"}
		}, okReq, okResp, okBody, `Error at "/version"`},
		{"a field the handler never writes made required", func(d *openapi3.T) {
			s := d.Components.Schemas["OutingView"].Value
			s.Required = append(s.Required, "volunteer_id")
		}, okReq, okResp, okBody, "volunteer_id"},
		{"an answered status left undocumented", func(d *openapi3.T) {
			d.Paths.Find("/v1/outings/{id}").Get.Responses.Delete("404")
		}, nfReq, nfResp, nfBody, "status is not supported"},
		{"the wrong media type", func(d *openapi3.T) {
			c := d.Components.Responses["problem404"].Value.Content
			c["application/json"] = c["application/problem+json"]
			delete(c, "application/problem+json")
		}, nfReq, nfResp, nfBody, `application/problem+json`},
		{"a header off its pattern", func(d *openapi3.T) {
			d.Paths.Find("/v1/outings/{id}").Get.Responses.Status(200).Value.Headers["ETag"].Value.Schema.Value.Pattern = `^W/`
		}, okReq, okResp, okBody, "ETag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := openapi3.NewLoader().LoadFromData(raw) // a fresh copy
			if err != nil {
				t.Fatal(err)
			}
			tc.break_(d)
			err = validateAnswer(d, tc.req, tc.resp.StatusCode, tc.resp.Header, tc.body)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("the intact document refuses a real answer: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("drift not caught")
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error does not name %q: %v", tc.want, err)
			}
			if err != nil {
				t.Logf("caught: %.300s", strings.ReplaceAll(err.Error(), "\n", " "))
			}
		})
	}
}
