package compat

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Check reports whether data written with writer can be read with reader,
// following the schema resolution rules of the Avro specification
// (https://avro.apache.org/docs/1.11.1/specification/#schema-resolution) as
// Apache Avro Java's SchemaCompatibility applies them. Every incompatibility is
// reported, with a JSON-pointer path into the reader schema. Logical types do
// not affect compatibility (Avro Java ignores them); changes to them are
// reported as warnings.
//
// Paths are Avro Java's, with one difference: where the writer is a union and
// the reader is not, Java restarts the path at the reader node for each writer
// branch (its two-argument getCompatibility), so a finding deep inside reports
// a path relative to that node; Check keeps the full path from the root. Where
// both are unions, the last token of a MISSING_UNION_BRANCH path is the index
// of the writer's branch, as in Java.
func Check(reader, writer *Schema) Result {
	c := checker{}
	res := c.check(reader, writer)
	return Result{Incompatibilities: res.inc.findings(), Warnings: res.warn.findings()}
}

// CheckLevel checks a candidate schema against the existing versions of a
// subject (oldest first) at a registry compatibility level, with the
// registry's semantics: BACKWARD levels check that the candidate reads data of
// the existing versions, FORWARD levels that the existing versions read data of
// the candidate, FULL levels both; the _TRANSITIVE levels check every existing
// version, the others only the latest. Findings carry the 1-based version they
// were found against and the direction.
func CheckLevel(level Level, candidate *Schema, existing []*Schema) Result {
	var out Result
	if level == None || len(existing) == 0 {
		return out
	}
	first := len(existing) - 1
	if level.Transitive() {
		first = 0
	}
	for i := first; i < len(existing); i++ {
		old := existing[i]
		tag := func(fs Findings, d Direction) Findings {
			for j := range fs {
				fs[j].Version, fs[j].Direction = i+1, d
			}
			return fs
		}
		if level.Backward() {
			r := Check(candidate, old)
			out.Incompatibilities = append(out.Incompatibilities, tag(r.Incompatibilities, ReadsOld)...)
			out.Warnings = append(out.Warnings, tag(r.Warnings, ReadsOld)...)
		}
		if level.Forward() {
			r := Check(old, candidate)
			out.Incompatibilities = append(out.Incompatibilities, tag(r.Incompatibilities, ReadByOld)...)
			if !level.Backward() {
				// Under FULL the same semantic change would be reported
				// twice, once per direction: keep the backward one.
				out.Warnings = append(out.Warnings, tag(r.Warnings, ReadByOld)...)
			}
		}
	}
	return out
}

// issue is a finding under construction: its path and field chain are
// relative to the reader node being checked, so memoized results can be
// reused at any location.
type issue struct {
	rule   string
	path   string // relative JSON pointer, "" for the node itself
	fields string // dotted field names from the node to the finding
	// The message is built only when a finding is reported: a reader union
	// tries branches that fail, and those failures are thrown away.
	r, w   *Schema
	detail string // rule-specific: a field name, symbols
}

type issues []issue

func (is issues) findings() Findings {
	if len(is) == 0 {
		return nil
	}
	out := make(Findings, len(is))
	for i, x := range is {
		p := x.path
		if p == "" {
			p = "/"
		}
		msg := x.message()
		if x.fields != "" {
			msg = "field " + x.fields + ": " + msg
		}
		out[i] = Finding{Rule: x.rule, Path: p, Message: msg}
	}
	return out
}

// under returns the issues relocated below a reference token (and, for record
// fields, below a field name).
func (is issues) under(token, field string) issues {
	if len(is) == 0 {
		return nil
	}
	out := make(issues, len(is))
	for i, x := range is {
		x.path = "/" + token + x.path
		if field != "" {
			if x.fields == "" {
				x.fields = field
			} else {
				x.fields = field + "." + x.fields
			}
		}
		out[i] = x
	}
	return out
}

type result struct {
	inc, warn issues
}

func (r *result) add(o result) {
	r.inc = append(r.inc, o.inc...)
	r.warn = append(r.warn, o.warn...)
}

func (r *result) addUnder(o result, token, field string) {
	r.inc = append(r.inc, o.inc.under(token, field)...)
	r.warn = append(r.warn, o.warn.under(token, field)...)
}

func (r result) ok() bool { return len(r.inc) == 0 }

type pair struct{ r, w *Schema }

type checker struct {
	// memo holds the results of record pairs, and marks pairs in progress,
	// so recursive schemas terminate: a pair met again while it is being
	// checked is taken as compatible unless proven otherwise (Avro Java's
	// RECURSION_IN_PROGRESS).
	memo map[pair]*result
}

var inProgress = &result{}

func (c *checker) check(r, w *Schema) result {
	if r.Kind != Record || w.Kind != Record {
		return c.calc(r, w)
	}
	key := pair{r, w}
	if res, ok := c.memo[key]; ok {
		return *res
	}
	if c.memo == nil {
		c.memo = map[pair]*result{}
	}
	c.memo[key] = inProgress
	res := c.calc(r, w)
	c.memo[key] = &res
	return res
}

