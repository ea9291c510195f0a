package api

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/clavis-app/clavis/auth"
)

// Route describes one endpoint: the router and the OpenAPI document are both
// built from it, so they cannot drift apart.
type Route struct {
	Method  string
	Path    string // Fiber syntax: /v1/outings/:id
	Summary string
	Tag     string
	// Roles that may call it; empty means public (no token).
	Roles []auth.Role
	// AllowPending lets pending accounts call it (profile, me); other
	// authenticated routes need an active account unless the handler says so.
	AllowPending bool
	// Request is a zero value of the JSON body type, or nil.
	Request any
	// Response is a zero value of the success body type, or nil for no body.
	Response any
	// Produces is the media type of a success body that has no Go type
	// (metrics, the docs page), documented as a plain string; with a
	// Response too, a second media type of the answer, chosen by Accept.
	Produces string
	// Status is the success status (200 when zero).
	Status int
	// AlsoStatus lists other success statuses with the same body.
	AlsoStatus []int
	// Query lists query parameters: name -> description.
	Query map[string]string
	// QueryTypes gives a query parameter's type as a zero Go value (an int,
	// a bool, a named string type with an enum) when the name alone does not
	// (queryTypes has the common ones); anything else is a string.
	QueryTypes map[string]any
	// IfMatch: the route honours If-Match: "<version>" (outing transitions).
	IfMatch bool
	// ETag and Location: the success answer sets these headers.
	ETag, Location bool
	// Problems are the error statuses it can answer besides the defaults
	// (401 and 403 for authenticated routes, 400/413/415/422 for routes with a body).
	Problems []int
	// Idempotent marks creating POSTs that accept Idempotency-Key.
	Idempotent bool
	// Description is longer text for the document.
	Description string
}

var fiberParam = regexp.MustCompile(`:([a-zA-Z_]+)`)

func openAPIPath(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }

// tagDocs describes the tags of the route tables; a tag missing here is
// still declared, with a plain description.
var tagDocs = map[string]string{
	"operations":    "Health, readiness, metrics and this document.",
	"accounts":      "Registration, sign-in, tokens and the caller's own account.",
	"organisations": "Organisations, their coordinators and the vetting of members.",
	"profiles":      "Volunteer and participant profiles, availability and support needs.",
	"outings":       "Outings: asking for a companion, accepting, approving and the rest of their life.",
	"matching":      "Candidates, offers and participants' preferences about volunteers.",
	"devices":       "Devices that receive push notifications.",
}

func newDoc(version string) *openapi3.T {
	return &openapi3.T{
		OpenAPI: "3.1.0",
		Info: &openapi3.Info{
			Title:       "Clavis API",
			Version:     version,
			Description: "Companions for outings: participants ask, vetted volunteers accept, coordinators approve.",
			Contact:     &openapi3.Contact{Name: "Clavis", URL: "https://github.com/clavis-app/clavis"},
			License:     &openapi3.License{Name: "Proprietary", URL: "https://github.com/clavis-app/clavis"},
		},
		// Relative: the document describes the server that serves it.
		Servers: openapi3.Servers{{URL: "/", Description: "the server that serves this document"}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			SecuritySchemes: openapi3.SecuritySchemes{
				"bearer": &openapi3.SecuritySchemeRef{Value: openapi3.NewJWTSecurityScheme()},
			},
			Schemas:   openapi3.Schemas{},
			Responses: openapi3.ResponseBodies{},
		},
	}
}

// queryTypes types the query parameters every route names the same way.
var queryTypes = map[string]func() *openapi3.Schema{
	"limit": func() *openapi3.Schema {
		return openapi3.NewIntegerSchema().WithMin(1).WithMax(100).WithDefault(20)
	},
	"include_excluded": func() *openapi3.Schema { return openapi3.NewBoolSchema().WithDefault(false) },
	"lang":             func() *openapi3.Schema { return openapi3.NewStringSchema().WithEnum("sv", "en") },
	"role": func() *openapi3.Schema {
		return openapi3.NewStringSchema().WithEnum(anys(enumTypes[reflect.TypeFor[auth.Role]()])...)
	},
}

