package root_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waybill/waybill/internal/testenv"
)

// gitRepo creates a Git repository whose main branch holds testdata/schemas
// under schemas/, and returns its schemas directory.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git not installed; the git:REF tests need it")
	}
	repo := t.TempDir()
	dir := filepath.Join(repo, "schemas")
	copyDir(t, schemas, dir)
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "base")
	return dir
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func gitOut(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func read(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, dir, file, text string) {
	t.Helper()
	p := filepath.Join(dir, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, dir, file, old, new string) {
	t.Helper()
	text := read(t, dir, file)
	if !strings.Contains(text, old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	write(t, dir, file, strings.Replace(text, old, new, 1))
}

const (
	created = "orders/OrderCreated/"
	lastDoc = `"doc": "Where to deliver."}`
)

func TestCheckAgainstGit(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		ref    string
		code   int
		// stdout must contain these (file paths relative to the schemas
		// directory are prefixed with it).
		stdout []string
		stderr string
	}{
		{
			name:   "unchanged",
			change: func(*testing.T, string) {},
			code:   0,
			stdout: []string{"passed: no findings (3 event types, 4 versions against git:main)"},
		},
		{
			name: "compatible new version",
			change: func(t *testing.T, dir string) {
				write(t, dir, created+"v3.avsc", strings.Replace(read(t, dir, created+"v2.avsc"), lastDoc,
					lastDoc+`,
    {"name": "note", "type": ["null", "string"], "default": null, "doc": "A note."}`, 1))
			},
			code: 0,
		},
		{
			name: "incompatible new version",
			change: func(t *testing.T, dir string) {
				write(t, dir, created+"v3.avsc", strings.Replace(read(t, dir, created+"v2.avsc"), lastDoc,
					lastDoc+`,
    {"name": "priority", "type": "int", "doc": "How urgent."}`, 1))
			},
			code: 1,
			stdout: []string{
				created + "v3.avsc:11:5: error READER_FIELD_MISSING_DEFAULT_VALUE at /fields/4: BACKWARD_TRANSITIVE: v3 cannot read data written with v1, v2",
				"hint: give the new field a default",
				"failed: 1 error",
			},
		},
		{
			name: "modified published version",
			change: func(t *testing.T, dir string) {
				edit(t, dir, created+"v1.avsc", `"name": "quantity", "type": "int"`, `"name": "quantity", "type": "long"`)
			},
			code:   1,
			stdout: []string{created + "v1.avsc:9:34: error VERSION_MODIFIED at /fields/2/type", "hint: revert the change"},
		},
		{
			name: "doc-only change",
			change: func(t *testing.T, dir string) {
				edit(t, dir, created+"v1.avsc", `"doc": "Who ordered."`, `"doc": "The customer who placed the order."`)
				edit(t, dir, created+"v2.avsc", `"doc": "A customer placed an order."`, `"doc": "A customer placed an order: the first event of its life."`)
			},
			code:   0,
			stdout: []string{"passed: no findings"},
		},
		{
			name:   "removed version",
			change: func(t *testing.T, dir string) { git(t, dir, "rm", "-q", created+"v2.avsc") },
			code:   1,
			stdout: []string{created + "v2.avsc: error VERSION_REMOVED: version 2 of waybill.orders.OrderCreated was removed", "hint: restore the file"},
		},
		{
			name: "removed event type",
			change: func(t *testing.T, dir string) {
				git(t, dir, "rm", "-q", "-r", "orders/OrderCancelled")
				text := read(t, dir, "catalog.yaml")
				before, _, _ := strings.Cut(text, "  waybill.orders.OrderCancelled:")
				write(t, dir, "catalog.yaml", before)
			},
			code:   1,
			stdout: []string{"orders/OrderCancelled/v1.avsc: error EVENT_REMOVED: event type waybill.orders.OrderCancelled was removed"},
		},
		{
			name: "new event type is linted",
			change: func(t *testing.T, dir string) {
				edit(t, dir, "catalog.yaml", "\nevents:\n", `
events:
  waybill.orders.OrderShipped:
    topic: order-events
    key: order_id
    owner: orders-team
    producers: [order-service]
    description: An order left the warehouse.
`)
				write(t, dir, "orders/OrderShipped/v1.avsc", `{"type": "record", "name": "OrderShipped", "namespace": "waybill.orders",
  "doc": "An order left the warehouse.",
  "fields": [
    {"name": "order_id", "type": "string", "doc": "The order."},
    {"name": "carrier", "type": "string"}
  ]
}
`)
			},
			code:   1,
			stdout: []string{"orders/OrderShipped/v1.avsc:5:5: error FIELD_DOC at /fields/1"},
		},
		{
			name: "invalid JSON in the change",
			change: func(t *testing.T, dir string) {
				write(t, dir, created+"v3.avsc", strings.Replace(read(t, dir, created+"v2.avsc"), `"doc": "The order."},`, `"doc": "The order."}`, 1))
			},
			code:   1,
			stdout: []string{created + "v3.avsc:8:5: error INVALID_SCHEMA"},
		},
		{
			name:   "unknown ref",
			change: func(*testing.T, string) {},
			ref:    "origin/nope",
			code:   2,
			stderr: `waybill: compat check: --against git:origin/nope: unknown git revision "origin/nope"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := gitRepo(t)
			tt.change(t, dir)
			ref := tt.ref
			if ref == "" {
				ref = "main"
			}
			code, stdout, stderr := waybill(t, "", "compat", "check", "--schemas", dir, "--against", "git:"+ref)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			checkStderr(t, code, stderr)
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, filepath.ToSlash(dir)+"/"+s) && !strings.Contains(stdout, s) {
					t.Errorf("stdout does not contain %q:\n%s", s, stdout)
				}
			}
			if tt.stderr != "" && strings.TrimSpace(stderr) != tt.stderr {
				t.Errorf("stderr = %q, want %q", stderr, tt.stderr)
			}
		})
	}
}

func TestCheckFormats(t *testing.T) {
	dir := gitRepo(t)
	repo := filepath.Dir(dir)
	edit(t, dir, created+"v1.avsc", `"name": "quantity", "type": "int"`, `"name": "quantity", "type": "long"`)
	// Run from the repository root with the default --schemas, as CI does,
	// so that files are relative to the repository.
	t.Chdir(repo)

	code, stdout, _ := waybill(t, "", "compat", "check", "--against", "git:main", "--format", "github")
	want := "::error file=schemas/orders/OrderCreated/v1.avsc,line=9,col=34,title=VERSION_MODIFIED at /fields/2/type::"
	if code != 1 || !strings.HasPrefix(stdout, want) {
		t.Errorf("github: exit %d, stdout:\n%s\nwant prefix %q", code, stdout, want)
	}

	code, stdout, _ = waybill(t, "", "compat", "check", "--against", "git:main", "--format", "markdown")
	want = "| ❌ error | `schemas/orders/OrderCreated/v1.avsc:9:34` | `/fields/2/type` | `VERSION_MODIFIED` |"
	if code != 1 || !strings.HasPrefix(stdout, "### Waybill schema check\n") || !strings.Contains(stdout, want) {
		t.Errorf("markdown: exit %d, stdout:\n%s\nwant a row %q", code, stdout, want)
	}

	// A base without a schemas directory: everything is new.
	tree := gitOut(t, repo, "", "mktree")
	commit := gitOut(t, repo, "", "commit-tree", tree, "-m", "empty")
	git(t, repo, "update-ref", "refs/heads/empty", commit)
	code, stdout, stderr := waybill(t, "", "compat", "check", "--against", "git:empty")
	if code != 0 || !strings.Contains(stdout, "which has no schemas") {
		t.Errorf("base without schemas: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
