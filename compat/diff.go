package compat

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// Change is one structural difference between two versions of a schema.
type Change struct {
	// Kind is what changed: one of the Change* constants (FIELD_ADDED,
	// FIELD_REMOVED, FIELD_RENAMED, TYPE_CHANGED, ...).
	Kind string `json:"kind"`
	// Path is a JSON pointer into the new schema, or into the old one for
	// what was removed (FIELD_REMOVED, SYMBOL_REMOVED, BRANCH_REMOVED,
	// DEFAULT_REMOVED). Like the paths of Check's findings it follows the
	// schema's structure: a named type used by name is walked into at the
	// place of use.
	Path string `json:"path"`
	// Field is the dotted field path, e.g. "shipping_address.city" ("" for
	// the root).
	Field string `json:"field"`
	// Old and New are short renderings ("int", "[null, string]", "\"x\"");
	// empty for the side that does not have it.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Consequence is what the change does to readers (see Diff).
	Consequence Consequence `json:"consequence"`
	// Detail says why: the compat findings behind the consequence, or what a
	// warning means.
	Detail string `json:"detail,omitempty"`
}

// Consequence is what a change does to readers of the data.
type Consequence string

// The consequences of a change. "Old readers" are consumers still on the old
// schema reading data written with the new one; "new readers" are consumers
// on the new schema reading data written with the old one.
const (
	Safe             Consequence = "safe"
	BreaksOldReaders Consequence = "breaks-old-readers"
	BreaksNewReaders Consequence = "breaks-new-readers"
	BreaksBoth       Consequence = "breaks-both"
	SemanticWarning  Consequence = "semantic-warning"
)

// Breaks reports whether c breaks readers that level protects: new readers
// under the BACKWARD and FULL levels, old readers under the FORWARD and FULL
// levels. NONE protects nobody.
func (c Consequence) Breaks(level Level) bool {
	switch c {
	case BreaksNewReaders:
		return level.Backward()
	case BreaksOldReaders:
		return level.Forward()
	case BreaksBoth:
		return level.Backward() || level.Forward()
	}
	return false
}

// The kinds of change Diff reports.
const (
	ChangeFieldAdded         = "FIELD_ADDED"
	ChangeFieldRemoved       = "FIELD_REMOVED"
	ChangeFieldRenamed       = "FIELD_RENAMED" // the new field's aliases name the old one
	ChangeTypeChanged        = "TYPE_CHANGED"  // another type, including promotions (int -> long)
	ChangeSymbolAdded        = "SYMBOL_ADDED"
	ChangeSymbolRemoved      = "SYMBOL_REMOVED"
	ChangeEnumDefaultChanged = "ENUM_DEFAULT_CHANGED" // also added or removed
	ChangeBranchAdded        = "BRANCH_ADDED"         // a union branch
	ChangeBranchRemoved      = "BRANCH_REMOVED"
	ChangeDefaultAdded       = "DEFAULT_ADDED" // a field's default value
	ChangeDefaultRemoved     = "DEFAULT_REMOVED"
	ChangeDefaultChanged     = "DEFAULT_CHANGED"
	ChangeNameChanged        = "NAME_CHANGED" // a record, enum or fixed's full name
	ChangeSizeChanged        = "SIZE_CHANGED" // a fixed's size
	ChangeLogicalType        = "LOGICAL_TYPE_CHANGED"
	ChangeDocChanged         = "DOC_CHANGED"
	ChangeAliasesChanged     = "ALIASES_CHANGED" // of a field or named type, other than a rename
	ChangeOrderChanged       = "ORDER_CHANGED"   // a field's sort order
	ChangePropertyChanged    = "PROPERTY_CHANGED"
	// ChangeIncompatibility carries a finding of Check (an incompatibility
	// or a warning) that no structural change explains; Diff reports it
	// rather than lose it.
	ChangeIncompatibility = "INCOMPATIBILITY"
)

