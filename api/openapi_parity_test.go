package api_test

// OpenAPI parity: the served /openapi.json and the router must describe the
// same API. TestOpenAPIDocumentIsValidAndComplete (foundation_test.go)
// checks that every served route is documented; this file checks both
// directions at once, and that each operation carries what a client needs:
// a success response, its security, the problem responses it can give and
// its request schema. Run it alone with
//
//	go test ./api -run 'TestOpenAPIParity' -v

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
)

// servedDoc fetches /openapi.json as a client would, then loads and
// validates it with kin-openapi.
func servedDoc(t *testing.T, e *testEnv) *openapi3.T {
	t.Helper()
	resp, body := e.Do("GET", "/openapi.json", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

type opKey struct{ method, path string }

func (k opKey) String() string { return k.method + " " + k.path }

// TestOpenAPIParityRoutesAndDocument: every operation in the served document
// is served by the router and every route of the router is in the document.
func TestOpenAPIParityRoutesAndDocument(t *testing.T) {
	e := newTestEnv(t)
	doc := servedDoc(t, e)
	for _, p := range routeDocDrift(doc, e.Srv) {
		t.Error(p)
	}
	t.Logf("%d paths; document, router and route table agree", doc.Paths.Len())
}

// TestOpenAPIParityOperations checks each operation against its route:
// success response, security, problem responses and request schema.
func TestOpenAPIParityOperations(t *testing.T) {
	e := newTestEnv(t)
	doc := servedDoc(t, e)
	for _, p := range operationDrift(doc, e.Srv.Routes()) {
		t.Error(p)
	}
}

// TestOpenAPIParityCatchesDrift shows the two checks above fail on the
// drifts they exist for: each case breaks a fresh server's document (before
// it is first served) or router, and the check must name the break.
func TestOpenAPIParityCatchesDrift(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *api.Server)
		want   string
	}{
		{"route without operation", func(s *api.Server) {
			s.Doc().Paths.Find("/v1/outings/{id}").Get = nil
		}, "served but not in /openapi.json: GET /v1/outings/{id}"},
		{"operation without route", func(s *api.Server) {
			s.Doc().AddOperation("/v1/ghosts", "GET", s.Doc().Paths.Find("/healthz").Get)
		}, "in /openapi.json but not served: GET /v1/ghosts"},
		{"undocumented route added to the router", func(s *api.Server) {
			s.App.Get("/v1/backdoor", func(c *fiber.Ctx) error { return nil })
		}, "served but not in /openapi.json: GET /v1/backdoor"},
		{"security dropped", func(s *api.Server) {
			s.Doc().Paths.Find("/v1/outings/{id}/approve").Post.Security = &openapi3.SecurityRequirements{}
		}, "POST /v1/outings/{id}/approve: authenticated route wants security"},
		{"public route made bearer", func(s *api.Server) {
			s.Doc().Paths.Find("/v1/auth/login").Post.Security = &openapi3.SecurityRequirements{openapi3.NewSecurityRequirement().Authenticate("bearer")}
		}, "POST /v1/auth/login: public route must have empty security"},
		{"401 dropped", func(s *api.Server) {
			s.Doc().Paths.Find("/v1/volunteers/me/offers").Get.Responses.Delete("401")
		}, "GET /v1/volunteers/me/offers: no 401 problem response"},
		{"422 dropped", func(s *api.Server) {
			s.Doc().Paths.Find("/v1/outings").Post.Responses.Delete("422")
		}, "POST /v1/outings: no 422 problem response"},
		{"request schema dropped", func(s *api.Server) {
			s.Doc().Paths.Find("/v1/devices").Post.RequestBody = nil
		}, "POST /v1/devices: takes a body but documents none"},
		{"success response dropped", func(s *api.Server) {
			s.Doc().Paths.Find("/v1/outings").Post.Responses.Delete("201")
		}, "POST /v1/outings: success responses [], want [201]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			tc.mutate(e.Srv)
			resp, body := e.Do("GET", "/openapi.json", "", nil)
			if resp.StatusCode != 200 {
				t.Fatalf("GET /openapi.json: %d", resp.StatusCode)
			}
			doc, err := openapi3.NewLoader().LoadFromData(body)
			if err != nil {
				t.Fatal(err)
			}
			got := append(routeDocDrift(doc, e.Srv), operationDrift(doc, e.Srv.Routes())...)
			found := false
			for _, p := range got {
				found = found || strings.Contains(p, tc.want)
			}
			if !found {
				t.Errorf("drift not reported; want %q among %q", tc.want, got)
			}
		})
	}
}