func (s *Server) schemaFor(v any) (*openapi3.SchemaRef, error) {
	if s.gen == nil {
		s.gen = newSchemaGen(s.doc.Components.Schemas)
	}
	return s.gen.ref(reflect.TypeOf(v))
}

func (s *Server) requestSchemaFor(v any) (*openapi3.SchemaRef, error) {
	if s.gen == nil {
		s.gen = newSchemaGen(s.doc.Components.Schemas)
	}
	s.gen.request = true
	defer func() { s.gen.request = false }()
	return s.gen.ref(reflect.TypeOf(v))
}

func problemResponse(status int) *openapi3.ResponseRef {
	return &openapi3.ResponseRef{Ref: "#/components/responses/problem" + strconv.Itoa(status)}
}

func header(desc string, schema *openapi3.Schema) *openapi3.HeaderRef {
	h := &openapi3.Header{Parameter: openapi3.Parameter{Description: desc, Schema: openapi3.NewSchemaRef("", schema)}}
	return &openapi3.HeaderRef{Value: h}
}

// addToDoc records r in the OpenAPI document.
func (s *Server) addToDoc(r Route) error {
	op := openapi3.NewOperation()
	op.Summary = r.Summary
	op.Description = r.Description
	if r.Tag != "" {
		op.Tags = []string{r.Tag}
		if s.doc.Tags.Get(r.Tag) == nil {
			desc := tagDocs[r.Tag]
			if desc == "" {
				desc = "The " + r.Tag + " routes."
			}
			s.doc.Tags = append(s.doc.Tags, &openapi3.Tag{Name: r.Tag, Description: desc})
		}
	}
	op.OperationID = strings.ToLower(r.Method) + strings.NewReplacer("/", "_", ":", "", "-", "_", ".", "_").Replace(r.Path)
	for _, m := range fiberParam.FindAllStringSubmatch(r.Path, -1) {
		op.AddParameter(openapi3.NewPathParameter(m[1]).WithSchema(openapi3.NewStringSchema().WithMinLength(1)))
	}
	qs := make([]string, 0, len(r.Query))
	for q := range r.Query {
		qs = append(qs, q)
	}
	sort.Strings(qs)
	for _, q := range qs {
		sch := openapi3.NewStringSchema()
		if v, ok := r.QueryTypes[q]; ok {
			ref, err := s.schemaFor(v)
			if err != nil {
				return fmt.Errorf("query %s of %s %s: %w", q, r.Method, r.Path, err)
			}
			sch = ref.Value
		} else if mk, ok := queryTypes[q]; ok {
			sch = mk()
		}
		p := openapi3.NewQueryParameter(q).WithSchema(sch)
		p.Description = r.Query[q]
		op.AddParameter(p)
	}
	problems := map[int]bool{500: true}
	if r.Idempotent {
		p := openapi3.NewHeaderParameter("Idempotency-Key").WithSchema(openapi3.NewStringSchema().WithMinLength(1).WithMaxLength(maxIdempotencyKey).WithPattern("^[ -~]+$"))
		p.Description = "The same key from the same user within 24 h returns the first answer and creates nothing new; " +
			"with a different request it is a 422, while the first still runs a 409."
		p.Example = "3f1c9a52-5d0e-4e53-9b5b-0c1f7e2d8a41"
		op.AddParameter(p)
		problems[409], problems[422] = true, true
	}
	if r.IfMatch {
		p := openapi3.NewHeaderParameter("If-Match").WithSchema(openapi3.NewStringSchema().WithPattern(`^(W/)?"[1-9][0-9]*"$`))
		p.Description = "The outing's ETag: act only if the outing is still at that version, else 409."
		p.Example = `"3"`
		op.AddParameter(p)
		problems[409], problems[422] = true, true
	}
	if r.Request != nil {
		sch, err := s.requestSchemaFor(r.Request)
		if err != nil {
			return fmt.Errorf("request schema for %s %s: %w", r.Method, r.Path, err)
		}
		body := openapi3.NewRequestBody().WithRequired(true).WithJSONSchemaRef(sch)
		body.Content.Get("application/json").Example = s.example(sch)
		op.RequestBody = &openapi3.RequestBodyRef{Value: body}
		problems[400], problems[413], problems[415], problems[422] = true, true, true, true
	}
	if len(r.Roles) > 0 {
		op.Security = &openapi3.SecurityRequirements{openapi3.NewSecurityRequirement().Authenticate("bearer")}
		problems[401], problems[403] = true, true
		roles := make([]string, len(r.Roles))
		for i, role := range r.Roles {
			roles[i] = string(role)
		}
		op.Extensions = map[string]any{"x-roles": roles}
	} else {
		op.Security = &openapi3.SecurityRequirements{}
	}
	for _, p := range r.Problems {
		problems[p] = true
	}
	status := r.Status
	if status == 0 {
		status = fiber.StatusOK
	}
	resp := openapi3.NewResponse().WithDescription(utils.StatusMessage(status))
	if r.Response != nil {
		sch, err := s.schemaFor(r.Response)
		if err != nil {
			return fmt.Errorf("response schema for %s %s: %w", r.Method, r.Path, err)
		}
		resp = resp.WithJSONSchemaRef(sch)
		resp.Content.Get("application/json").Example = s.example(sch)
		if r.Produces != "" {
			// A second form of the same answer, chosen by Accept (a CSV export).
			resp.Content[r.Produces] = openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema())
		}
	} else if r.Produces != "" {
		sch := openapi3.NewStringSchema()
		if strings.HasSuffix(r.Produces, "json") {
			sch = openapi3.NewObjectSchema()
		}
		resp = resp.WithContent(openapi3.NewContentWithSchema(sch, []string{r.Produces}))
	}
	resp.Headers = openapi3.Headers{}
	if r.ETag {
		resp.Headers["ETag"] = header(`The outing's version, for If-Match ("3"). Not on a replayed idempotent answer.`,
			openapi3.NewStringSchema().WithPattern(`^"[1-9][0-9]*"$`))
	}
	if r.Location {
		resp.Headers["Location"] = header("Where the new resource is. Not on a replayed idempotent answer.", openapi3.NewStringSchema())
	}
	if r.Idempotent {
		resp.Headers["Idempotent-Replayed"] = header("true when this is the stored first answer to a repeated Idempotency-Key.",
			openapi3.NewStringSchema().WithEnum("true"))
	}
	op.AddResponse(status, resp)
	for _, st := range r.AlsoStatus {
		also := *resp
		also.Description = openapi3.Ptr(utils.StatusMessage(st))
		op.AddResponse(st, &also)
	}
	for p := range problems {
		op.Responses.Set(strconv.Itoa(p), problemResponse(p))
	}
	s.doc.AddOperation(openAPIPath(r.Path), r.Method, op)
	return nil
}