func shortName(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[i+1:]
	}
	return full
}

func upper(k Kind) string { return strings.ToUpper(k.String()) }

func describe(s *Schema) string {
	if s.Kind.Named() {
		return s.Kind.String() + " " + s.Name
	}
	if s.Logical != "" {
		return s.Kind.String() + " (" + s.Logical + ")"
	}
	return s.Kind.String()
}

func (x issue) message() string {
	r, w := x.r, x.w
	switch x.rule {
	case TypeMismatch:
		if x.detail != "" {
			return fmt.Sprintf("reader field %q matches several writer fields (%s) by name and aliases", x.detail, strings.Join(ambiguousFields(r, w, x.detail), ", "))
		}
		return fmt.Sprintf("reader type %s (%s) is not compatible with writer type %s (%s)", upper(r.Kind), describe(r), upper(w.Kind), describe(w))
	case MissingUnionBranch:
		return fmt.Sprintf("reader union lacks a branch for writer type %s (%s)", upper(w.Kind), describe(w))
	case NameMismatch:
		return fmt.Sprintf("reader %s is named %s, writer's is %s (add %q to the reader's aliases to match it)", r.Kind, r.Name, w.Name, w.Name)
	case FixedSizeMismatch:
		return fmt.Sprintf("fixed %s has size %d, writer's %s has size %d", r.Name, r.Size, w.Name, w.Size)
	case MissingEnumSymbols:
		return fmt.Sprintf("reader enum %s lacks writer symbols [%s] and has no default symbol", r.Name, x.detail)
	case ReaderFieldMissingDefaultValue:
		return fmt.Sprintf("reader field %q is not in the writer's %s and has no default value", x.detail, w.Name)
	case RenameWithoutAlias:
		rf, wf, _ := strings.Cut(x.detail, "\x00")
		return fmt.Sprintf("reader field %q replaces writer field %q of the same type; if it is a rename, add \"aliases\": [%q] or old values are lost", rf, wf, wf)
	case DecimalChanged:
		return fmt.Sprintf("decimal(%d,%d) reads decimal(%d,%d): the unscaled value is kept, so values are rescaled by 10^%d",
			r.Precision, r.Scale, w.Precision, w.Scale, w.Scale-r.Scale)
	case TimestampUnitChanged:
		return fmt.Sprintf("%s reads %s: the number is kept, so its unit or time zone changes", r.Logical, w.Logical)
	case LogicalTypeChanged:
		from, to := w.Logical, r.Logical
		if from == "" {
			from = "no logical type"
		}
		if to == "" {
			to = "no logical type"
		}
		return fmt.Sprintf("%s reads %s (%s)", to, from, w.Kind)
	}
	return x.rule
}

func ambiguousFields(r, w *Schema, field string) []string {
	if rf := r.Field(field); rf != nil {
		_, names := lookupWriterField(w, rf)
		return names
	}
	return nil
}

func mismatch(r, w *Schema) issue { return issue{rule: TypeMismatch, r: r, w: w} }

func (c *checker) calc(r, w *Schema) result {
	var res result
	if r.Kind == w.Kind {
		switch r.Kind {
		case Null, Boolean, Int, Long, Float, Double, Bytes, String:
			res.warn = logicalWarnings(r, w)
		case Array:
			res.addUnder(c.check(r.Items, w.Items), "items", "")
		case Map:
			res.addUnder(c.check(r.Values, w.Values), "values", "")
		case Fixed:
			c.names(&res, r, w)
			if r.Size != w.Size {
				res.inc = append(res.inc, issue{rule: FixedSizeMismatch, path: "/size", r: r, w: w})
			}
			res.warn = append(res.warn, logicalWarnings(r, w)...)
		case Enum:
			c.names(&res, r, w)
			var missing []string
			for _, s := range w.Symbols {
				if !contains(r.Symbols, s) {
					missing = append(missing, s)
				}
			}
			// A reader enum default makes unknown writer symbols resolvable
			// (specification, "if the writer's symbol is not present in the
			// reader's enum and the reader has a default value, then that
			// value is used"; Avro Java 1.9+).
			if len(missing) > 0 && r.EnumDefault == nil {
				sort.Strings(missing)
				res.inc = append(res.inc, issue{rule: MissingEnumSymbols, path: "/symbols", r: r, w: w, detail: strings.Join(missing, ", ")})
			}
		case Record:
			c.names(&res, r, w)
			c.fields(&res, r, w)
		case Union:
			for i, wb := range w.Branches {
				sub := c.check(r, wb)
				if !sub.ok() {
					res.inc = append(res.inc, issue{rule: MissingUnionBranch, path: "/" + strconv.Itoa(i), r: r, w: wb})
				} else {
					res.warn = append(res.warn, sub.warn...)
				}
			}
		}
		return res
	}
	// A writer union is readable when every branch is.
	if w.Kind == Union {
		for _, wb := range w.Branches {
			res.add(c.check(r, wb))
		}
		return res
	}
	switch r.Kind {
	case Long:
		if w.Kind == Int {
			res.warn = logicalWarnings(r, w)
			return res
		}
	case Float:
		if w.Kind == Int || w.Kind == Long {
			res.warn = logicalWarnings(r, w)
			return res
		}
	case Double:
		if w.Kind == Int || w.Kind == Long || w.Kind == Float {
			res.warn = logicalWarnings(r, w)
			return res
		}
	case Bytes:
		if w.Kind == String {
			res.warn = logicalWarnings(r, w)
			return res
		}
	case String:
		if w.Kind == Bytes {
			res.warn = logicalWarnings(r, w)
			return res
		}
	case Union:
		// The first reader branch that can read the writer's type is used.
		for _, rb := range r.Branches {
			if sub := c.check(rb, w); sub.ok() {
				res.warn = sub.warn
				return res
			}
		}
		res.inc = append(res.inc, issue{rule: MissingUnionBranch, r: r, w: w})
		return res
	}
	res.inc = append(res.inc, mismatch(r, w))
	return res
}