// routeDocDrift lists the operations only the router or only the document has.
func routeDocDrift(doc *openapi3.T, srv *api.Server) []string {
	documented := map[opKey]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[opKey{strings.ToUpper(method), path}] = true
		}
	}
	// Fiber adds a HEAD for every GET by itself; those are not operations
	// of their own. A HEAD without its GET would be.
	served := map[opKey]bool{}
	gets := map[string]bool{}
	routes := srv.App.GetRoutes(true)
	for _, r := range routes {
		if r.Method == http.MethodGet {
			gets[r.Path] = true
		}
	}
	for _, r := range routes {
		if r.Method == http.MethodHead && gets[r.Path] {
			continue
		}
		served[opKey{r.Method, api.OpenAPIPath(r.Path)}] = true
	}
	var out []string
	if len(served) == 0 {
		out = append(out, "the router serves nothing")
	}
	for k := range served {
		if !documented[k] {
			out = append(out, "served but not in /openapi.json: "+k.String())
		}
	}
	for k := range documented {
		if !served[k] {
			out = append(out, "in /openapi.json but not served: "+k.String())
		}
	}
	sort.Strings(out)
	return out
}

// operationDrift checks each route's operation in doc.
func operationDrift(doc *openapi3.T, routes []api.Route) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	if len(doc.Security) != 0 {
		bad("top-level security %v would apply to public routes; want none", doc.Security)
	}
	var bearer *openapi3.SecuritySchemeRef
	if doc.Components != nil {
		bearer = doc.Components.SecuritySchemes["bearer"]
	}
	if bearer == nil || bearer.Value == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" {
		bad("components.securitySchemes.bearer must be an http bearer scheme, got %+v", bearer)
	}
	for _, st := range []int{400, 401, 403, 413, 415, 422, 500} {
		var ref *openapi3.ResponseRef
		if doc.Components != nil {
			ref = doc.Components.Responses["problem"+strconv.Itoa(st)]
		}
		if ref == nil || ref.Value == nil || ref.Value.Content.Get("application/problem+json") == nil {
			bad("components.responses.problem%d must be an application/problem+json response", st)
		}
	}

	for _, r := range routes {
		path := api.OpenAPIPath(r.Path)
		name := r.Method + " " + path
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			bad("%s: not in the document", name)
			continue
		}
		op := item.GetOperation(r.Method)
		if op.Summary == "" || op.OperationID == "" {
			bad("%s: summary and operationId are required", name)
		}

		// Success: exactly the route's status, with a JSON schema when it has a body.
		want := r.Status
		if want == 0 {
			want = http.StatusOK
		}
		successes := []int{}
		if op.Responses != nil {
			for code := range op.Responses.Map() {
				if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 {
					successes = append(successes, n)
				}
			}
		}
		wantAll := append([]int{want}, r.AlsoStatus...)
		sort.Ints(successes)
		sort.Ints(wantAll)
		if !slices.Equal(successes, wantAll) {
			bad("%s: success responses %v, want %v", name, successes, wantAll)
		} else if r.Response != nil {
			ok := op.Responses.Status(want)
			if ok.Value == nil || ok.Value.Content.Get("application/json") == nil || ok.Value.Content.Get("application/json").Schema == nil {
				bad("%s: %d response has no application/json schema", name, want)
			}
		}

		// Security: bearer exactly when the route has roles; explicitly none otherwise.
		switch {
		case op.Security == nil:
			bad("%s: security must be stated (empty for public routes)", name)
		case len(r.Roles) > 0:
			if len(*op.Security) != 1 || len((*op.Security)[0]) != 1 || (*op.Security)[0]["bearer"] == nil {
				bad("%s: authenticated route wants security [{bearer: []}], got %v", name, *op.Security)
			}
			roles, _ := op.Extensions["x-roles"].([]any)
			var got []string
			for _, x := range roles {
				s, _ := x.(string)
				got = append(got, s)
			}
			var wantRoles []string
			for _, role := range r.Roles {
				wantRoles = append(wantRoles, string(role))
			}
			if !slices.Equal(got, wantRoles) {
				bad("%s: x-roles %v, want %v", name, got, wantRoles)
			}
		case len(*op.Security) != 0:
			bad("%s: public route must have empty security, got %v", name, *op.Security)
		}

		// Problems: 500 always; 401/403 when authenticated; 400/413/415/422 with a body.
		problems := []int{500}
		if len(r.Roles) > 0 {
			problems = append(problems, 401, 403)
		}
		if r.Request != nil {
			problems = append(problems, 400, 413, 415, 422)
		}
		problems = append(problems, r.Problems...)
		for _, st := range problems {
			var resp *openapi3.ResponseRef
			if op.Responses != nil {
				resp = op.Responses.Status(st)
			}
			if resp == nil {
				bad("%s: no %d problem response", name, st)
				continue
			}
			if resp.Ref != "#/components/responses/problem"+strconv.Itoa(st) {
				bad("%s: %d response is %q, want the shared problem%d", name, st, resp.Ref, st)
			}
		}
		if len(r.Roles) == 0 && op.Responses != nil {
			for _, st := range []int{401, 403} {
				if op.Responses.Status(st) != nil && !slices.Contains(r.Problems, st) {
					bad("%s: public route documents %d", name, st)
				}
			}
		}

		// Request body: a required JSON schema exactly when the route takes one.
		switch {
		case r.Request != nil && (op.RequestBody == nil || op.RequestBody.Value == nil):
			bad("%s: takes a body but documents none", name)
		case r.Request != nil:
			mt := op.RequestBody.Value.Content.Get("application/json")
			if mt == nil || mt.Schema == nil || mt.Schema.Value == nil || !op.RequestBody.Value.Required {
				bad("%s: request body must be a required application/json schema", name)
			} else if len(mt.Schema.Value.Properties) == 0 {
				bad("%s: request schema has no properties", name)
			}
		case op.RequestBody != nil:
			bad("%s: documents a request body the route does not take", name)
		}

		// Path parameters: one required string per :param of the route.
		for _, seg := range strings.Split(r.Path, "/") {
			if p, ok := strings.CutPrefix(seg, ":"); ok {
				param := op.Parameters.GetByInAndName("path", p)
				if param == nil || !param.Required {
					bad("%s: path parameter %q not documented as required", name, p)
				}
			}
		}
	}
	return out
}

