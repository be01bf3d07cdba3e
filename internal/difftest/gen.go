package difftest

import (
	"math/rand/v2"
	"strconv"
)

var (
	recordNames = []string{"Order", "Customer", "Address", "Item", "Line", "Money", "Point", "Event", "Header", "Meta", "Payload", "Parcel"}
	enumNames   = []string{"Status", "Color", "Kind", "Priority", "Region", "Unit"}
	fixedNames  = []string{"Hash", "Md5", "Id16", "Blob", "Key8"}
	fieldNames  = []string{"id", "name", "amount", "count", "tags", "ts", "status", "note", "value", "kind", "label", "qty", "price", "code", "ref", "at", "meta", "extra", "flag", "score"}
	namespaces  = []string{"com.acme", "waybill.orders", "org.example.v1", "io.ship", "x"}
	symbolPool  = []string{"NEW", "OPEN", "CLOSED", "SHIPPED", "LOST", "RED", "GREEN", "BLUE", "LOW", "HIGH", "UNKNOWN", "EU", "US", "APAC"}
	stringPool  = []string{"", "abc", "x", "hello world"}
)

// gen generates schemas and pairs. All randomness comes from r, so a seed
// reproduces everything.
type gen struct {
	r *rand.Rand

	// per pair
	typeNames  map[string]bool // short names of named types used in the pair
	typeList   []string        // the same, in order of use
	fieldNames map[string]bool // field names and aliases used in the pair
	symbols    map[string]bool
	counter    int
	named      []*node // completed named types of the schema being built, for reuse
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }

// weighted returns an index into weights, chosen with probability
// proportional to its weight.
func (g *gen) weighted(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := g.r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// freshType returns a short type name not used yet in the pair.
func (g *gen) freshType(pool []string) string {
	base := pick(g, pool)
	name := base
	for g.typeNames[name] {
		g.counter++
		name = base + strconv.Itoa(g.counter)
	}
	g.typeNames[name] = true
	g.typeList = append(g.typeList, name)
	return name
}

// freshField returns a field name not used yet in the pair, so that a
// renamed field's alias can never match two writer fields (Avro Java throws
// on that, and the spec leaves it undefined).
func (g *gen) freshField() string {
	base := pick(g, fieldNames)
	name := base
	for g.fieldNames[name] {
		g.counter++
		name = base + "_" + strconv.Itoa(g.counter)
	}
	g.fieldNames[name] = true
	return name
}

func (g *gen) freshSymbol() string {
	base := pick(g, symbolPool)
	name := base
	for g.symbols[name] {
		g.counter++
		name = base + strconv.Itoa(g.counter)
	}
	g.symbols[name] = true
	return name
}

func (g *gen) resetPair() {
	g.typeNames = map[string]bool{}
	g.typeList = nil
	g.fieldNames = map[string]bool{}
	g.symbols = map[string]bool{}
	g.counter = 0
}

// namespaceFor picks the namespace of a new named type nested in enclosing.
func (g *gen) namespaceFor(enclosing string) string {
	if enclosing == "" || g.chance(0.75) {
		return enclosing
	}
	return pick(g, namespaces)
}

// newNamed fills in the naming attributes of a new named type.
func (g *gen) newNamed(n *node, pool []string, enclosing string) {
	n.ns = g.namespaceFor(enclosing)
	if n.ns != "" && len(g.typeList) > 0 && g.chance(0.08) {
		// The short name of another type, in another namespace, so that
		// unqualified and full-name matching differ inside one schema.
		n.name = pick(g, g.typeList)
		n.ns = pick(g, namespaces)
	} else {
		n.name = g.freshType(pool)
	}
	n.fullNameForm = n.ns != "" && g.chance(0.1)
	n.explicitNS = g.chance(0.2)
	if g.chance(0.1) {
		n.aliases = append(n.aliases, g.alias(g.freshType(pool), n.ns))
	}
	if g.chance(0.1) {
		n.doc = "generated " + n.name
	}
}

// alias writes an alias for short name a in namespace ns, either as a full
// name or relative to ns.
func (g *gen) alias(a, ns string) string {
	if ns != "" && g.chance(0.5) {
		return ns + "." + a
	}
	return a
}

// schema returns a random top-level schema: usually a record, as event
// schemas are.
func (g *gen) schema() *node {
	g.named = nil
	ns := ""
	if g.chance(0.65) {
		ns = pick(g, namespaces)
	}
	if g.chance(0.85) {
		if g.chance(0.1) {
			return g.recursive(0, ns)
		}
		return g.record(0, ns)
	}
	return g.typ(1, ns)
}

const maxDepth = 3

// typ returns a random schema nested depth levels deep in namespace ns.
func (g *gen) typ(depth int, ns string) *node {
	deep := depth >= maxDepth
	w := []int{30, 6, 12, 8, 4, 8, 6, 12, 5, 3}
	if deep {
		w[2], w[5], w[6], w[7], w[9] = 0, 0, 0, 0, 0
	}
	if len(g.named) == 0 {
		w[8] = 0
	}
	switch g.weighted(w) {
	case 0:
		return g.primitive()
	case 1:
		return g.logicalPrimitive()
	case 2:
		return g.record(depth, ns)
	case 3:
		return g.enum(ns)
	case 4:
		return g.fixed(ns)
	case 5:
		return &node{kind: kArray, items: g.typ(depth+1, ns)}
	case 6:
		return &node{kind: kMap, items: g.typ(depth+1, ns)}
	case 7:
		return g.union(depth, ns)
	case 8:
		return pick(g, g.named)
	default:
		return g.recursive(depth, ns)
	}
}

func (g *gen) primitive() *node {
	return &node{kind: kind(g.r.IntN(int(kString) + 1)), object: g.chance(0.1)}
}

func (g *gen) logicalPrimitive() *node {
	switch g.r.IntN(8) {
	case 0:
		return &node{kind: kInt, logical: "date"}
	case 1:
		return &node{kind: kInt, logical: "time-millis"}
	case 2:
		return &node{kind: kLong, logical: "timestamp-millis"}
	case 3:
		return &node{kind: kLong, logical: "timestamp-micros"}
	case 4:
		return &node{kind: kLong, logical: "time-micros"}
	case 5:
		return &node{kind: kString, logical: "uuid"}
	default:
		p := 1 + g.r.IntN(20)
		return &node{kind: kBytes, logical: "decimal", precision: p, scale: g.r.IntN(p + 1)}
	}
}

func (g *gen) record(depth int, ns string) *node {
	n := &node{kind: kRecord}
	g.newNamed(n, recordNames, ns)
	nf := 1 + g.r.IntN(4)
	if g.chance(0.05) {
		nf = 0
	}
	for range nf {
		n.fields = append(n.fields, g.field(depth+1, n.ns))
	}
	g.named = append(g.named, n)
	return n
}

func (g *gen) field(depth int, ns string) *field {
	f := &field{name: g.freshField(), typ: g.typ(depth, ns)}
	if g.chance(0.4) {
		f.def, f.hasDef = g.defaultFor(f.typ, 0)
	}
	if g.chance(0.08) {
		f.aliases = []string{g.freshField()}
	}
	return f
}

// recursive returns a recursive record: a linked list or a tree.
func (g *gen) recursive(depth int, ns string) *node {
	n := &node{kind: kRecord}
	g.newNamed(n, []string{"Node", "Tree", "Link", "Cons"}, ns)
	n.fields = append(n.fields, g.field(maxDepth, n.ns))
	f := &field{name: g.freshField()}
	if g.chance(0.5) {
		f.typ = &node{kind: kUnion, branches: []*node{{kind: kNull}, n}}
		f.def, f.hasDef = nil, g.chance(0.8)
	} else {
		f.typ = &node{kind: kArray, items: n}
		if g.chance(0.5) {
			f.def, f.hasDef = []any{}, true
		}
	}
	n.fields = append(n.fields, f)
	g.named = append(g.named, n)
	return n
}

func (g *gen) enum(ns string) *node {
	n := &node{kind: kEnum}
	g.newNamed(n, enumNames, ns)
	for range 1 + g.r.IntN(4) {
		n.symbols = append(n.symbols, g.freshSymbol())
	}
	if g.chance(0.4) {
		d := pick(g, n.symbols)
		n.enumDefault = &d
	}
	g.named = append(g.named, n)
	return n
}

func (g *gen) fixed(ns string) *node {
	n := &node{kind: kFixed}
	g.newNamed(n, fixedNames, ns)
	n.size = pick(g, []int{1, 2, 4, 8, 12, 16})
	if g.chance(0.25) {
		if n.size == 12 && g.chance(0.5) {
			n.logical = "duration"
		} else {
			n.logical = "decimal"
			n.precision = 1 + g.r.IntN(maxDecimalPrecision(n.size))
			n.scale = g.r.IntN(n.precision + 1)
		}
	}
	g.named = append(g.named, n)
	return n
}

func (g *gen) union(depth int, ns string) *node {
	n := &node{kind: kUnion}
	if g.chance(0.55) {
		n.branches = append(n.branches, &node{kind: kNull})
	}
	want := 1 + g.r.IntN(3)
	for tries := 0; len(n.branches) < want+1 && tries < 10; tries++ {
		b := g.typ(depth+1, ns)
		if b.kind == kUnion || !g.fitsUnion(n, b) {
			continue
		}
		n.branches = append(n.branches, b)
	}
	return n
}

// fitsUnion reports whether b can join union u: a union holds one schema of
// each unnamed type and named types with distinct full names.
func (g *gen) fitsUnion(u, b *node) bool {
	for _, x := range u.branches {
		if x.kind == b.kind && (!b.kind.named() || x.fullName() == b.fullName()) {
			return false
		}
	}
	return true
}

// defaultFor returns a valid default for t, or false if it found none
// (a recursive record with no way out).
func (g *gen) defaultFor(t *node, depth int) (any, bool) {
	if depth > 4 {
		return nil, false
	}
	switch t.kind {
	case kNull:
		return nil, true
	case kBoolean:
		return g.chance(0.5), true
	case kInt:
		return int64(g.r.IntN(2000) - 1000), true
	case kLong:
		if g.chance(0.3) {
			return int64(1) << 40, true
		}
		return int64(g.r.IntN(100)), true
	case kFloat, kDouble:
		return float64(g.r.IntN(100)) + 0.5, true
	case kBytes, kString:
		return pick(g, stringPool), true
	case kEnum:
		return pick(g, t.symbols), true
	case kFixed:
		b := make([]byte, t.size)
		for i := range b {
			b[i] = byte('a' + g.r.IntN(26))
		}
		return string(b), true
	case kArray:
		if g.chance(0.6) {
			return []any{}, true
		}
		v, ok := g.defaultFor(t.items, depth+1)
		if !ok {
			return []any{}, true
		}
		return []any{v}, true
	case kMap:
		if g.chance(0.6) {
			return &object{}, true
		}
		v, ok := g.defaultFor(t.items, depth+1)
		if !ok {
			return &object{}, true
		}
		return &object{keys: []string{"k"}, vals: []any{v}}, true
	case kRecord:
		o := &object{}
		for _, f := range t.fields {
			v, ok := g.defaultFor(f.typ, depth+1)
			if !ok {
				return nil, false
			}
			o.keys = append(o.keys, f.name)
			o.vals = append(o.vals, v)
		}
		return o, true
	case kUnion:
		if len(t.branches) == 0 {
			return nil, false
		}
		return g.defaultFor(t.branches[0], depth+1)
	}
	return nil, false
}

// fixDefaults makes every default in the schema valid again after a
// mutation changed a type under it: a new default if one exists, else none.
func (g *gen) fixDefaults(root *node) {
	walk(root, func(n *node) {
		if n.kind == kEnum && n.enumDefault != nil && indexOf(n.symbols, *n.enumDefault) < 0 {
			if g.chance(0.5) && len(n.symbols) > 0 {
				d := pick(g, n.symbols)
				n.enumDefault = &d
			} else {
				n.enumDefault = nil
			}
		}
	})
	walk(root, func(n *node) {
		for _, f := range n.fields {
			if f.hasDef && !validDefault(f.typ, f.def, 0) {
				f.def, f.hasDef = g.defaultFor(f.typ, 0)
			}
		}
	})
}

// register records the names a schema uses, so fresh names stay fresh.
func (g *gen) register(root *node) {
	walk(root, func(n *node) {
		if n.kind.named() && !g.typeNames[n.name] {
			g.typeNames[n.name] = true
			g.typeList = append(g.typeList, n.name)
		}
		for _, f := range n.fields {
			g.fieldNames[f.name] = true
			for _, a := range f.aliases {
				g.fieldNames[a] = true
			}
		}
		for _, s := range n.symbols {
			g.symbols[s] = true
		}
	})
}

// pair generates one pair: a base schema and a mutated copy, the copy being
// the reader or the writer at random.
func (g *gen) pair() (Pair, bool) {
	g.resetPair()
	base := g.schema()
	g.fixDefaults(base)
	if validate(base) != nil {
		return Pair{}, false
	}
	g.register(base)
	side := "writer"
	if g.chance(0.5) {
		side = "reader"
	}
	other := copyTree(base)
	var applied []string
	want := 1
	switch x := g.r.IntN(10); {
	case x >= 9:
		want = 3
	case x >= 6:
		want = 2
	}
	for tries := 0; len(applied) < want && tries < 20; tries++ {
		m := mutations[g.weighted(mutationWeights)]
		cand := copyTree(other)
		t := &tree{root: cand}
		if !m.apply(g, t) {
			continue
		}
		g.fixDefaults(t.root)
		if validate(t.root) != nil {
			continue
		}
		other = t.root
		applied = append(applied, side+": "+m.name)
	}
	if len(applied) == 0 {
		return Pair{}, false
	}
	p := Pair{Mutations: applied}
	if side == "reader" {
		p.Reader, p.Writer = render(other), render(base)
	} else {
		p.Reader, p.Writer = render(base), render(other)
	}
	return p, true
}
