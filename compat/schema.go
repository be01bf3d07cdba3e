package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Kind is the type of an Avro schema node.
type Kind uint8

// The Avro types (https://avro.apache.org/docs/1.11.1/specification/#schema-declaration).
const (
	Null Kind = iota
	Boolean
	Int
	Long
	Float
	Double
	Bytes
	String
	Record
	Enum
	Array
	Map
	Union
	Fixed
)

var kindNames = [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string", "record", "enum", "array", "map", "union", "fixed"}

// String returns the Avro name of the type ("record", "int", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Named reports whether schemas of this kind have a name.
func (k Kind) Named() bool { return k == Record || k == Enum || k == Fixed }

func primitiveKind(s string) (Kind, bool) {
	switch s {
	case "null":
		return Null, true
	case "boolean":
		return Boolean, true
	case "int":
		return Int, true
	case "long":
		return Long, true
	case "float":
		return Float, true
	case "double":
		return Double, true
	case "bytes":
		return Bytes, true
	case "string":
		return String, true
	}
	return 0, false
}

// Schema is one node of a parsed Avro schema. Named types are shared: every
// use of a name points at the one node that defines it, so recursive schemas
// are cyclic graphs.
type Schema struct {
	Kind Kind
	// Name is the full name of a record, enum or fixed.
	Name string
	// Namespace is the namespace part of Name.
	Namespace string
	// Aliases are full names.
	Aliases []string
	Doc     string
	// Logical is the logical type when it is valid for the underlying type
	// (an invalid one is ignored, as the specification requires); LogicalRaw
	// is the logicalType attribute as written.
	Logical    string
	LogicalRaw string
	// Precision and Scale of a decimal.
	Precision, Scale int
	// Fields of a record.
	Fields []*Field
	// Symbols of an enum, and its default symbol (nil when none).
	Symbols     []string
	EnumDefault *string
	// Size of a fixed.
	Size int
	// Items of an array, Values of a map.
	Items, Values *Schema
	// Branches of a union.
	Branches []*Schema
	// Props holds attributes that are not part of the specification.
	Props map[string]any

	// Set on the root node only.
	defined []*Schema
	refs    []string
	// Set on named nodes: the position of its definition in its document.
	path string
}

// Field is a field of a record.
type Field struct {
	Name    string
	Aliases []string
	Doc     string
	Type    *Schema
	// Default is the default value as decoded JSON (json.Number for numbers);
	// HasDefault tells a null default from none.
	Default    any
	HasDefault bool
	// DefaultError says why Default is not a valid value of Type, or is "".
	// An invalid default does not make the schema unparsable: Avro Java's
	// parser (without validateDefaults) and Confluent's registry accept it,
	// so Waybill does too, and its lint rule reports it.
	DefaultError string
	// Order is "ascending" (the default), "descending" or "ignore".
	Order string
	// Pos is the field's index in the record.
	Pos int
	// Props holds attributes that are not part of the specification.
	Props map[string]any
}

// Field returns the field named name, or nil.
func (s *Schema) Field(name string) *Field {
	for _, f := range s.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Defined returns the named types defined in this document (not taken from
// references), in the order they appear.
func (s *Schema) Defined() []*Schema { return s.defined }

// References returns the full names of the named types this document uses but
// does not define: the ones it takes from the schemas given to Parse as refs.
func (s *Schema) References() []string { return s.refs }

// DefinedAt returns the JSON pointer, within its document, of a named type's
// definition, or "" for unnamed nodes.
func (s *Schema) DefinedAt() string { return s.path }

// ParseError is a schema that could not be parsed. Path (a JSON pointer) is
// set for schema errors and empty for JSON syntax errors; Line and Column
// (1-based, in characters) locate either in the text given to Parse.
type ParseError struct {
	Line, Column int
	Path         string
	Msg          string
}

func (e *ParseError) Error() string {
	switch {
	case e.Path != "" && e.Line > 0:
		return fmt.Sprintf("compat: invalid schema at %s (line %d, column %d): %s", e.Path, e.Line, e.Column, e.Msg)
	case e.Path != "":
		return fmt.Sprintf("compat: invalid schema at %s: %s", e.Path, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("compat: invalid JSON: line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return "compat: invalid schema: " + e.Msg
}

// Parse parses the JSON text of an Avro schema. Named types defined in refs
// (schemas parsed earlier, such as a shared Address type) are visible by full
// name; a name used but defined nowhere is an error. Invalid default values
// are recorded in Field.DefaultError rather than rejected. Errors are
// *ParseError.
func Parse(text []byte, refs ...*Schema) (*Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, syntaxError(text, err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			for end < int64(len(text)) && isSpace(text[end]) {
				end++
			}
			line, col := Position(text, int(end))
			return nil, &ParseError{Line: line, Column: col, Msg: "unexpected data after the schema"}
		}
		return nil, syntaxError(text, err)
	}
	s, err := ParseValue(v, refs...)
	var pe *ParseError
	if errors.As(err, &pe) && pe.Path != "" {
		pe.Line, pe.Column = Locate(text, pe.Path)
	}
	return s, err
}

func syntaxError(text []byte, err error) error {
	var se *json.SyntaxError
	var off int64 = -1
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case msg == "EOF" || msg == "unexpected EOF":
		off = int64(len(text)) + 1 // just after the last byte
		msg = "unexpected end of JSON input"
	}
	if off < 0 {
		return &ParseError{Msg: msg}
	}
	// Offset counts the bytes read, the offending one included.
	line, col := Position(text, int(off)-1)
	return &ParseError{Line: line, Column: col, Msg: strings.TrimPrefix(msg, "json: ")}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// ParseValue parses a schema already decoded from JSON (with json.Number or
// float64 numbers). See Parse.
func ParseValue(v any, refs ...*Schema) (*Schema, error) {
	p := &parser{names: map[string]*Schema{}, external: map[string]*Schema{}}
	for _, r := range refs {
		if r == nil {
			continue
		}
		for _, n := range r.defined {
			p.external[n.Name] = n
		}
		for _, name := range r.refs {
			if _, ok := p.external[name]; !ok {
				p.addExternal(r, name)
			}
		}
	}
	s, err := p.parse(v, "", "")
	if err != nil {
		return nil, err
	}
	// Unnamed roots (a union, an array, a primitive) are fresh nodes, and a
	// named root was created by this document: either way the root node
	// belongs to this document and can carry its bookkeeping.
	if !p.owns(s) {
		// The whole schema is a reference to a type from refs: wrap nothing,
		// but note the reference on a copy so the shared node stays clean.
		c := *s
		s = &c
	}
	s.defined = p.defined
	sort.Strings(p.refList)
	s.refs = p.refList
	return s, nil
}

func (p *parser) owns(s *Schema) bool {
	if !s.Kind.Named() {
		return true
	}
	return p.names[s.Name] == s
}

// addExternal finds the node for name among the nodes reachable from r.
func (p *parser) addExternal(r *Schema, name string) {
	seen := map[*Schema]bool{}
	var walk func(s *Schema)
	walk = func(s *Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		if s.Kind.Named() {
			if _, ok := p.external[s.Name]; !ok {
				p.external[s.Name] = s
			}
		}
		for _, f := range s.Fields {
			walk(f.Type)
		}
		walk(s.Items)
		walk(s.Values)
		for _, b := range s.Branches {
			walk(b)
		}
	}
	walk(r)
}

type parser struct {
	names    map[string]*Schema // defined in this document
	external map[string]*Schema // from refs
	defined  []*Schema
	refList  []string
}

func errAt(path, format string, args ...any) error {
	if path == "" {
		path = "/"
	}
	return &ParseError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// validName reports whether name matches [A-Za-z_][A-Za-z0-9_]*, the
// specification's rule for names and enum symbols.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func validFullName(name string) bool {
	for _, part := range strings.Split(name, ".") {
		if !validName(part) {
			return false
		}
	}
	return true
}

// fullName qualifies name with namespace ns, as the specification's "Names"
// section describes: a name with a dot is already full.
func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func namespaceOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

func (p *parser) lookup(name, ns string) *Schema {
	candidates := []string{fullName(name, ns)}
	if !strings.Contains(name, ".") && ns != "" {
		// A name in the null namespace, as Python's parser also accepts.
		candidates = append(candidates, name)
	}
	for _, c := range candidates {
		if s, ok := p.names[c]; ok {
			return s
		}
		if s, ok := p.external[c]; ok {
			p.noteRef(c)
			return s
		}
	}
	return nil
}

func (p *parser) noteRef(name string) {
	for _, r := range p.refList {
		if r == name {
			return
		}
	}
	p.refList = append(p.refList, name)
}

func (p *parser) parse(v any, ns, path string) (*Schema, error) {
	switch v := v.(type) {
	case string:
		if k, ok := primitiveKind(v); ok {
			return &Schema{Kind: k}, nil
		}
		if s := p.lookup(v, ns); s != nil {
			return s, nil
		}
		if !validFullName(v) {
			return nil, errAt(path, "%q is not a type or a valid name", v)
		}
		return nil, errAt(path, "undefined name %q", fullName(v, ns))
	case []any:
		return p.parseUnion(v, ns, path)
	case map[string]any:
		return p.parseObject(v, ns, path)
	case nil:
		return nil, errAt(path, "a schema cannot be null")
	default:
		return nil, errAt(path, "a schema must be a string, an object or an array, not %s", jsonKind(v))
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (p *parser) parseUnion(v []any, ns, path string) (*Schema, error) {
	u := &Schema{Kind: Union}
	seen := map[string]bool{}
	for i, b := range v {
		bp := path + "/" + strconv.Itoa(i)
		s, err := p.parse(b, ns, bp)
		if err != nil {
			return nil, err
		}
		if s.Kind == Union {
			return nil, errAt(bp, "a union cannot directly contain another union")
		}
		key := s.Kind.String()
		if s.Kind.Named() {
			key = s.Name
		}
		if seen[key] {
			return nil, errAt(bp, "duplicate %s in union", key)
		}
		seen[key] = true
		u.Branches = append(u.Branches, s)
	}
	return u, nil
}

// reserved attributes per kind; everything else goes to Props.
var reserved = map[string]bool{
	"type": true, "name": true, "namespace": true, "aliases": true, "doc": true,
	"fields": true, "symbols": true, "default": true, "items": true, "values": true,
	"size": true, "logicalType": true, "precision": true, "scale": true,
}

func (p *parser) parseObject(m map[string]any, ns, path string) (*Schema, error) {
	t, ok := m["type"]
	if !ok {
		return nil, errAt(path, `missing "type"`)
	}
	ts, isString := t.(string)
	if !isString {
		// {"type": {...}} or {"type": [...]}: a schema nested in "type".
		return p.parse(t, ns, path+"/type")
	}
	var s *Schema
	var err error
	switch ts {
	case "record", "error":
		s, err = p.parseRecord(m, ns, path)
	case "enum":
		s, err = p.parseEnum(m, ns, path)
	case "fixed":
		s, err = p.parseFixed(m, ns, path)
	case "array":
		items, ok := m["items"]
		if !ok {
			return nil, errAt(path, `array without "items"`)
		}
		it, err := p.parse(items, ns, path+"/items")
		if err != nil {
			return nil, err
		}
		s = &Schema{Kind: Array, Items: it}
	case "map":
		values, ok := m["values"]
		if !ok {
			return nil, errAt(path, `map without "values"`)
		}
		vs, err := p.parse(values, ns, path+"/values")
		if err != nil {
			return nil, err
		}
		s = &Schema{Kind: Map, Values: vs}
	default:
		if k, ok := primitiveKind(ts); ok {
			s = &Schema{Kind: k}
			break
		}
		// {"type": "com.example.Name"}: a reference by name.
		if named := p.lookup(ts, ns); named != nil {
			return named, nil
		}
		return nil, errAt(path+"/type", "unknown type %q: not an Avro type and no named type %q is defined", ts, fullName(ts, ns))
	}
	if err != nil {
		return nil, err
	}
	if doc, ok := m["doc"].(string); ok && s.Kind.Named() {
		s.Doc = doc
	}
	for k, v := range m {
		if !reserved[k] || (k == "default" && s.Kind != Enum) {
			if s.Props == nil {
				s.Props = map[string]any{}
			}
			s.Props[k] = v
		}
	}
	p.logicalType(s, m)
	if s.Logical != "decimal" {
		// precision and scale of an ignored logical type are plain properties.
		for _, k := range []string{"precision", "scale"} {
			if v, ok := m[k]; ok {
				if s.Props == nil {
					s.Props = map[string]any{}
				}
				s.Props[k] = v
			}
		}
	}
	return s, nil
}

// logicalType sets s.Logical when the logicalType attribute is valid for the
// underlying type; otherwise the schema stays its underlying type, as the
// specification requires ("Logical Types": "an invalid logical type ... must
// be ignored").
func (p *parser) logicalType(s *Schema, m map[string]any) {
	lt, ok := m["logicalType"].(string)
	if !ok {
		return
	}
	s.LogicalRaw = lt
	valid := false
	switch lt {
	case "decimal":
		if s.Kind != Bytes && s.Kind != Fixed {
			break
		}
		prec, ok1 := intAttr(m["precision"])
		scale, ok2 := 0, true
		if _, has := m["scale"]; has {
			scale, ok2 = intAttr(m["scale"])
		}
		if !ok1 || !ok2 || prec <= 0 || scale < 0 || scale > prec {
			break
		}
		if s.Kind == Fixed && s.Size < 64 {
			maxDigits := int(math.Floor(math.Log10(2) * float64(8*s.Size-1)))
			if prec > maxDigits {
				break
			}
		}
		s.Precision, s.Scale = prec, scale
		valid = true
	case "uuid":
		valid = s.Kind == String || (s.Kind == Fixed && s.Size == 16)
	case "date", "time-millis":
		valid = s.Kind == Int
	case "time-micros", "timestamp-millis", "timestamp-micros", "timestamp-nanos",
		"local-timestamp-millis", "local-timestamp-micros", "local-timestamp-nanos":
		valid = s.Kind == Long
	case "duration":
		valid = s.Kind == Fixed && s.Size == 12
	}
	if valid {
		s.Logical = lt
	}
}

func intAttr(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(string(n), 10, 32)
		return int(i), err == nil
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < math.MaxInt32 {
			return int(n), true
		}
	}
	return 0, false
}

// named parses the name, namespace and aliases of a named type and registers
// it, so that it can refer to itself.
func (p *parser) named(s *Schema, m map[string]any, ns, path string) (string, error) {
	name, ok := m["name"].(string)
	if !ok {
		if _, has := m["name"]; has {
			return "", errAt(path+"/name", "name must be a string")
		}
		return "", errAt(path, "%s without a name", s.Kind)
	}
	if nsv, has := m["namespace"]; has && !strings.Contains(name, ".") {
		switch nsv := nsv.(type) {
		case string:
			ns = nsv
		case nil:
			ns = ""
		default:
			return "", errAt(path+"/namespace", "namespace must be a string")
		}
		if ns != "" && !validFullName(ns) {
			return "", errAt(path+"/namespace", "invalid namespace %q", ns)
		}
	}
	full := fullName(name, ns)
	if !validFullName(full) {
		return "", errAt(path+"/name", "invalid name %q", name)
	}
	if _, isPrim := primitiveKind(full); isPrim {
		return "", errAt(path+"/name", "%q is a primitive type name", full)
	}
	if _, dup := p.names[full]; dup {
		return "", errAt(path+"/name", "%q is defined twice", full)
	}
	if _, ref := p.external[full]; ref {
		// Avro Java refuses to redefine a name it knows ("Can't redefine").
		return "", errAt(path+"/name", "%q is already defined by a referenced schema; use it by name instead of redefining it", full)
	}
	s.Name = full
	s.Namespace = namespaceOf(full)
	s.path = path
	if path == "" {
		s.path = "/"
	}
	aliases, err := stringList(m["aliases"], path+"/aliases")
	if err != nil {
		return "", err
	}
	for _, a := range aliases {
		if !validFullName(a) {
			return "", errAt(path+"/aliases", "invalid alias %q", a)
		}
		s.Aliases = append(s.Aliases, fullName(a, s.Namespace))
	}
	p.names[full] = s
	p.defined = append(p.defined, s)
	return s.Namespace, nil
}

func stringList(v any, path string) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errAt(path, "must be an array of strings")
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, errAt(path+"/"+strconv.Itoa(i), "must be a string")
		}
		out[i] = s
	}
	return out, nil
}

func (p *parser) parseRecord(m map[string]any, ns, path string) (*Schema, error) {
	s := &Schema{Kind: Record}
	ns, err := p.named(s, m, ns, path)
	if err != nil {
		return nil, err
	}
	raw, ok := m["fields"]
	if !ok {
		return nil, errAt(path, "record %s without fields", s.Name)
	}
	fields, ok := raw.([]any)
	if !ok {
		return nil, errAt(path+"/fields", "fields must be an array")
	}
	seen := map[string]bool{}
	for i, fv := range fields {
		fp := path + "/fields/" + strconv.Itoa(i)
		fm, ok := fv.(map[string]any)
		if !ok {
			return nil, errAt(fp, "a field must be an object")
		}
		name, ok := fm["name"].(string)
		if !ok {
			return nil, errAt(fp, "field without a name")
		}
		if !validName(name) {
			return nil, errAt(fp+"/name", "invalid field name %q", name)
		}
		if seen[name] {
			return nil, errAt(fp+"/name", "duplicate field %q", name)
		}
		seen[name] = true
		tv, ok := fm["type"]
		if !ok {
			return nil, errAt(fp, "field %q without a type", name)
		}
		ft, err := p.parse(tv, ns, fp+"/type")
		if err != nil {
			return nil, err
		}
		f := &Field{Name: name, Type: ft, Pos: i, Order: "ascending"}
		if d, ok := fm["doc"].(string); ok {
			f.Doc = d
		}
		if f.Aliases, err = stringList(fm["aliases"], fp+"/aliases"); err != nil {
			return nil, err
		}
		if o, ok := fm["order"]; ok {
			os, _ := o.(string)
			if os != "ascending" && os != "descending" && os != "ignore" {
				return nil, errAt(fp+"/order", `order must be "ascending", "descending" or "ignore"`)
			}
			f.Order = os
		}
		if d, ok := fm["default"]; ok {
			f.Default, f.HasDefault = d, true
		}
		for k, v := range fm {
			switch k {
			case "name", "type", "doc", "aliases", "order", "default":
			default:
				if f.Props == nil {
					f.Props = map[string]any{}
				}
				f.Props[k] = v
			}
		}
		s.Fields = append(s.Fields, f)
	}
	// Defaults are checked once the record is complete, so a default of a
	// recursive record type can see all fields.
	for _, f := range s.Fields {
		if f.HasDefault {
			f.DefaultError = validDefault(f.Type, f.Default, false, 0)
		}
	}
	return s, nil
}

func (p *parser) parseEnum(m map[string]any, ns, path string) (*Schema, error) {
	s := &Schema{Kind: Enum}
	if _, err := p.named(s, m, ns, path); err != nil {
		return nil, err
	}
	if _, ok := m["symbols"]; !ok {
		return nil, errAt(path, "enum %s without symbols", s.Name)
	}
	syms, err := stringList(m["symbols"], path+"/symbols")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, sym := range syms {
		if !validName(sym) {
			return nil, errAt(path+"/symbols/"+strconv.Itoa(i), "invalid enum symbol %q", sym)
		}
		if seen[sym] {
			return nil, errAt(path+"/symbols/"+strconv.Itoa(i), "duplicate enum symbol %q", sym)
		}
		seen[sym] = true
	}
	s.Symbols = syms
	if d, ok := m["default"]; ok {
		ds, ok := d.(string)
		if !ok || !seen[ds] {
			return nil, errAt(path+"/default", "enum default %v is not one of the symbols", jsonString(d))
		}
		s.EnumDefault = &ds
	}
	return s, nil
}

func (p *parser) parseFixed(m map[string]any, ns, path string) (*Schema, error) {
	s := &Schema{Kind: Fixed}
	if _, err := p.named(s, m, ns, path); err != nil {
		return nil, err
	}
	size, ok := intAttr(m["size"])
	if !ok || size < 0 {
		return nil, errAt(path, "fixed %s needs a non-negative integer size", s.Name)
	}
	s.Size = size
	return s, nil
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// validDefault reports why v is not a valid default value for s, or "".
// It follows Avro Java's Schema.isValidDefault, with unions accepting a value
// of any branch when firstBranchOnly is false.
func validDefault(s *Schema, v any, firstBranchOnly bool, depth int) string {
	if depth > 64 {
		return ""
	}
	bad := func() string {
		return fmt.Sprintf("%s is not a valid %s", truncate(jsonString(v), 40), s.Kind)
	}
	switch s.Kind {
	case Null:
		if v != nil {
			return bad()
		}
	case Boolean:
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case Int, Long:
		n, ok := v.(json.Number)
		if !ok {
			if f, isF := v.(float64); isF && f == math.Trunc(f) {
				return ""
			}
			return bad()
		}
		bits := 64
		if s.Kind == Int {
			bits = 32
		}
		if _, err := strconv.ParseInt(string(n), 10, bits); err != nil {
			return bad()
		}
	case Float, Double:
		switch v := v.(type) {
		case json.Number, float64:
		case string:
			if v != "NaN" && v != "Infinity" && v != "-Infinity" {
				return bad()
			}
		default:
			return bad()
		}
	case Bytes, String, Fixed:
		if _, ok := v.(string); !ok {
			return bad()
		}
	case Enum:
		sym, ok := v.(string)
		if !ok || !contains(s.Symbols, sym) {
			return bad()
		}
	case Array:
		list, ok := v.([]any)
		if !ok {
			return bad()
		}
		for _, e := range list {
			if msg := validDefault(s.Items, e, firstBranchOnly, depth+1); msg != "" {
				return msg
			}
		}
	case Map:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		for _, e := range m {
			if msg := validDefault(s.Values, e, firstBranchOnly, depth+1); msg != "" {
				return msg
			}
		}
	case Record:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		for _, f := range s.Fields {
			fv, has := m[f.Name]
			if !has {
				if !f.HasDefault {
					return fmt.Sprintf("field %q of %s is missing and has no default", f.Name, s.Name)
				}
				continue // the field's own default applies (and was checked)
			}
			if msg := validDefault(f.Type, fv, firstBranchOnly, depth+1); msg != "" {
				return msg
			}
		}
	case Union:
		if len(s.Branches) == 0 {
			return bad()
		}
		if firstBranchOnly {
			return validDefault(s.Branches[0], v, true, depth+1)
		}
		for _, b := range s.Branches {
			if validDefault(b, v, false, depth+1) == "" {
				return ""
			}
		}
		return fmt.Sprintf("%s matches no branch of the union", truncate(jsonString(v), 40))
	}
	return ""
}

// DefaultMatchesFirstBranch reports why v is not a valid default under the
// Avro 1.11 rule that a union's default belongs to its first branch, or "".
func DefaultMatchesFirstBranch(s *Schema, v any) string {
	return validDefault(s, v, true, 0)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
