package api

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/internal/fault"
)

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	return v
}

// bind decodes the JSON body into dst and validates it, strictly: the body
// must be sent as application/json; malformed JSON is a 400; duplicate or
// unknown member names (matched by exact case), control characters in any
// string, and well-formed JSON that breaks a rule (wrong type, missing
// field, value out of range) are a 422 naming the field by its JSON path.
func (s *Server) bind(c *fiber.Ctx, dst any) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	// The raw body: compressed bodies were refused before any handler ran
	// (refuseEncodedBodies), so there is nothing to decode.
	body := c.Request().Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return fault.New(fault.Malformed, "the request body is empty; send a JSON object")
	}
	if err := scanJSON(body); err != nil {
		return err
	}
	if err := json.Unmarshal(body, dst, json.RejectUnknownMembers(true)); err != nil {
		return decodeError(err)
	}
	return s.check(dst)
}

// requireJSON refuses a body that is not declared application/json (a
// charset parameter is fine), with no Content-Type included.
func requireJSON(c *fiber.Ctx) error {
	ct := string(c.Request().Header.ContentType())
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != fiber.MIMEApplicationJSON {
		if ct == "" {
			ct = "none"
		}
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "send the body as application/json (Content-Type: "+ct+")")
	}
	return nil
}

// scanJSON reads the body once as tokens: it must be exactly one JSON value
// (else 400), and no object may repeat a name and no string (names
// included) may hold a control character (else 422 naming every offender).
// Decoding itself would stop at the first duplicate.
func scanJSON(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	var names []map[string]bool // per open container; nil for arrays
	var fields []fault.FieldError
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fault.New(fault.Malformed, "the request body is not valid JSON")
		}
		switch tok.Kind() {
		case '{':
			names = append(names, map[string]bool{})
		case '[':
			names = append(names, nil)
		case '}', ']':
			names = names[:len(names)-1]
		case '"':
			str := tok.String()
			kind, n := dec.StackIndex(dec.StackDepth())
			isName := kind == '{' && n%2 == 1
			var path string
			if isName {
				path = jsonPath(dec.StackPointer().Parent().AppendToken(str))
				seen := names[len(names)-1]
				if seen[str] {
					fields = append(fields, fault.FieldError{Field: path, Message: "is given more than once"})
				}
				seen[str] = true
			} else {
				path = jsonPath(dec.StackPointer())
			}
			if hasControl(str) {
				fields = append(fields, fault.FieldError{Field: path, Message: "must not contain control characters"})
			}
		}
		if dec.StackDepth() == 0 {
			if _, err := dec.ReadToken(); err != io.EOF {
				return fault.New(fault.Malformed, "the request body must hold exactly one JSON value")
			}
			break
		}
	}
	if len(fields) > 0 {
		return fault.Invalid(fields...)
	}
	return nil
}

// hasControl reports C0 controls other than tab, newline and carriage
// return, DEL, and C1 controls: nothing a person types, and NUL in
// particular breaks tools downstream.
func hasControl(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f) {
			return true
		}
	}
	return false
}

// jsonPath writes a JSON Pointer the way validation errors name fields:
// /availability/0/start → availability[0].start.
func jsonPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func decodeError(err error) error {
	var se *json.SemanticError
	if !errors.As(err, &se) {
		var syn *jsontext.SyntacticError
		if errors.As(err, &syn) {
			return fault.New(fault.Malformed, "the request body is not valid JSON")
		}
		return fault.InvalidField("", err.Error())
	}
	field := jsonPath(se.JSONPointer)
	switch {
	case errors.Is(se.Err, json.ErrUnknownName):
		return fault.InvalidField(field, "is not a known field (names are case-sensitive)")
	case field == "":
		return fault.New(fault.Malformed, "the request body must be a JSON object")
	case se.GoType != nil:
		return fault.InvalidField(field, "must be of type "+jsonTypeName(se.GoType))
	}
	return fault.InvalidField(field, "is invalid")
}

// check runs the validate tags of v.
func (s *Server) check(v any) error {
	err := s.validate.Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fault.Wrap(err, "validation failed")
	}
	fields := make([]fault.FieldError, 0, len(verrs))
	for _, fe := range verrs {
		fields = append(fields, fault.FieldError{Field: fieldPath(fe), Message: fieldMessage(fe)})
	}
	return fault.Invalid(fields...)
}

// fieldPath drops the root struct's name from the validator's namespace.
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return ns
}

func fieldMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be an email address"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "min":
		if fe.Kind() == reflect.String {
			return "must be at least " + fe.Param() + " characters"
		}
		if fe.Kind() == reflect.Slice {
			return "must have at least " + fe.Param() + " items"
		}
		return "must be at least " + fe.Param()
	case "max":
		if fe.Kind() == reflect.String {
			return "must be at most " + fe.Param() + " characters"
		}
		if fe.Kind() == reflect.Slice {
			return "must have at most " + fe.Param() + " items"
		}
		return "must be at most " + fe.Param()
	case "gte":
		return "must be at least " + fe.Param()
	case "lte":
		return "must be at most " + fe.Param()
	case "gt":
		return "must be greater than " + fe.Param()
	case "lt":
		return "must be less than " + fe.Param()
	case "latitude":
		return "must be a latitude between -90 and 90"
	case "longitude":
		return "must be a longitude between -180 and 180"
	case "dive", "unique":
		return "must not repeat values"
	default:
		return "is invalid (" + fe.Tag() + ")"
	}
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		if t.String() == "time.Time" {
			return "string (RFC 3339 time)"
		}
		return "object"
	default:
		return t.String()
	}
}

// Bind decodes and validates a JSON body (exported for handlers in tests).
func (s *Server) Bind(c *fiber.Ctx, dst any) error { return s.bind(c, dst) }
