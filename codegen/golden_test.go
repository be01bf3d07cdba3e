package codegen_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/codegen"
	"github.com/waybill/waybill/pkg/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The golden cases: a schemas directory under testdata, and the directory of
// Go packages it generates. The kitchen case's output is compiled (it is a
// package of this module, tested in codegen/internal/kitchen), so the golden
// files are known to build.
var goldenCases = []struct {
	name, schemas, out, importPath string
	noKafka                        bool // codegen's own packages never import the Kafka runtime
}{
	{"kitchen", "testdata/kitchen", "internal/kitchen", "github.com/waybill/waybill/codegen/internal/kitchen", true},
	// schemas/ itself: the committed pkg/events is its golden output, so a
	// schema change without `make generate` fails here as in CI.
	{"schemas", "../schemas", "../pkg/events", codegen.DefaultImportPath, false},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := catalog.Load(os.DirFS(tc.schemas))
			if err != nil {
				t.Fatal(err)
			}
			files, err := codegen.Generate(c, codegen.Config{ImportPath: tc.importPath, NoKafka: tc.noKafka})
			if err != nil {
				t.Fatal(err)
			}
			for p, got := range files {
				path := filepath.Join(tc.out, filepath.FromSlash(p))
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil { //nolint:gosec // source file
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("%s: %v (run go test ./codegen -update)", p, err)
					continue
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s differs from %s (-want +got; go test ./codegen -update rewrites it):\n%s", p, path, diff)
				}
			}
			// Every generated file on disk is one Generate writes.
			dirs, _ := filepath.Glob(filepath.Join(tc.out, "*", "*.go"))
			for _, path := range dirs {
				rel, _ := filepath.Rel(tc.out, path)
				data, _ := os.ReadFile(path)
				if _, ok := files[filepath.ToSlash(rel)]; !ok && bytes.HasPrefix(data, []byte(codegen.Header)) {
					t.Errorf("%s: generated file Generate no longer writes", path)
				}
			}
		})
	}
}

// TestDeterministic generates twice and compares the bytes, and checks the
// conventions every generated file keeps.
func TestDeterministic(t *testing.T) {
	for _, tc := range goldenCases {
		c, err := catalog.Load(os.DirFS(tc.schemas))
		if err != nil {
			t.Fatal(err)
		}
		a, err := codegen.Generate(c, codegen.Config{})
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := catalog.Load(os.DirFS(tc.schemas))
		b, err := codegen.Generate(c2, codegen.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(a, b) {
			t.Errorf("%s: two runs differ", tc.name)
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range a {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			if !strings.HasPrefix(string(a[k]), codegen.Header+"\n// Regenerate with ") {
				t.Errorf("%s: does not start with the header", k)
			}
		}
	}
}
