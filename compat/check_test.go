package compat_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/compat"
)

// TestResolutionCases runs one fixture per schema-resolution case of the Avro
// specification: testdata/resolution/<case>/{reader,writer}.avsc and want.txt,
// which lists "RULE PATH" per incompatibility, "warn RULE PATH" per warning,
// or "compatible".
func TestResolutionCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "resolution", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			reader := parseFile(t, filepath.Join(dir, "reader.avsc"))
			writer := parseFile(t, filepath.Join(dir, "writer.avsc"))
			want, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				t.Fatal(err)
			}
			res := compat.Check(reader, writer)
			var got []string
			for _, f := range res.Incompatibilities {
				got = append(got, f.Rule+" "+f.Path)
				if f.Message == "" {
					t.Errorf("%s at %s has no message", f.Rule, f.Path)
				}
			}
			for _, f := range res.Warnings {
				got = append(got, "warn "+f.Rule+" "+f.Path)
			}
			if len(got) == 0 {
				got = []string{"compatible"}
			}
			wantLines := strings.Split(strings.TrimSpace(string(want)), "\n")
			sort.Strings(got)
			sort.Strings(wantLines)
			if diff := cmp.Diff(wantLines, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s\n%v %v", diff, res.Incompatibilities, res.Warnings)
			}
		})
	}
}

func parseFile(t *testing.T, path string, refs ...*compat.Schema) *compat.Schema {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := compat.Parse(data, refs...)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

func mustParseString(t *testing.T, text string, refs ...*compat.Schema) *compat.Schema {
	t.Helper()
	s, err := compat.Parse([]byte(text), refs...)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return s
}

func TestFindingMessagesNameFields(t *testing.T) {
	r := mustParseString(t, `{"type":"record","name":"Order","fields":[
		{"name":"shipping","type":{"type":"record","name":"Address","fields":[{"name":"zip","type":"int"}]}}]}`)
	w := mustParseString(t, `{"type":"record","name":"Order","fields":[
		{"name":"shipping","type":{"type":"record","name":"Address","fields":[{"name":"zip","type":"string"}]}}]}`)
	res := compat.Check(r, w)
	if len(res.Incompatibilities) != 1 {
		t.Fatalf("want one finding, got %v", res.Incompatibilities)
	}
	f := res.Incompatibilities[0]
	if f.Path != "/fields/0/type/fields/0/type" || !strings.Contains(f.Message, "shipping.zip") {
		t.Errorf("finding %+v: want path /fields/0/type/fields/0/type and field shipping.zip in the message", f)
	}
}

func TestCheckLevel(t *testing.T) {
	v1 := mustParseString(t, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`)
	v2 := mustParseString(t, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}`)
	// v3 drops b (fine backward) and adds c without a default: cannot read v1 or v2.
	v3 := mustParseString(t, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"long"}]}`)
	// v4 reads v2 but not v1: it needs b without a default.
	v4 := mustParseString(t, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}`)
	type hit struct {
		Version   int
		Direction compat.Direction
		Rule      string
	}
	tests := []struct {
		level     compat.Level
		candidate *compat.Schema
		want      []hit
	}{
		{compat.Backward, v4, nil},
		{compat.BackwardTransitive, v4, []hit{{1, compat.ReadsOld, compat.ReaderFieldMissingDefaultValue}}},
		{compat.Backward, v3, []hit{{2, compat.ReadsOld, compat.ReaderFieldMissingDefaultValue}}},
		{compat.Forward, v3, nil}, // v2 reads v3: b has a default, c is ignored
		{compat.ForwardTransitive, v3, nil},
		{compat.Full, v3, []hit{{2, compat.ReadsOld, compat.ReaderFieldMissingDefaultValue}}},
		{compat.FullTransitive, v3, []hit{
			{1, compat.ReadsOld, compat.ReaderFieldMissingDefaultValue},
			{2, compat.ReadsOld, compat.ReaderFieldMissingDefaultValue},
		}},
		{compat.Forward, v4, nil},
		{compat.None, v3, nil},
	}
	for _, tt := range tests {
		res := compat.CheckLevel(tt.level, tt.candidate, []*compat.Schema{v1, v2})
		var got []hit
		for _, f := range res.Incompatibilities {
			got = append(got, hit{f.Version, f.Direction, f.Rule})
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tt.level, diff)
		}
	}
	if res := compat.CheckLevel(compat.FullTransitive, v3, nil); !res.Compatible() {
		t.Errorf("a first version is compatible at every level, got %v", res.Incompatibilities)
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range compat.Levels() {
		got, err := compat.ParseLevel(strings.ToLower(string(l)))
		if err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %q, %v", strings.ToLower(string(l)), got, err)
		}
	}
	if _, err := compat.ParseLevel("SIDEWAYS"); err == nil {
		t.Error("ParseLevel accepted SIDEWAYS")
	}
}
