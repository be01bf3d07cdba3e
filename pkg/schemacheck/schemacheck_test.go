package schemacheck_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/schemacheck"
)

// baseFiles reads testdata/schemas into a map of file name to text.
func baseFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := filepath.Join("testdata", "schemas")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		text, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// load loads files as a tree.
func load(t *testing.T, files map[string]string) schemacheck.Tree {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	tree, err := schemacheck.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// replace returns text with old replaced by new, failing if old is absent.
func replace(t *testing.T, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("replace: %q not in %q", old, text)
	}
	return strings.Replace(text, old, new, 1)
}

const (
	v1   = "orders/OrderCreated/v1.avsc"
	v2   = "orders/OrderCreated/v2.avsc"
	v3   = "orders/OrderCreated/v3.avsc"
	cat  = "catalog.yaml"
	addr = "common/Address/v1.avsc"
)

// v3With returns v2's text with extra fields appended.
func v3With(t *testing.T, files map[string]string, fields string) string {
	return replace(t, files[v2], `"doc": "Where to deliver."}`, `"doc": "Where to deliver."},
    `+fields)
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		// edit changes the head tree (a copy of the base).
		edit func(t *testing.T, f map[string]string)
		// noBase checks the edited tree on its own.
		noBase bool
		// want is "file rule path" per finding, in report order.
		want   []string
		passed bool
	}{
		{
			name:   "unchanged",
			edit:   func(*testing.T, map[string]string) {},
			passed: true,
		},
		{
			name: "compatible new version",
			edit: func(t *testing.T, f map[string]string) {
				f[v3] = v3With(t, f, `{"name": "note", "type": ["null", "string"], "default": null, "doc": "A note."}`)
			},
			passed: true,
		},
		{
			name: "incompatible new version",
			edit: func(t *testing.T, f map[string]string) {
				f[v3] = v3With(t, f, `{"name": "priority", "type": "int", "doc": "How urgent."}`)
			},
			want: []string{v3 + " READER_FIELD_MISSING_DEFAULT_VALUE /fields/4"},
		},
		{
			name: "new version changes a type",
			edit: func(t *testing.T, f map[string]string) {
				f[v3] = replace(t, f[v2], `"name": "customer_id", "type": "string"`, `"name": "customer_id", "type": "int"`)
			},
			want: []string{v3 + " TYPE_MISMATCH /fields/1/type"},
		},
		{
			name: "modified published version",
			edit: func(t *testing.T, f map[string]string) {
				f[v1] = replace(t, f[v1], `"name": "quantity", "type": "int"`, `"name": "quantity", "type": "long"`)
			},
			want: []string{v1 + " VERSION_MODIFIED /fields/2/type"},
		},
		{
			name: "default added to a published version",
			edit: func(t *testing.T, f map[string]string) {
				f[v1] = replace(t, f[v1], `"type": "int", "doc": "How many units."`, `"type": "int", "default": 1, "doc": "How many units."`)
			},
			want: []string{v1 + " VERSION_MODIFIED /fields/2/default"},
		},
		{
			name: "doc-only change and reformatting",
			edit: func(t *testing.T, f map[string]string) {
				text := replace(t, f[v1], `"doc": "A customer placed an order."`, `"doc": "A customer placed an order, in more words."`)
				text = replace(t, text, `"doc": "Who ordered."`, `"doc": "The customer who ordered."`)
				f[v1] = strings.ReplaceAll(text, "\n", "\n\n")
			},
			passed: true,
		},
		{
			name: "removed version",
			edit: func(t *testing.T, f map[string]string) { delete(f, v2) },
			want: []string{v2 + " VERSION_REMOVED "},
		},
		{
			name: "removed event type",
			edit: func(t *testing.T, f map[string]string) {
				delete(f, "orders/OrderCancelled/v1.avsc")
				f[cat], _, _ = strings.Cut(f[cat], "  waybill.orders.OrderCancelled:")
			},
			want: []string{"orders/OrderCancelled/v1.avsc EVENT_REMOVED "},
		},
		{
			name: "new event type is linted",
			edit: func(t *testing.T, f map[string]string) {
				f[cat] += `
  waybill.orders.OrderShipped:
    topic: order-events
    key: order_id
    owner: orders-team
    producers: [order-service]
    description: An order left the warehouse.
`
				f["orders/OrderShipped/v1.avsc"] = `{
  "type": "record",
  "name": "OrderShipped",
  "namespace": "waybill.orders",
  "doc": "An order left the warehouse.",
  "fields": [
    {"name": "order_id", "type": "string", "doc": "The order."},
    {"name": "carrierName", "type": "string"}
  ]
}
`
			},
			want: []string{
				"orders/OrderShipped/v1.avsc FIELD_DOC /fields/1",
				"orders/OrderShipped/v1.avsc FIELD_SNAKE_CASE /fields/1/name",
			},
		},
		{
			name: "invalid JSON in the change",
			edit: func(t *testing.T, f map[string]string) {
				f[v3] = replace(t, f[v2], `"doc": "The order."},`, `"doc": "The order."}`)
			},
			want: []string{v3 + " INVALID_SCHEMA "},
		},
		{
			name: "relaxed level is a warning",
			edit: func(t *testing.T, f map[string]string) {
				f[cat] = replace(t, f[cat], "    description: A customer placed an order.\n", "    description: A customer placed an order.\n    compatibility: BACKWARD\n")
			},
			want:   []string{v2 + " LEVEL_RELAXED "},
			passed: true,
		},
		{
			name: "shared type at FULL_TRANSITIVE",
			edit: func(t *testing.T, f map[string]string) {
				f["common/Address/v2.avsc"] = replace(t, f[addr], `{"name": "city", "type": "string", "doc": "City."},`, ``)
			},
			// Readers of v1 need the city that v2 no longer writes; the path
			// is in v1.
			want: []string{"common/Address/v2.avsc READER_FIELD_MISSING_DEFAULT_VALUE /fields/1"},
		},
		{
			name:   "no base: the tree on its own",
			noBase: true,
			edit: func(t *testing.T, f map[string]string) {
				f[v2] = replace(t, f[v2], `"type": "long", "doc": "How many units."`, `"type": "string", "doc": "How many units."`)
			},
			want: []string{v2 + " TYPE_MISMATCH /fields/2/type"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := baseFiles(t)
			base := load(t, files)
			tt.edit(t, files)
			head := load(t, files)
			if tt.noBase {
				base = schemacheck.Tree{}
			}
			r := schemacheck.Compare(base, head)

			var got []string
			for _, f := range r.Findings {
				got = append(got, f.File+" "+f.Rule+" "+f.Path)
				if f.Hint == "" || f.Message == "" || f.Severity == "" {
					t.Errorf("finding %+v: want a message, a hint and a severity", f)
				}
				// Removals have no place in a file; a finding in the forward
				// direction has its path in the older version.
				located := f.Rule != "EVENT_REMOVED" && f.Rule != "VERSION_REMOVED" && f.Rule != "LEVEL_RELAXED" &&
					!strings.Contains(f.Message, "the path is in")
				if located && f.Line == 0 {
					t.Errorf("finding %+v: want a line", f)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s\nreport:\n%s", diff, text(r))
			}
			if r.Passed() != tt.passed {
				t.Errorf("Passed() = %v, want %v", r.Passed(), tt.passed)
			}
		})
	}
}

