package compat

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// LintRule is one lint rule, written as a spec: every rule is one row of the
// table in this file, so the whole rule set reads in one place (as buf's
// lint rules do).
//
// Categories group the rules so a configuration can select them together:
//
//   - DOCS: documentation a reader of the schema needs (records, enums, fields).
//   - STYLE: naming and layout conventions that generated code, registry
//     subjects and the catalog's directory layout are derived from.
//   - EVOLUTION: choices that keep the next version compatible (nullable
//     fields that can be added and removed, enums that can grow).
//   - CORRECTNESS: data that would be wrong, lossy or unusable as written
//     (defaults of the wrong type, untyped timestamps, money in floating
//     point, a missing Kafka key).
type LintRule struct {
	// ID names the rule in findings and configuration, in UPPER_SNAKE case.
	ID string
	// Purpose says, in one line, why the rule exists.
	Purpose string
	// Category is DOCS, STYLE, EVOLUTION or CORRECTNESS.
	Category string
	// Default reports whether the rule runs when the configuration selects
	// no rules (or selects DEFAULT).
	Default bool

	check func(*lintContext)
}

// The lint rule categories, and the selectors that are not categories:
// DEFAULT (the rules with Default set) and ALL.
const (
	lintDocs        = "DOCS"
	lintStyle       = "STYLE"
	lintEvolution   = "EVOLUTION"
	lintCorrectness = "CORRECTNESS"
	lintDefault     = "DEFAULT"
	lintAll         = "ALL"
)

// lintRules is the rule table, sorted by ID.
var lintRules = []LintRule{
	{ID: "DEFAULT_MATCHES_TYPE", Category: lintCorrectness, Default: true, check: lintDefaultMatchesType,
		Purpose: "a field's default is a value of its type, and a union's default one of its first branch (Avro 1.11 rejects anything else)"},
	{ID: "ENUM_DEFAULT", Category: lintEvolution, Default: true, check: lintEnumDefault,
		Purpose: "an enum has a default symbol, so readers built before a symbol was added can still read it"},
	{ID: "ENUM_DOC", Category: lintDocs, Default: true, check: lintEnumDoc,
		Purpose: "an enum has a doc saying what its symbols mean"},
	{ID: "ENUM_SYMBOL_UPPER_SNAKE", Category: lintStyle, Default: true, check: lintEnumSymbolUpperSnake,
		Purpose: "enum symbols are UPPER_SNAKE_CASE, as generated constants expect"},
	{ID: "FIELD_DOC", Category: lintDocs, Default: true, check: lintFieldDoc,
		Purpose: "a field has a doc giving its meaning, unit and when it is null"},
	{ID: "FIELD_SNAKE_CASE", Category: lintStyle, Default: true, check: lintFieldSnakeCase,
		Purpose: "field names are lower_snake_case, so every event reads the same in every language"},
	{ID: "KEY_FIELD_STRING", Category: lintCorrectness, Default: true, check: lintKeyFieldString,
		Purpose: "the catalog's key field is a top-level non-null string, so producers can key every event"},
	{ID: "MONEY_NOT_FLOAT", Category: lintCorrectness, Default: true, check: lintMoneyNotFloat,
		Purpose: "money is not float or double, which cannot hold amounts like 0.10 exactly; use decimal"},
	{ID: "NAMESPACE_DIRECTORY_MATCH", Category: lintStyle, Default: true, check: lintNamespaceDirectoryMatch,
		Purpose: "every named type a file defines is in the namespace of its directory, which the catalog and subjects derive names from"},
	{ID: "NULLABLE_NULL_FIRST", Category: lintEvolution, Default: true, check: lintNullableNullFirst,
		Purpose: "a nullable field lists null first and defaults to null, so it can be added and removed compatibly"},
	{ID: "RECORD_DOC", Category: lintDocs, Default: true, check: lintRecordDoc,
		Purpose: "a record has a doc saying what happened or what it describes"},
	{ID: "TIMESTAMP_LOGICAL_TYPE", Category: lintCorrectness, Default: true, check: lintTimestampLogicalType,
		Purpose: "an int or long field named like a time carries a date/time logical type, which states its unit"},
	{ID: "TYPE_PASCAL_CASE", Category: lintStyle, Default: true, check: lintTypePascalCase,
		Purpose: "record, enum and fixed names are PascalCase, as generated type names are"},
	{ID: "UNION_NULLABLE_ONLY", Category: lintStyle, Default: false, check: lintUnionNullableOnly,
		Purpose: "unions inside records only make a type nullable ([null, T]); other unions make awkward generated code (opt-in)"},
}

