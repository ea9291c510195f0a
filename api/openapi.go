package api

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
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
	// Status is the success status (200 when zero).
	Status int
	// Query lists query parameters: name -> description.
	Query map[string]string
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

func newDoc(version string) *openapi3.T {
	return &openapi3.T{
		OpenAPI: "3.1.0",
		Info: &openapi3.Info{
			Title:       "Clavis API",
			Version:     version,
			Description: "Companions for outings: participants ask, vetted volunteers accept, coordinators approve.",
		},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			SecuritySchemes: openapi3.SecuritySchemes{
				"bearer": &openapi3.SecuritySchemeRef{Value: openapi3.NewJWTSecurityScheme()},
			},
			Schemas: openapi3.Schemas{},
		},
	}
}

func (s *Server) schemaFor(v any) (*openapi3.SchemaRef, error) {
	return openapi3gen.NewSchemaRefForValue(v, nil, openapi3gen.SchemaCustomizer(customizeSchema))
}

// customizeSchema carries validate tags into the document: required fields
// and enums.
func customizeSchema(_ string, t reflect.Type, tag reflect.StructTag, schema *openapi3.Schema) error {
	if t.Kind() == reflect.Struct && t.String() != "time.Time" {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if strings.Contains(","+f.Tag.Get("validate")+",", ",required,") {
				schema.Required = append(schema.Required, name)
			}
		}
	}
	for _, rule := range strings.Split(tag.Get("validate"), ",") {
		if vals, ok := strings.CutPrefix(rule, "oneof="); ok {
			for _, v := range strings.Fields(vals) {
				schema.Enum = append(schema.Enum, v)
			}
		}
	}
	if d := tag.Get("doc"); d != "" {
		schema.Description = d
	}
	return nil
}

func problemResponse(status int) *openapi3.ResponseRef {
	return &openapi3.ResponseRef{Ref: "#/components/responses/problem" + strconv.Itoa(status)}
}

// addToDoc records r in the OpenAPI document.
func (s *Server) addToDoc(r Route) error {
	op := openapi3.NewOperation()
	op.Summary = r.Summary
	op.Description = r.Description
	if r.Tag != "" {
		op.Tags = []string{r.Tag}
	}
	op.OperationID = strings.ToLower(r.Method) + strings.NewReplacer("/", "_", ":", "", "-", "_").Replace(r.Path)
	for _, m := range fiberParam.FindAllStringSubmatch(r.Path, -1) {
		op.AddParameter(openapi3.NewPathParameter(m[1]).WithSchema(openapi3.NewStringSchema()))
	}
	qs := make([]string, 0, len(r.Query))
	for q := range r.Query {
		qs = append(qs, q)
	}
	sort.Strings(qs)
	for _, q := range qs {
		p := openapi3.NewQueryParameter(q).WithSchema(openapi3.NewStringSchema())
		p.Description = r.Query[q]
		op.AddParameter(p)
	}
	if r.Idempotent {
		p := openapi3.NewHeaderParameter("Idempotency-Key").WithSchema(openapi3.NewStringSchema())
		p.Description = "The same key from the same user within 24 h returns the first answer and creates nothing new."
		op.AddParameter(p)
	}
	problems := map[int]bool{500: true}
	if r.Request != nil {
		sch, err := s.schemaFor(r.Request)
		if err != nil {
			return fmt.Errorf("request schema for %s %s: %w", r.Method, r.Path, err)
		}
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).WithJSONSchemaRef(sch)}
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
	}
	op.AddResponse(status, resp)
	for p := range problems {
		op.Responses.Set(strconv.Itoa(p), problemResponse(p))
	}
	s.doc.AddOperation(openAPIPath(r.Path), r.Method, op)
	return nil
}

// finishDoc adds the shared problem responses once every route is in.
func (s *Server) finishDoc() error {
	sch, err := s.schemaFor(Problem{})
	if err != nil {
		return err
	}
	s.doc.Components.Schemas["Problem"] = sch
	s.doc.Components.Responses = openapi3.ResponseBodies{}
	for _, st := range []int{400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503} {
		content := openapi3.NewContentWithSchemaRef(&openapi3.SchemaRef{Ref: "#/components/schemas/Problem"}, []string{"application/problem+json"})
		s.doc.Components.Responses["problem"+strconv.Itoa(st)] = &openapi3.ResponseRef{
			Value: openapi3.NewResponse().WithDescription(utils.StatusMessage(st) + " (RFC 9457 problem)").WithContent(content),
		}
	}
	return nil
}

// OpenAPIPath converts a Fiber route template to OpenAPI syntax.
func OpenAPIPath(p string) string { return openAPIPath(p) }
