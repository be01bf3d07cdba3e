package compat_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/waybill/waybill/compat"
)

// seedSchemas adds the resolution fixtures and a few tricky texts to a fuzz
// corpus.
func seedSchemas(f *testing.F, add func(text []byte)) {
	files, _ := filepath.Glob(filepath.Join("testdata", "resolution", "*", "*.avsc"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			add(data)
		}
	}
	for _, s := range []string{
		`"int"`, `["null","string"]`, `{"type":"array","items":{"type":"map","values":"long"}}`,
		`{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"],"default":null}]}`,
		`{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}`,
		`{"type":"fixed","name":"F","size":16,"logicalType":"decimal","precision":38}`,
		`{"type":{"type":"string"}}`, `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":{"x":[1,2]}}]}`,
	} {
		add([]byte(s))
	}
}

// FuzzParse checks that no input makes the parser panic, and that every
// schema it accepts survives a round trip through String and is compatible
// with itself.
func FuzzParse(f *testing.F) {
	seedSchemas(f, func(text []byte) { f.Add(text) })
	f.Fuzz(func(t *testing.T, text []byte) {
		s, err := compat.Parse(text)
		if err != nil {
			return
		}
		again, err := compat.Parse([]byte(s.String()))
		if err != nil {
			t.Fatalf("String() of a parsed schema does not parse: %v\n%s", err, s.String())
		}
		if again.Canonical() != s.Canonical() {
			t.Fatalf("round trip changed the canonical form:\n%s\n%s", s.Canonical(), again.Canonical())
		}
		if res := compat.Check(s, s); !res.Compatible() {
			t.Fatalf("a schema cannot read itself: %v\n%s", res.Incompatibilities, text)
		}
		_ = s.Fingerprint()
	})
}

// FuzzCheck checks that checking any two schemas terminates without a panic,
// at every level, and that an incompatible answer always comes with findings.
func FuzzCheck(f *testing.F) {
	var seeds [][]byte
	seedSchemas(f, func(text []byte) { seeds = append(seeds, text) })
	for i := range seeds {
		f.Add(seeds[i], seeds[(i+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		r, err1 := compat.Parse(a)
		w, err2 := compat.Parse(b)
		if err1 != nil || err2 != nil {
			return
		}
		res := compat.Check(r, w)
		if res.Compatible() != (len(res.Incompatibilities) == 0) {
			t.Fatal("Compatible disagrees with the findings")
		}
		for _, fd := range res.Incompatibilities {
			if fd.Path == "" || fd.Path[0] != '/' || fd.Message == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
		}
		for _, l := range compat.Levels() {
			_ = compat.CheckLevel(l, r, []*compat.Schema{w, r})
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatal(err)
		}
	})
}
