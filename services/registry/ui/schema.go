package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// The field table and the search index read a schema's JSON as written,
// not a parsed compat.Schema: they work without its references (a version
// whose reference is gone still shows its fields) and for schemas compat
// would reject.

// pretty indents a schema's JSON; text that is not JSON is returned as is.
func pretty(text string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(text), "", "  "); err != nil {
		return text
	}
	return b.String()
}

// typeToken is a piece of a rendered type: text, linked when Href is set.
type typeToken struct {
	Text, Href string
}

// fieldRow is a row of a version's field table.
type fieldRow struct {
	// Path is the dotted field path ("shipping_address.city"); Depth how many
	// records deep it is.
	Path  string
	Depth int
	// Type is the field's type, rendered; Default its default as JSON ("" for
	// none); Doc its documentation.
	Type       []typeToken
	HasDefault bool
	Default    string
	Doc        string
	Aliases    []string
}

// namedType is a record, enum or fixed a schema defines.
type namedType struct {
	Kind, Name, Doc string
	Symbols         []string
}

// fieldTable walks a schema's JSON. refHref links a named type the document
// does not define (one of its references) to its page, or returns "".
type fieldTable struct {
	rows    []fieldRow
	named   []namedType
	defined map[string]bool
	refHref func(name string) string
}

func newFieldTable(text string, refHref func(name string) string) (*fieldTable, error) {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	t := &fieldTable{defined: map[string]bool{}, refHref: refHref}
	t.collect(v, "")
	t.walk(v, "", "", 0)
	return t, nil
}

var primitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true, "float": true,
	"double": true, "bytes": true, "string": true,
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func namespaceOf(full string) string {
	if i := strings.LastIndex(full, "."); i >= 0 {
		return full[:i]
	}
	return ""
}

// collect records the named types the document defines, so that a later use
// by name links to its definition rather than to a reference.
func (t *fieldTable) collect(v any, ns string) {
	switch x := v.(type) {
	case []any:
		for _, b := range x {
			t.collect(b, ns)
		}
	case map[string]any:
		typ, _ := x["type"].(string)
		if typ == "record" || typ == "error" || typ == "enum" || typ == "fixed" {
			name, _ := x["name"].(string)
			if n, ok := x["namespace"].(string); ok {
				ns = n
			}
			full := fullName(name, ns)
			ns = namespaceOf(full)
			t.defined[full] = true
			nt := namedType{Kind: typ, Name: full}
			nt.Doc, _ = x["doc"].(string)
			if syms, ok := x["symbols"].([]any); ok {
				for _, s := range syms {
					if str, ok := s.(string); ok {
						nt.Symbols = append(nt.Symbols, str)
					}
				}
			}
			t.named = append(t.named, nt)
		}
		if fields, ok := x["fields"].([]any); ok {
			for _, f := range fields {
				if fm, ok := f.(map[string]any); ok {
					t.collect(fm["type"], ns)
				}
			}
		}
		for _, k := range []string{"items", "values"} {
			if c, ok := x[k]; ok {
				t.collect(c, ns)
			}
		}
		if c, ok := x["type"].(map[string]any); ok {
			t.collect(c, ns)
		}
		if c, ok := x["type"].([]any); ok {
			t.collect(c, ns)
		}
	}
}

// walk adds a row for each field of the records in v, nested records under
// their field's path.
func (t *fieldTable) walk(v any, ns, prefix string, depth int) {
	switch x := v.(type) {
	case []any:
		for _, b := range x {
			t.walk(b, ns, prefix, depth)
		}
	case map[string]any:
		typ, _ := x["type"].(string)
		if typ == "record" || typ == "error" || typ == "enum" || typ == "fixed" {
			name, _ := x["name"].(string)
			if n, ok := x["namespace"].(string); ok {
				ns = n
			}
			ns = namespaceOf(fullName(name, ns))
		}
		if typ == "array" {
			t.walk(x["items"], ns, prefix, depth)
			return
		}
		if typ == "map" {
			t.walk(x["values"], ns, prefix, depth)
			return
		}
		if typ != "record" && typ != "error" {
			if c, ok := x["type"].(map[string]any); ok {
				t.walk(c, ns, prefix, depth)
			}
			return
		}
		fields, _ := x["fields"].([]any)
		for _, f := range fields {
			fm, ok := f.(map[string]any)
			if !ok {
				continue
			}
			name, _ := fm["name"].(string)
			row := fieldRow{Path: prefix + name, Depth: depth, Type: t.render(fm["type"], ns)}
			row.Doc, _ = fm["doc"].(string)
			if d, ok := fm["default"]; ok {
				row.HasDefault = true
				b, _ := json.Marshal(d)
				row.Default = string(b)
			}
			if as, ok := fm["aliases"].([]any); ok {
				for _, a := range as {
					if s, ok := a.(string); ok {
						row.Aliases = append(row.Aliases, s)
					}
				}
			}
			t.rows = append(t.rows, row)
			t.walk(fm["type"], ns, prefix+name+".", depth+1)
		}
	}
}

