package root_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waybill/waybill/cmd/waybill/internal/root"
)

// waybill runs the command line in-process.
func waybill(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = root.Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// checkStderr checks the contract of exit code 2: one line, "waybill: ...";
// nothing on stderr otherwise.
func checkStderr(t *testing.T, code int, stderr string) {
	t.Helper()
	if code != 2 {
		if stderr != "" {
			t.Errorf("exit %d with stderr %q", code, stderr)
		}
		return
	}
	if !strings.HasPrefix(stderr, "waybill: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("exit 2: stderr = %q, want one line starting with \"waybill: \"", stderr)
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, ".go:") {
		t.Errorf("exit 2: stderr looks like a stack trace: %q", stderr)
	}
}

const (
	schemas = "testdata/schemas"
	pair    = "testdata/pair/"
)

func TestCommands(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		// stdout and stderr must contain these.
		stdout, stderr []string
	}{
		{name: "help", args: []string{"--help"}, code: 0, stdout: []string{"compat", "lint"}},
		{name: "compat help", args: []string{"compat", "--help"}, code: 0, stdout: []string{"check", "pair", "pairs", "level"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`}},
		{name: "unknown compat command", args: []string{"compat", "frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate" for "waybill compat"`}},
		{name: "unknown flag", args: []string{"lint", "--nope"}, code: 2, stderr: []string{"--nope"}},
		{name: "extra argument", args: []string{"lint", "x"}, code: 2, stderr: []string{`unexpected argument "x"`}},
		{name: "unknown format", args: []string{"lint", "--schemas", schemas, "--format", "yaml"}, code: 2, stderr: []string{"--format"}},
		{name: "lint rules", args: []string{"lint", "--list-rules"}, code: 0, stdout: []string{"FIELD_SNAKE_CASE", "STYLE", "UNION_NULLABLE_ONLY"}},
		{name: "lint rules json", args: []string{"lint", "--list-rules", "--format", "json"}, code: 0, stdout: []string{`"id": "MONEY_NOT_FLOAT"`, `"default": true`}},
		{name: "lint rules markdown", args: []string{"lint", "--list-rules", "--format", "markdown"}, code: 2, stderr: []string{"want text or json"}},

		{name: "lint", args: []string{"lint", "--schemas", schemas}, code: 0, stdout: []string{"passed: no findings"}},
		{name: "lint json", args: []string{"lint", "--schemas", schemas, "--format", "json"}, code: 0, stdout: []string{`"passed":true`}},
		{name: "lint missing directory", args: []string{"lint", "--schemas", "testdata/nope"}, code: 2, stderr: []string{`schemas directory "testdata/nope"`}},

		{name: "check the tree on its own", args: []string{"compat", "check", "--schemas", schemas}, code: 0, stdout: []string{"3 event types, 4 versions checked on their own"}},
		{name: "check against a directory", args: []string{"compat", "check", "--schemas", schemas, "--against", "dir:" + schemas}, code: 0},
		{name: "check against a checkout", args: []string{"compat", "check", "--schemas", schemas, "--against", "dir:testdata"}, code: 0},
		{name: "check against a missing directory", args: []string{"compat", "check", "--schemas", schemas, "--against", "dir:testdata/nope"}, code: 2, stderr: []string{"testdata/nope"}},
		{name: "check against an unreachable registry", args: []string{"compat", "check", "--schemas", schemas, "--against", "registry:http://127.0.0.1:1"}, code: 2, stderr: []string{"cannot reach"}},
		{name: "check against what", args: []string{"compat", "check", "--schemas", schemas, "--against", "svn:trunk"}, code: 2, stderr: []string{`unknown kind "svn"`}},
		{name: "check against nothing", args: []string{"compat", "check", "--schemas", schemas, "--against", "git:"}, code: 2, stderr: []string{"want git:REF"}},
		{name: "check outside a repository", args: []string{"compat", "check", "--schemas", schemas, "--against", "git:main"}, code: 2},

		{name: "pair compatible", args: []string{"compat", "pair", "--reader", pair + "v2.avsc", "--writer", pair + "v1.avsc"}, code: 0, stdout: []string{"passed"}},
		{name: "pair warning passes", args: []string{"compat", "pair", "--reader", pair + "ts-micros.avsc", "--writer", pair + "ts-millis.avsc"}, code: 0, stdout: []string{"warning TIMESTAMP_UNIT_CHANGED at /fields/0/type"}},
		{name: "pair warning fails when asked", args: []string{"compat", "pair", "--fail-on-warnings", "--reader", pair + "ts-micros.avsc", "--writer", pair + "ts-millis.avsc"}, code: 1, stdout: []string{"TIMESTAMP_UNIT_CHANGED"}},
		{
			name: "pair incompatible", args: []string{"compat", "pair", "--reader", pair + "v3-bad.avsc", "--writer", pair + "v2.avsc"}, code: 1,
			stdout: []string{pair + "v3-bad.avsc:4:3: error READER_FIELD_MISSING_DEFAULT_VALUE at /fields/2", "hint: give the new field a default"},
		},
		{
			name: "pair incompatible, github", args: []string{"compat", "pair", "--reader", pair + "v1.avsc", "--writer", pair + "v2.avsc", "--format", "github"}, code: 1,
			stdout: []string{"::error file=" + pair + "v1.avsc,line=3,col=27,title=TYPE_MISMATCH at /fields/1/type::"},
		},
		{name: "pair invalid schema", args: []string{"compat", "pair", "--reader", pair + "invalid.avsc", "--writer", pair + "v1.avsc"}, code: 2, stderr: []string{pair + "invalid.avsc:4:"}},
		{name: "pair missing file", args: []string{"compat", "pair", "--reader", pair + "nope.avsc", "--writer", pair + "v1.avsc"}, code: 2, stderr: []string{"nope.avsc"}},
		{name: "pair without writer", args: []string{"compat", "pair", "--reader", pair + "v1.avsc"}, code: 2, stderr: []string{"--writer"}},
		{name: "pair unknown named type", args: []string{"compat", "pair", "--reader", pair + "with-address.avsc", "--writer", pair + "with-address.avsc"}, code: 2, stderr: []string{"waybill.common.Address"}},
		{name: "pair with a reference", args: []string{"compat", "pair", "--reader", pair + "with-address.avsc", "--writer", pair + "with-address.avsc", "--ref", pair + "address.avsc"}, code: 0},

		{name: "level backward", args: []string{"compat", "level", "--level", "BACKWARD", "--candidate", pair + "v2.avsc", pair + "v1.avsc"}, code: 0},
		{name: "level forward", args: []string{"compat", "level", "--level", "forward", "--candidate", pair + "v2.avsc", pair + "v1.avsc"}, code: 1, stdout: []string{"TYPE_MISMATCH at /fields/1/type", "v1.avsc cannot read data written with v2.avsc"}},
		{
			name: "level transitive", args: []string{"compat", "level", "--level", "BACKWARD_TRANSITIVE", "--candidate", pair + "v3-bad.avsc", pair + "v1.avsc", pair + "v2.avsc"}, code: 1,
			stdout: []string{"v3-bad.avsc cannot read data written with v1.avsc, v2.avsc", "failed: 1 error"},
		},
		{name: "level no existing versions", args: []string{"compat", "level", "--level", "FULL", "--candidate", pair + "v3-bad.avsc"}, code: 0},
		{name: "level unknown", args: []string{"compat", "level", "--level", "SIDEWAYS", "--candidate", pair + "v2.avsc", pair + "v1.avsc"}, code: 2, stderr: []string{"SIDEWAYS"}},
		{name: "level without candidate", args: []string{"compat", "level", "--level", "FULL", pair + "v1.avsc"}, code: 2, stderr: []string{"--candidate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.name, "outside a repository") {
				if _, err := exec.LookPath("git"); err != nil {
					t.Skip("SKIP: git not installed")
				}
				// testdata is inside this repository; copy it out of it.
				dir := t.TempDir()
				copyDir(t, schemas, filepath.Join(dir, "schemas"))
				tt.args[3] = filepath.Join(dir, "schemas")
			}
			code, stdout, stderr := waybill(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			checkStderr(t, code, stderr)
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout does not contain %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr does not contain %q:\n%s", s, stderr)
				}
			}
		})
	}
}

