package catalog_test

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"

	"github.com/waybill/waybill/pkg/catalog"
)

// FuzzLoad loads the good fixture with catalog.yaml and one schema replaced
// by fuzzed text. Load must not panic, and must report problems or load.
func FuzzLoad(f *testing.F) {
	base := fstest.MapFS{}
	root := os.DirFS("testdata/good")
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, p)
		base[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	const schema = "orders/OrderCreated/v2.avsc"
	for _, dir := range []string{"good", "bad-catalog", "pins", "yaml-syntax", "bad-json", "missing-key"} {
		yml, _ := os.ReadFile("testdata/" + dir + "/catalog.yaml")
		avsc, _ := os.ReadFile("testdata/" + dir + "/" + schema)
		f.Add(yml, avsc)
	}
	f.Add([]byte("topics: &t {a: *t}\nevents: *t\n"), []byte(`{"type": [`))
	f.Fuzz(func(t *testing.T, yml, avsc []byte) {
		fsys := fstest.MapFS{}
		for k, v := range base {
			fsys[k] = v
		}
		fsys["catalog.yaml"] = &fstest.MapFile{Data: yml}
		fsys[schema] = &fstest.MapFile{Data: avsc}
		c, err := catalog.Load(fsys)
		if c == nil {
			t.Fatal("nil catalog")
		}
		if err != nil {
			var ps catalog.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %T %v, want non-empty Problems", err, err)
			}
		}
	})
}
