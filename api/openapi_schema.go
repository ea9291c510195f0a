package api

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

// The schemas of /openapi.json come from the Go types by reflection, one
// named component per struct type, so that a generated client has one
// Outing type and not ten anonymous copies. The rules:
//
//   - required: in a response, a field whose json tag has no omitempty and
//     whose Go type is not a pointer is always in the JSON, so it is
//     required; in a request body, a field is required when its validate
//     tag says so (a type is a request type when a route's Request reaches
//     it first);
//   - enums: named string types in enumTypes, a validate "oneof=" rule or
//     an `enum:"a b c"` tag (for plain strings of other packages' views);
//     `allowempty:"true"` adds "" to a field's enum;
//   - nothing is nullable: pointers are optional fields, and a nil slice
//     would be a contract break the response validation of the tests finds.
//
// kin-openapi's openapi3gen writes OpenAPI 3.0 (nullable, inline copies),
// hence this small generator.

// enumTypes maps the named string types of the contract to their values,
// taken from the packages' own lists so that a new value is documented.
var enumTypes = map[reflect.Type][]string{
	reflect.TypeFor[auth.Role]():             {string(auth.RoleParticipant), string(auth.RoleVolunteer), string(auth.RoleCoordinator), string(auth.RoleAdmin)},
	reflect.TypeFor[auth.Status]():           {string(auth.StatusPending), string(auth.StatusActive), string(auth.StatusSuspended)},
	reflect.TypeFor[matching.OutingStatus](): stringsOf(matching.OutingStatuses),
	reflect.TypeFor[matching.OutingKind]():   stringsOf(matching.OutingKinds),
}

func stringsOf[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// schemaGen turns Go types into component schemas of one document.
type schemaGen struct {
	schemas openapi3.Schemas
	// request is set while a request body's types are walked.
	request bool
	names   map[reflect.Type]string
	taken   map[string]reflect.Type
}

func newSchemaGen(schemas openapi3.Schemas) *schemaGen {
	return &schemaGen{schemas: schemas, names: map[reflect.Type]string{}, taken: map[string]reflect.Type{}}
}

var timeType = reflect.TypeFor[time.Time]()

// ref returns a schema for t: a $ref for struct types (adding the component
// the first time), an inline schema for the rest.
func (g *schemaGen) ref(t reflect.Type) (*openapi3.SchemaRef, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return openapi3.NewSchemaRef("", openapi3.NewDateTimeSchema()), nil
	}
	if vals, ok := enumTypes[t]; ok {
		return openapi3.NewSchemaRef("", openapi3.NewStringSchema().WithEnum(anys(vals)...)), nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if t.Name() == "" {
			s := openapi3.NewObjectSchema()
			if err := g.fields(t, s); err != nil {
				return nil, err
			}
			return openapi3.NewSchemaRef("", s), nil
		}
		name, err := g.component(t)
		if err != nil {
			return nil, err
		}
		return openapi3.NewSchemaRef("#/components/schemas/"+name, nil), nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return openapi3.NewSchemaRef("", openapi3.NewBytesSchema()), nil
		}
		items, err := g.ref(t.Elem())
		if err != nil {
			return nil, err
		}
		return openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeArray}, Items: items}), nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key %s: JSON objects have string keys", t.Key())
		}
		vals, err := g.ref(t.Elem())
		if err != nil {
			return nil, err
		}
		s := openapi3.NewObjectSchema()
		s.AdditionalProperties = openapi3.AdditionalProperties{Schema: vals}
		return openapi3.NewSchemaRef("", s), nil
	case reflect.String:
		return openapi3.NewSchemaRef("", openapi3.NewStringSchema()), nil
	case reflect.Bool:
		return openapi3.NewSchemaRef("", openapi3.NewBoolSchema()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := openapi3.NewIntegerSchema()
		if t.Kind() == reflect.Int64 || t.Kind() == reflect.Uint64 {
			s.Format = "int64"
		}
		return openapi3.NewSchemaRef("", s), nil
	case reflect.Float32, reflect.Float64:
		return openapi3.NewSchemaRef("", openapi3.NewFloat64Schema()), nil
	case reflect.Interface:
		return openapi3.NewSchemaRef("", &openapi3.Schema{}), nil
	}
	return nil, fmt.Errorf("no JSON schema for %s", t)
}