// Diff compares two versions of a schema and returns what changed, in
// document order: fields are matched by name and then by the new field's
// aliases (a match by alias is FIELD_RENAMED), union branches by name (or
// alias, or unqualified name) for named types and by type otherwise, and
// records, arrays, maps and unions are walked into. A named type used in
// several places is reported at each place it changed; a recursive schema is
// walked once around each cycle, as Check walks it. A type that changes its
// kind (int to long, string to a union) is one TYPE_CHANGED; where a union
// was added or removed around a type, the type inside is walked too.
//
// Each change's Consequence comes from Check, run both ways: Check(new, old)
// (new readers, old data) and Check(old, new) (old readers, new data). Each
// finding goes to the change at or above its path (the deepest one): a
// removed field's READER_FIELD_MISSING_DEFAULT_VALUE, a removed symbol's
// MISSING_ENUM_SYMBOLS, a type change's TYPE_MISMATCH. A change with
// incompatibilities from one direction breaks those readers, from both
// breaks both; one with only semantic warnings (DECIMAL_CHANGED,
// TIMESTAMP_UNIT_CHANGED, LOGICAL_TYPE_CHANGED, RENAME_WITHOUT_ALIAS) is a
// SemanticWarning; everything else is Safe. Where a union is the reader,
// Check's findings inside a branch do not name the branch, so Diff asks
// Check about each pair of matched branches instead. A finding no change
// explains is reported as an INCOMPATIBILITY change rather than lost. So
// some change breaks new readers exactly when Check(new, old) fails, and
// some change breaks old readers exactly when Check(old, new) fails.
//
// The Consequence is the same at every level: it says who breaks, not
// whether the level cares. The level only annotates Detail ("not checked at
// BACKWARD") for breaks in a direction it does not check; callers decide
// with Consequence.Breaks(level). So a diff shown at BACKWARD still says that
// removing a field without a default breaks old readers. A _TRANSITIVE level
// is taken as its direction: Diff compares two versions, not a history.
func Diff(old, new *Schema, level Level) []Change {
	if old == nil || new == nil {
		return nil
	}
	d := &differ{stack: map[pair]bool{}, clean: map[pair]bool{}}
	d.node(old, new, "", "", "")
	d.attribute(old, new)
	out := make([]Change, len(d.changes))
	for i, c := range d.changes {
		out[i] = c.finish(level)
	}
	return out
}

// Directions of Check, as indexes.
const (
	newReads = 0 // Check(new, old): paths into the new schema
	oldReads = 1 // Check(old, new): paths into the old schema
)

// change is a Change being built, with what attribution needs.
type change struct {
	Change
	// keys are the reader-side paths, per direction, of the findings this
	// change explains (when has says so; "" is the root); subtree says
	// whether it also explains findings below them.
	keys    [2]string
	has     [2]bool
	subtree bool
	inc     [2]Findings
	warn    [2]Findings
}

// scope is a place where one side is a union and reads the other: Check's
// findings below it are replaced by checks of the matched branches.
type scope struct {
	dir      int
	path     string  // reader-side path of the union
	field    string  // the dotted field path there
	reader   *Schema // the union
	branches []scopeBranch
	// inProgress are the record pairs being walked when the scope was met,
	// as (reader, writer) pairs: Check would take them as compatible there.
	inProgress []pair
}

type scopeBranch struct {
	w      *Schema
	wToken string  // the writer branch's index in a writer union, "" for a writer that is not a union
	r      *Schema // the matched reader branch, or nil
	rToken string  // its index in the reader union
	target *change // what explains a failure of the writer branch
}

type differ struct {
	changes []*change
	scopes  []*scope
	stack   map[pair]bool // (old, new) record pairs being walked
	// clean are the record pairs walked without a change: a type used in
	// many places is not walked again at each (Check memoizes the same way),
	// so a schema that shares types widely takes linear time.
	clean map[pair]bool
	order []pair
}

func (d *differ) add(kind, path, field, oldS, newS string) *change {
	c := &change{Change: Change{Kind: kind, Path: root(path), Field: field, Old: oldS, New: newS}}
	d.changes = append(d.changes, c)
	return c
}

