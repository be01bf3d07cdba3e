package compat_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/compat"
)

// lintFixture is what a fixture under testdata/lint/<RULE>/{good,bad}/ says
// about itself in its "x-lint" attribute, which the linter ignores like any
// attribute outside the specification.
type lintFixture struct {
	// Want lists, in document order, the paths of the findings the rule
	// reports for a bad fixture.
	Want []string `json:"want"`
	// Namespace, Key and File fill the LintTarget.
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	File      string `json:"file"`
	// Refs are schemas the fixture references, parsed first.
	Refs []json.RawMessage `json:"refs"`
}

func loadLintFixture(t *testing.T, file string) (compat.LintTarget, []string) {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		X lintFixture `json:"x-lint"`
	}
	if err := json.Unmarshal(text, &meta); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var refs []*compat.Schema
	for _, r := range meta.X.Refs {
		s, err := compat.Parse(r, refs...)
		if err != nil {
			t.Fatalf("%s: reference: %v", file, err)
		}
		refs = append(refs, s)
	}
	s, err := compat.Parse(text, refs...)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return compat.LintTarget{Schema: s, File: meta.X.File, Namespace: meta.X.Namespace, KeyField: meta.X.Key}, meta.X.Want
}

// TestLintRuleFixtures runs every rule over its fixtures: each bad fixture
// yields exactly the expected findings of that rule, and each good fixture
// passes that rule and every default rule (good fixtures show the right way
// to write a schema, whatever else they test).
func TestLintRuleFixtures(t *testing.T) {
	for _, rule := range compat.LintRules() {
		t.Run(rule.ID, func(t *testing.T) {
			for _, kind := range []string{"bad", "good"} {
				files, _ := filepath.Glob(filepath.Join("testdata", "lint", rule.ID, kind, "*.avsc"))
				if len(files) == 0 {
					t.Fatalf("no %s fixtures in testdata/lint/%s/%s", kind, rule.ID, kind)
				}
				for _, file := range files {
					target, want := loadLintFixture(t, file)
					if kind == "good" {
						if len(want) > 0 {
							t.Fatalf("%s: a good fixture expects no findings", file)
						}
						if got := compat.Lint(target, compat.LintConfig{Use: []string{"DEFAULT", rule.ID}}); len(got) > 0 {
							t.Errorf("%s: want no findings, got:\n%s", file, lines(got))
						}
						continue
					}
					if len(want) == 0 {
						t.Fatalf("%s: a bad fixture needs x-lint.want", file)
					}
					got := compat.Lint(target, compat.LintConfig{Use: []string{rule.ID}})
					var paths []string
					for _, f := range got {
						paths = append(paths, f.Path)
						if f.Rule != rule.ID {
							t.Errorf("%s: finding of rule %s, want %s: %v", file, f.Rule, rule.ID, f)
						}
						if f.Message == "" {
							t.Errorf("%s: finding at %s without a message", file, f.Path)
						}
					}
					if diff := cmp.Diff(want, paths); diff != "" {
						t.Errorf("%s: paths (-want +got):\n%s\nfindings:\n%s", file, diff, lines(got))
					}
				}
			}
		})
	}
}

func lines(fs compat.Findings) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %v\n", f)
	}
	return b.String()
}

// TestLintPointersResolve checks that every finding of every bad fixture
// points at a value that exists in the fixture's JSON.
func TestLintPointersResolve(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "lint", "*", "bad", "*.avsc"))
	for _, file := range files {
		target, _ := loadLintFixture(t, file)
		text, _ := os.ReadFile(file)
		var doc any
		if err := json.Unmarshal(text, &doc); err != nil {
			t.Fatal(err)
		}
		for _, f := range compat.Lint(target, compat.LintConfig{Use: []string{"ALL"}}) {
			if !resolves(doc, f.Path) {
				t.Errorf("%s: %s: path %s is not in the document", file, f.Rule, f.Path)
			}
		}
	}
}