// component adds t's schema under its name: the Go name, capitalised, or
// package + name when two packages use the same name.
func (g *schemaGen) component(t reflect.Type) (string, error) {
	if name, ok := g.names[t]; ok {
		return name, nil
	}
	name := capitalise(t.Name())
	if other, ok := g.taken[name]; ok && other != t {
		pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
		name = capitalise(pkg) + name
	}
	g.names[t], g.taken[name] = name, t
	s := openapi3.NewObjectSchema()
	g.schemas[name] = openapi3.NewSchemaRef("", s) // before the fields: types may recurse
	if err := g.fields(t, s); err != nil {
		return "", err
	}
	return name, nil
}

// fields adds t's JSON fields to s as encoding/json writes them, embedded
// structs flattened.
func (g *schemaGen) fields(t reflect.Type, s *openapi3.Schema) error {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" {
			et := f.Type
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if err := g.fields(et, s); err != nil {
					return err
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		fs, err := g.ref(f.Type)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		fs = applyTags(fs, f.Tag)
		s.Properties[name] = fs
		always := !strings.Contains(","+opts+",", ",omitempty,") && f.Type.Kind() != reflect.Pointer
		if g.request && strings.Contains(","+f.Tag.Get("validate")+",", ",required,") || !g.request && always {
			s.Required = append(s.Required, name)
		}
	}
	return nil
}

// applyTags carries the doc, enum and validate tags into a field's schema.
// A $ref cannot take siblings that a 3.0-minded tool would read, so a
// documented reference is wrapped in allOf.
func applyTags(fs *openapi3.SchemaRef, tag reflect.StructTag) *openapi3.SchemaRef {
	doc := tag.Get("doc")
	if fs.Ref != "" {
		if doc == "" {
			return fs
		}
		return openapi3.NewSchemaRef("", &openapi3.Schema{AllOf: openapi3.SchemaRefs{fs}, Description: doc})
	}
	s := *fs.Value // a copy: enum schemas are shared
	s.Description = doc
	target := &s
	rules := strings.Split(tag.Get("validate"), ",")
	if s.Type.Is(openapi3.TypeArray) {
		items := openapi3.Schema{} // rules for items of a $ref go nowhere
		if s.Items.Ref == "" {
			items = *s.Items.Value
			s.Items = openapi3.NewSchemaRef("", &items)
		}
		// Rules before "dive" are the array's, after it the items'.
		for i, r := range rules {
			if r == "dive" {
				applyRules(&s, rules[:i])
				rules = rules[i+1:]
				target = &items
				break
			}
		}
		if e := tag.Get("enum"); e != "" {
			items.Enum = anys(strings.Fields(e))
		}
	} else if e := tag.Get("enum"); e != "" {
		s.Enum = anys(strings.Fields(e))
	}
	if tag.Get("allowempty") == "true" && len(s.Enum) > 0 {
		s.Enum = append(slices.Clone(s.Enum), "")
	}
	applyRules(target, rules)
	return openapi3.NewSchemaRef("", &s)
}

// applyRules maps the validator rules that have a JSON Schema twin.
func applyRules(s *openapi3.Schema, rules []string) {
	num := func(v string) (float64, bool) {
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	for _, r := range rules {
		k, v, _ := strings.Cut(r, "=")
		f, isNum := num(v)
		switch {
		case k == "oneof":
			s.Enum = anys(strings.Fields(v))
		case k == "latitude":
			s.WithMin(-90).WithMax(90)
		case k == "longitude":
			s.WithMin(-180).WithMax(180)
		case !isNum:
		case s.Type.Is(openapi3.TypeString) && (k == "min" || k == "max"):
			if k == "min" {
				s.MinLength = uint64(f)
			} else {
				s.MaxLength = openapi3.Ptr(uint64(f))
			}
		case s.Type.Is(openapi3.TypeArray) && (k == "min" || k == "max"):
			if k == "min" {
				s.MinItems = uint64(f)
			} else {
				s.MaxItems = openapi3.Ptr(uint64(f))
			}
		case k == "min" || k == "gte":
			s.WithMin(f)
		case k == "max" || k == "lte":
			s.WithMax(f)
		case k == "gt":
			s.WithExclusiveMinValue(f)
		case k == "lt":
			s.WithExclusiveMaxValue(f)
		}
	}
}

func anys(vs []string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

func capitalise(s string) string {
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
