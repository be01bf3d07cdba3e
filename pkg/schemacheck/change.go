package schemacheck

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// schemaChange reports whether two texts of a schema differ in anything but
// formatting and doc attributes, and if so the JSON pointer (into cur) of the
// first difference. Doc attributes are the "doc" of named types and of record
// fields (https://avro.apache.org/docs/1.11.1/specification/); a "doc" key
// inside a default value is data, not documentation, and counts.
//
// This is stricter than comparing Parsing Canonical Forms, which also drop
// defaults, aliases, field order, logical types and custom attributes: all of
// those change how data is read or generated code looks, so changing them in
// a published version is a finding.
func schemaChange(old, cur []byte) (ptr string, changed bool) {
	a, errA := decode(old)
	b, errB := decode(cur)
	if errA != nil || errB != nil {
		return "", !bytes.Equal(old, cur)
	}
	stripDocs(a)
	stripDocs(b)
	return diff(a, b, "")
}

func decode(text []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// stripDocs removes doc attributes from a schema decoded as JSON, walking
// only the places where the specification allows schemas.
func stripDocs(v any) {
	switch s := v.(type) {
	case []any: // a union
		for _, b := range s {
			stripDocs(b)
		}
	case map[string]any:
		delete(s, "doc")
		switch t := s["type"].(type) {
		case string:
			switch t {
			case "record", "error":
				fields, _ := s["fields"].([]any)
				for _, f := range fields {
					if fm, ok := f.(map[string]any); ok {
						delete(fm, "doc")
						stripDocs(fm["type"])
					}
				}
			case "array":
				stripDocs(s["items"])
			case "map":
				stripDocs(s["values"])
			}
		default: // {"type": {...}} or {"type": [...]}
			stripDocs(t)
		}
	}
}

// diff returns the pointer (into b) of the first difference between a and b.
func diff(a, b any, ptr string) (string, bool) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return ptr, true
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			x, inA := av[k]
			y, inB := bv[k]
			child := ptr + "/" + escape(k)
			if !inB {
				return ptr, true // removed: point at the object that lost it
			}
			if !inA {
				return child, true
			}
			if p, changed := diff(x, y, child); changed {
				return p, true
			}
		}
		return "", false
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return ptr, true
		}
		for i := 0; i < min(len(av), len(bv)); i++ {
			if p, changed := diff(av[i], bv[i], ptr+"/"+strconv.Itoa(i)); changed {
				return p, true
			}
		}
		if len(av) != len(bv) {
			return ptr, true
		}
		return "", false
	case json.Number:
		bv, ok := b.(json.Number)
		if !ok {
			return ptr, true
		}
		if av == bv {
			return "", false
		}
		// 1.0 and 1 are the same default.
		x, errX := strconv.ParseFloat(string(av), 64)
		y, errY := strconv.ParseFloat(string(bv), 64)
		if errX == nil && errY == nil && x == y {
			return "", false
		}
		return ptr, true
	default:
		if reflect.DeepEqual(a, b) {
			return "", false
		}
		return ptr, true
	}
}

func escape(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}
