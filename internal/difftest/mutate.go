package difftest

import "slices"

// tree holds a schema being mutated, so a mutation can replace the root.
type tree struct{ root *node }

// slot is a place in a schema that holds a type: the root, a field's type,
// array items or map values, or a union branch.
type slot struct {
	p       **node
	field   *field // set for a field's type
	owner   *node  // the record, array, map or union holding the slot
	inUnion bool
}

func (t *tree) slots() []slot {
	out := []slot{{p: &t.root}}
	walk(t.root, func(n *node) {
		for _, f := range n.fields {
			out = append(out, slot{p: &f.typ, field: f, owner: n})
		}
		if n.items != nil {
			out = append(out, slot{p: &n.items, owner: n})
		}
		for i := range n.branches {
			out = append(out, slot{p: &n.branches[i], owner: n, inUnion: true})
		}
	})
	return out
}

func (t *tree) nodes(keep func(*node) bool) []*node {
	var out []*node
	walk(t.root, func(n *node) {
		if keep(n) {
			out = append(out, n)
		}
	})
	return out
}

func (t *tree) slotsWhere(keep func(slot) bool) []slot {
	var out []slot
	for _, s := range t.slots() {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

func isKind(k kind) func(*node) bool { return func(n *node) bool { return n.kind == k } }

type mutation struct {
	name   string
	weight int
	apply  func(*gen, *tree) bool
}

var (
	mutations       []mutation
	mutationWeights []int
)

func init() {
	mutations = []mutation{
		{"add-field-default", 8, func(g *gen, t *tree) bool { return addField(g, t, true) }},
		{"add-field-no-default", 6, func(g *gen, t *tree) bool { return addField(g, t, false) }},
		{"remove-field", 8, removeField},
		{"promote", 8, func(g *gen, t *tree) bool { return retypePrimitive(g, t, promotions) }},
		{"demote", 5, func(g *gen, t *tree) bool { return retypePrimitive(g, t, demotions) }},
		{"enum-add-symbol", 5, enumAddSymbol},
		{"enum-remove-symbol", 5, enumRemoveSymbol},
		{"enum-set-default", 5, enumSetDefault},
		{"enum-drop-default", 3, enumDropDefault},
		{"union-wrap", 6, unionWrap},
		{"union-unwrap", 5, unionUnwrap},
		{"union-add-branch", 5, unionAddBranch},
		{"union-remove-branch", 5, unionRemoveBranch},
		{"union-reorder", 2, unionReorder},
		{"union-of-promotables", 4, unionOfPromotables},
		{"rename-field-alias", 5, func(g *gen, t *tree) bool { return renameField(g, t, true) }},
		{"rename-field", 4, func(g *gen, t *tree) bool { return renameField(g, t, false) }},
		{"field-add-alias", 2, fieldAddAlias},
		{"rename-type-alias", 5, func(g *gen, t *tree) bool { return renameType(g, t, true) }},
		{"rename-type", 4, func(g *gen, t *tree) bool { return renameType(g, t, false) }},
		{"change-namespace", 5, changeNamespace},
		{"drop-namespaces", 3, dropNamespaces},
		{"add-namespaces", 3, addNamespaces},
		{"fixed-resize", 4, fixedResize},
		{"nest-record", 4, nestRecord},
		{"unnest-record", 3, unnestRecord},
		{"wrap-collection", 3, wrapCollection},
		{"array-map-swap", 2, arrayMapSwap},
		{"make-recursive", 3, makeRecursive},
		{"link-records", 3, linkRecords},
		{"reuse-named", 3, reuseNamed},
		{"enum-reorder", 2, enumReorder},
		{"rename-recursion", 3, renameRecursion},
		{"retype-field", 5, retypeField},
		{"reorder-fields", 3, reorderFields},
		{"logical-change", 5, logicalChange},
		{"toggle-field-default", 4, toggleFieldDefault},
		{"name-form", 3, nameForm},
		{"alias-form", 2, aliasForm},
		{"identity", 1, func(*gen, *tree) bool { return true }},
		{"replace-schema", 1, func(g *gen, t *tree) bool { t.root = g.schema(); return true }},
	}
	for _, m := range mutations {
		mutationWeights = append(mutationWeights, m.weight)
	}
}

func addField(g *gen, t *tree, withDefault bool) bool {
	recs := t.nodes(isKind(kRecord))
	if len(recs) == 0 {
		return false
	}
	r := pick(g, recs)
	f := &field{name: g.freshField(), typ: g.typ(2, r.ns)}
	if withDefault {
		var ok bool
		if f.def, ok = g.defaultFor(f.typ, 0); !ok {
			return false
		}
		f.hasDef = true
	}
	i := g.r.IntN(len(r.fields) + 1)
	r.fields = slices.Insert(r.fields, i, f)
	return true
}

func removeField(g *gen, t *tree) bool {
	recs := t.nodes(func(n *node) bool { return n.kind == kRecord && len(n.fields) > 0 })
	if len(recs) == 0 {
		return false
	}
	r := pick(g, recs)
	i := g.r.IntN(len(r.fields))
	r.fields = slices.Delete(r.fields, i, i+1)
	return true
}

// promotions are the spec's promotions: int to long, float or double; long to
// float or double; float to double; string to bytes and bytes to string.
var promotions = map[kind][]kind{
	kInt: {kLong, kFloat, kDouble}, kLong: {kFloat, kDouble}, kFloat: {kDouble},
	kString: {kBytes}, kBytes: {kString},
}

// demotions are the promotions reversed.
var demotions = map[kind][]kind{
	kDouble: {kFloat, kLong, kInt}, kFloat: {kLong, kInt}, kLong: {kInt},
	kString: {kBytes}, kBytes: {kString},
}

func retypePrimitive(g *gen, t *tree, table map[kind][]kind) bool {
	ns := t.nodes(func(n *node) bool { return n.kind.primitive() && len(table[n.kind]) > 0 })
	if len(ns) == 0 {
		return false
	}
	n := pick(g, ns)
	n.kind = pick(g, table[n.kind])
	n.logical, n.precision, n.scale = "", 0, 0
	return true
}

func enumAddSymbol(g *gen, t *tree) bool {
	es := t.nodes(isKind(kEnum))
	if len(es) == 0 {
		return false
	}
	e := pick(g, es)
	e.symbols = slices.Insert(e.symbols, g.r.IntN(len(e.symbols)+1), g.freshSymbol())
	return true
}

func enumRemoveSymbol(g *gen, t *tree) bool {
	es := t.nodes(func(n *node) bool { return n.kind == kEnum && len(n.symbols) > 1 })
	if len(es) == 0 {
		return false
	}
	e := pick(g, es)
	i := g.r.IntN(len(e.symbols))
	e.symbols = slices.Delete(e.symbols, i, i+1)
	return true
}

func enumSetDefault(g *gen, t *tree) bool {
	es := t.nodes(isKind(kEnum))
	if len(es) == 0 {
		return false
	}
	e := pick(g, es)
	d := pick(g, e.symbols)
	e.enumDefault = &d
	return true
}

func enumDropDefault(g *gen, t *tree) bool {
	es := t.nodes(func(n *node) bool { return n.kind == kEnum && n.enumDefault != nil })
	if len(es) == 0 {
		return false
	}
	pick(g, es).enumDefault = nil
	return true
}

func unionWrap(g *gen, t *tree) bool {
	ss := t.slotsWhere(func(s slot) bool { return !s.inUnion && (*s.p).kind != kUnion && (*s.p).kind != kNull })
	if len(ss) == 0 {
		return false
	}
	s := pick(g, ss)
	inner := *s.p
	u := &node{kind: kUnion}
	if g.chance(0.1) {
		u.branches = []*node{inner}
	} else if g.chance(0.6) {
		u.branches = []*node{{kind: kNull}, inner}
		if s.field != nil && (s.field.hasDef || g.chance(0.5)) {
			s.field.def, s.field.hasDef = nil, true
		}
	} else {
		u.branches = []*node{inner, {kind: kNull}}
	}
	if g.chance(0.2) {
		b := g.typ(maxDepth, t.ns())
		if b.kind != kUnion && g.fitsUnion(u, b) {
			u.branches = append(u.branches, b)
		}
	}
	*s.p = u
	return true
}

// ns returns a namespace for a new named type that keeps the schema's
// all-or-none namespace rule: one in use, or none if no type has one.
func (t *tree) ns() string {
	ns := ""
	walk(t.root, func(n *node) {
		if n.kind.named() && ns == "" {
			ns = n.ns
		}
	})
	return ns
}

// unionOfPromotables replaces a primitive with a union of it and types that
// promote to it ("double" becomes ["double", "int"]): a non-union reader of
// the old type reads every branch.
func unionOfPromotables(g *gen, t *tree) bool {
	ns := t.nodes(func(n *node) bool { return n.kind.primitive() && len(demotions[n.kind]) > 0 })
	if len(ns) == 0 {
		return false
	}
	n := pick(g, ns)
	u := &node{kind: kUnion, branches: []*node{{kind: n.kind, logical: n.logical, precision: n.precision, scale: n.scale}}}
	for _, k := range demotions[n.kind] {
		if g.chance(0.6) {
			u.branches = slices.Insert(u.branches, g.r.IntN(len(u.branches)+1), &node{kind: k})
		}
	}
	// Reusing n keeps every slot that holds it; it becomes the union.
	*n = *u
	return true
}

func unionUnwrap(g *gen, t *tree) bool {
	ss := t.slotsWhere(func(s slot) bool { return (*s.p).kind == kUnion })
	if len(ss) == 0 {
		return false
	}
	s := pick(g, ss)
	u := *s.p
	var nonNull []*node
	for _, b := range u.branches {
		if b.kind != kNull {
			nonNull = append(nonNull, b)
		}
	}
	if len(nonNull) > 0 && g.chance(0.85) {
		*s.p = pick(g, nonNull)
	} else {
		*s.p = pick(g, u.branches)
	}
	return true
}

func unionAddBranch(g *gen, t *tree) bool {
	us := t.nodes(isKind(kUnion))
	if len(us) == 0 {
		return false
	}
	u := pick(g, us)
	b := g.typ(maxDepth-1, t.ns())
	if b.kind == kUnion || !g.fitsUnion(u, b) {
		return false
	}
	u.branches = slices.Insert(u.branches, g.r.IntN(len(u.branches)+1), b)
	return true
}

func unionRemoveBranch(g *gen, t *tree) bool {
	us := t.nodes(func(n *node) bool { return n.kind == kUnion && len(n.branches) > 1 })
	if len(us) == 0 {
		return false
	}
	u := pick(g, us)
	i := g.r.IntN(len(u.branches))
	u.branches = slices.Delete(u.branches, i, i+1)
	return true
}

func unionReorder(g *gen, t *tree) bool {
	us := t.nodes(func(n *node) bool { return n.kind == kUnion && len(n.branches) > 1 })
	if len(us) == 0 {
		return false
	}
	u := pick(g, us)
	g.r.Shuffle(len(u.branches), func(i, j int) { u.branches[i], u.branches[j] = u.branches[j], u.branches[i] })
	return true
}

func fieldsOf(t *tree) []*field {
	var out []*field
	walk(t.root, func(n *node) { out = append(out, n.fields...) })
	return out
}

func renameField(g *gen, t *tree, alias bool) bool {
	fs := fieldsOf(t)
	if len(fs) == 0 {
		return false
	}
	f := pick(g, fs)
	old := f.name
	f.name = g.freshField()
	if alias {
		f.aliases = append(f.aliases, old)
	}
	return true
}

func fieldAddAlias(g *gen, t *tree) bool {
	fs := fieldsOf(t)
	if len(fs) == 0 {
		return false
	}
	f := pick(g, fs)
	f.aliases = append(f.aliases, g.freshField())
	return true
}

func namedNodes(t *tree) []*node { return t.nodes(func(n *node) bool { return n.kind.named() }) }

func poolFor(k kind) []string {
	switch k {
	case kEnum:
		return enumNames
	case kFixed:
		return fixedNames
	}
	return recordNames
}

func renameType(g *gen, t *tree, alias bool) bool {
	ns := namedNodes(t)
	if len(ns) == 0 {
		return false
	}
	n := pick(g, ns)
	old := n.name
	n.name = g.freshType(poolFor(n.kind))
	if alias {
		n.aliases = append(n.aliases, g.alias(old, n.ns))
	}
	return true
}

func changeNamespace(g *gen, t *tree) bool {
	ns := t.nodes(func(n *node) bool { return n.kind.named() && n.ns != "" })
	if len(ns) == 0 {
		return false
	}
	n := pick(g, ns)
	old := n.fullName()
	for n.ns == "" || n.fullName() == old {
		n.ns = pick(g, namespaces)
	}
	if g.chance(0.4) {
		n.aliases = append(n.aliases, old)
	}
	return true
}

func dropNamespaces(g *gen, t *tree) bool {
	ns := t.nodes(func(n *node) bool { return n.kind.named() && n.ns != "" })
	if len(ns) == 0 {
		return false
	}
	for _, n := range ns {
		n.ns = ""
	}
	return true
}

func addNamespaces(g *gen, t *tree) bool {
	ns := t.nodes(func(n *node) bool { return n.kind.named() && n.ns == "" })
	if len(ns) == 0 {
		return false
	}
	space := pick(g, namespaces)
	for _, n := range ns {
		n.ns = space
	}
	return true
}

func fixedResize(g *gen, t *tree) bool {
	fs := t.nodes(isKind(kFixed))
	if len(fs) == 0 {
		return false
	}
	f := pick(g, fs)
	d := 1 + g.r.IntN(4)
	if g.chance(0.5) && f.size > d {
		d = -d
	}
	f.size += d
	if f.logical == "duration" {
		f.logical = ""
	}
	return true
}

func nestRecord(g *gen, t *tree) bool {
	ss := t.slotsWhere(func(s slot) bool { return s.field != nil })
	if len(ss) == 0 {
		return false
	}
	s := pick(g, ss)
	w := &node{kind: kRecord}
	g.newNamed(w, []string{"Wrapper", "Box", "Envelope"}, s.owner.ns)
	w.fields = []*field{{name: g.freshField(), typ: *s.p}}
	*s.p = w
	return true
}

func unnestRecord(g *gen, t *tree) bool {
	ss := t.slotsWhere(func(s slot) bool {
		n := *s.p
		return n.kind == kRecord && len(n.fields) == 1 && n.fields[0].typ != n
	})
	if len(ss) == 0 {
		return false
	}
	s := pick(g, ss)
	*s.p = (*s.p).fields[0].typ
	return true
}

func wrapCollection(g *gen, t *tree) bool {
	ss := t.slots()
	s := pick(g, ss)
	k := kArray
	if g.chance(0.5) {
		k = kMap
	}
	*s.p = &node{kind: k, items: *s.p}
	return true
}

func arrayMapSwap(g *gen, t *tree) bool {
	ns := t.nodes(func(n *node) bool { return n.kind == kArray || n.kind == kMap })
	if len(ns) == 0 {
		return false
	}
	n := pick(g, ns)
	if n.kind == kArray {
		n.kind = kMap
	} else {
		n.kind = kArray
	}
	return true
}

func makeRecursive(g *gen, t *tree) bool {
	recs := t.nodes(isKind(kRecord))
	if len(recs) == 0 {
		return false
	}
	r := pick(g, recs)
	f := &field{name: g.freshField()}
	if g.chance(0.6) {
		f.typ = &node{kind: kUnion, branches: []*node{{kind: kNull}, r}}
		f.def, f.hasDef = nil, g.chance(0.7)
	} else {
		f.typ = &node{kind: kArray, items: r}
		f.def, f.hasDef = []any{}, g.chance(0.7)
	}
	r.fields = append(r.fields, f)
	return true
}

// linkRecords adds to one record an optional field of another record type
// of the schema: mutual recursion when the other encloses the first.
func linkRecords(g *gen, t *tree) bool {
	recs := t.nodes(isKind(kRecord))
	if len(recs) < 2 {
		return false
	}
	from, to := pick(g, recs), pick(g, recs)
	if from == to {
		return false
	}
	f := &field{name: g.freshField(), typ: &node{kind: kUnion, branches: []*node{{kind: kNull}, to}}}
	f.hasDef = g.chance(0.7)
	from.fields = slices.Insert(from.fields, g.r.IntN(len(from.fields)+1), f)
	return true
}

// reuseNamed points a field at a named type defined elsewhere in the schema.
func reuseNamed(g *gen, t *tree) bool {
	ns := namedNodes(t)
	fs := fieldsOf(t)
	if len(ns) == 0 || len(fs) == 0 {
		return false
	}
	f := pick(g, fs)
	f.typ = pick(g, ns)
	return true
}

func enumReorder(g *gen, t *tree) bool {
	es := t.nodes(func(n *node) bool { return n.kind == kEnum && len(n.symbols) > 1 })
	if len(es) == 0 {
		return false
	}
	e := pick(g, es)
	g.r.Shuffle(len(e.symbols), func(i, j int) { e.symbols[i], e.symbols[j] = e.symbols[j], e.symbols[i] })
	return true
}

// renameRecursion replaces a record's reference to itself with a renamed
// copy of it (itself recursive), with or without an alias to the old name.
func renameRecursion(g *gen, t *tree) bool {
	type site struct {
		rec *node
		s   slot
	}
	var sites []site
	for _, r := range t.nodes(isKind(kRecord)) {
		inner := &tree{root: r}
		for _, s := range inner.slots()[1:] {
			if *s.p == r && selfOwned(r, s.owner) {
				sites = append(sites, site{r, s})
			}
		}
	}
	if len(sites) == 0 {
		return false
	}
	st := pick(g, sites)
	c := copyTree(st.rec)
	// The copy's own nested named types would be defined twice: share them
	// with the original instead, and rename only the copy itself.
	shareNested(c, st.rec)
	c.name = g.freshType(recordNames)
	c.aliases = nil
	if g.chance(0.5) {
		c.aliases = []string{st.rec.fullName()}
	}
	*st.s.p = c
	return true
}

// selfOwned reports whether owner lies inside r without crossing another
// named type.
func selfOwned(r, owner *node) bool {
	if owner == r {
		return true
	}
	found := false
	var rec func(n *node, depth int)
	rec = func(n *node, depth int) {
		if n == nil || found || depth > 10 || (n != r && n.kind.named()) {
			return
		}
		if n == owner {
			found = true
			return
		}
		if n == r && depth > 0 {
			return
		}
		for _, f := range n.fields {
			rec(f.typ, depth+1)
		}
		rec(n.items, depth+1)
		for _, b := range n.branches {
			rec(b, depth+1)
		}
	}
	rec(r, 0)
	return found
}

// shareNested points the copy c of orig back at orig's nested named types,
// keeping only c itself (and its self-references) as a new type.
func shareNested(c, orig *node) {
	var fix func(cn, on *node, depth int)
	fix = func(cn, on *node, depth int) {
		if depth > 10 {
			return
		}
		for i, f := range cn.fields {
			fix2(&f.typ, on.fields[i].typ, c, orig, depth, fix)
		}
		if cn.items != nil {
			fix2(&cn.items, on.items, c, orig, depth, fix)
		}
		for i := range cn.branches {
			fix2(&cn.branches[i], on.branches[i], c, orig, depth, fix)
		}
	}
	fix(c, orig, 0)
}

func fix2(p **node, on, c, orig *node, depth int, fix func(cn, on *node, depth int)) {
	switch {
	case *p == c:
		// self-reference of the copy: keep
	case on.kind.named():
		*p = on
	default:
		fix(*p, on, depth+1)
	}
}

func retypeField(g *gen, t *tree) bool {
	fs := fieldsOf(t)
	if len(fs) == 0 {
		return false
	}
	f := pick(g, fs)
	f.typ = g.typ(2, t.ns())
	return true
}

func reorderFields(g *gen, t *tree) bool {
	recs := t.nodes(func(n *node) bool { return n.kind == kRecord && len(n.fields) > 1 })
	if len(recs) == 0 {
		return false
	}
	r := pick(g, recs)
	g.r.Shuffle(len(r.fields), func(i, j int) { r.fields[i], r.fields[j] = r.fields[j], r.fields[i] })
	return true
}

func logicalChange(g *gen, t *tree) bool {
	ns := t.nodes(func(n *node) bool {
		return n.logical != "" || n.kind == kInt || n.kind == kLong || n.kind == kBytes || n.kind == kString || n.kind == kFixed
	})
	if len(ns) == 0 {
		return false
	}
	n := pick(g, ns)
	switch {
	case n.logical == "decimal" && g.chance(0.7):
		if g.chance(0.5) {
			n.precision = 1 + g.r.IntN(20)
		}
		if g.chance(0.5) {
			n.scale = g.r.IntN(n.precision + 1)
		}
		if n.scale > n.precision {
			n.scale = n.precision
		}
	case n.logical == "timestamp-millis":
		n.logical = "timestamp-micros"
	case n.logical == "timestamp-micros":
		n.logical = "timestamp-millis"
	case n.logical != "":
		n.logical, n.precision, n.scale = "", 0, 0
	case n.kind == kInt:
		n.logical = "date"
	case n.kind == kLong:
		n.logical = "timestamp-millis"
	case n.kind == kString:
		n.logical = "uuid"
	case n.kind == kBytes || n.kind == kFixed:
		n.logical = "decimal"
		n.precision = 1 + g.r.IntN(10)
		n.scale = g.r.IntN(n.precision + 1)
	}
	return true
}

func toggleFieldDefault(g *gen, t *tree) bool {
	fs := fieldsOf(t)
	if len(fs) == 0 {
		return false
	}
	f := pick(g, fs)
	if f.hasDef {
		f.def, f.hasDef = nil, false
		return true
	}
	var ok bool
	f.def, ok = g.defaultFor(f.typ, 0)
	f.hasDef = ok
	return ok
}

// nameForm flips how a named type is written, "ns.Name" or "Name" with a
// namespace attribute: the same schema, as the spec's Names section says.
func nameForm(g *gen, t *tree) bool {
	ns := t.nodes(func(n *node) bool { return n.kind.named() && n.ns != "" })
	if len(ns) == 0 {
		return false
	}
	n := pick(g, ns)
	n.fullNameForm = !n.fullNameForm
	n.explicitNS = g.chance(0.5)
	return true
}

// aliasForm flips how an alias is written, full or relative to the type's
// namespace: again the same schema.
func aliasForm(g *gen, t *tree) bool {
	ns := t.nodes(func(n *node) bool { return n.kind.named() && n.ns != "" && len(n.aliases) > 0 })
	if len(ns) == 0 {
		return false
	}
	n := pick(g, ns)
	i := g.r.IntN(len(n.aliases))
	a := n.aliases[i]
	switch full := qualify(a, n.ns); {
	case a != full:
		n.aliases[i] = full
	case len(a) > len(n.ns)+1 && a[:len(n.ns)+1] == n.ns+".":
		n.aliases[i] = a[len(n.ns)+1:]
	default:
		return false
	}
	return true
}
