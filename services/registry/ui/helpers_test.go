package ui_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
	"github.com/waybill/waybill/services/registry/ui"
)

// schemasDir is the repository's schemas, which the registry is seeded from.
const schemasDir = "../../../schemas"

// Subjects of the repository's schemas the tests look at.
const (
	createdSubject = "order-events-waybill.orders.OrderCreated"
	addressSubject = "waybill.common.Address"
)

// newRegistry starts Waybill's registry server on a memory log.
func newRegistry(t testing.TB) *httptest.Server {
	t.Helper()
	s, err := server.New(context.Background(), server.Config{Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler)})
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

// loadCatalog loads the repository's schemas.
func loadCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(os.DirFS(schemasDir))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// seeded starts a registry holding the repository's schemas, registered
// through the sync (`waybill registry push`).
func seeded(t testing.TB) (*httptest.Server, *catalog.Catalog) {
	t.Helper()
	reg := newRegistry(t)
	cat := loadCatalog(t)
	c := client(t, reg.URL)
	ctx := context.Background()
	plan, err := registry.PlanSync(ctx, c, cat)
	if err != nil {
		t.Fatal(err)
	}
	res, err := registry.Apply(ctx, c, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status == registry.Failed {
			t.Fatalf("seeding the registry: %+v", r)
		}
	}
	return reg, cat
}

func client(t testing.TB, url string) *registry.Client {
	t.Helper()
	c, err := registry.New(registry.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newUI serves the UI in front of the registry at url.
func newUI(t testing.TB, url string, cat *catalog.Catalog, mod ...func(*ui.Config)) *httptest.Server {
	t.Helper()
	cfg := ui.Config{Registry: registry.Config{URL: url}, Catalog: cat, Logger: slog.New(slog.DiscardHandler)}
	for _, m := range mod {
		m(&cfg)
	}
	h, err := ui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs
}

// get fetches a page and returns its status and body.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// text returns a page's text without its tags, spaces collapsed, for
// assertions on what the page says.
func text(html string) string {
	var b strings.Builder
	in := false
	for _, r := range html {
		switch {
		case r == '<':
			in = true
			b.WriteRune(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	s := strings.NewReplacer("&#34;", "\"", "&#39;", "'", "&quot;", "\"", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(b.String())
	return strings.Join(strings.Fields(s), " ")
}
