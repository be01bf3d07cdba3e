package root_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/waybill/waybill/internal/testenv"
)

// The shared conformance suite (../shared beside the repository), run through
// the command line as scripts and the registry use it: every pair through
// `compat pairs`, every level case through `compat level`.
var conformanceDir = filepath.Join("..", "..", "..", "..", "..", "shared", "conformance", "avro-compat")

func readVectors(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(conformanceDir, name))
	if err != nil {
		testenv.Missing(t, "conformance suite not found (%v); it lives in ../shared beside the repository", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func TestConformancePairsCommand(t *testing.T) {
	var vectors []struct {
		ID         string          `json:"id"`
		Reader     json.RawMessage `json:"reader"`
		Writer     json.RawMessage `json:"writer"`
		Compatible bool            `json:"compatible"`
	}
	readVectors(t, "vectors.json", &vectors)
	var in strings.Builder
	for i, v := range vectors {
		line, err := json.Marshal(map[string]json.RawMessage{"reader": v.Reader, "writer": v.Writer})
		if err != nil {
			t.Fatal(err)
		}
		in.Write(line)
		in.WriteByte('\n')
		if i == len(vectors)/2 {
			in.WriteString("{not json\n") // a bad line must not shift the answers
		}
	}
	code, stdout, stderr := waybill(t, in.String(), "compat", "pairs")
	if code != 1 || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 1 (some pairs are incompatible)", code, stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	var answers []map[string]any
	for sc.Scan() {
		var a map[string]any
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("output line %d is not JSON: %v", len(answers)+1, err)
		}
		answers = append(answers, a)
	}
	if len(answers) != len(vectors)+1 {
		t.Fatalf("%d output lines for %d input lines", len(answers), len(vectors)+1)
	}
	agree := 0
	for i, j := 0, 0; i < len(answers); i++ {
		if i == len(vectors)/2+1 {
			if _, ok := answers[i]["error"]; !ok {
				t.Errorf("line %d: want an error for the bad line, got %v", i+1, answers[i])
			}
			continue
		}
		v := vectors[j]
		j++
		got, ok := answers[i]["compatible"].(bool)
		if !ok {
			t.Errorf("%s: answer %v", v.ID, answers[i])
			continue
		}
		if got != v.Compatible {
			t.Errorf("%s: compatible = %v, want %v", v.ID, got, v.Compatible)
			continue
		}
		agree++
	}
	t.Logf("compat pairs: %d/%d agree with Avro Java", agree, len(vectors))
}

func TestConformanceLevelCommand(t *testing.T) {
	var vectors []struct {
		ID         string            `json:"id"`
		Level      string            `json:"level"`
		Existing   []json.RawMessage `json:"existing"`
		Candidate  json.RawMessage   `json:"candidate"`
		Compatible bool              `json:"compatible"`
	}
	readVectors(t, "level_vectors.json", &vectors)
	dir := t.TempDir()
	agree := 0
	for i, v := range vectors {
		write := func(name string, text []byte) string {
			path := filepath.Join(dir, fmt.Sprintf("%d-%s.avsc", i, name))
			if err := os.WriteFile(path, text, 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}
		args := []string{"compat", "level", "--level", v.Level, "--candidate", write("candidate", v.Candidate)}
		for k, e := range v.Existing {
			args = append(args, write("v"+strconv.Itoa(k+1), e))
		}
		code, _, stderr := waybill(t, "", args...)
		want := 1
		if v.Compatible {
			want = 0
		}
		if code != want {
			t.Errorf("%s (%s): exit %d, want %d; stderr %q", v.ID, v.Level, code, want, stderr)
			continue
		}
		agree++
	}
	t.Logf("compat level: %d/%d agree with Avro Java", agree, len(vectors))
}
