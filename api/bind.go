package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"

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

// bind decodes the JSON body into dst and validates it. Malformed JSON is a
// 400; well-formed JSON that breaks a rule (wrong type, missing field, value
// out of range) is a 422 naming the field by its JSON path.
func (s *Server) bind(c *fiber.Ctx, dst any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return fault.New(fault.Malformed, "the request body is empty; send a JSON object")
	}
	if !json.Valid(body) {
		return fault.New(fault.Malformed, "the request body is not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				return fault.New(fault.Malformed, "the request body must be a JSON object")
			}
			return fault.InvalidField(field, "must be of type "+jsonTypeName(te.Type))
		}
		return fault.InvalidField("", err.Error())
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return fault.New(fault.Malformed, "the request body must hold exactly one JSON value")
	}
	return s.check(dst)
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