// render renders a type: primitives and names as written, unions as
// "null | string", arrays and maps with their element type, logical types
// in parentheses.
func (t *fieldTable) render(v any, ns string) []typeToken {
	switch x := v.(type) {
	case string:
		if primitives[x] {
			return []typeToken{{Text: x}}
		}
		full := fullName(x, ns)
		if t.defined[full] {
			return []typeToken{{Text: x, Href: "#type-" + full}}
		}
		if h := t.refHref(x); h != "" {
			return []typeToken{{Text: x, Href: h}}
		}
		if h := t.refHref(full); h != "" {
			return []typeToken{{Text: x, Href: h}}
		}
		return []typeToken{{Text: x}}
	case []any:
		var out []typeToken
		for i, b := range x {
			if i > 0 {
				out = append(out, typeToken{Text: " | "})
			}
			out = append(out, t.render(b, ns)...)
		}
		return out
	case map[string]any:
		typ, _ := x["type"].(string)
		var out []typeToken
		switch typ {
		case "array":
			out = append(out, typeToken{Text: "array<"})
			out = append(out, t.render(x["items"], ns)...)
			out = append(out, typeToken{Text: ">"})
		case "map":
			out = append(out, typeToken{Text: "map<"})
			out = append(out, t.render(x["values"], ns)...)
			out = append(out, typeToken{Text: ">"})
		case "record", "error", "enum", "fixed":
			name, _ := x["name"].(string)
			if n, ok := x["namespace"].(string); ok {
				ns = n
			}
			full := fullName(name, ns)
			label := typ + " " + full[strings.LastIndex(full, ".")+1:]
			if typ == "fixed" {
				label += fmt.Sprintf("(%v)", x["size"])
			}
			out = append(out, typeToken{Text: label, Href: "#type-" + full})
		default:
			if c, ok := x["type"]; ok && typ == "" {
				out = append(out, t.render(c, ns)...)
			} else {
				out = append(out, t.render(typ, ns)...)
			}
		}
		if lt, ok := x["logicalType"].(string); ok {
			if lt == "decimal" {
				lt = fmt.Sprintf("decimal(%v, %v)", x["precision"], orZero(x["scale"]))
			}
			out = append(out, typeToken{Text: " (" + lt + ")"})
		}
		return out
	}
	return []typeToken{{Text: "?"}}
}

func orZero(v any) any {
	if v == nil {
		return 0
	}
	return v
}

// index is what a schema can be found by: its named types' full and short
// names, and its fields' dotted paths.
type index struct {
	names  []string // full names of named types
	fields []string // dotted field paths
}

func newIndex(text string) index {
	var v any
	if json.Unmarshal([]byte(text), &v) != nil {
		return index{}
	}
	t := &fieldTable{defined: map[string]bool{}, refHref: func(string) string { return "" }}
	t.collect(v, "")
	t.walk(v, "", "", 0)
	var ix index
	for _, n := range t.named {
		ix.names = append(ix.names, n.Name)
	}
	for _, r := range t.rows {
		ix.fields = append(ix.fields, r.Path)
	}
	sort.Strings(ix.names)
	return ix
}

// match returns what in the schema matches q (lower case), "" for nothing:
// a type's name, or a field whose name or path contains q.
func (ix index) match(q string) string {
	for _, n := range ix.names {
		if strings.Contains(strings.ToLower(n), q) {
			return "type " + n
		}
	}
	for _, f := range ix.fields {
		if strings.Contains(strings.ToLower(f), q) {
			return "field " + f
		}
	}
	return ""
}
