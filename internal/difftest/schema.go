package difftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
)

// kind is an Avro schema type.
type kind uint8

const (
	kNull kind = iota
	kBoolean
	kInt
	kLong
	kFloat
	kDouble
	kBytes
	kString
	kRecord
	kEnum
	kFixed
	kArray
	kMap
	kUnion
)

var kindNames = [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string",
	"record", "enum", "fixed", "array", "map", "union"}

func (k kind) String() string { return kindNames[k] }

func (k kind) primitive() bool { return k <= kString }

func (k kind) named() bool { return k == kRecord || k == kEnum || k == kFixed }

// node is the generator's schema model. Named nodes may be shared (a type
// used twice) and may form cycles (recursive records); the renderer defines a
// named type at its first occurrence in document order and names it after that.
type node struct {
	kind kind

	// named types
	name, ns     string
	fullNameForm bool     // write "name" as the full name instead of name + namespace
	explicitNS   bool     // write "namespace" even when it equals the enclosing one
	aliases      []string // as written: full names or names relative to ns
	doc          string
	fields       []*field // record
	symbols      []string // enum
	enumDefault  *string  // enum
	size         int      // fixed

	items    *node   // array items, map values
	branches []*node // union

	logical          string // logicalType on a primitive or fixed
	precision, scale int    // decimal
	object           bool   // write a primitive as {"type": ...}
}

type field struct {
	name    string
	aliases []string
	typ     *node
	def     any // nil, bool, int64, float64, string, []any, *object
	hasDef  bool
}

// object is a JSON object with ordered keys (a record or map default).
type object struct {
	keys []string
	vals []any
}

func (n *node) fullName() string {
	if n.ns == "" {
		return n.name
	}
	return n.ns + "." + n.name
}

// qualify returns the full name an alias or reference written as a means in
// namespace ns.
func qualify(a, ns string) string {
	if ns == "" || bytes.ContainsRune([]byte(a), '.') {
		return a
	}
	return ns + "." + a
}

// walk calls fn for every node reachable from root, once each, in document
// order.
func walk(root *node, fn func(*node)) {
	seen := map[*node]bool{}
	var rec func(*node)
	rec = func(n *node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		fn(n)
		for _, f := range n.fields {
			rec(f.typ)
		}
		rec(n.items)
		for _, b := range n.branches {
			rec(b)
		}
	}
	rec(root)
}

// copyTree deep-copies a schema, keeping sharing and cycles.
func copyTree(root *node) *node {
	return copyNode(root, map[*node]*node{})
}

func copyNode(n *node, m map[*node]*node) *node {
	if n == nil {
		return nil
	}
	if c, ok := m[n]; ok {
		return c
	}
	c := new(node)
	*c = *n
	m[n] = c
	c.aliases = append([]string(nil), n.aliases...)
	c.symbols = append([]string(nil), n.symbols...)
	if n.enumDefault != nil {
		d := *n.enumDefault
		c.enumDefault = &d
	}
	c.fields = nil
	for _, f := range n.fields {
		nf := *f
		nf.aliases = append([]string(nil), f.aliases...)
		nf.typ = copyNode(f.typ, m)
		c.fields = append(c.fields, &nf)
	}
	c.items = copyNode(n.items, m)
	c.branches = nil
	for _, b := range n.branches {
		c.branches = append(c.branches, copyNode(b, m))
	}
	return c
}

// render returns the schema's JSON text.
func render(root *node) string {
	r := renderer{defined: map[*node]bool{}}
	r.schema(root, "")
	return r.b.String()
}

type renderer struct {
	b       bytes.Buffer
	defined map[*node]bool
}

func (r *renderer) str(s string) {
	j, _ := json.Marshal(s)
	r.b.Write(j)
}

func (r *renderer) key(first *bool, k string) {
	if !*first {
		r.b.WriteByte(',')
	}
	*first = false
	r.str(k)
	r.b.WriteByte(':')
}