func TestPairs(t *testing.T) {
	v1 := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	v2 := `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":""}]}`
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	tests := []struct {
		name  string
		lines []string
		// want has, per output line, "true", "false" or "error".
		want []string
		code int
	}{
		{
			name: "all compatible",
			lines: []string{
				`{"reader":` + v2 + `,"writer":` + v1 + `}`,
				`{"reader":"long","writer":"int"}`,
				`{"reader":` + str(v2) + `,"writer":` + str(v1) + `}`,
				`{"reader":` + str(`"string"`) + `,"writer":["string"]}`,
			},
			want: []string{"true", "true", "true", "true"},
			code: 0,
		},
		{
			name: "a bad line in the middle",
			lines: []string{
				`{"reader":` + v2 + `,"writer":` + v1 + `}`,
				`{"reader": not json`,
				``,
				`{"reader":` + v1 + `}`,
				`{"reader":{"type":"record"},"writer":"int"}`,
				`{"reader":` + v1 + `,"writer":` + v2 + `}`,
				"{\"reader\":\"int\",\"writer\":\"int\"}\r",
			},
			want: []string{"true", "error", "error", "error", "error", "false", "true"},
			code: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := waybill(t, strings.Join(tt.lines, "\n"), "compat", "pairs")
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			checkStderr(t, code, stderr)
			out := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if len(out) != len(tt.want) {
				t.Fatalf("%d output lines for %d input lines:\n%s", len(out), len(tt.want), stdout)
			}
			for i, line := range out {
				var got struct {
					Compatible *bool    `json:"compatible"`
					Messages   []string `json:"messages"`
					Error      *string  `json:"error"`
				}
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatalf("line %d: %v: %q", i+1, err, line)
				}
				switch tt.want[i] {
				case "error":
					if got.Error == nil || *got.Error == "" || got.Compatible != nil {
						t.Errorf("line %d = %s, want an error", i+1, line)
					}
				default:
					compatible := tt.want[i] == "true"
					if got.Compatible == nil || *got.Compatible != compatible || got.Messages == nil || (len(got.Messages) == 0) != compatible {
						t.Errorf("line %d = %s, want compatible %v with messages when not", i+1, line, compatible)
					}
				}
			}
		})
	}

	t.Run("incompatible messages", func(t *testing.T) {
		_, stdout, _ := waybill(t, `{"reader":`+v1+`,"writer":`+v2+`}`, "compat", "pairs")
		want := `{"compatible":false,"messages":["TYPE_MISMATCH at /fields/0/type: `
		if !strings.HasPrefix(stdout, want) {
			t.Errorf("stdout = %q, want prefix %q", stdout, want)
		}
	})
	t.Run("empty input", func(t *testing.T) {
		code, stdout, _ := waybill(t, "", "compat", "pairs")
		if code != 0 || stdout != "" {
			t.Errorf("exit %d, stdout %q; want 0 and nothing", code, stdout)
		}
	})
	t.Run("text format", func(t *testing.T) {
		code, _, stderr := waybill(t, "", "compat", "pairs", "--format", "text")
		if code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
		checkStderr(t, code, stderr)
	})
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
