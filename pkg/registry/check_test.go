package registry_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/schemacheck"
)

func check(t *testing.T, c *registry.Client, dir string) *schemacheck.Report {
	t.Helper()
	head, err := schemacheck.Load(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	r, err := registry.Check(context.Background(), c, head)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// findings summarizes a report: "severity RULE file path", once each (a
// registry may say the same thing in one message or in several).
func findings(r *schemacheck.Report) []string {
	var out []string
	for _, f := range r.Findings {
		s := fmt.Sprintf("%s %s %s %s", f.Severity, f.Rule, f.File, f.Path)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func TestCheck(t *testing.T) {
	note := `{"name": "note", "type": ["null", "string"], "default": null, "doc": "A note."}`
	priority := `{"name": "priority", "type": "int", "doc": "How urgent."}`
	tests := []struct {
		name string
		// registry is done to the registry after the first push, change to
		// the repository.
		registry func(t *testing.T, c *registry.Client)
		change   func(t *testing.T, dir string)
		findings []string
		// messages must each be in some finding's message.
		messages []string
		new      []int // the new versions of OrderCreated
	}{
		{
			name:   "in sync",
			change: func(*testing.T, string) {},
		},
		{
			name:   "compatible new version",
			change: func(t *testing.T, dir string) { write(t, dir, created+"v3.avsc", v3(t, dir, note)) },
			new:    []int{3},
		},
		{
			name:   "incompatible new version: compat and the registry both say so",
			change: func(t *testing.T, dir string) { write(t, dir, created+"v3.avsc", v3(t, dir, priority)) },
			findings: []string{
				"error REGISTRY_INCOMPATIBLE " + created + "v3.avsc ",
				"error READER_FIELD_MISSING_DEFAULT_VALUE " + created + "v3.avsc /fields/4",
			},
			messages: []string{
				"compat: BACKWARD_TRANSITIVE: v3 cannot read data written with v1, v2",
				"registry (BACKWARD_TRANSITIVE): ",
			},
			new: []int{3},
		},
		{
			name: "two new versions: the second checked by compat only",
			change: func(t *testing.T, dir string) {
				write(t, dir, created+"v3.avsc", v3(t, dir, note))
				write(t, dir, created+"v4.avsc", strings.Replace(v3(t, dir, note), lastDoc, lastDoc+",\n    "+priority, 1))
			},
			findings: []string{"error READER_FIELD_MISSING_DEFAULT_VALUE " + created + "v4.avsc /fields/4"},
			messages: []string{"compat: BACKWARD_TRANSITIVE: v4 cannot read data written with v1, v2, v3"},
			new:      []int{3, 4},
		},
		{
			name: "the registry checks at another level, and disagrees",
			registry: func(t *testing.T, c *registry.Client) {
				if err := c.SetCompatibility(context.Background(), createdSubject, "NONE"); err != nil {
					t.Fatal(err)
				}
			},
			change: func(t *testing.T, dir string) { write(t, dir, created+"v3.avsc", v3(t, dir, priority)) },
			findings: []string{
				"warning REGISTRY_DISAGREEMENT " + created + "v3.avsc ",
				"warning REGISTRY_LEVEL " + created + "v3.avsc ",
				"error READER_FIELD_MISSING_DEFAULT_VALUE " + created + "v3.avsc /fields/4",
			},
			messages: []string{
				"compat finds version 3 incompatible at BACKWARD_TRANSITIVE, the registry finds it compatible at NONE: they check at different levels",
				"is checked at NONE in the registry; the catalog says BACKWARD_TRANSITIVE",
			},
			new: []int{3},
		},
		{
			name: "drift",
			change: func(t *testing.T, dir string) {
				edit(t, dir, created+"v1.avsc", `"name": "quantity", "type": "int"`, `"name": "quantity", "type": "long"`)
			},
			findings: []string{"error REGISTRY_DRIFT " + created + "v1.avsc /fields/2/type"},
			messages: []string{"registry: version 1 of " + createdSubject + " (ID ", "differs from this file: its schema differs (Parsing Canonical Form) at /fields/2/type"},
		},
		{
			name: "version beyond the repository",
			registry: func(t *testing.T, c *registry.Client) {
				dir := schemas(t)
				if _, err := c.Register(context.Background(), createdSubject, v3(t, dir, note), []registry.Reference{{Name: "waybill.common.Address", Subject: addressSubject, Version: 1}}); err != nil {
					t.Fatal(err)
				}
			},
			change:   func(*testing.T, string) {},
			findings: []string{"error REGISTRY_DRIFT " + created + "v2.avsc "},
			messages: []string{"registry: version 3 of " + createdSubject + " (ID ", "is not in the repository, which has 2 versions"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newRegistry(t)
			dir := schemas(t)
			push(t, c, dir)
			if tt.registry != nil {
				tt.registry(t, c)
			}
			tt.change(t, dir)
			r := check(t, c, dir)
			if diff := cmp.Diff(tt.findings, findings(r)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			for _, m := range tt.messages {
				if !slices.ContainsFunc(r.Findings, func(f schemacheck.Finding) bool { return strings.Contains(f.Message, m) }) {
					t.Errorf("no finding says %q; findings:\n%s", m, messages(r))
				}
			}
			var gotNew []int
			for _, ch := range r.Checked {
				if ch.Event == "waybill.orders.OrderCreated" {
					gotNew = ch.New
				}
			}
			if !cmp.Equal(tt.new, gotNew) {
				t.Errorf("new versions of OrderCreated = %v, want %v", gotNew, tt.new)
			}
		})
	}
}

func TestCheckEmptyRegistry(t *testing.T) {
	c := newRegistry(t)
	r := check(t, c, "testdata/schemas")
	if !r.Passed() || len(r.Findings) != 0 {
		t.Errorf("against an empty registry: %v", findings(r))
	}
	if want := "3 event types, 4 versions against registry:" + c.URL() + "; new versions: 4 checked by compat, 3 of them also by the registry"; r.Subject != want {
		t.Errorf("subject = %q, want %q", r.Subject, want)
	}
}

func messages(r *schemacheck.Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString("  " + f.Rule + ": " + f.Message + "\n")
	}
	return b.String()
}
