package registry_test

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
)

// newServer starts Waybill's registry server, on a memory log, on loopback.
func newServer(t *testing.T, cfg server.Config) *httptest.Server {
	t.Helper()
	cfg.Log = server.MemoryLog()
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	return hs
}

// newRegistry starts a registry and returns a client for it.
func newRegistry(t *testing.T) *registry.Client {
	t.Helper()
	c, err := registry.New(registry.Config{URL: newServer(t, server.Config{}).URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	created   = "orders/OrderCreated/"
	cancelled = "orders/OrderCancelled/"
	address   = "common/Address/"

	createdSubject   = "order-events-waybill.orders.OrderCreated"
	cancelledSubject = "order-events-waybill.orders.OrderCancelled"
	addressSubject   = "waybill.common.Address"
)

// schemas copies testdata/schemas to a temporary directory, to be changed.
func schemas(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir("testdata/schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/schemas", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t *testing.T, dir string) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	return cat
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

// push plans and applies, and fails the test unless every action applied.
func push(t *testing.T, c *registry.Client, dir string, opts ...registry.PlanOpt) *registry.Plan {
	t.Helper()
	ctx := context.Background()
	plan, err := registry.PlanSync(ctx, c, load(t, dir), opts...)
	if err != nil {
		t.Fatal(err)
	}
	results, err := registry.Apply(ctx, c, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status != registry.Applied {
			t.Fatalf("%s %s v%d: %s: %v", r.Action.Kind, r.Action.Subject, r.Action.Version, r.Status, r.Err)
		}
	}
	return plan
}

// lastDoc ends the last field of OrderCreated v2, where tests add fields.
const lastDoc = `"doc": "Where to deliver."}`

// v3 returns OrderCreated v2 with a field added.
func v3(t *testing.T, dir, field string) string {
	t.Helper()
	return strings.Replace(read(t, dir, created+"v2.avsc"), lastDoc, lastDoc+",\n    "+field, 1)
}

func removeFile(t *testing.T, dir, file string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, file)); err != nil {
		t.Fatal(err)
	}
}
