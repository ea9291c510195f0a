package outcomes

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
)

// CSV is the report as one row per figure and gender (figure, gender,
// value), made from the JSON so that the two cannot disagree: a figure is
// the JSON path of a number, "by_gender.<g>" taken out of it into the
// gender column ("all" elsewhere); goals are named by their key.
func (r Report) CSV() ([]byte, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	rows, err := FlattenJSON(doc)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"figure", "gender", "value"})
	for _, row := range rows {
		_ = w.Write(row[:])
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// FlattenJSON turns a report's JSON into (figure, gender, value) rows in
// document order.
func FlattenJSON(doc []byte) ([][3]string, error) {
	var out [][3]string
	err := flatten(json.RawMessage(doc), nil, &out)
	return out, err
}

func flatten(raw json.RawMessage, path []string, out *[][3]string) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '{':
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return err
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return err
			}
			if err := flatten(v, append(path[:len(path):len(path)], fmt.Sprint(t)), out); err != nil {
				return err
			}
		}
		return nil
	case len(raw) > 0 && raw[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		for i, it := range items {
			var keyed struct {
				Key string `json:"key"`
			}
			name := fmt.Sprint(i)
			if json.Unmarshal(it, &keyed) == nil && keyed.Key != "" {
				name = keyed.Key
			}
			// The key names the element; it is no figure of its own.
			var fields map[string]json.RawMessage
			if json.Unmarshal(it, &fields) == nil {
				if _, ok := fields["key"]; ok {
					it = withoutKey(it)
				}
			}
			if err := flatten(it, append(path[:len(path):len(path)], name), out); err != nil {
				return err
			}
		}
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	gender, figure := "all", path
	for i := 0; i+1 < len(path); i++ {
		if path[i] == "by_gender" {
			gender = path[i+1]
			figure = append(append([]string{}, path[:i]...), path[i+2:]...)
			break
		}
	}
	value := string(raw)
	if str, ok := v.(string); ok {
		value = str
	}
	*out = append(*out, [3]string{strings.Join(figure, "."), gender, value})
	return nil
}

// withoutKey drops the "key" member of an object, keeping the order of the rest.
func withoutKey(obj json.RawMessage) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(obj))
	_, _ = dec.Token()
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return obj
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return obj
		}
		if t == "key" {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(t)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}