// TestOpenAPIParityProblemsAreReal sends each operation what its documented
// problems promise to refuse (no token, a role it does not allow, malformed
// JSON) and checks the answer is a documented status with a problem body,
// so the document describes behaviour, not intentions.
func TestOpenAPIParityProblemsAreReal(t *testing.T) {
	e := newTestEnv(t)
	doc := servedDoc(t, e)
	org := e.Org("Parity")
	tokens := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.RoleParticipant, auth.RoleVolunteer, auth.RoleCoordinator} {
		_, tokens[role] = e.User(role, org, auth.StatusActive)
	}
	_, tokens[auth.RoleAdmin] = e.User(auth.RoleAdmin, "", auth.StatusActive)
	allRoles := []auth.Role{auth.RoleParticipant, auth.RoleVolunteer, auth.RoleCoordinator, auth.RoleAdmin}
	const someID = "0123456789abcdef01234567"

	check := func(r api.Route, what, token string, body any, want int, headers ...string) {
		t.Helper()
		path := r.Path
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, someID, 1)
			}
		}
		resp, b := e.Do(r.Method, path, token, body, headers...)
		name := fmt.Sprintf("%s %s (%s)", r.Method, r.Path, what)
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d: %s", name, resp.StatusCode, want, b)
		}
		op := doc.Paths.Find(api.OpenAPIPath(r.Path)).GetOperation(r.Method)
		if op.Responses.Status(resp.StatusCode) == nil {
			t.Errorf("%s: answered %d, which the document does not list", name, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s: Content-Type %q, want application/problem+json", name, ct)
		}
	}
	checked := 0
	for _, r := range e.Srv.Routes() {
		if len(r.Roles) > 0 {
			check(r, "no token", "", nil, http.StatusUnauthorized)
			for _, role := range allRoles {
				if !slices.Contains(r.Roles, role) {
					check(r, "as "+string(role), tokens[role], nil, http.StatusForbidden)
					break
				}
			}
		}
		if r.Request != nil {
			token := ""
			if len(r.Roles) > 0 {
				token = tokens[r.Roles[0]]
			}
			check(r, "malformed JSON", token, []byte(`{"unterminated": `), http.StatusBadRequest)
			check(r, "a form, not JSON", token, []byte(`a=1`), http.StatusUnsupportedMediaType, "Content-Type", "application/x-www-form-urlencoded")
		}
		checked++
	}
	t.Logf("%d operations answered their documented problems", checked)
}

// TestOpenAPIExamplesAndEnums: every request body and JSON success answer
// has an example (the loader's validation checks it fits), and the enum tags
// of the views name the same values as the lists the services check.
func TestOpenAPIExamplesAndEnums(t *testing.T) {
	e := newTestEnv(t)
	doc := servedDoc(t, e)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if rb := op.RequestBody; rb != nil && rb.Value.Content.Get("application/json").Example == nil {
				t.Errorf("%s %s: request body without an example", method, path)
			}
			for code, r := range op.Responses.Map() {
				if mt := r.Value.Content.Get("application/json"); strings.HasPrefix(code, "2") && mt != nil && mt.Example == nil && mt.Schema.Ref != "" {
					t.Errorf("%s %s: %s answer without an example", method, path, code)
				}
			}
		}
	}
	enum := func(schema, field string) []string {
		p := doc.Components.Schemas[schema].Value.Properties[field].Value
		if p.Type.Is("array") {
			p = p.Items.Value
		}
		var out []string
		for _, v := range p.Enum {
			out = append(out, v.(string))
		}
		return out
	}
	for _, c := range []struct {
		schema, field string
		want          []string
	}{
		{"OutingView", "companion_gender", matching.CompanionGenders},
		{"OutingView", "language", matching.Languages},
		{"ParticipantProfileView", "languages", matching.Languages},
		{"ParticipantProfileView", "companion_gender", matching.CompanionGenders},
		{"VolunteerProfileView", "languages", matching.Languages},
		{"VolunteerProfileView", "gender", matching.Genders},
		{"DeviceBody", "platform", notify.Platforms},
		{"UserBody", "language", auth.Languages},
	} {
		if got := enum(c.schema, c.field); !slices.Equal(got, c.want) {
			t.Errorf("%s.%s: enum %v, the service checks %v", c.schema, c.field, got, c.want)
		}
	}
}