func (c *change) setKeys(newPath, oldPath string) {
	c.setKey(newReads, newPath)
	c.setKey(oldReads, oldPath)
}

func (c *change) setKey(dir int, path string) {
	c.keys[dir], c.has[dir] = path, true
}

func root(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func joinField(prefix, name string) string {
	if name == "" {
		return prefix
	}
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// node compares two schema nodes found at oldPath and newPath.
func (d *differ) node(o, n *Schema, op, np, field string) {
	if o.Kind == Union && n.Kind == Union {
		d.union(o, n, op, np, field)
		return
	}
	if o.Kind != n.Kind {
		tc := d.add(ChangeTypeChanged, np, field, render(o), render(n))
		tc.setKeys(np, op)
		tc.subtree = true
		// Walk into the branch a union gained or lost around the type, so
		// changes inside it are still seen.
		switch {
		case n.Kind == Union:
			if j := matchBranch(n.Branches, o); j >= 0 {
				tok := strconv.Itoa(j)
				d.scopes = append(d.scopes, d.newScope(newReads, np, field, n, []scopeBranch{{w: o, r: n.Branches[j], rToken: tok, target: tc}}))
				d.node(o, n.Branches[j], op, np+"/"+tok, field)
			} else {
				d.scopes = append(d.scopes, d.newScope(newReads, np, field, n, []scopeBranch{{w: o, target: tc}}))
			}
		case o.Kind == Union:
			if i := matchBranch(o.Branches, n); i >= 0 {
				tok := strconv.Itoa(i)
				d.scopes = append(d.scopes, d.newScope(oldReads, op, field, o, []scopeBranch{{w: n, r: o.Branches[i], rToken: tok, target: tc}}))
				d.node(o.Branches[i], n, op+"/"+tok, np, field)
			} else {
				d.scopes = append(d.scopes, d.newScope(oldReads, op, field, o, []scopeBranch{{w: n, target: tc}}))
			}
		}
		return
	}
	if o.Kind.Named() {
		d.named(o, n, op, np, field)
	}
	if o.Logical != n.Logical || (o.Logical == "decimal" && (o.Precision != n.Precision || o.Scale != n.Scale)) {
		c := d.add(ChangeLogicalType, np, field, render(o), render(n))
		c.setKeys(np, op)
	}
	switch o.Kind {
	case Record:
		key := pair{o, n}
		if d.stack[key] || d.clean[key] {
			return // around a cycle Check takes the pair as compatible too
		}
		changes, scopes := len(d.changes), len(d.scopes)
		d.stack[key] = true
		d.order = append(d.order, key)
		d.fields(o, n, op, np, field)
		d.order = d.order[:len(d.order)-1]
		delete(d.stack, key)
		if len(d.changes) == changes && len(d.scopes) == scopes {
			d.clean[key] = true
		}
	case Enum:
		d.enum(o, n, op, np, field)
	case Fixed:
		if o.Size != n.Size {
			c := d.add(ChangeSizeChanged, np+"/size", field, strconv.Itoa(o.Size), strconv.Itoa(n.Size))
			c.setKeys(np+"/size", op+"/size")
		}
	case Array:
		d.node(o.Items, n.Items, op+"/items", np+"/items", field)
	case Map:
		d.node(o.Values, n.Values, op+"/values", np+"/values", field)
	}
	if !o.Kind.Named() {
		d.props(o.Props, n.Props, np, field)
	}
}

// named compares what named types have: name, aliases, doc, properties.
func (d *differ) named(o, n *Schema, op, np, field string) {
	if o.Name != n.Name {
		c := d.add(ChangeNameChanged, np+"/name", field, o.Name, n.Name)
		c.setKeys(np+"/name", op+"/name")
	}
	if !equalStrings(o.Aliases, n.Aliases) {
		d.add(ChangeAliasesChanged, np+"/aliases", field, renderList(o.Aliases), renderList(n.Aliases))
	}
	if o.Doc != n.Doc {
		od, nd := docs(o.Doc, n.Doc)
		d.add(ChangeDocChanged, np+"/doc", field, od, nd)
	}
	d.props(o.Props, n.Props, np, field)
}

func (d *differ) props(o, n map[string]any, np, field string) {
	keys := map[string]bool{}
	for k := range o {
		keys[k] = true
	}
	for k := range n {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		ov, oHas := o[k]
		nv, nHas := n[k]
		os, ns := "", ""
		if oHas {
			os = renderValue(ov)
		}
		if nHas {
			ns = renderValue(nv)
		}
		if oHas != nHas || os != ns {
			d.add(ChangePropertyChanged, np+"/"+escapeToken(k), field, os, ns)
		}
	}
}

func (d *differ) enum(o, n *Schema, op, np, field string) {
	for i, s := range o.Symbols {
		if !contains(n.Symbols, s) {
			c := d.add(ChangeSymbolRemoved, op+"/symbols/"+strconv.Itoa(i), field, s, "")
			c.setKey(newReads, np+"/symbols")
		}
	}
	for j, s := range n.Symbols {
		if !contains(o.Symbols, s) {
			c := d.add(ChangeSymbolAdded, np+"/symbols/"+strconv.Itoa(j), field, "", s)
			c.setKey(oldReads, op+"/symbols")
		}
	}
	od, nd := "", ""
	if o.EnumDefault != nil {
		od = *o.EnumDefault
	}
	if n.EnumDefault != nil {
		nd = *n.EnumDefault
	}
	if od != nd {
		d.add(ChangeEnumDefaultChanged, np+"/default", field, od, nd)
	}
}

// fields matches the fields of two records by name, then by the new field's
// aliases, and reports them in the new record's order; a removed field comes
// before the first new field that is matched with a later old field or that
// is added at or after its position.
func (d *differ) fields(o, n *Schema, op, np, field string) {
	match := make([]*Field, len(n.Fields)) // new field -> old field
	taken := make([]bool, len(o.Fields))
	renamed := make([]bool, len(n.Fields))
	for j, nf := range n.Fields {
		if of := o.Field(nf.Name); of != nil {
			match[j], taken[of.Pos] = of, true
		}
	}
	for j, nf := range n.Fields {
		if match[j] != nil {
			continue
		}
		for _, a := range nf.Aliases {
			if of := o.Field(a); of != nil && !taken[of.Pos] {
				match[j], taken[of.Pos], renamed[j] = of, true, true
				break
			}
		}
	}
	next := 0 // the next old field to consider for removal
	removed := func(upTo int) {
		for ; next < upTo; next++ {
			if taken[next] {
				continue
			}
			of := o.Fields[next]
			ofp := op + "/fields/" + strconv.Itoa(next)
			c := d.add(ChangeFieldRemoved, ofp, joinField(field, of.Name), render(of.Type), "")
			c.setKey(oldReads, ofp)
			c.subtree = true
		}
	}
	for j, nf := range n.Fields {
		nfp := np + "/fields/" + strconv.Itoa(j)
		name := joinField(field, nf.Name)
		of := match[j]
		if of == nil {
			removed(min(j+1, len(o.Fields)))
			c := d.add(ChangeFieldAdded, nfp, name, "", render(nf.Type))
			c.setKey(newReads, nfp)
			c.subtree = true
			continue
		}
		removed(of.Pos)
		ofp := op + "/fields/" + strconv.Itoa(of.Pos)
		if renamed[j] {
			c := d.add(ChangeFieldRenamed, nfp, name, of.Name, nf.Name)
			c.setKeys(nfp, ofp)
		} else if !equalStrings(of.Aliases, nf.Aliases) {
			c := d.add(ChangeAliasesChanged, nfp+"/aliases", name, renderList(of.Aliases), renderList(nf.Aliases))
			c.setKey(newReads, nfp)
		}
		if of.Doc != nf.Doc {
			od, nd := docs(of.Doc, nf.Doc)
			d.add(ChangeDocChanged, nfp+"/doc", name, od, nd)
		}
		switch {
		case of.HasDefault && !nf.HasDefault:
			d.add(ChangeDefaultRemoved, ofp+"/default", name, renderValue(of.Default), "")
		case !of.HasDefault && nf.HasDefault:
			d.add(ChangeDefaultAdded, nfp+"/default", name, "", renderValue(nf.Default))
		case of.HasDefault && renderValue(of.Default) != renderValue(nf.Default):
			d.add(ChangeDefaultChanged, nfp+"/default", name, renderValue(of.Default), renderValue(nf.Default))
		}
		if of.Order != nf.Order {
			d.add(ChangeOrderChanged, nfp+"/order", name, of.Order, nf.Order)
		}
		d.props(of.Props, nf.Props, nfp, name)
		d.node(of.Type, nf.Type, ofp+"/type", nfp+"/type", name)
	}
	removed(len(o.Fields))
}

// union matches the branches of two unions and reports those added and
// removed; both directions read through a union, so both get a scope.
func (d *differ) union(o, n *Schema, op, np, field string) {
	changes := len(d.changes)
	oldToNew := make([]int, len(o.Branches))
	newToOld := make([]int, len(n.Branches))
	for j := range newToOld {
		newToOld[j] = -1
	}
	for i, ob := range o.Branches {
		oldToNew[i] = -1
		if j := matchBranch(n.Branches, ob); j >= 0 && newToOld[j] < 0 {
			oldToNew[i], newToOld[j] = j, i
		}
	}
	var newReader, oldReader []scopeBranch
	for i, ob := range o.Branches {
		b := scopeBranch{w: ob, wToken: strconv.Itoa(i)}
		if j := oldToNew[i]; j >= 0 {
			b.r, b.rToken = n.Branches[j], strconv.Itoa(j)
		} else {
			b.target = d.add(ChangeBranchRemoved, op+"/"+strconv.Itoa(i), field, render(ob), "")
		}
		newReader = append(newReader, b)
	}
	// Added branches and the walk into matched ones, in the new order.
	for j, nb := range n.Branches {
		b := scopeBranch{w: nb, wToken: strconv.Itoa(j)}
		if i := newToOld[j]; i >= 0 {
			b.r, b.rToken = o.Branches[i], strconv.Itoa(i)
		} else {
			b.target = d.add(ChangeBranchAdded, np+"/"+strconv.Itoa(j), field, "", render(nb))
		}
		oldReader = append(oldReader, b)
	}
	scopes := len(d.scopes)
	d.scopes = append(d.scopes, d.newScope(newReads, np, field, n, newReader), d.newScope(oldReads, op, field, o, oldReader))
	for j, nb := range n.Branches {
		if i := newToOld[j]; i >= 0 {
			d.node(o.Branches[i], nb, op+"/"+strconv.Itoa(i), np+"/"+strconv.Itoa(j), field)
		}
	}
	if len(d.changes) == changes {
		// Nothing changed under the union: Check finds nothing there
		// either, and a record pair that contains it can count as clean.
		d.scopes = d.scopes[:scopes]
	}
}

func (d *differ) newScope(dir int, path, field string, reader *Schema, branches []scopeBranch) *scope {
	s := &scope{dir: dir, path: path, field: field, reader: reader, branches: branches}
	for _, p := range d.order { // p is (old, new)
		if dir == newReads {
			s.inProgress = append(s.inProgress, pair{p.w, p.r})
		} else {
			s.inProgress = append(s.inProgress, pair{p.r, p.w})
		}
	}
	return s
}

// matchBranch returns the index of the branch of a union that corresponds
// to s: the named type of the same full name, or whose aliases name s, or
// of the same unqualified name; or the unnamed type of the same kind.
func matchBranch(branches []*Schema, s *Schema) int {
	if !s.Kind.Named() {
		for j, b := range branches {
			if b.Kind == s.Kind {
				return j
			}
		}
		return -1
	}
	for _, same := range []func(b *Schema) bool{
		func(b *Schema) bool { return b.Name == s.Name },
		func(b *Schema) bool { return contains(b.Aliases, s.Name) || contains(s.Aliases, b.Name) },
		func(b *Schema) bool { return shortName(b.Name) == shortName(s.Name) },
	} {
		for j, b := range branches {
			if b.Kind == s.Kind && same(b) {
				return j
			}
		}
	}
	return -1
}

// finding is a finding of Check on its way to a change.
type finding struct {
	dir    int
	f      Finding
	origin *scope  // nil for the top-level checks
	target *change // set when the scope knows which change it belongs to
	warn   bool
}

// attribute runs Check both ways, and the scopes' checks, and gives each
// finding to its change.
func (d *differ) attribute(old, new *Schema) {
	var all []finding
	for dir, res := range [2]Result{Check(new, old), Check(old, new)} {
		for _, f := range res.Incompatibilities {
			all = append(all, finding{dir: dir, f: relocate(f, "")})
		}
		for _, f := range res.Warnings {
			all = append(all, finding{dir: dir, f: relocate(f, ""), warn: true})
		}
	}
	for _, s := range d.scopes {
		all = append(all, s.check()...)
	}
	for _, x := range all {
		if x.target == nil && d.covered(x) {
			continue // a deeper scope checks this part again, with its branches named
		}
		targets := []*change{x.target}
		if x.target == nil {
			targets = d.find(x.dir, x.f.Path)
		}
		if len(targets) == 0 {
			c := d.add(ChangeIncompatibility, x.f.Path, "", "", "")
			c.setKey(x.dir, x.f.Path)
			targets = []*change{c}
		}
		for _, c := range targets {
			if x.warn {
				c.warn[x.dir] = append(c.warn[x.dir], x.f)
			} else {
				c.inc[x.dir] = append(c.inc[x.dir], x.f)
			}
		}
	}
}

// relocate puts a finding of a check made at prefix into the whole schema's
// coordinates, with "" for the root.
func relocate(f Finding, prefix string) Finding {
	f.Path = prefix + strings.TrimSuffix(f.Path, "/")
	return f
}

// covered reports whether a scope below the finding's origin replaces it.
func (d *differ) covered(x finding) bool {
	for _, s := range d.scopes {
		if s.dir != x.dir || s == x.origin || !under(x.f.Path, s.path) {
			continue
		}
		if x.origin == nil || len(s.path) > len(x.origin.path) {
			return true
		}
	}
	return false
}

// find returns the changes with the deepest key at or above path: all of
// them when several share it (the symbols a MISSING_ENUM_SYMBOLS names).
func (d *differ) find(dir int, path string) []*change {
	var best []*change
	depth := -1
	for _, c := range d.changes {
		k := c.keys[dir]
		matches := k == path || (c.subtree && under(path, k))
		if !c.has[dir] || !matches {
			continue
		}
		switch {
		case len(k) > depth:
			best, depth = []*change{c}, len(k)
		case len(k) == depth:
			best = append(best, c)
		}
	}
	return best
}

// under reports whether the JSON pointer p is at or below q.
func under(p, q string) bool {
	return p == q || strings.HasPrefix(p, q+"/")
}

// check runs the scope's checks: for each writer branch, whether the reader
// union reads it; when it does not and the branch has a match, the checks of
// the matched pair say where inside it fails.
func (s *scope) check() []finding {
	c := checker{memo: map[pair]*result{}}
	for _, p := range s.inProgress {
		c.memo[p] = inProgress
	}
	var out []finding
	emit := func(is issues, prefix string, target *change, warn bool) {
		named := make(issues, len(is))
		for i, x := range is {
			x.fields = joinField(s.field, x.fields)
			named[i] = x
		}
		for _, f := range named.findings() {
			out = append(out, finding{dir: s.dir, f: relocate(f, prefix), origin: s, target: target, warn: warn})
		}
	}
	for _, b := range s.branches {
		whole := c.check(s.reader, b.w)
		at := s.path
		if b.wToken != "" {
			at += "/" + b.wToken
		}
		if b.r == nil {
			emit(whole.inc, at, b.target, false)
			emit(whole.warn, at, b.target, true)
			continue
		}
		sub := c.check(b.r, b.w)
		prefix := s.path + "/" + b.rToken
		switch {
		case whole.ok() && sub.ok():
			emit(sub.warn, prefix, nil, true)
		case whole.ok():
			// Another branch reads it first: nothing breaks.
			emit(whole.warn, at, b.target, true)
		case !sub.ok():
			emit(sub.inc, prefix, nil, false)
			emit(sub.warn, prefix, nil, true)
		default:
			emit(whole.inc, at, b.target, false)
		}
	}
	return out
}

// finish computes the consequence and detail.
func (c *change) finish(level Level) Change {
	out := c.Change
	newBreaks, oldBreaks := len(c.inc[newReads]) > 0, len(c.inc[oldReads]) > 0
	switch {
	case newBreaks && oldBreaks:
		out.Consequence = BreaksBoth
	case newBreaks:
		out.Consequence = BreaksNewReaders
	case oldBreaks:
		out.Consequence = BreaksOldReaders
	case len(c.warn[newReads])+len(c.warn[oldReads]) > 0:
		out.Consequence = SemanticWarning
	default:
		out.Consequence = Safe
	}
	var parts []string
	for dir, who := range [2]string{"new readers", "old readers"} {
		if len(c.inc[dir]) == 0 {
			continue
		}
		p := who + " fail: " + messages(c.inc[dir])
		if (dir == newReads && !level.Backward()) || (dir == oldReads && !level.Forward()) {
			p += " (not checked at " + string(level) + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		seen := map[string]bool{}
		var warns Findings
		for _, w := range append(append(Findings{}, c.warn[newReads]...), c.warn[oldReads]...) {
			if !seen[w.Rule] {
				seen[w.Rule] = true
				warns = append(warns, w)
			}
		}
		if len(warns) > 0 {
			parts = append(parts, messages(warns))
		}
	}
	out.Detail = strings.Join(parts, "; ")
	return out
}

func messages(fs Findings) string {
	seen := map[string]bool{}
	var parts []string
	for _, f := range fs {
		m := f.Rule + ": " + f.Message
		if !seen[m] {
			seen[m] = true
			parts = append(parts, m)
		}
	}
	return strings.Join(parts, "; ")
}

// render is a short rendering of a type.
func render(s *Schema) string {
	switch s.Kind {
	case Union:
		parts := make([]string, len(s.Branches))
		for i, b := range s.Branches {
			parts[i] = render(b)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case Array:
		return "array<" + render(s.Items) + ">"
	case Map:
		return "map<" + render(s.Values) + ">"
	}
	base := s.Kind.String()
	if s.Kind.Named() {
		base = shortName(s.Name)
	}
	switch s.Logical {
	case "":
		return base
	case "decimal":
		return base + " (decimal(" + strconv.Itoa(s.Precision) + "," + strconv.Itoa(s.Scale) + "))"
	}
	return base + " (" + s.Logical + ")"
}

// renderValue is a JSON value, shortened.
func renderValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return truncate(string(b), 60)
}

// docs renders two docs, quoted and shortened; when they share a long
// beginning, from a little before where they differ, so the difference shows.
func docs(a, b string) (string, string) {
	const width, context = 60, 12
	ra, rb := []rune(a), []rune(b)
	same := 0
	for same < len(ra) && same < len(rb) && ra[same] == rb[same] {
		same++
	}
	start := 0
	if (len(ra) > width || len(rb) > width) && same > context {
		start = same - context
	}
	cut := func(r []rune) string {
		if len(r) == 0 {
			return ""
		}
		r = r[min(start, len(r)):]
		s := string(r)
		if len(r) > width {
			s = string(r[:width]) + "…"
		}
		if start > 0 {
			s = "…" + s
		}
		return strconv.Quote(s)
	}
	return cut(ra), cut(rb)
}

func renderList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return "[" + strings.Join(l, ", ") + "]"
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func escapeToken(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