// problemStatuses are the statuses with a shared problem response.
var problemStatuses = []int{400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503}

// finishDoc adds the shared problem responses once every route is in.
func (s *Server) finishDoc() error {
	sch, err := s.schemaFor(Problem{})
	if err != nil {
		return err
	}
	for _, st := range problemStatuses {
		content := openapi3.NewContentWithSchemaRef(sch, []string{"application/problem+json"})
		content.Get("application/problem+json").Example = Problem{Type: "about:blank", Title: utils.StatusMessage(st), Status: st,
			Detail: problemExampleDetail[st]}
		resp := openapi3.NewResponse().WithDescription(utils.StatusMessage(st) + " (RFC 9457 problem)").WithContent(content)
		if st == fiber.StatusTooManyRequests {
			resp.Headers = openapi3.Headers{"Retry-After": header("Seconds to wait before trying again.", openapi3.NewIntegerSchema().WithMin(1))}
		}
		s.doc.Components.Responses["problem"+strconv.Itoa(st)] = &openapi3.ResponseRef{Value: resp}
	}
	sort.Slice(s.doc.Tags, func(i, j int) bool { return s.doc.Tags[i].Name < s.doc.Tags[j].Name })
	return nil
}

var problemExampleDetail = map[int]string{
	401: "send a bearer access token",
	403: "a volunteer may not do this",
	404: "no such resource: /v1/outings/0000",
	409: "the outing is not open",
	422: "the request has invalid fields",
	429: "too many attempts; try again later",
}

// OpenAPIPath converts a Fiber route template to OpenAPI syntax.
func OpenAPIPath(p string) string { return openAPIPath(p) }
