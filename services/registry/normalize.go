package registry

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"

	"github.com/waybill/waybill/compat"
)

// normalized returns the form a schema is stored in and compared by when a
// request asks for `normalize=true`: Confluent's normalized Avro form
// (AvroSchemaUtils.toNormalizedString in confluentinc/schema-registry). It is
// the Parsing Canonical Form (compat's Schema.Canonical: full names, a fixed
// attribute order, no whitespace, no namespace attribute) extended with what
// the Parsing Canonical Form drops but what changes how schemas resolve or
// what they mean — defaults, logical types, docs, aliases (sorted), field
// order, enum defaults and custom properties (sorted by name) — so that
// normalizing never changes a compatibility answer. Types taken from
// references are written by name, as in the text that was sent.
func normalized(s *compat.Schema) string {
	local := map[*compat.Schema]bool{}
	for _, d := range s.Defined() {
		local[d] = true
	}
	n := normalizer{local: local, seen: map[*compat.Schema]bool{}}
	n.write(s)
	return n.b.String()
}

type normalizer struct {
	b     bytes.Buffer
	local map[*compat.Schema]bool // named types defined in the document
	seen  map[*compat.Schema]bool
}

func (n *normalizer) str(s string) {
	enc, _ := json.Marshal(s)
	n.b.Write(enc)
}

func (n *normalizer) value(v any) {
	enc, err := json.Marshal(v)
	if err != nil {
		enc = []byte("null")
	}
	n.b.Write(enc)
}

func (n *normalizer) write(s *compat.Schema) {
	switch s.Kind {
	case compat.Union:
		n.b.WriteByte('[')
		for i, br := range s.Branches {
			if i > 0 {
				n.b.WriteByte(',')
			}
			n.write(br)
		}
		n.b.WriteByte(']')
		return
	case compat.Array, compat.Map:
		n.b.WriteString(`{"type":`)
		n.str(s.Kind.String())
		if s.Kind == compat.Array {
			n.b.WriteString(`,"items":`)
			n.write(s.Items)
		} else {
			n.b.WriteString(`,"values":`)
			n.write(s.Values)
		}
		n.logical(s)
		n.props(s.Props)
		n.b.WriteByte('}')
		return
	case compat.Record, compat.Enum, compat.Fixed:
		if n.seen[s] || !n.local[s] {
			n.str(s.Name)
			return
		}
		n.seen[s] = true
		n.b.WriteString(`{"name":`)
		n.str(s.Name)
		n.b.WriteString(`,"type":`)
		n.str(s.Kind.String())
		switch s.Kind {
		case compat.Enum:
			n.b.WriteString(`,"symbols":`)
			n.value(s.Symbols)
		case compat.Fixed:
			n.b.WriteString(`,"size":`)
			n.b.WriteString(strconv.Itoa(s.Size))
			n.logical(s)
		case compat.Record:
			n.b.WriteString(`,"fields":[`)
			for i, f := range s.Fields {
				if i > 0 {
					n.b.WriteByte(',')
				}
				n.field(f)
			}
			n.b.WriteByte(']')
		}
		if s.Doc != "" {
			n.b.WriteString(`,"doc":`)
			n.str(s.Doc)
		}
		n.aliases(s.Aliases)
		if s.Kind == compat.Enum && s.EnumDefault != nil {
			n.b.WriteString(`,"default":`)
			n.str(*s.EnumDefault)
		}
		n.props(s.Props)
		n.b.WriteByte('}')
		return
	}
	// A primitive.
	if s.LogicalRaw == "" && len(s.Props) == 0 {
		n.str(s.Kind.String())
		return
	}
	n.b.WriteString(`{"type":`)
	n.str(s.Kind.String())
	n.logical(s)
	n.props(s.Props)
	n.b.WriteByte('}')
}

func (n *normalizer) logical(s *compat.Schema) {
	if s.LogicalRaw == "" {
		return
	}
	n.b.WriteString(`,"logicalType":`)
	n.str(s.LogicalRaw)
	if s.Logical == "decimal" {
		n.b.WriteString(`,"precision":`)
		n.b.WriteString(strconv.Itoa(s.Precision))
		if s.Scale != 0 {
			n.b.WriteString(`,"scale":`)
			n.b.WriteString(strconv.Itoa(s.Scale))
		}
	}
}

func (n *normalizer) field(f *compat.Field) {
	n.b.WriteString(`{"name":`)
	n.str(f.Name)
	n.b.WriteString(`,"type":`)
	n.write(f.Type)
	if f.Order != "" && f.Order != "ascending" {
		n.b.WriteString(`,"order":`)
		n.str(f.Order)
	}
	if f.Doc != "" {
		n.b.WriteString(`,"doc":`)
		n.str(f.Doc)
	}
	n.aliases(f.Aliases)
	if f.HasDefault {
		n.b.WriteString(`,"default":`)
		n.value(f.Default)
	}
	n.props(f.Props)
	n.b.WriteByte('}')
}

func (n *normalizer) aliases(aliases []string) {
	if len(aliases) == 0 {
		return
	}
	sorted := append([]string(nil), aliases...)
	sort.Strings(sorted)
	n.b.WriteString(`,"aliases":`)
	n.value(sorted)
}

func (n *normalizer) props(props map[string]any) {
	if len(props) == 0 {
		return
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n.b.WriteByte(',')
		n.str(k)
		n.b.WriteByte(':')
		n.value(props[k])
	}
}
