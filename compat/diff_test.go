package compat_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/waybill/waybill/compat"
)

// rec wraps field definitions in a record named R.
func rec(fields string) string {
	return `{"type":"record","name":"R","namespace":"t","fields":[` + fields + `]}`
}

// line is a change in one line: KIND field old->new consequence.
func line(c compat.Change) string {
	return fmt.Sprintf("%s %s %s %q->%q %s", c.Kind, c.Field, c.Path, c.Old, c.New, c.Consequence)
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		want     []string
	}{
		{
			name: "identical",
			old:  rec(`{"name":"a","type":"int"}`),
			new:  rec(`{"name":"a","type":"int"}`),
		},
		{
			name: "field added with a default",
			old:  rec(`{"name":"a","type":"int"}`),
			new:  rec(`{"name":"a","type":"int"},{"name":"b","type":"string","default":""}`),
			want: []string{`FIELD_ADDED b /fields/1 ""->"string" safe`},
		},
		{
			name: "field added without a default",
			old:  rec(`{"name":"a","type":"int"}`),
			new:  rec(`{"name":"a","type":"int"},{"name":"b","type":"string"}`),
			want: []string{`FIELD_ADDED b /fields/1 ""->"string" breaks-new-readers`},
		},
		{
			name: "field removed with a default",
			old:  rec(`{"name":"a","type":"int"},{"name":"b","type":["null","string"],"default":null}`),
			new:  rec(`{"name":"a","type":"int"}`),
			want: []string{`FIELD_REMOVED b /fields/1 "[null, string]"->"" safe`},
		},
		{
			name: "field removed without a default, before the fields that stay",
			old:  rec(`{"name":"x","type":"int"},{"name":"a","type":"int"}`),
			new:  rec(`{"name":"a","type":"int"}`),
			want: []string{`FIELD_REMOVED x /fields/0 "int"->"" breaks-old-readers`},
		},
		{
			name: "field renamed by alias",
			old:  rec(`{"name":"zip","type":"string"}`),
			new:  rec(`{"name":"postal_code","type":"string","aliases":["zip"]}`),
			want: []string{`FIELD_RENAMED postal_code /fields/0 "zip"->"postal_code" breaks-old-readers`},
		},
		{
			// Old readers do not know the new name: they read their default
			// and lose the value, which Check warns about.
			name: "field renamed by alias, old readers have a default",
			old:  rec(`{"name":"zip","type":"string","default":""}`),
			new:  rec(`{"name":"postal_code","type":"string","default":"","aliases":["zip"]}`),
			want: []string{`FIELD_RENAMED postal_code /fields/0 "zip"->"postal_code" semantic-warning`},
		},
		{
			name: "renamed without an alias",
			old:  rec(`{"name":"zip","type":"string","default":""}`),
			new:  rec(`{"name":"postal_code","type":"string","default":""}`),
			want: []string{
				`FIELD_REMOVED zip /fields/0 "string"->"" semantic-warning`,
				`FIELD_ADDED postal_code /fields/0 ""->"string" semantic-warning`,
			},
		},
		{
			name: "promotion int to long",
			old:  rec(`{"name":"n","type":"int"}`),
			new:  rec(`{"name":"n","type":"long"}`),
			want: []string{`TYPE_CHANGED n /fields/0/type "int"->"long" breaks-old-readers`},
		},
		{
			name: "string to int",
			old:  rec(`{"name":"n","type":"string"}`),
			new:  rec(`{"name":"n","type":"int"}`),
			want: []string{`TYPE_CHANGED n /fields/0/type "string"->"int" breaks-both`},
		},
		{
			name: "made optional",
			old:  rec(`{"name":"n","type":"string"}`),
			new:  rec(`{"name":"n","type":["null","string"],"default":null}`),
			want: []string{
				`DEFAULT_ADDED n /fields/0/default ""->"null" safe`,
				`TYPE_CHANGED n /fields/0/type "string"->"[null, string]" breaks-old-readers`,
			},
		},
		{
			name: "made required",
			old:  rec(`{"name":"n","type":["null","string"],"default":null}`),
			new:  rec(`{"name":"n","type":"string"}`),
			want: []string{
				`DEFAULT_REMOVED n /fields/0/default "null"->"" safe`,
				`TYPE_CHANGED n /fields/0/type "[null, string]"->"string" breaks-new-readers`,
			},
		},
		{
			name: "nested record",
			old:  rec(`{"name":"addr","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}}`),
			new:  rec(`{"name":"addr","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"},{"name":"zip","type":"string"}]}}`),
			want: []string{`FIELD_ADDED addr.zip /fields/0/type/fields/1 ""->"string" breaks-new-readers`},
		},
		{
			name: "array items and map values",
			old:  rec(`{"name":"xs","type":{"type":"array","items":"int"}},{"name":"m","type":{"type":"map","values":"float"}}`),
			new:  rec(`{"name":"xs","type":{"type":"array","items":"long"}},{"name":"m","type":{"type":"map","values":"string"}}`),
			want: []string{
				`TYPE_CHANGED xs /fields/0/type/items "int"->"long" breaks-old-readers`,
				`TYPE_CHANGED m /fields/1/type/values "float"->"string" breaks-both`,
			},
		},
		{
			name: "array to map",
			old:  rec(`{"name":"xs","type":{"type":"array","items":"int"}}`),
			new:  rec(`{"name":"xs","type":{"type":"map","values":"int"}}`),
			want: []string{`TYPE_CHANGED xs /fields/0/type "array<int>"->"map<int>" breaks-both`},
		},
		{
			name: "union branch added and removed",
			old:  rec(`{"name":"v","type":["null","int","boolean"]}`),
			new:  rec(`{"name":"v","type":["null","string","int"]}`),
			want: []string{
				`BRANCH_REMOVED v /fields/0/type/2 "boolean"->"" breaks-new-readers`,
				`BRANCH_ADDED v /fields/0/type/1 ""->"string" breaks-old-readers`,
			},
		},
		{
			name: "union branch widened: long reads int",
			old:  rec(`{"name":"v","type":["null","int"]}`),
			new:  rec(`{"name":"v","type":["null","long"]}`),
			want: []string{
				`BRANCH_REMOVED v /fields/0/type/1 "int"->"" safe`,
				`BRANCH_ADDED v /fields/0/type/1 ""->"long" breaks-old-readers`,
			},
		},
		{
			name: "record inside a union",
			old:  rec(`{"name":"u","type":["null",{"type":"record","name":"B","fields":[{"name":"x","type":"string"}]}]}`),
			new:  rec(`{"name":"u","type":["null",{"type":"record","name":"B","fields":[{"name":"x","type":"string"},{"name":"y","type":"int"},{"name":"t","type":{"type":"long","logicalType":"timestamp-micros"},"default":0}]}]}`),
			want: []string{
				`FIELD_ADDED u.y /fields/0/type/1/fields/1 ""->"int" breaks-new-readers`,
				`FIELD_ADDED u.t /fields/0/type/1/fields/2 ""->"long (timestamp-micros)" safe`,
			},
		},
		{
			name: "logical type inside a union",
			old:  rec(`{"name":"at","type":["null",{"type":"long","logicalType":"timestamp-millis"}]}`),
			new:  rec(`{"name":"at","type":["null",{"type":"long","logicalType":"timestamp-micros"}]}`),
			want: []string{`LOGICAL_TYPE_CHANGED at /fields/0/type/1 "long (timestamp-millis)"->"long (timestamp-micros)" semantic-warning`},
		},
		{
			name: "record wrapped in a union and changed inside",
			old:  rec(`{"name":"b","type":{"type":"record","name":"B","fields":[{"name":"x","type":"string"}]}}`),
			new:  rec(`{"name":"b","type":["null",{"type":"record","name":"B","fields":[{"name":"x","type":"string"},{"name":"y","type":"int"}]}],"default":null}`),
			want: []string{
				`DEFAULT_ADDED b /fields/0/default ""->"null" safe`,
				`TYPE_CHANGED b /fields/0/type "B"->"[null, B]" breaks-old-readers`,
				`FIELD_ADDED b.y /fields/0/type/1/fields/1 ""->"int" breaks-new-readers`,
			},
		},
		{
			name: "record unwrapped from a union and changed inside",
			old:  rec(`{"name":"b","type":["null",{"type":"record","name":"B","fields":[{"name":"x","type":"string"},{"name":"y","type":"int"}]}]}`),
			new:  rec(`{"name":"b","type":{"type":"record","name":"B","fields":[{"name":"x","type":"string"}]}}`),
			want: []string{
				`TYPE_CHANGED b /fields/0/type "[null, B]"->"B" breaks-new-readers`,
				`FIELD_REMOVED b.y /fields/0/type/1/fields/1 "int"->"" breaks-old-readers`,
			},
		},
		{
			name: "enum symbols",
			old:  rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A","B","C"]}}`),
			new:  rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A","C","D"]}}`),
			want: []string{
				`SYMBOL_REMOVED s /fields/0/type/symbols/1 "B"->"" breaks-new-readers`,
				`SYMBOL_ADDED s /fields/0/type/symbols/2 ""->"D" breaks-old-readers`,
			},
		},
		{
			name: "enum symbol added, old readers have a default symbol",
			old:  rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["UNKNOWN","A"],"default":"UNKNOWN"}}`),
			new:  rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["UNKNOWN","A","B"],"default":"UNKNOWN"}}`),
			want: []string{`SYMBOL_ADDED s /fields/0/type/symbols/2 ""->"B" safe`},
		},
		{
			name: "enum default",
			old:  rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A","B"]}}`),
			new:  rec(`{"name":"s","type":{"type":"enum","name":"S","symbols":["A","B"],"default":"A"}}`),
			want: []string{`ENUM_DEFAULT_CHANGED s /fields/0/type/default ""->"A" safe`},
		},
		{
			name: "fixed size",
			old:  rec(`{"name":"h","type":{"type":"fixed","name":"H","size":16}}`),
			new:  rec(`{"name":"h","type":{"type":"fixed","name":"H","size":32}}`),
			want: []string{`SIZE_CHANGED h /fields/0/type/size "16"->"32" breaks-both`},
		},
		{
			name: "decimal precision and scale",
			old:  rec(`{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}}`),
			new:  rec(`{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":4}}`),
			want: []string{`LOGICAL_TYPE_CHANGED amount /fields/0/type "bytes (decimal(10,2))"->"bytes (decimal(12,4))" semantic-warning`},
		},
		{
			name: "timestamp unit",
			old:  rec(`{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}`),
			new:  rec(`{"name":"at","type":{"type":"long","logicalType":"timestamp-micros"}}`),
			want: []string{`LOGICAL_TYPE_CHANGED at /fields/0/type "long (timestamp-millis)"->"long (timestamp-micros)" semantic-warning`},
		},
		{
			name: "logical type added",
			old:  rec(`{"name":"id","type":"string"}`),
			new:  rec(`{"name":"id","type":{"type":"string","logicalType":"uuid"}}`),
			want: []string{`LOGICAL_TYPE_CHANGED id /fields/0/type "string"->"string (uuid)" semantic-warning`},
		},
		{
			name: "defaults",
			old:  rec(`{"name":"a","type":"int"},{"name":"b","type":"int","default":1},{"name":"c","type":"string","default":"x"}`),
			new:  rec(`{"name":"a","type":"int","default":0},{"name":"b","type":"int"},{"name":"c","type":"string","default":"y"}`),
			want: []string{
				`DEFAULT_ADDED a /fields/0/default ""->"0" safe`,
				`DEFAULT_REMOVED b /fields/1/default "1"->"" safe`,
				`DEFAULT_CHANGED c /fields/2/default "\"x\""->"\"y\"" safe`,
			},
		},
		{
			name: "docs, aliases, order and properties",
			old:  `{"type":"record","name":"R","doc":"old","fields":[{"name":"a","type":"int","doc":"a"}]}`,
			new:  `{"type":"record","name":"R","doc":"new","aliases":["Q"],"fields":[{"name":"a","type":"int","doc":"b","aliases":["x"],"order":"descending","pii":true}]}`,
			want: []string{
				`ALIASES_CHANGED  /aliases ""->"[Q]" safe`,
				`DOC_CHANGED  /doc "\"old\""->"\"new\"" safe`,
				`ALIASES_CHANGED a /fields/0/aliases ""->"[x]" safe`,
				`DOC_CHANGED a /fields/0/doc "\"a\""->"\"b\"" safe`,
				`ORDER_CHANGED a /fields/0/order "ascending"->"descending" safe`,
				`PROPERTY_CHANGED a /fields/0/pii ""->"true" safe`,
			},
		},
		{
			name: "long docs show where they differ",
			old:  rec(`{"name":"a","type":"int","doc":"The number of parcels in the shipment, counted when it leaves the warehouse."}`),
			new:  rec(`{"name":"a","type":"int","doc":"The number of parcels in the shipment, counted when it reaches the carrier."}`),
			want: []string{`DOC_CHANGED a /fields/0/doc "\"…ted when it leaves the warehouse.\""->"\"…ted when it reaches the carrier.\"" safe`},
		},
		{
			name: "record renamed",
			old:  `{"type":"record","name":"a.Old","fields":[{"name":"x","type":"int"}]}`,
			new:  `{"type":"record","name":"a.New","fields":[{"name":"x","type":"int"}]}`,
			want: []string{`NAME_CHANGED  /name "a.Old"->"a.New" breaks-both`},
		},
		{
			name: "record renamed with an alias",
			old:  `{"type":"record","name":"a.Old","fields":[{"name":"x","type":"int"}]}`,
			new:  `{"type":"record","name":"a.New","aliases":["Old"],"fields":[{"name":"x","type":"int"}]}`,
			want: []string{
				`NAME_CHANGED  /name "a.Old"->"a.New" breaks-old-readers`,
				`ALIASES_CHANGED  /aliases ""->"[a.Old]" safe`,
			},
		},
		{
			name: "namespace moved: names compare unqualified",
			old:  `{"type":"record","name":"a.R","fields":[{"name":"x","type":"int"}]}`,
			new:  `{"type":"record","name":"b.R","fields":[{"name":"x","type":"int"}]}`,
			want: []string{`NAME_CHANGED  /name "a.R"->"b.R" safe`},
		},
		{
			name: "root type changed",
			old:  `"string"`,
			new:  `{"type":"record","name":"R","fields":[]}`,
			want: []string{`TYPE_CHANGED  / "string"->"R" breaks-both`},
		},
		{
			name: "recursive: a linked list grows a field",
			old:  `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`,
			new:  `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]},{"name":"w","type":"int"}]}`,
			want: []string{`FIELD_ADDED w /fields/2 ""->"int" breaks-new-readers`},
		},
		{
			name: "mutually recursive through a union and an array",
			old: `{"type":"record","name":"Tree","fields":[{"name":"kids","type":{"type":"array","items":"Tree"}},
				{"name":"leaf","type":["null",{"type":"record","name":"Leaf","fields":[{"name":"up","type":["null","Tree"]}]}]}]}`,
			new: `{"type":"record","name":"Tree","fields":[{"name":"kids","type":{"type":"array","items":"Tree"}},
				{"name":"leaf","type":["null",{"type":"record","name":"Leaf","fields":[{"name":"up","type":["null","Tree"]},{"name":"n","type":"int"}]}]},
				{"name":"size","type":"int"}]}`,
			want: []string{
				`FIELD_ADDED leaf.n /fields/1/type/1/fields/1 ""->"int" breaks-new-readers`,
				`FIELD_ADDED size /fields/2 ""->"int" breaks-new-readers`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, new := mustParse(t, "old", []byte(tc.old)), mustParse(t, "new", []byte(tc.new))
			var got []string
			for _, c := range compat.Diff(old, new, compat.Full) {
				got = append(got, line(c))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
			agrees(t, tc.name, old, new)
		})
	}
}