func resolves(doc any, pointer string) bool {
	if pointer == "/" {
		return true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		switch v := doc.(type) {
		case map[string]any:
			var ok bool
			if doc, ok = v[tok]; !ok {
				return false
			}
		case []any:
			var i int
			if _, err := fmt.Sscan(tok, &i); err != nil || i < 0 || i >= len(v) {
				return false
			}
			doc = v[i]
		default:
			return false
		}
	}
	return true
}

// TestLintRulesTable checks the rule table itself, and that every fixture
// directory belongs to a rule.
func TestLintRulesTable(t *testing.T) {
	rules := compat.LintRules()
	upperSnake := regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
	categories := map[string]bool{"DOCS": true, "STYLE": true, "EVOLUTION": true, "CORRECTNESS": true}
	ids := map[string]bool{}
	for i, r := range rules {
		if i > 0 && rules[i-1].ID >= r.ID {
			t.Errorf("rules not sorted by ID: %s before %s", rules[i-1].ID, r.ID)
		}
		if !upperSnake.MatchString(r.ID) {
			t.Errorf("rule ID %q is not UPPER_SNAKE", r.ID)
		}
		if !categories[r.Category] {
			t.Errorf("rule %s: unknown category %q", r.ID, r.Category)
		}
		if r.Purpose == "" || strings.Contains(r.Purpose, "\n") {
			t.Errorf("rule %s: purpose must be one line", r.ID)
		}
		ids[r.ID] = true
	}
	dirs, _ := os.ReadDir(filepath.Join("testdata", "lint"))
	for _, d := range dirs {
		if d.IsDir() && !ids[d.Name()] {
			t.Errorf("testdata/lint/%s: no rule has this ID", d.Name())
		}
	}
	// LintRules returns a copy.
	rules[0].ID = "CHANGED"
	if compat.LintRules()[0].ID == "CHANGED" {
		t.Error("LintRules exposes the rule table")
	}
}

// violatesEveryRule breaks every rule once (with the target below).
const violatesEveryRule = `{
  "type": "record", "name": "order_created", "namespace": "waybill.order",
  "fields": [
    {"name": "orderId", "type": "long"},
    {"name": "created_at", "type": "long", "doc": "d"},
    {"name": "total", "type": "double", "doc": "d"},
    {"name": "note", "type": ["string", "null"], "doc": "d"},
    {"name": "count", "type": "int", "default": "x", "doc": "d"},
    {"name": "status", "type": {"type": "enum", "name": "status", "symbols": ["new"]}, "doc": "d"},
    {"name": "ref", "type": ["string", "long"], "doc": "d"}
  ]
}`

func violatedRules(t *testing.T, cfg compat.LintConfig) []string {
	t.Helper()
	s, err := compat.Parse([]byte(violatesEveryRule))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, f := range compat.Lint(compat.LintTarget{Schema: s, Namespace: "waybill.orders", KeyField: "order_id"}, cfg) {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			ids = append(ids, f.Rule)
		}
	}
	sort.Strings(ids)
	return ids
}

