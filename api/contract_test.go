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
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/clavis-app/clavis/api"
)

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