func (r *renderer) schema(n *node, enclosing string) {
	switch {
	case n.kind.primitive():
		if n.logical == "" && !n.object {
			r.str(n.kind.String())
			return
		}
		first := true
		r.b.WriteByte('{')
		r.key(&first, "type")
		r.str(n.kind.String())
		r.logicalAttrs(&first, n)
		r.b.WriteByte('}')
	case n.kind.named():
		if r.defined[n] {
			r.str(n.fullName())
			return
		}
		r.defined[n] = true
		first := true
		r.b.WriteByte('{')
		r.key(&first, "type")
		r.str(n.kind.String())
		r.key(&first, "name")
		if n.fullNameForm && n.ns != "" {
			r.str(n.fullName())
		} else {
			r.str(n.name)
			if n.ns != enclosing || n.explicitNS {
				r.key(&first, "namespace")
				r.str(n.ns)
			}
		}
		if len(n.aliases) > 0 {
			r.key(&first, "aliases")
			r.strs(n.aliases)
		}
		if n.doc != "" {
			r.key(&first, "doc")
			r.str(n.doc)
		}
		switch n.kind {
		case kRecord:
			r.key(&first, "fields")
			r.b.WriteByte('[')
			for i, f := range n.fields {
				if i > 0 {
					r.b.WriteByte(',')
				}
				ff := true
				r.b.WriteByte('{')
				r.key(&ff, "name")
				r.str(f.name)
				r.key(&ff, "type")
				r.schema(f.typ, n.ns)
				if f.hasDef {
					r.key(&ff, "default")
					r.value(f.def)
				}
				if len(f.aliases) > 0 {
					r.key(&ff, "aliases")
					r.strs(f.aliases)
				}
				r.b.WriteByte('}')
			}
			r.b.WriteByte(']')
		case kEnum:
			r.key(&first, "symbols")
			r.strs(n.symbols)
			if n.enumDefault != nil {
				r.key(&first, "default")
				r.str(*n.enumDefault)
			}
		case kFixed:
			r.key(&first, "size")
			r.b.WriteString(strconv.Itoa(n.size))
			r.logicalAttrs(&first, n)
		}
		r.b.WriteByte('}')
	case n.kind == kArray || n.kind == kMap:
		first := true
		r.b.WriteByte('{')
		r.key(&first, "type")
		r.str(n.kind.String())
		if n.kind == kArray {
			r.key(&first, "items")
		} else {
			r.key(&first, "values")
		}
		r.schema(n.items, enclosing)
		r.b.WriteByte('}')
	case n.kind == kUnion:
		r.b.WriteByte('[')
		for i, b := range n.branches {
			if i > 0 {
				r.b.WriteByte(',')
			}
			r.schema(b, enclosing)
		}
		r.b.WriteByte(']')
	}
}

func (r *renderer) logicalAttrs(first *bool, n *node) {
	if n.logical == "" {
		return
	}
	r.key(first, "logicalType")
	r.str(n.logical)
	if n.logical == "decimal" {
		r.key(first, "precision")
		r.b.WriteString(strconv.Itoa(n.precision))
		r.key(first, "scale")
		r.b.WriteString(strconv.Itoa(n.scale))
	}
}

func (r *renderer) strs(ss []string) {
	r.b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			r.b.WriteByte(',')
		}
		r.str(s)
	}
	r.b.WriteByte(']')
}

func (r *renderer) value(v any) {
	switch v := v.(type) {
	case nil:
		r.b.WriteString("null")
	case bool:
		r.b.WriteString(strconv.FormatBool(v))
	case int64:
		r.b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		r.b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	case string:
		r.str(v)
	case []any:
		r.b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				r.b.WriteByte(',')
			}
			r.value(e)
		}
		r.b.WriteByte(']')
	case *object:
		r.b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				r.b.WriteByte(',')
			}
			r.str(k)
			r.b.WriteByte(':')
			r.value(v.vals[i])
		}
		r.b.WriteByte('}')
	default:
		panic(fmt.Sprintf("difftest: value of type %T", v))
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func validName(s string) bool { return nameRE.MatchString(s) }

func validFullName(s string) bool {
	for _, p := range bytes.Split([]byte(s), []byte{'.'}) {
		if !validName(string(p)) {
			return false
		}
	}
	return true
}