func ruleIDs(keep func(compat.LintRule) bool) []string {
	var ids []string
	for _, r := range compat.LintRules() {
		if keep(r) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func TestLintConfig(t *testing.T) {
	all := ruleIDs(func(compat.LintRule) bool { return true })
	defaults := ruleIDs(func(r compat.LintRule) bool { return r.Default })
	if len(defaults) == len(all) {
		t.Fatal("want at least one rule off by default, to tell DEFAULT from ALL")
	}
	without := func(ids []string, drop ...string) []string {
		var out []string
		for _, id := range ids {
			if !contains(drop, id) {
				out = append(out, id)
			}
		}
		return out
	}
	docs := []string{"ENUM_DOC", "FIELD_DOC", "RECORD_DOC"}
	tests := []struct {
		name string
		cfg  compat.LintConfig
		want []string
	}{
		{"empty means defaults", compat.LintConfig{}, defaults},
		{"DEFAULT", compat.LintConfig{Use: []string{"DEFAULT"}}, defaults},
		{"ALL", compat.LintConfig{Use: []string{"ALL"}}, all},
		{"one ID", compat.LintConfig{Use: []string{"FIELD_SNAKE_CASE"}}, []string{"FIELD_SNAKE_CASE"}},
		{"category", compat.LintConfig{Use: []string{"DOCS"}}, docs},
		{"category includes rules off by default", compat.LintConfig{Use: []string{"STYLE"}},
			[]string{"ENUM_SYMBOL_UPPER_SNAKE", "FIELD_SNAKE_CASE", "NAMESPACE_DIRECTORY_MATCH", "TYPE_PASCAL_CASE", "UNION_NULLABLE_ONLY"}},
		{"ID and category", compat.LintConfig{Use: []string{"RECORD_DOC", "EVOLUTION"}},
			[]string{"ENUM_DEFAULT", "NULLABLE_NULL_FIRST", "RECORD_DOC"}},
		{"except ID", compat.LintConfig{Except: []string{"ENUM_DOC"}}, without(defaults, "ENUM_DOC")},
		{"except by category", compat.LintConfig{Except: []string{"DOCS"}}, without(defaults, docs...)},
		{"ALL except ID and category", compat.LintConfig{Use: []string{"ALL"}, Except: []string{"FIELD_DOC", "CORRECTNESS"}},
			without(all, "FIELD_DOC", "DEFAULT_MATCHES_TYPE", "KEY_FIELD_STRING", "MONEY_NOT_FLOAT", "TIMESTAMP_LOGICAL_TYPE")},
		{"case and spaces ignored", compat.LintConfig{Use: []string{" docs ", "field_snake_case"}}, []string{"ENUM_DOC", "FIELD_DOC", "FIELD_SNAKE_CASE", "RECORD_DOC"}},
		{"except everything", compat.LintConfig{Except: []string{"ALL"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, violatedRules(t, tt.cfg)); diff != "" {
				t.Errorf("rules that ran (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff(all, violatedRules(t, compat.LintConfig{Use: []string{"ALL"}})); diff != "" {
		t.Errorf("the config schema must violate every rule (-want +got):\n%s", diff)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestLintConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     compat.LintConfig
		wantErr []string // substrings; none means valid
	}{
		{compat.LintConfig{}, nil},
		{compat.LintConfig{Use: []string{"DEFAULT", "ALL", "DOCS", "STYLE", "EVOLUTION", "CORRECTNESS", "FIELD_DOC"}, Except: []string{"ENUM_DOC"}}, nil},
		{compat.LintConfig{Use: []string{"FIELD_DOCS"}}, []string{`"FIELD_DOCS" in use`}},
		{compat.LintConfig{Use: []string{"DOCS", "NOPE"}, Except: []string{"FIELD_DOC", "BASIC"}}, []string{`"NOPE" in use`, `"BASIC" in except`}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if len(tt.wantErr) == 0 {
			if err != nil {
				t.Errorf("%+v: %v", tt.cfg, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%+v: want an error", tt.cfg)
			continue
		}
		if !strings.HasPrefix(err.Error(), "compat: ") {
			t.Errorf("error %q does not start with the package name", err)
		}
		for _, w := range tt.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %s", err, w)
			}
		}
	}
}

func TestLintOrderAndNil(t *testing.T) {
	if got := compat.Lint(compat.LintTarget{}, compat.LintConfig{}); got != nil {
		t.Errorf("Lint of no schema = %v, want nil", got)
	}
	s, err := compat.Parse([]byte(violatesEveryRule))
	if err != nil {
		t.Fatal(err)
	}
	fs := compat.Lint(compat.LintTarget{Schema: s, Namespace: "waybill.orders", KeyField: "order_id"}, compat.LintConfig{Use: []string{"ALL"}})
	var got []string
	for _, f := range fs {
		got = append(got, f.Rule+" "+f.Path)
	}
	want := []string{
		"NAMESPACE_DIRECTORY_MATCH /",
		"RECORD_DOC /",
		"TYPE_PASCAL_CASE /name",
		"KEY_FIELD_STRING /fields",
		"FIELD_DOC /fields/0",
		"FIELD_SNAKE_CASE /fields/0/name",
		"TIMESTAMP_LOGICAL_TYPE /fields/1/type",
		"MONEY_NOT_FLOAT /fields/2/type",
		"NULLABLE_NULL_FIRST /fields/3/type",
		"DEFAULT_MATCHES_TYPE /fields/4/default",
		"ENUM_DEFAULT /fields/5/type",
		"ENUM_DOC /fields/5/type",
		"NAMESPACE_DIRECTORY_MATCH /fields/5/type",
		"TYPE_PASCAL_CASE /fields/5/type/name",
		"ENUM_SYMBOL_UPPER_SNAKE /fields/5/type/symbols/0",
		"UNION_NULLABLE_ONLY /fields/6/type",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings in path order (-want +got):\n%s", diff)
	}
}

func ExampleLint() {
	s, err := compat.Parse([]byte(`{
	  "type": "record", "name": "OrderCreated", "namespace": "waybill.orders",
	  "doc": "A customer placed an order.",
	  "fields": [
	    {"name": "order_id", "type": "string", "doc": "The order; the Kafka key."},
	    {"name": "totalPrice", "type": "double", "doc": "What the customer pays."},
	    {"name": "coupon", "type": ["string", "null"], "doc": "Coupon code, if any."}
	  ]
	}`))
	if err != nil {
		panic(err)
	}
	target := compat.LintTarget{Schema: s, File: "orders/OrderCreated/v1.avsc", Namespace: "waybill.orders", KeyField: "order_id"}
	for _, f := range compat.Lint(target, compat.LintConfig{}) {
		fmt.Printf("%s %s\n  %s\n", f.Rule, f.Path, f.Message)
	}
	// Output:
	// FIELD_SNAKE_CASE /fields/1/name
	//   field "totalPrice" of waybill.orders.OrderCreated is not snake_case: name it "total_price" (renaming a published field needs "aliases": ["totalPrice"])
	// MONEY_NOT_FLOAT /fields/1/type
	//   field "totalPrice" of waybill.orders.OrderCreated is money held in a double, which cannot represent amounts like 0.10 exactly: use {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}, or a long of minor units
	// NULLABLE_NULL_FIRST /fields/2/type
	//   field "coupon" of waybill.orders.OrderCreated is nullable but "null" is not its first branch: list "null" first in its union and give it "default": null
}

func ExampleLintRules() {
	for _, r := range compat.LintRules() {
		on := "on"
		if !r.Default {
			on = "off"
		}
		fmt.Printf("%-26s %-11s %s\n", r.ID, r.Category, on)
	}
	// Output:
	// DEFAULT_MATCHES_TYPE       CORRECTNESS on
	// ENUM_DEFAULT               EVOLUTION   on
	// ENUM_DOC                   DOCS        on
	// ENUM_SYMBOL_UPPER_SNAKE    STYLE       on
	// FIELD_DOC                  DOCS        on
	// FIELD_SNAKE_CASE           STYLE       on
	// KEY_FIELD_STRING           CORRECTNESS on
	// MONEY_NOT_FLOAT            CORRECTNESS on
	// NAMESPACE_DIRECTORY_MATCH  STYLE       on
	// NULLABLE_NULL_FIRST        EVOLUTION   on
	// RECORD_DOC                 DOCS        on
	// TIMESTAMP_LOGICAL_TYPE     CORRECTNESS on
	// TYPE_PASCAL_CASE           STYLE       on
	// UNION_NULLABLE_ONLY        STYLE       off
}

func ExampleLintConfig_Validate() {
	cfg := compat.LintConfig{Use: []string{"DEFAULT", "UNION_NULLABLE_ONLY"}, Except: []string{"DOC"}}
	fmt.Println(cfg.Validate())
	// Output:
	// compat: unknown lint rule or category "DOC" in except (want a rule ID, DOCS, STYLE, EVOLUTION, CORRECTNESS, DEFAULT or ALL)
}