// agrees checks Diff against Check: some change breaks new readers exactly
// when the new schema cannot read old data, and likewise for old readers;
// no finding is left without a structural change to explain it.
func agrees(t *testing.T, id string, old, new *compat.Schema) {
	t.Helper()
	breaksNew, breaksOld := false, false
	changes := compat.Diff(old, new, compat.Backward)
	for _, c := range changes {
		breaksNew = breaksNew || c.Consequence == compat.BreaksNewReaders || c.Consequence == compat.BreaksBoth
		breaksOld = breaksOld || c.Consequence == compat.BreaksOldReaders || c.Consequence == compat.BreaksBoth
		if c.Kind == compat.ChangeIncompatibility {
			t.Errorf("%s: a finding no change explains: %+v", id, c)
		}
	}
	if want := !compat.Check(new, old).Compatible(); breaksNew != want {
		t.Errorf("%s: a change breaks new readers = %v, Check(new, old) incompatible = %v\n%v", id, breaksNew, want, changes)
	}
	if want := !compat.Check(old, new).Compatible(); breaksOld != want {
		t.Errorf("%s: a change breaks old readers = %v, Check(old, new) incompatible = %v\n%v", id, breaksOld, want, changes)
	}
}

// TestDiffAgreesWithCheck runs agrees on every pair of the resolution
// fixtures and of the shared conformance suite, both ways round.
func TestDiffAgreesWithCheck(t *testing.T) {
	type pairText struct{ id, a, b string }
	var pairs []pairText
	dirs, _ := filepath.Glob(filepath.Join("testdata", "resolution", "*"))
	for _, dir := range dirs {
		r, err1 := os.ReadFile(filepath.Join(dir, "reader.avsc"))
		w, err2 := os.ReadFile(filepath.Join(dir, "writer.avsc"))
		if err1 != nil || err2 != nil {
			continue
		}
		pairs = append(pairs, pairText{dir, string(w), string(r)})
	}
	if data, err := os.ReadFile(filepath.Join(conformanceDir, "vectors.json")); err == nil {
		var vs []pairVector
		if err := json.Unmarshal(data, &vs); err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			pairs = append(pairs, pairText{v.ID, string(v.Writer), string(v.Reader)})
		}
	}
	if len(pairs) < 40 {
		t.Fatalf("only %d pairs", len(pairs))
	}
	for _, p := range pairs {
		a, errA := compat.Parse([]byte(p.a))
		b, errB := compat.Parse([]byte(p.b))
		if errA != nil || errB != nil {
			continue
		}
		agrees(t, p.id, a, b)
		agrees(t, p.id+" (reversed)", b, a)
	}
	t.Logf("%d pairs", len(pairs))
}

