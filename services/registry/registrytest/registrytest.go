// Package registrytest runs Waybill's Schema Registry for tests: the real
// server (services/registry) with in-memory storage on an httptest server,
// optionally with a schemas directory pushed to it as `waybill registry
// push` would. Like net/http/httptest, it is a real implementation, not a
// double.
package registrytest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
)

// Registry is a running registry.
type Registry struct {
	// URL is the registry's base URL.
	URL string
	// Client is a client of it.
	Client *registry.Client
	// Server is the registry itself (its handler), for tests that serve it
	// some other way, such as on a listener they take down.
	Server *server.Server
}

// New starts an empty registry, stopped when the test ends.
func New(t testing.TB) *Registry {
	t.Helper()
	srv, err := server.New(context.Background(), server.Config{Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	client, err := registry.New(registry.Config{URL: hs.URL})
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return &Registry{URL: hs.URL, Client: client, Server: srv}
}

// WithSchemas starts a registry holding every version of the catalog in
// dir (a schemas/ directory), at the catalog's compatibility levels.
func WithSchemas(t testing.TB, dir string) *Registry {
	t.Helper()
	r := New(t)
	r.Push(t, dir)
	return r
}

// Push pushes the catalog in dir to the registry, failing the test on any
// action not applied.
func (r *Registry) Push(t testing.TB, dir string) {
	t.Helper()
	cat, err := catalog.Load(os.DirFS(dir))
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	ctx := context.Background()
	plan, err := registry.PlanSync(ctx, r.Client, cat)
	if err != nil {
		t.Fatalf("registrytest: plan: %v", err)
	}
	results, err := registry.Apply(ctx, r.Client, plan)
	if err != nil {
		t.Fatalf("registrytest: apply: %v", err)
	}
	for _, res := range results {
		if res.Status != registry.Applied {
			t.Fatalf("registrytest: %s %s v%d: %s: %v", res.Action.Kind, res.Action.Subject, res.Action.Version, res.Status, res.Err)
		}
	}
}