// LintRules returns every lint rule, sorted by ID.
func LintRules() []LintRule {
	out := make([]LintRule, len(lintRules))
	copy(out, lintRules)
	return out
}

// LintConfig selects lint rules as buf does. Use lists rule IDs, category
// names (DOCS, STYLE, EVOLUTION, CORRECTNESS), DEFAULT (the rules on by
// default) or ALL; an empty Use means DEFAULT. A category selects all of its
// rules, including those off by default. Except removes rules (by ID or
// category) from what Use selected. Names are matched ignoring case.
type LintConfig struct {
	// Use selects rules; empty means DEFAULT.
	Use []string `yaml:"use" json:"use,omitempty"`
	// Except removes rules from those Use selects.
	Except []string `yaml:"except" json:"except,omitempty"`
}

// Validate reports the entries of Use and Except that name no rule and no
// category. Lint ignores such entries, so callers validate first.
func (c LintConfig) Validate() error {
	var bad []string
	for _, list := range []struct {
		key   string
		names []string
	}{{"use", c.Use}, {"except", c.Except}} {
		for _, n := range list.names {
			if !knownSelector(n) {
				bad = append(bad, fmt.Sprintf("%q in %s", n, list.key))
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("compat: unknown lint rule or category %s (want a rule ID, %s, %s, %s, %s, %s or %s)",
		strings.Join(bad, ", "), lintDocs, lintStyle, lintEvolution, lintCorrectness, lintDefault, lintAll)
}

func knownSelector(n string) bool {
	n = normSelector(n)
	switch n {
	case lintDocs, lintStyle, lintEvolution, lintCorrectness, lintDefault, lintAll:
		return true
	}
	for _, r := range lintRules {
		if r.ID == n {
			return true
		}
	}
	return false
}

func normSelector(n string) string { return strings.ToUpper(strings.TrimSpace(n)) }

// selectedBy reports whether selector n names rule r.
func (r LintRule) selectedBy(n string) bool {
	switch n = normSelector(n); n {
	case lintAll:
		return true
	case lintDefault:
		return r.Default
	}
	return n == r.ID || n == r.Category
}

// rules returns the rules c selects, in ID order.
func (c LintConfig) rules() []LintRule {
	use := c.Use
	if len(use) == 0 {
		use = []string{lintDefault}
	}
	var out []LintRule
	for _, r := range lintRules {
		if anySelects(r, use) && !anySelects(r, c.Except) {
			out = append(out, r)
		}
	}
	return out
}

func anySelects(r LintRule, selectors []string) bool {
	for _, n := range selectors {
		if r.selectedBy(n) {
			return true
		}
	}
	return false
}

// LintTarget is one schema document to lint, with what its place in the
// catalog says about it.
type LintTarget struct {
	// Schema is the parsed document. Only the named types it defines
	// (Schema.Defined) are linted, not those taken from references.
	Schema *Schema
	// File is the document's path, used in messages only.
	File string
	// Namespace is the namespace every named type the document defines
	// must have; "" skips NAMESPACE_DIRECTORY_MATCH.
	Namespace string
	// KeyField is the field the Kafka key is taken from; "" skips
	// KEY_FIELD_STRING.
	KeyField string
}

// Lint applies the rules cfg selects to the document t.Schema and returns
// every violation, ordered by their place in the document. Paths are JSON
// pointers into the document as written ("/fields/3/type/items/fields/0"):
// exact for named types and their fields, and for unnamed types written in
// the usual form (a union as a JSON array, an array or map as an object with
// "items" or "values"). Selectors cfg.Validate would reject are ignored.
func Lint(t LintTarget, cfg LintConfig) Findings {
	if t.Schema == nil {
		return nil
	}
	var out Findings
	for _, r := range cfg.rules() {
		c := &lintContext{target: t, rule: r.ID}
		r.check(c)
		out = append(out, c.findings...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if d := comparePointers(out[i].Path, out[j].Path); d != 0 {
			return d < 0
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

// comparePointers orders JSON pointers by their place in a schema document:
// token by token, array indexes numerically, an object's keys in the order
// schemas are usually written (name before type before fields or symbols,
// default last), and a pointer before the pointers below it.
func comparePointers(a, b string) int {
	as, bs := pointerTokens(a), pointerTokens(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			return ai - bi
		}
		if d := keyRank(as[i]) - keyRank(bs[i]); d != 0 {
			return d
		}
		return strings.Compare(as[i], bs[i])
	}
	return len(as) - len(bs)
}

func pointerTokens(p string) []string {
	if p == "" || p == "/" {
		return nil
	}
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

var keyRanks = map[string]int{"name": 1, "namespace": 2, "aliases": 3, "doc": 4, "type": 5, "items": 6, "values": 7, "symbols": 8, "fields": 9, "default": 10}

func keyRank(key string) int {
	if r, ok := keyRanks[key]; ok {
		return r
	}
	return len(keyRanks) + 1
}

// lintContext is what a rule's check sees: the target, and where to report.
type lintContext struct {
	target   LintTarget
	rule     string
	findings Findings
}

func (c *lintContext) report(path, format string, args ...any) {
	c.findings = append(c.findings, Finding{Rule: c.rule, Path: path, Message: fmt.Sprintf(format, args...)})
}

// defined returns the named types the document defines.
func (c *lintContext) defined() []*Schema { return c.target.Schema.Defined() }

// eachField calls fn for every field of every record the document defines,
// with the field's JSON pointer. Named types are visited once, where they
// are defined, so recursive types terminate.
func (c *lintContext) eachField(fn func(rec *Schema, f *Field, path string)) {
	for _, s := range c.defined() {
		if s.Kind != Record {
			continue
		}
		for _, f := range s.Fields {
			fn(s, f, pointer(s.DefinedAt(), "fields", strconv.Itoa(f.Pos)))
		}
	}
}

// eachNode calls fn for s and for the unnamed schemas inside it (union
// branches, array items, map values), with their JSON pointers. It does not
// enter named types: they are linted where they are defined.
func eachNode(s *Schema, at string, fn func(s *Schema, at string)) {
	fn(s, at)
	switch s.Kind {
	case Union:
		for i, b := range s.Branches {
			if !b.Kind.Named() {
				eachNode(b, pointer(at, strconv.Itoa(i)), fn)
			}
		}
	case Array:
		if !s.Items.Kind.Named() {
			eachNode(s.Items, pointer(at, "items"), fn)
		}
	case Map:
		if !s.Values.Kind.Named() {
			eachNode(s.Values, pointer(at, "values"), fn)
		}
	}
}

// pointer appends reference tokens to a JSON pointer ("/" is the root).
func pointer(base string, tokens ...string) string {
	base = strings.TrimSuffix(base, "/")
	return base + "/" + strings.Join(tokens, "/")
}

// rootPath is the JSON pointer of the document's root node.
func (c *lintContext) rootPath() string {
	s := c.target.Schema
	if d := s.Defined(); len(d) > 0 && d[0] == s {
		return s.DefinedAt()
	}
	return "/"
}

func fieldName(rec *Schema, f *Field) string { return fmt.Sprintf("field %q of %s", f.Name, rec.Name) }

// --- DOCS

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func lintRecordDoc(c *lintContext) {
	for _, s := range c.defined() {
		if s.Kind == Record && blank(s.Doc) {
			c.report(s.DefinedAt(), `record %s has no doc: add "doc" saying what happened (for an event) or what it describes`, s.Name)
		}
	}
}

func lintEnumDoc(c *lintContext) {
	for _, s := range c.defined() {
		if s.Kind == Enum && blank(s.Doc) {
			c.report(s.DefinedAt(), `enum %s has no doc: add "doc" saying what its symbols mean and which one readers see for symbols they do not know`, s.Name)
		}
	}
}

func lintFieldDoc(c *lintContext) {
	c.eachField(func(rec *Schema, f *Field, at string) {
		if blank(f.Doc) {
			c.report(at, `%s has no doc: add "doc" giving its meaning, its unit and when it is null`, fieldName(rec, f))
		}
	})
}

// --- STYLE

var (
	snakeRE      = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	pascalRE     = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	upperSnakeRE = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
)

// words splits an identifier into words at underscores and case changes
// ("orderID_v2" -> order, ID, v2; "HTTPServer" -> HTTP, Server).
func words(name string) []string {
	var out []string
	rs := []rune(name)
	start := 0
	flush := func(end int) {
		if end > start {
			out = append(out, string(rs[start:end]))
		}
	}
	for i, r := range rs {
		switch {
		case r == '_':
			flush(i)
			start = i + 1
		case i > start && unicode.IsUpper(r):
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush(i)
				start = i
			}
		}
	}
	flush(len(rs))
	return out
}

func toSnake(name string) string { return strings.ToLower(strings.Join(words(name), "_")) }

func toUpperSnake(name string) string { return strings.ToUpper(strings.Join(words(name), "_")) }

func toPascal(name string) string {
	var b strings.Builder
	for _, w := range words(name) {
		w = strings.ToLower(w)
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func lintFieldSnakeCase(c *lintContext) {
	c.eachField(func(rec *Schema, f *Field, at string) {
		if !snakeRE.MatchString(f.Name) {
			c.report(pointer(at, "name"), `%s is not snake_case: name it %q (renaming a published field needs "aliases": [%q])`,
				fieldName(rec, f), toSnake(f.Name), f.Name)
		}
	})
}

func lintTypePascalCase(c *lintContext) {
	for _, s := range c.defined() {
		short := shortName(s.Name)
		if !pascalRE.MatchString(short) {
			c.report(pointer(s.DefinedAt(), "name"), `%s %s is not PascalCase: name it %q (renaming a published type needs "aliases": [%q])`,
				s.Kind, s.Name, toPascal(short), s.Name)
		}
	}
}

func lintEnumSymbolUpperSnake(c *lintContext) {
	for _, s := range c.defined() {
		if s.Kind != Enum {
			continue
		}
		for i, sym := range s.Symbols {
			if !upperSnakeRE.MatchString(sym) {
				c.report(pointer(s.DefinedAt(), "symbols", strconv.Itoa(i)), `symbol %q of enum %s is not UPPER_SNAKE_CASE: name it %q`,
					sym, s.Name, toUpperSnake(sym))
			}
		}
	}
}

func lintNamespaceDirectoryMatch(c *lintContext) {
	want := c.target.Namespace
	if want == "" {
		return
	}
	where := "this file"
	if c.target.File != "" {
		where = "files in " + path.Dir(c.target.File) + "/"
	}
	for _, s := range c.defined() {
		if s.Namespace == want {
			continue
		}
		has := fmt.Sprintf("is in namespace %q", s.Namespace)
		if s.Namespace == "" {
			has = "has no namespace"
		}
		c.report(s.DefinedAt(), `%s %s %s, but %s define types in %q: set "namespace": %q (or move the file)`,
			s.Kind, s.Name, has, where, want, want)
	}
}

// --- EVOLUTION

func lintNullableNullFirst(c *lintContext) {
	c.eachField(func(rec *Schema, f *Field, at string) {
		t := f.Type
		if t.Kind != Union || !hasBranch(t, Null) {
			return
		}
		const fix = `list "null" first in its union and give it "default": null`
		switch {
		case t.Branches[0].Kind != Null:
			c.report(pointer(at, "type"), `%s is nullable but "null" is not its first branch: %s`, fieldName(rec, f), fix)
		case !f.HasDefault:
			c.report(at, `%s is nullable but has no default: add "default": null, so readers of older data get null`, fieldName(rec, f))
		case f.Default != nil:
			c.report(pointer(at, "default"), `%s is nullable but its default is %s, not null: %s`,
				fieldName(rec, f), truncate(jsonString(f.Default), 40), fix)
		}
	})
}

func lintUnionNullableOnly(c *lintContext) {
	c.eachField(func(rec *Schema, f *Field, at string) {
		eachNode(f.Type, pointer(at, "type"), func(s *Schema, p string) {
			if s.Kind != Union || (len(s.Branches) == 2 && hasBranch(s, Null) && s.Branches[0].Kind != s.Branches[1].Kind) {
				return
			}
			c.report(p, "%s holds a %s: keep unions to [null, T]; model alternatives as a record with one nullable field per alternative",
				fieldName(rec, f), describeType(s))
		})
	})
}

func hasBranch(u *Schema, k Kind) bool {
	for _, b := range u.Branches {
		if b.Kind == k {
			return true
		}
	}
	return false
}

func lintEnumDefault(c *lintContext) {
	for _, s := range c.defined() {
		if s.Kind != Enum || s.EnumDefault != nil {
			continue
		}
		fix := `add a symbol such as "UNKNOWN", listed first, and make it the default`
		if contains(s.Symbols, "UNKNOWN") {
			fix = `add "default": "UNKNOWN"`
		}
		c.report(s.DefinedAt(), "enum %s has no default, so a reader fails on any symbol added after it was built: %s",
			s.Name, fix)
	}
}

// --- CORRECTNESS

func lintDefaultMatchesType(c *lintContext) {
	c.eachField(func(rec *Schema, f *Field, at string) {
		if !f.HasDefault {
			return
		}
		if f.DefaultError != "" {
			c.report(pointer(at, "default"), "the default of %s is not a %s: %s; fix the default or the type",
				fieldName(rec, f), describeType(f.Type), f.DefaultError)
			return
		}
		if why := DefaultMatchesFirstBranch(f.Type, f.Default); why != "" {
			c.report(pointer(at, "default"), "the default of %s does not match the first branch of its union (%s), which Avro 1.11 and later require: reorder the union so the default's type comes first, or change the default",
				fieldName(rec, f), why)
		}
	})
}

func describeType(s *Schema) string {
	if s.Kind == Union {
		parts := make([]string, len(s.Branches))
		for i, b := range s.Branches {
			parts[i] = describe(b)
		}
		return "union [" + strings.Join(parts, ", ") + "]"
	}
	return describe(s)
}

// timeNameRE matches field names, in snake_case, that read as a point in
// time.
var timeNameRE = regexp.MustCompile(`^(timestamp|date|time|ts)$|_(at|time|timestamp|ts|date)$`)

func lintTimestampLogicalType(c *lintContext) {
	c.eachField(func(rec *Schema, f *Field, at string) {
		if !timeNameRE.MatchString(toSnake(f.Name)) {
			return
		}
		eachNode(f.Type, pointer(at, "type"), func(s *Schema, p string) {
			if (s.Kind != Int && s.Kind != Long) || s.Logical != "" {
				return
			}
			ignored := ""
			if s.LogicalRaw != "" {
				ignored = fmt.Sprintf(` (its logicalType %q is not valid on %s, so readers ignore it)`, s.LogicalRaw, s.Kind)
			}
			want := `{"type": "long", "logicalType": "timestamp-millis"}`
			if s.Kind == Int {
				want = `{"type": "int", "logicalType": "date"}`
			}
			c.report(p, `%s is named like a time but is a plain %s%s: use %s, or if it is a duration name it with its unit (e.g. "_ms")`,
				fieldName(rec, f), s.Kind, ignored, want)
		})
	})
}

// moneyWords are the words that make a field name read as an amount of money.
var moneyWords = map[string]bool{
	"amount": true, "amounts": true, "balance": true, "balances": true, "cost": true, "costs": true,
	"discount": true, "fee": true, "fees": true, "money": true, "payment": true, "price": true,
	"prices": true, "refund": true, "revenue": true, "subtotal": true, "tax": true, "taxes": true,
	"total": true, "totals": true,
}

// moneyName reports whether the last word of a field name is a money word
// ("total", "unit_price", "shipping_fees", and "unitPrice" too: the style
// rules report the case, this rule the type).
func moneyName(name string) bool {
	ws := words(name)
	return len(ws) > 0 && moneyWords[strings.ToLower(ws[len(ws)-1])]
}

func lintMoneyNotFloat(c *lintContext) {
	c.eachField(func(rec *Schema, f *Field, at string) {
		if !moneyName(f.Name) {
			return
		}
		eachNode(f.Type, pointer(at, "type"), func(s *Schema, p string) {
			if s.Kind == Float || s.Kind == Double {
				c.report(p, `%s is money held in a %s, which cannot represent amounts like 0.10 exactly: use {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}, or a long of minor units`,
					fieldName(rec, f), s.Kind)
			}
		})
	})
}

func lintKeyFieldString(c *lintContext) {
	key := c.target.KeyField
	if key == "" {
		return
	}
	root := c.target.Schema
	if root.Kind != Record {
		c.report(c.rootPath(), "the schema is a %s, not a record, so it has no field %q to take the Kafka key from: make it a record with a string field %q",
			describeType(root), key, key)
		return
	}
	f := root.Field(key)
	if f == nil {
		c.report(pointer(c.rootPath(), "fields"), `record %s has no field %q, the Kafka key its catalog entry names: add {"name": %q, "type": "string"} (or correct the catalog's key)`,
			root.Name, key, key)
		return
	}
	at := pointer(c.rootPath(), "fields", strconv.Itoa(f.Pos), "type")
	switch {
	case f.Type.Kind == String:
	case f.Type.Kind == Union && hasBranch(f.Type, Null):
		c.report(at, `key %s is nullable (%s), but every event needs a key: make it "string"`, fieldName(root, f), describeType(f.Type))
	default:
		c.report(at, `key %s is a %s, but keys are strings: make it "string"`, fieldName(root, f), describeType(f.Type))
	}
}