// validate reports why a schema is not valid for Avro Java and Avro Python,
// or nil. Beyond the spec's rules it requires that either every named type
// has a namespace or none has: Avro Python cannot refer to a type in the null
// namespace from inside a namespace.
func validate(root *node) error {
	var errs []error
	byName := map[string]*node{}
	withNS, withoutNS := 0, 0
	walk(root, func(n *node) {
		if n.kind.named() {
			fn := n.fullName()
			if byName[fn] != nil {
				errs = append(errs, fmt.Errorf("%s defined twice", fn))
			}
			byName[fn] = n
			if !validName(n.name) || (n.ns != "" && !validFullName(n.ns)) {
				errs = append(errs, fmt.Errorf("bad name %q", fn))
			}
			if n.ns == "" {
				withoutNS++
			} else {
				withNS++
			}
			for _, a := range n.aliases {
				if !validFullName(a) {
					errs = append(errs, fmt.Errorf("bad alias %q", a))
				}
			}
		}
		switch n.kind {
		case kRecord:
			names := map[string]bool{}
			for _, f := range n.fields {
				for _, nm := range append([]string{f.name}, f.aliases...) {
					if names[nm] || !validName(nm) {
						errs = append(errs, fmt.Errorf("%s: field name %q repeated or invalid", n.fullName(), nm))
					}
					names[nm] = true
				}
				if f.hasDef && !validDefault(f.typ, f.def, 0) {
					errs = append(errs, fmt.Errorf("%s.%s: bad default", n.fullName(), f.name))
				}
			}
		case kEnum:
			seen := map[string]bool{}
			for _, s := range n.symbols {
				if seen[s] || !validName(s) {
					errs = append(errs, fmt.Errorf("%s: symbol %q repeated or invalid", n.fullName(), s))
				}
				seen[s] = true
			}
			if len(n.symbols) == 0 {
				errs = append(errs, fmt.Errorf("%s: no symbols", n.fullName()))
			}
			if n.enumDefault != nil && !seen[*n.enumDefault] {
				errs = append(errs, fmt.Errorf("%s: default not a symbol", n.fullName()))
			}
		case kFixed:
			if n.size < 1 {
				errs = append(errs, fmt.Errorf("%s: size %d", n.fullName(), n.size))
			}
		case kUnion:
			if len(n.branches) == 0 {
				errs = append(errs, errors.New("empty union"))
			}
			seen := map[string]bool{}
			for _, b := range n.branches {
				if b.kind == kUnion {
					errs = append(errs, errors.New("union in union"))
				}
				k := b.kind.String()
				if b.kind.named() {
					k += ":" + b.fullName()
				}
				if seen[k] {
					errs = append(errs, fmt.Errorf("union repeats %s", k))
				}
				seen[k] = true
			}
		}
		if n.logical == "decimal" {
			if n.precision < 1 || n.scale < 0 || n.scale > n.precision ||
				(n.kind == kFixed && n.precision > maxDecimalPrecision(n.size)) {
				errs = append(errs, fmt.Errorf("bad decimal(%d,%d)", n.precision, n.scale))
			}
		}
	})
	if unnamedCycle(root) {
		errs = append(errs, errors.New("cycle through unnamed types"))
	}
	if withNS > 0 && withoutNS > 0 {
		errs = append(errs, errors.New("named types both with and without namespace"))
	}
	return errors.Join(errs...)
}

// unnamedCycle reports whether a schema refers back to an unnamed type
// (array, map, union) inside itself, which JSON cannot write.
func unnamedCycle(root *node) bool {
	// Colour DFS over the graph of unnamed nodes only: a named type breaks
	// every path, as it is written by name after its definition.
	const (
		white = iota
		grey
		black
	)
	colour := map[*node]int{}
	var rec func(n *node) bool
	rec = func(n *node) bool {
		colour[n] = grey
		kids := []*node{n.items}
		kids = append(kids, n.branches...)
		for _, k := range kids {
			if k == nil || k.kind.named() {
				continue
			}
			switch colour[k] {
			case grey:
				return true
			case white:
				if rec(k) {
					return true
				}
			}
		}
		colour[n] = black
		return false
	}
	found := false
	walk(root, func(n *node) {
		if !found && !n.kind.named() && colour[n] == white {
			found = rec(n)
		}
	})
	return found
}

// maxDecimalPrecision is the largest decimal precision a fixed of size bytes
// holds: floor(log10(2^(8*size-1) - 1)), as the spec's decimal section says.
func maxDecimalPrecision(size int) int {
	if size < 1 {
		return 0
	}
	if size > 64 {
		return math.MaxInt32
	}
	v := new(big.Int).Lsh(big.NewInt(1), uint(8*size-1))
	v.Sub(v, big.NewInt(1))
	return len(v.String()) - 1
}

// validDefault reports whether v is a valid default for t, as Avro Java's
// Schema.isValidDefault decides it: a union's default matches its first branch.
func validDefault(t *node, v any, depth int) bool {
	if depth > 20 {
		return false
	}
	switch t.kind {
	case kNull:
		return v == nil
	case kBoolean:
		_, ok := v.(bool)
		return ok
	case kInt:
		i, ok := v.(int64)
		return ok && i >= math.MinInt32 && i <= math.MaxInt32
	case kLong:
		_, ok := v.(int64)
		return ok
	case kFloat, kDouble:
		switch v.(type) {
		case int64, float64:
			return true
		}
		return false
	case kBytes, kString:
		_, ok := v.(string)
		return ok
	case kEnum:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, sym := range t.symbols {
			if sym == s {
				return true
			}
		}
		return false
	case kFixed:
		s, ok := v.(string)
		return ok && len([]rune(s)) == t.size
	case kArray:
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range a {
			if !validDefault(t.items, e, depth+1) {
				return false
			}
		}
		return true
	case kMap:
		o, ok := v.(*object)
		if !ok {
			return false
		}
		for _, e := range o.vals {
			if !validDefault(t.items, e, depth+1) {
				return false
			}
		}
		return true
	case kRecord:
		o, ok := v.(*object)
		if !ok {
			return false
		}
		for _, f := range t.fields {
			i := indexOf(o.keys, f.name)
			if i < 0 {
				if !f.hasDef {
					return false
				}
				continue
			}
			if !validDefault(f.typ, o.vals[i], depth+1) {
				return false
			}
		}
		return true
	case kUnion:
		return len(t.branches) > 0 && validDefault(t.branches[0], v, depth+1)
	}
	return false
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}
