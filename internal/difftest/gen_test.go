package difftest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/waybill/waybill/internal/difftest"
)

func TestGenerateIsDeterministic(t *testing.T) {
	a := difftest.Generate(7, 200)
	b := difftest.Generate(7, 200)
	for i := range a {
		if a[i].Reader != b[i].Reader || a[i].Writer != b[i].Writer || strings.Join(a[i].Mutations, ",") != strings.Join(b[i].Mutations, ",") {
			t.Fatalf("pair %d differs between runs with the same seed:\n%s\n%s", i, a[i], b[i])
		}
	}
	c := difftest.Generate(8, 200)
	same := 0
	for i := range a {
		if a[i].Reader == c[i].Reader && a[i].Writer == c[i].Writer {
			same++
		}
	}
	if same > 20 {
		t.Errorf("seeds 7 and 8 give %d identical pairs of 200", same)
	}
}

// TestGenerateCoverage checks that the default pair set exercises every
// mutation, on both sides, and the schema features the brief asks for.
func TestGenerateCoverage(t *testing.T) {
	pairs := difftest.Generate(*seedFlag, *pairsFlag)
	if len(pairs) != *pairsFlag {
		t.Fatalf("got %d pairs, want %d", len(pairs), *pairsFlag)
	}
	used := map[string]int{}
	for _, p := range pairs {
		for _, m := range p.Mutations {
			used[m]++
		}
		for _, side := range []string{p.Reader, p.Writer} {
			if !json.Valid([]byte(side)) {
				t.Fatalf("pair %d: invalid JSON: %s", p.ID, side)
			}
		}
		var line map[string]json.RawMessage
		if err := json.Unmarshal(p.JSONLine(), &line); err != nil || len(line) != 2 {
			t.Fatalf("pair %d: JSONLine %s: %v", p.ID, p.JSONLine(), err)
		}
	}
	for _, m := range difftest.MutationNames() {
		for _, side := range []string{"reader", "writer"} {
			if used[side+": "+m] == 0 {
				t.Errorf("mutation %s never applied to the %s", m, side)
			}
		}
	}
	all := func(p difftest.Pair) string { return p.Reader + p.Writer }
	features := []struct {
		name string
		has  func(difftest.Pair) bool
	}{
		{"nested record", func(p difftest.Pair) bool { return strings.Count(all(p), `"type":"record"`) >= 4 }},
		{"enum with default", func(p difftest.Pair) bool {
			return strings.Contains(all(p), `"type":"enum"`) && strings.Contains(all(p), `],"default":"`)
		}},
		{"fixed", func(p difftest.Pair) bool { return strings.Contains(all(p), `"type":"fixed"`) }},
		{"array", func(p difftest.Pair) bool { return strings.Contains(all(p), `"type":"array"`) }},
		{"map", func(p difftest.Pair) bool { return strings.Contains(all(p), `"type":"map"`) }},
		{"nullable union", func(p difftest.Pair) bool { return strings.Contains(all(p), `["null",`) }},
		{"decimal", func(p difftest.Pair) bool { return strings.Contains(all(p), `"logicalType":"decimal"`) }},
		{"timestamp", func(p difftest.Pair) bool { return strings.Contains(all(p), `"logicalType":"timestamp-m`) }},
		{"namespace", func(p difftest.Pair) bool { return strings.Contains(all(p), `"namespace":`) }},
		{"full name as name", func(p difftest.Pair) bool { return strings.Contains(all(p), `"name":"com.acme.`) }},
		{"type alias", func(p difftest.Pair) bool {
			return strings.Contains(all(p), `"type":"record","name":`) && strings.Contains(all(p), `"aliases":`)
		}},
		{"recursive record", func(p difftest.Pair) bool { return strings.Contains(all(p), `"name":"Node"`) }},
	}
	for _, f := range features {
		n := 0
		for _, p := range pairs {
			if f.has(p) {
				n++
			}
		}
		if n < 20 {
			t.Errorf("only %d pairs with %s", n, f.name)
		}
	}
}