func TestDiffLevel(t *testing.T) {
	old := mustParse(t, "old", []byte(rec(`{"name":"a","type":"int"},{"name":"b","type":"int"}`)))
	new := mustParse(t, "new", []byte(rec(`{"name":"a","type":"int"},{"name":"c","type":"int"}`)))
	for _, tc := range []struct {
		level         compat.Level
		breaks        []bool // FIELD_REMOVED b, FIELD_ADDED c
		notCheckedFor []bool
	}{
		{compat.Backward, []bool{false, true}, []bool{true, false}},
		{compat.ForwardTransitive, []bool{true, false}, []bool{false, true}},
		{compat.Full, []bool{true, true}, []bool{false, false}},
		{compat.None, []bool{false, false}, []bool{true, true}},
	} {
		changes := compat.Diff(old, new, tc.level)
		if len(changes) != 2 || changes[0].Consequence != compat.BreaksOldReaders || changes[1].Consequence != compat.BreaksNewReaders {
			t.Fatalf("%s: %v", tc.level, changes)
		}
		for i, c := range changes {
			if got := c.Consequence.Breaks(tc.level); got != tc.breaks[i] {
				t.Errorf("%s: %s Breaks = %v, want %v", tc.level, c.Kind, got, tc.breaks[i])
			}
			if got := strings.Contains(c.Detail, "not checked at "+string(tc.level)); got != tc.notCheckedFor[i] {
				t.Errorf("%s: %s detail %q: marked as not checked = %v, want %v", tc.level, c.Kind, c.Detail, got, tc.notCheckedFor[i])
			}
		}
	}
	for _, c := range []compat.Consequence{compat.Safe, compat.SemanticWarning} {
		if c.Breaks(compat.Full) {
			t.Errorf("%s breaks at FULL", c)
		}
	}
}

