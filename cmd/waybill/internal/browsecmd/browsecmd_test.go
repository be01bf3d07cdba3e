package browsecmd_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waybill/waybill/cmd/waybill/internal/root"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
)

const (
	schemasDir     = "../../../../schemas"
	createdSubject = "order-events-waybill.orders.OrderCreated"
)

// syncBuffer is a strings.Builder safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs waybill with args until the returned stop is called, once
// probe answers; stop returns the exit code and standard error.
func start(t *testing.T, probe string, args ...string) (stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- root.Run(ctx, args, strings.NewReader(""), io.Discard, &stderr) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(probe)
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("waybill %s exited %d before serving: %s", strings.Join(args, " "), code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("waybill %s did not come up: %s", strings.Join(args, " "), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	var code int
	stop = func() (int, string) {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code, stderr.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// seed registers the repository's schemas with the sync.
func seed(t *testing.T, url string, user, pass string) {
	t.Helper()
	cat, err := catalog.Load(os.DirFS(schemasDir))
	if err != nil {
		t.Fatal(err)
	}
	c, err := registry.New(registry.Config{URL: url, Username: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := registry.PlanSync(context.Background(), c, cat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Apply(context.Background(), c, plan); err != nil {
		t.Fatal(err)
	}
}

func newRegistry(t *testing.T) string {
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
	return hs.URL
}

func get(t *testing.T, url, user, pass string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// TestBrowse runs `waybill browse` in front of a registry seeded from
// schemas/, with the catalog, and stops it.
func TestBrowse(t *testing.T) {
	reg := newRegistry(t)
	seed(t, reg, "", "")
	addr := freeAddr(t)
	stop := start(t, "http://"+addr+"/static/style.css", "browse", "--registry", reg, "--addr", addr, "--schemas", schemasDir)
	for _, tc := range []struct{ path, want string }{
		{"/", createdSubject},
		{"/", "orders-team"},
		{"/subjects/" + createdSubject, "Consumed by"},
		{"/subjects/" + createdSubject + "/diff", "FIELD_ADDED"},
		{"/topics/order-events", "OrderCancelled"},
	} {
		status, _, body := get(t, "http://"+addr+tc.path, "", "")
		if status != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: status %d, no %q: %s", tc.path, status, tc.want, body)
		}
	}
	code, stderr := stop()
	if code != 0 || !strings.Contains(stderr, "browse: serving") || !strings.Contains(stderr, "browse: stopped") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// TestBrowseUnreachableRegistry: the UI starts without its registry, says
// so in its log and on its pages, and shows the registry once it answers.
func TestBrowseUnreachableRegistry(t *testing.T) {
	regAddr := freeAddr(t)
	addr := freeAddr(t)
	stop := start(t, "http://"+addr+"/static/style.css", "browse", "--registry", "http://"+regAddr, "--addr", addr, "--cache-ttl", "0s")
	status, _, body := get(t, "http://"+addr+"/", "", "")
	if status != http.StatusBadGateway || !strings.Contains(body, "The registry cannot be reached") {
		t.Errorf("status %d: %s", status, body)
	}

	s, err := server.New(context.Background(), server.Config{Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", regAddr)
	if err != nil {
		t.Skipf("the registry's port was taken meanwhile: %v", err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	if status, _, body := get(t, "http://"+addr+"/", "", ""); status != 200 || !strings.Contains(body, "0 of 0 subjects") {
		t.Errorf("once the registry is up: status %d: %s", status, body)
	}
	if code, stderr := stop(); code != 0 || !strings.Contains(stderr, "the registry does not answer yet") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// TestBrowseUsage: what keeps browse from starting is exit 2 with one line.
func TestBrowseUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no registry", []string{"browse"}, "browse: --registry is required"},
		{"a registry URL without a scheme", []string{"browse", "--registry", "localhost:8081"}, "invalid URL"},
		{"no such schemas directory", []string{"browse", "--registry", "http://127.0.0.1:1", "--schemas", "no/such/dir"}, "schemas directory \"no/such/dir\""},
		{"bad concurrency", []string{"browse", "--registry", "http://127.0.0.1:1", "--concurrency", "0"}, "--concurrency 0"},
		{"an argument", []string{"browse", "extra"}, "unexpected argument"},
		{"the address is taken", []string{"browse", "--registry", "http://127.0.0.1:1", "--addr", busy.Addr().String()}, "address already in use"},
		{"--ui-schemas without --ui", []string{"registry", "serve", "--ui-schemas", schemasDir}, "--ui-schemas goes with --ui"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			code := root.Run(context.Background(), tc.args, strings.NewReader(""), io.Discard, &stderr)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if code != 2 || !strings.HasPrefix(last, "waybill: ") || !strings.Contains(last, tc.want) {
				t.Errorf("exit %d, stderr %q: want 2 and %q", code, stderr.String(), tc.want)
			}
		})
	}
}

// TestServeUI runs `waybill registry serve --ui`: the UI under /ui/ on the
// registry's own API, beside the API; with users, the browser signs in.
func TestServeUI(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		addr := freeAddr(t)
		base := "http://" + addr
		stop := start(t, base+"/", "registry", "serve", "--addr", addr, "--ui", "--ui-schemas", schemasDir)
		seed(t, base, "", "")
		for _, tc := range []struct{ path, want string }{
			{"/ui/", createdSubject},
			{"/ui/", "orders-team"},
			{"/ui/", `href="/ui/subjects/` + createdSubject + `"`},
			{"/ui/subjects/" + createdSubject + "/versions/2", "shipping_address"},
			{"/ui/ids/1", "waybill.common.Address"},
			{"/subjects", createdSubject}, // the API, as before
		} {
			status, _, body := get(t, base+tc.path, "", "")
			if status != 200 || !strings.Contains(body, tc.want) {
				t.Errorf("%s: status %d, no %q: %s", tc.path, status, tc.want, body)
			}
		}
		if code, stderr := stop(); code != 0 || !strings.Contains(stderr, "registry: browsing UI") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	t.Run("with users", func(t *testing.T) {
		users := filepath.Join(t.TempDir(), "users")
		if err := os.WriteFile(users, []byte("admin:pw:readwrite\nviewer:look:readonly\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		addr := freeAddr(t)
		base := "http://" + addr
		start(t, base+"/", "registry", "serve", "--addr", addr, "--ui", "--users-file", users)
		seed(t, base, "admin", "pw")
		status, h, body := get(t, base+"/ui/", "", "")
		if status != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" || strings.Contains(body, createdSubject) {
			t.Errorf("without credentials: status %d, WWW-Authenticate %q: %s", status, h.Get("WWW-Authenticate"), body)
		}
		status, _, body = get(t, base+"/ui/subjects/"+createdSubject, "viewer", "look")
		if status != 200 || !strings.Contains(body, "Version history") {
			t.Errorf("a read-only user: status %d: %s", status, body)
		}
	})
}