func TestCompareLocatesFindings(t *testing.T) {
	files := baseFiles(t)
	base := load(t, files)
	files[v3] = v3With(t, files, `{"name": "priority", "type": "int", "doc": "How urgent."}`)
	files[v1] = replace(t, files[v1], `"name": "quantity", "type": "int"`, `"name": "quantity", "type": "long"`)
	r := schemacheck.Compare(base, load(t, files))
	want := []schemacheck.Finding{
		{File: v1, Line: 9, Column: 34, Path: "/fields/2/type", Rule: "VERSION_MODIFIED"},
		{File: v3, Line: 11, Column: 5, Path: "/fields/4", Rule: "READER_FIELD_MISSING_DEFAULT_VALUE", Against: v1},
	}
	opt := cmp.FilterPath(func(p cmp.Path) bool {
		switch p.Last().String() {
		case ".Message", ".Hint", ".Severity", ".Event":
			return true
		}
		return false
	}, cmp.Ignore())
	if diff := cmp.Diff(want, r.Findings, opt); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if msg := r.Findings[1].Message; !strings.Contains(msg, "v3 cannot read data written with v1, v2") {
		t.Errorf("message %q: want the versions it fails against", msg)
	}
}

func TestLint(t *testing.T) {
	files := baseFiles(t)
	files[v1] = replace(t, files[v1], `"doc": "Who ordered."`, `"doc": ""`)
	files["orders/OrderCancelled/v1.avsc"] = "{\n  \"type\": \"record\",\n  oops\n}\n"
	r := schemacheck.Lint(load(t, files))
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.File+" "+f.Rule+" "+f.Path)
	}
	want := []string{
		"orders/OrderCancelled/v1.avsc INVALID_SCHEMA ",
		v1 + " FIELD_DOC /fields/1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if f := r.Findings[0]; f.Line != 3 || f.Column == 0 {
		t.Errorf("invalid JSON at %d:%d, want line 3", f.Line, f.Column)
	}
}

func text(r *schemacheck.Report) string {
	var b strings.Builder
	_ = r.Write(&b, schemacheck.Text)
	return b.String()
}

func TestChecked(t *testing.T) {
	files := baseFiles(t)
	base := load(t, files)
	files[v3] = v3With(t, files, `{"name": "priority", "type": "int", "doc": "How urgent."}`)
	r := schemacheck.Compare(base, load(t, files))
	want := []schemacheck.Checked{
		{Event: "waybill.orders.OrderCancelled", Level: "BACKWARD_TRANSITIVE", Versions: 1},
		{Event: "waybill.orders.OrderCreated", Level: "BACKWARD_TRANSITIVE", Versions: 3, New: []int{3}, Findings: 1},
		{Event: "waybill.common.Address", Level: "FULL_TRANSITIVE", Versions: 1},
	}
	if diff := cmp.Diff(want, r.Checked); diff != "" {
		t.Errorf("Checked (-want +got):\n%s", diff)
	}
	out := text(r)
	for _, s := range []string{"waybill.orders.OrderCreated    BACKWARD_TRANSITIVE  3 versions, new: v3  1 finding\n", "failed: 1 error, 0 warnings (3 event types, 5 versions)\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("text report does not contain %q:\n%s", s, out)
		}
	}
}
