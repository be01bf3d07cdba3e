package compat

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
)

// Canonical returns the schema's Parsing Canonical Form
// (https://avro.apache.org/docs/1.11.1/specification/#parsing-canonical-form-for-schemas):
// full names, only the attributes that matter for reading data, in a fixed
// order, without whitespace. Two schemas with the same canonical form read and
// write the same bytes.
func (s *Schema) Canonical() string {
	var b bytes.Buffer
	writeCanonical(&b, s, map[*Schema]bool{})
	return b.String()
}

func writeCanonical(b *bytes.Buffer, s *Schema, seen map[*Schema]bool) {
	switch s.Kind {
	case Null, Boolean, Int, Long, Float, Double, Bytes, String:
		writeJSONString(b, s.Kind.String())
	case Union:
		b.WriteByte('[')
		for i, br := range s.Branches {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, br, seen)
		}
		b.WriteByte(']')
	case Array:
		b.WriteString(`{"type":"array","items":`)
		writeCanonical(b, s.Items, seen)
		b.WriteByte('}')
	case Map:
		b.WriteString(`{"type":"map","values":`)
		writeCanonical(b, s.Values, seen)
		b.WriteByte('}')
	case Record, Enum, Fixed:
		if seen[s] {
			writeJSONString(b, s.Name)
			return
		}
		seen[s] = true
		b.WriteString(`{"name":`)
		writeJSONString(b, s.Name)
		b.WriteString(`,"type":`)
		writeJSONString(b, s.Kind.String())
		switch s.Kind {
		case Record:
			b.WriteString(`,"fields":[`)
			for i, f := range s.Fields {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`{"name":`)
				writeJSONString(b, f.Name)
				b.WriteString(`,"type":`)
				writeCanonical(b, f.Type, seen)
				b.WriteByte('}')
			}
			b.WriteByte(']')
		case Enum:
			b.WriteString(`,"symbols":[`)
			for i, sym := range s.Symbols {
				if i > 0 {
					b.WriteByte(',')
				}
				writeJSONString(b, sym)
			}
			b.WriteByte(']')
		case Fixed:
			b.WriteString(`,"size":`)
			b.WriteString(strconv.Itoa(s.Size))
		}
		b.WriteByte('}')
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of the schema's
// Parsing Canonical Form, the 64-bit fingerprint of the specification's
// "Schema Fingerprints" section.
func (s *Schema) Fingerprint() uint64 { return Rabin([]byte(s.Canonical())) }

const rabinEmpty = 0xc15d213aa4d7a795

var rabinTable = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (rabinEmpty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()

// Rabin returns the CRC-64-AVRO fingerprint of data.
func Rabin(data []byte) uint64 {
	fp := uint64(rabinEmpty)
	for _, c := range data {
		fp = (fp >> 8) ^ rabinTable[byte(fp)^c]
	}
	return fp
}

// String returns the schema as JSON text, with every attribute it was parsed
// with (docs, defaults, aliases, logical types, other properties). Named types
// are written with their full names, defined where first met and referred to
// by name after that; types taken from referenced schemas are written by name.
func (s *Schema) String() string {
	w := &jsonWriter{seen: map[*Schema]bool{}}
	if s.defined != nil || s.refs != nil || !s.Kind.Named() {
		w.local = map[*Schema]bool{}
		for _, d := range s.defined {
			w.local[d] = true
		}
	}
	v := w.value(s)
	out, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(out)
}

type jsonWriter struct {
	seen  map[*Schema]bool
	local map[*Schema]bool // nil: every named type is written in full
}

// orderedObject marshals its keys in the given order.
type orderedObject struct {
	keys []string
	vals map[string]any
}

func (o *orderedObject) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		v, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func newObject() *orderedObject { return &orderedObject{vals: map[string]any{}} }

func (w *jsonWriter) value(s *Schema) any {
	if s.Kind.Named() {
		if w.seen[s] || (w.local != nil && !w.local[s]) {
			return s.Name
		}
		w.seen[s] = true
	}
	o := newObject()
	o.set("type", s.Kind.String())
	switch s.Kind {
	case Union:
		list := make([]any, len(s.Branches))
		for i, b := range s.Branches {
			list[i] = w.value(b)
		}
		return list
	case Record, Enum, Fixed:
		o.set("name", s.Name)
		if s.Doc != "" {
			o.set("doc", s.Doc)
		}
		if len(s.Aliases) > 0 {
			o.set("aliases", s.Aliases)
		}
	}
	switch s.Kind {
	case Record:
		fields := make([]any, len(s.Fields))
		for i, f := range s.Fields {
			fo := newObject()
			fo.set("name", f.Name)
			fo.set("type", w.value(f.Type))
			if f.Doc != "" {
				fo.set("doc", f.Doc)
			}
			if f.HasDefault {
				fo.set("default", f.Default)
			}
			if len(f.Aliases) > 0 {
				fo.set("aliases", f.Aliases)
			}
			if f.Order != "" && f.Order != "ascending" {
				fo.set("order", f.Order)
			}
			setProps(fo, f.Props)
			fields[i] = fo
		}
		o.set("fields", fields)
	case Enum:
		o.set("symbols", s.Symbols)
		if s.EnumDefault != nil {
			o.set("default", *s.EnumDefault)
		}
	case Fixed:
		o.set("size", s.Size)
	case Array:
		o.set("items", w.value(s.Items))
	case Map:
		o.set("values", w.value(s.Values))
	}
	if s.LogicalRaw != "" {
		o.set("logicalType", s.LogicalRaw)
		if s.Logical == "decimal" {
			o.set("precision", s.Precision)
			o.set("scale", s.Scale)
		}
	}
	setProps(o, s.Props)
	if len(o.keys) == 1 {
		return s.Kind.String() // a bare primitive
	}
	return o
}

func setProps(o *orderedObject, props map[string]any) {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for k := range keys {
		if _, taken := o.vals[keys[k]]; !taken {
			o.set(keys[k], props[keys[k]])
		}
	}
}
