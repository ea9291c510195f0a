package ferretdump

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// FerretDB v1 stores each document as "SJSON": the document as plain JSON
// plus a "$s" key whose schema gives every field's BSON type and the key
// order, because plain JSON cannot tell an int32 from an int64 or a double,
// nor a date or an ObjectID from a number or a string. The layout below
// mirrors FerretDB v1.24's internal/handler/sjson (schema.go and the
// per-type files): dates are Unix milliseconds, ObjectIDs hex strings,
// binary data base64 with the subtype in the schema, timestamps one uint64
// (t<<32 | i), regex options in the schema. A JSON null is a BSON null
// whatever the schema says.

type schema struct {
	Properties map[string]*elem `json:"p"`
	Keys       []string         `json:"$k"`
}

type elem struct {
	Type    string  `json:"t"`
	Schema  *schema `json:"$s,omitempty"`
	Options *string `json:"o,omitempty"`
	Items   []*elem `json:"i,omitempty"`
	Subtype *byte   `json:"s,omitempty"`
}

// Decode turns one row's _ferretdb_sjson into the BSON document FerretDB
// would have returned for it, field order included.
func Decode(sjson []byte) (bson.Raw, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(sjson, &fields); err != nil {
		return nil, fmt.Errorf("sjson: %w", err)
	}
	rawSchema, ok := fields["$s"]
	if !ok {
		return nil, fmt.Errorf("sjson: no $s schema")
	}
	delete(fields, "$s")
	var sch schema
	dec := json.NewDecoder(bytes.NewReader(rawSchema))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sch); err != nil {
		return nil, fmt.Errorf("sjson: schema: %w", err)
	}
	idx, dst := bsoncore.AppendDocumentStart(nil)
	dst, err := appendFields(dst, fields, &sch)
	if err != nil {
		return nil, err
	}
	dst, err = bsoncore.AppendDocumentEnd(dst, idx)
	if err != nil {
		return nil, err
	}
	return bson.Raw(dst), nil
}

func appendFields(dst []byte, fields map[string]json.RawMessage, sch *schema) ([]byte, error) {
	if len(sch.Keys) != len(fields) {
		return nil, fmt.Errorf("sjson: schema lists %d keys, document has %d fields", len(sch.Keys), len(fields))
	}
	for _, key := range sch.Keys {
		data, ok := fields[key]
		if !ok {
			return nil, fmt.Errorf("sjson: field %q is in the schema but not in the document", key)
		}
		var err error
		if dst, err = appendValue(dst, key, data, sch.Properties[key]); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return dst, nil
}

func appendValue(dst []byte, key string, data json.RawMessage, e *elem) ([]byte, error) {
	if bytes.Equal(data, []byte("null")) {
		return bsoncore.AppendNullElement(dst, key), nil
	}
	if e == nil {
		return nil, fmt.Errorf("no schema")
	}
	switch e.Type {
	case "object":
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(data, &fields); err != nil {
			return nil, err
		}
		sch := e.Schema
		if sch == nil {
			if len(fields) > 0 {
				return nil, fmt.Errorf("object without schema")
			}
			sch = &schema{}
		}
		idx, dst := bsoncore.AppendDocumentElementStart(dst, key)
		dst, err := appendFields(dst, fields, sch)
		if err != nil {
			return nil, err
		}
		return bsoncore.AppendDocumentEnd(dst, idx)
	case "array":
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, err
		}
		if len(items) != len(e.Items) {
			return nil, fmt.Errorf("array has %d items, schema %d", len(items), len(e.Items))
		}
		idx, dst := bsoncore.AppendArrayElementStart(dst, key)
		for i, item := range items {
			var err error
			if dst, err = appendValue(dst, strconv.Itoa(i), item, e.Items[i]); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return bsoncore.AppendArrayEnd(dst, idx)
	case "double":
		var f float64
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, err
		}
		return bsoncore.AppendDoubleElement(dst, key, f), nil
	case "string":
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, err
		}
		return bsoncore.AppendStringElement(dst, key, s), nil
	case "binData":
		var b []byte
		if err := json.Unmarshal(data, &b); err != nil {
			return nil, err
		}
		if e.Subtype == nil {
			return nil, fmt.Errorf("binData without subtype")
		}
		return bsoncore.AppendBinaryElement(dst, key, *e.Subtype, b), nil
	case "objectId":
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, err
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 12 {
			return nil, fmt.Errorf("bad objectId %q", s)
		}
		var oid bson.ObjectID
		copy(oid[:], b)
		return bsoncore.AppendObjectIDElement(dst, key, oid), nil
	case "bool":
		var v bool
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return bsoncore.AppendBooleanElement(dst, key, v), nil
	case "date":
		var ms int64
		if err := json.Unmarshal(data, &ms); err != nil {
			return nil, err
		}
		return bsoncore.AppendDateTimeElement(dst, key, ms), nil
	case "regex":
		var pattern string
		if err := json.Unmarshal(data, &pattern); err != nil {
			return nil, err
		}
		if e.Options == nil {
			return nil, fmt.Errorf("regex without options")
		}
		return bsoncore.AppendRegexElement(dst, key, pattern, *e.Options), nil
	case "int":
		var v int32
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return bsoncore.AppendInt32Element(dst, key, v), nil
	case "long":
		var v int64
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return bsoncore.AppendInt64Element(dst, key, v), nil
	case "timestamp":
		var v uint64
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return bsoncore.AppendTimestampElement(dst, key, uint32(v>>32), uint32(v)), nil
	case "null":
		return nil, fmt.Errorf("schema says null, value is %s", data)
	default:
		return nil, fmt.Errorf("unknown SJSON type %q", e.Type)
	}
}
