package api

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Every request body and success response of /openapi.json carries an
// example built from its schema, so that a route added to a table gets one
// without more work: enums give their first value, bounds their lower end,
// and fields named below a realistic value (the document's validation and
// the linter check each example against its schema).

var exampleFields = map[string]any{
	"id":               "01JDQ4Z8V6J3M2X9K7T5R1N0PA",
	"email":            "pia.lindqvist@example.org",
	"password":         "correct horse battery staple",
	"name":             "Pia Lindqvist",
	"participant_name": "Pia",
	"note":             "I find crowded buses hard; please meet me at the stop.",
	"starts_at":        "2026-12-02T14:00:00+01:00",
	"ends_at":          "2026-12-02T16:00:00+01:00",
	"created_at":       "2026-11-25T11:00:00+01:00",
	"updated_at":       "2026-11-25T11:00:00+01:00",
	"registered_at":    "2026-11-25T11:00:00+01:00",
	"at":               "2026-11-25T11:00:00+01:00",
	"from":             "2026-12-24T00:00:00+01:00",
	"to":               "2026-12-27T00:00:00+01:00",
	"start":            "09:00",
	"end":              "17:00",
	"time_zone":        "Europe/Stockholm",
	"lat":              56.6745,
	"lon":              12.8578,
	"description":      "Outside the library, by the bike stands",
	"reason":           "The participant is unwell today.",
	"comment":          "Calm and on time; it went well.",
	"rating":           5,
	"travel_radius_km": 10,
	"radius_m":         500,
	"token":            "fcm-registration-token-example",
	"access_token":     "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIwMUpEUTQifQ.c2lnbmF0dXJl",
	"refresh_token":    "r1.8b3c4f0e2d9a7c6b5e4f3a2b1c0d9e8f",
	"expires_in":       900,
	"version":          3,
	"score":            87.5,
	"distance_km":      2.4,
	"skills":           []any{"public_transport"},
	"support_needs":    "Prefers a calm companion; may need short breaks.",
	"next_cursor":      "eyJvIjoiMDFKRFE0WjhWNkozTTJYOUs3VDVSMU4wUEEifQ",
	"organisation_id":  "01JDQ4Y2C8W1Q0E7H3B6N9M5KD",
	"participant_id":   "01JDQ4XK7P2D9F6B3R8T1V5C0Q",
	"volunteer_id":     "01JDQ4XQ3M6H0A9C2E5G8J1L4N",
	"user_id":          "01JDQ4XQ3M6H0A9C2E5G8J1L4N",
	"author_id":        "01JDQ4XK7P2D9F6B3R8T1V5C0Q",
	"actor_id":         "01JDQ4Y9Z1X4W7V0U3T6S9R2Q5",
	"outing_id":        "01JDQ4Z8V6J3M2X9K7T5R1N0PA",
}

// example builds an example value for ref.
func (s *Server) example(ref *openapi3.SchemaRef) any {
	return s.exampleOf(ref, "", 0)
}

func (s *Server) exampleOf(ref *openapi3.SchemaRef, field string, depth int) any {
	if ref == nil || depth > 8 {
		return nil
	}
	sch := ref.Value
	if ref.Ref != "" {
		sch = s.doc.Components.Schemas[strings.TrimPrefix(ref.Ref, "#/components/schemas/")].Value
	}
	if len(sch.AllOf) == 1 {
		return s.exampleOf(sch.AllOf[0], field, depth)
	}
	if len(sch.Enum) > 0 {
		return sch.Enum[0]
	}
	if v, ok := exampleFields[field]; ok && v != nil && fits(sch, v) {
		return v
	}
	switch {
	case sch.Type.Is(openapi3.TypeObject):
		out := map[string]any{}
		for name, p := range sch.Properties {
			out[name] = s.exampleOf(p, name, depth+1)
		}
		return out
	case sch.Type.Is(openapi3.TypeArray):
		n := max(int(sch.MinItems), 1)
		out := make([]any, n)
		for i := range out {
			out[i] = s.exampleOf(sch.Items, strings.TrimSuffix(field, "s"), depth+1)
		}
		return out
	case sch.Type.Is(openapi3.TypeString):
		if sch.Format == "date-time" {
			return "2026-11-25T11:00:00+01:00"
		}
		return strings.Repeat("x", max(int(sch.MinLength), 1))
	case sch.Type.Is(openapi3.TypeInteger), sch.Type.Is(openapi3.TypeNumber):
		switch {
		case sch.Min != nil:
			return *sch.Min
		case sch.ExclusiveMin.Value != nil:
			return *sch.ExclusiveMin.Value + 1
		}
		return 1
	case sch.Type.Is(openapi3.TypeBoolean):
		return false
	}
	return nil
}

// fits reports whether a named example suits the field's schema.
func fits(sch *openapi3.Schema, v any) bool {
	inRange := func(f float64) bool {
		return (sch.Min == nil || f >= *sch.Min) && (sch.Max == nil || f <= *sch.Max)
	}
	switch x := v.(type) {
	case string:
		return sch.Type.Is(openapi3.TypeString) && (sch.MaxLength == nil || uint64(len(x)) <= *sch.MaxLength)
	case int:
		return (sch.Type.Is(openapi3.TypeInteger) || sch.Type.Is(openapi3.TypeNumber)) && inRange(float64(x))
	case float64:
		return sch.Type.Is(openapi3.TypeNumber) && inRange(x)
	case []any:
		return sch.Type.Is(openapi3.TypeArray)
	}
	return false
}