func TestDiffDetail(t *testing.T) {
	old := mustParse(t, "old", []byte(rec(`{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}}`)))
	new := mustParse(t, "new", []byte(rec(`{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":3}}`)))
	changes := compat.Diff(old, new, compat.Backward)
	if len(changes) != 1 || !strings.HasPrefix(changes[0].Detail, "DECIMAL_CHANGED: field amount: decimal(10,3) reads decimal(10,2)") {
		t.Errorf("got %+v", changes)
	}
}

func TestDiffNil(t *testing.T) {
	s := mustParse(t, "s", []byte(`"int"`))
	if got := compat.Diff(nil, s, compat.Backward); got != nil {
		t.Errorf("Diff(nil, s) = %v", got)
	}
}

// TestDiffSharedTypes: a type used in many places is not walked again at
// each, so widely shared types take linear time, as they do in Check.
func TestDiffSharedTypes(t *testing.T) {
	build := func(extra string) *compat.Schema {
		var b strings.Builder
		const depth = 40
		for k := depth; k > 0; k-- {
			fmt.Fprintf(&b, `{"type":"record","name":"T%d","fields":[{"name":"a","type":`, k)
		}
		b.WriteString(`{"type":"record","name":"T0","fields":[{"name":"x","type":"int"}]}`)
		for k := 1; k <= depth; k++ {
			fmt.Fprintf(&b, `},{"name":"b","type":"T%d"}`, k-1)
			if k == depth {
				b.WriteString(extra)
			}
			b.WriteString(`]}`)
		}
		return mustParse(t, "shared", []byte(b.String()))
	}
	old, new := build(""), build(`,{"name":"c","type":"int","default":0}`)
	changes := compat.Diff(old, new, compat.Full)
	if len(changes) != 1 || changes[0].Kind != compat.ChangeFieldAdded || changes[0].Field != "c" {
		t.Errorf("got %v", changes)
	}
}
