package gittree_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/waybill/waybill/internal/testenv"
	"github.com/waybill/waybill/pkg/gittree"
)

// newRepo creates a Git repository with one commit holding files, and returns
// its directory.
func newRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git not installed; gittree tests need it")
	}
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "base"},
	} {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func TestOpen(t *testing.T) {
	repo := newRepo(t, map[string]string{
		"README.md":                           "hello",
		"schemas/catalog.yaml":                "topics: []\n",
		"schemas/orders/OrderCreated/v1.avsc": `{"type":"record","name":"OrderCreated","fields":[]}`,
		"schemas/orders/OrderCreated/v2.avsc": "",
		"schemas/common/Address/v1.avsc":      `"string"`,
	})
	// A change in the work tree must not show: the FS is the commit's.
	if err := os.WriteFile(filepath.Join(repo, "schemas", "catalog.yaml"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	fsys, err := gittree.Open(ctx, repo, "main", "schemas")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys, "catalog.yaml", "orders/OrderCreated/v1.avsc", "orders/OrderCreated/v2.avsc", "common/Address/v1.avsc"); err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(fsys, "catalog.yaml")
	if err != nil || string(got) != "topics: []\n" {
		t.Fatalf("ReadFile(catalog.yaml) = %q, %v; want the committed text", got, err)
	}

	// From a subdirectory of the repository, with the whole tree.
	root, err := gittree.Open(ctx, filepath.Join(repo, "schemas", "orders"), "HEAD", ".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(root, "schemas/common/Address/v1.avsc"); err != nil {
		t.Fatal(err)
	}

	// A directory of the work tree, as it is in a commit.
	orders, err := gittree.OpenDir(ctx, filepath.Join(repo, "schemas", "orders"), "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(orders, "OrderCreated/v1.avsc"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	repo := newRepo(t, map[string]string{"a.txt": "a"})
	ctx := context.Background()
	tests := []struct {
		name, repo, rev, dir string
		want                 error
	}{
		{"unknown revision", repo, "origin/nope", "schemas", gittree.ErrUnknownRevision},
		{"option-like revision", repo, "--all", "schemas", gittree.ErrUnknownRevision},
		{"missing directory", repo, "main", "schemas", fs.ErrNotExist},
		{"file, not directory", repo, "main", "a.txt", fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, err := gittree.Open(ctx, tt.repo, tt.rev, tt.dir)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open() error = %v, want %v", err, tt.want)
			}
			if errors.Is(tt.want, fs.ErrNotExist) {
				entries, err := fs.ReadDir(fsys, ".")
				if err != nil || len(entries) != 0 {
					t.Fatalf("missing directory: ReadDir = %v, %v; want empty", entries, err)
				}
			}
		})
	}

	t.Run("not a repository", func(t *testing.T) {
		_, err := gittree.Open(ctx, t.TempDir(), "main", "schemas")
		if err == nil {
			t.Fatal("Open() outside a repository: no error")
		}
	})
}
