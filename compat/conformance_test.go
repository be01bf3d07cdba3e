package compat_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/internal/testenv"
)

// conformanceDir is the shared suite of reader/writer pairs and level cases
// gathered from Apache Avro, Confluent, Karapace and hamba/avro, each
// confirmed against Avro Java. CI clones the repository with shared/ beside it.
var conformanceDir = filepath.Join("..", "..", "shared", "conformance", "avro-compat")

func loadVectors[T any](t *testing.T, name string) []T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(conformanceDir, name))
	if err != nil {
		testenv.Missing(t, "conformance suite not found (%v); it lives in ../shared beside the repository", err)
	}
	var out []T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

type pairVector struct {
	ID         string          `json:"id"`
	Reader     json.RawMessage `json:"reader"`
	Writer     json.RawMessage `json:"writer"`
	Compatible bool            `json:"compatible"`
	Note       string          `json:"note"`
}

type levelVector struct {
	ID         string            `json:"id"`
	Level      string            `json:"level"`
	Existing   []json.RawMessage `json:"existing"`
	Candidate  json.RawMessage   `json:"candidate"`
	Compatible bool              `json:"compatible"`
	Note       string            `json:"note"`
}

func mustParse(t *testing.T, id string, text []byte) *compat.Schema {
	t.Helper()
	s, err := compat.Parse(text)
	if err != nil {
		t.Fatalf("%s: %v\n%s", id, err, text)
	}
	return s
}

func TestConformancePairs(t *testing.T) {
	vectors := loadVectors[pairVector](t, "vectors.json")
	failed := 0
	for _, v := range vectors {
		r := mustParse(t, v.ID, v.Reader)
		w := mustParse(t, v.ID, v.Writer)
		res := compat.Check(r, w)
		if res.Compatible() != v.Compatible {
			failed++
			t.Errorf("%s: compatible = %v, want %v (%s)\nreader: %s\nwriter: %s\nfindings: %v",
				v.ID, res.Compatible(), v.Compatible, v.Note, v.Reader, v.Writer, res.Incompatibilities)
		}
		if !res.Compatible() && len(res.Incompatibilities) == 0 {
			t.Errorf("%s: incompatible without a finding", v.ID)
		}
	}
	t.Logf("pairs: %d/%d agree with Avro Java", len(vectors)-failed, len(vectors))
}

func TestConformanceLevels(t *testing.T) {
	vectors := loadVectors[levelVector](t, "level_vectors.json")
	failed := 0
	for _, v := range vectors {
		level, err := compat.ParseLevel(v.Level)
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		var existing []*compat.Schema
		for _, e := range v.Existing {
			existing = append(existing, mustParse(t, v.ID, e))
		}
		res := compat.CheckLevel(level, mustParse(t, v.ID, v.Candidate), existing)
		if res.Compatible() != v.Compatible {
			failed++
			t.Errorf("%s (%s): compatible = %v, want %v (%s)\nfindings: %v", v.ID, v.Level, res.Compatible(), v.Compatible, v.Note, res.Incompatibilities)
		}
	}
	t.Logf("levels: %d/%d agree with Avro Java", len(vectors)-failed, len(vectors))
}

type divergentVector struct {
	ID     string          `json:"id"`
	Reader json.RawMessage `json:"reader"`
	Writer json.RawMessage `json:"writer"`
	// Java is Avro Java's answer; null where Java threw (an ambiguous field
	// alias match), which a registry reports as a failed check.
	Java   *bool  `json:"avro_java_checkReaderWriterCompatibility"`
	Detail string `json:"avro_java_detail"`
	Note   string `json:"note"`
}

// TestConformanceDivergent covers the pairs where Avro implementations disagree
// with each other. Java's answer is the reference.
func TestConformanceDivergent(t *testing.T) {
	for _, v := range loadVectors[divergentVector](t, "divergent_vectors.json") {
		if strings.HasPrefix(v.Detail, "reader parse:") || strings.HasPrefix(v.Detail, "writer parse:") {
			// Java rejects one of the schemas; so must we.
			_, errR := compat.Parse(v.Reader)
			_, errW := compat.Parse(v.Writer)
			if errR == nil && errW == nil {
				t.Errorf("%s: parsed both schemas, Java rejects one: %s", v.ID, v.Detail)
			}
			continue
		}
		want := v.Java != nil && *v.Java
		res := compat.Check(mustParse(t, v.ID, v.Reader), mustParse(t, v.ID, v.Writer))
		if res.Compatible() != want {
			t.Errorf("%s: compatible = %v, want Java's %v (%s)\nJava: %s\nours: %v", v.ID, res.Compatible(), want, v.Note, v.Detail, res.Incompatibilities)
		}
	}
}