// names checks that two named types match: by unqualified name, as the
// specification's resolution rules say ("both schemas are records with the
// same (unqualified) name") and Avro Java 1.10+ does, or by a reader alias
// naming the writer's full name.
func (c *checker) names(res *result, r, w *Schema) {
	if shortName(r.Name) == shortName(w.Name) || contains(r.Aliases, w.Name) {
		return
	}
	res.inc = append(res.inc, issue{rule: NameMismatch, path: "/name", r: r, w: w})
}

func (c *checker) fields(res *result, r, w *Schema) {
	matched := make([]bool, len(w.Fields))
	var added []*Field
	for _, rf := range r.Fields {
		wf, ambiguous := lookupWriterField(w, rf)
		switch {
		case len(ambiguous) > 1:
			res.inc = append(res.inc, issue{rule: TypeMismatch, path: fieldPath(rf), r: r, w: w, detail: rf.Name})
		case wf == nil:
			added = append(added, rf)
			if !rf.HasDefault {
				res.inc = append(res.inc, issue{rule: ReaderFieldMissingDefaultValue, path: fieldPath(rf), r: r, w: w, detail: rf.Name})
			}
		default:
			matched[wf.Pos] = true
			if sub := c.check(rf.Type, wf.Type); len(sub.inc)+len(sub.warn) > 0 {
				res.addUnder(sub, fieldPath(rf)[1:]+"/type", rf.Name)
			}
		}
	}
	// A field removed and another of the same type added looks like a
	// rename without an alias: old data would silently get the default.
	for _, rf := range added {
		for i, wf := range w.Fields {
			if matched[i] || !sameType(rf.Type, wf.Type) {
				continue
			}
			matched[i] = true
			res.warn = append(res.warn, issue{rule: RenameWithoutAlias, path: fieldPath(rf), r: r, w: w, detail: rf.Name + "\x00" + wf.Name})
			break
		}
	}
}

func fieldPath(f *Field) string { return "/fields/" + strconv.Itoa(f.Pos) }

// lookupWriterField finds the writer field a reader field reads: by name, or
// by one of the reader field's aliases. It also returns the names of all
// distinct writer fields that match, so an ambiguous match (which Avro Java
// rejects) can be reported.
func lookupWriterField(w *Schema, rf *Field) (*Field, []string) {
	var found *Field
	var names []string
	try := func(name string) {
		f := w.Field(name)
		if f == nil || contains(names, f.Name) {
			return
		}
		names = append(names, f.Name)
		if found == nil {
			found = f
		}
	}
	try(rf.Name)
	for _, a := range rf.Aliases {
		try(a)
	}
	return found, names
}

// sameType reports whether two schemas are the same type structurally (by
// canonical form, ignoring docs and defaults).
func sameType(a, b *Schema) bool {
	if a.Kind != b.Kind {
		return false
	}
	if a.Kind.Named() {
		return a.Name == b.Name
	}
	return a.Canonical() == b.Canonical() && a.Logical == b.Logical
}

func isTimeLogical(l string) bool {
	switch l {
	case "time-millis", "time-micros", "timestamp-millis", "timestamp-micros", "timestamp-nanos",
		"local-timestamp-millis", "local-timestamp-micros", "local-timestamp-nanos":
		return true
	}
	return false
}

// logicalWarnings reports changes of logical type between two schemas whose
// underlying types resolve: the bytes still decode, but mean something else.
func logicalWarnings(r, w *Schema) issues {
	switch {
	case r.Logical == w.Logical:
		if r.Logical == "decimal" && (r.Precision != w.Precision || r.Scale != w.Scale) {
			return issues{{rule: DecimalChanged, r: r, w: w}}
		}
	case isTimeLogical(r.Logical) && isTimeLogical(w.Logical):
		return issues{{rule: TimestampUnitChanged, r: r, w: w}}
	default:
		return issues{{rule: LogicalTypeChanged, r: r, w: w}}
	}
	return nil
}
