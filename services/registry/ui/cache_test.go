package ui_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
	"github.com/waybill/waybill/services/registry/ui"
)

// counting counts the requests that reach h, and the most in flight at once.
type counting struct {
	h                  http.Handler
	requests, inFlight atomic.Int64
	mu                 sync.Mutex
	most               int64
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.requests.Add(1)
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	c.mu.Lock()
	c.most = max(c.most, n)
	c.mu.Unlock()
	time.Sleep(time.Millisecond) // long enough for requests to overlap
	c.h.ServeHTTP(w, r)
}

// TestCacheAndConcurrency: a page rendered again within the cache's TTL
// asks the registry nothing; after it, it asks again; and never more than
// Config.Concurrency requests are in flight, however many pages render at
// once.
func TestCacheAndConcurrency(t *testing.T) {
	reg, cat := seeded(t)
	regURL := reg.URL
	target := &counting{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.DefaultTransport.RoundTrip(rewrite(r, regURL))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			_, _ = w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	})}
	front := httptest.NewServer(target)
	defer front.Close()
	const ttl = 300 * time.Millisecond
	u := newUI(t, front.URL, cat, func(c *ui.Config) {
		c.CacheTTL = ttl
		c.Concurrency = 3
	})

	start := time.Now()
	if status, body := get(t, u.URL+"/"); status != 200 {
		t.Fatalf("status %d: %s", status, text(body))
	}
	first := target.requests.Load()
	if first == 0 {
		t.Fatal("no request reached the registry")
	}
	if status, _ := get(t, u.URL+"/"); status != 200 {
		t.Fatal(status)
	}
	if elapsed := time.Since(start); elapsed < ttl {
		if again := target.requests.Load() - first; again != 0 {
			t.Errorf("rendering the page again within the TTL made %d requests to the registry, want 0", again)
		}
	} else {
		t.Logf("the machine is too slow to see the cache (%s): not checked", elapsed)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	before := target.requests.Load()
	get(t, u.URL+"/")
	if target.requests.Load() == before {
		t.Error("after the TTL the page asked the registry nothing: answers are cached for good")
	}

	// Many pages at once, after the cache expired.
	time.Sleep(ttl + 50*time.Millisecond)
	var wg sync.WaitGroup
	for _, page := range []string{"/", "/?q=city&by=field", subjectPath(createdSubject), subjectPath(addressSubject) + "/versions/1", "/topics/order-events", "/?deleted=1"} {
		wg.Go(func() {
			if status, body := get(t, u.URL+page); status != 200 {
				t.Errorf("%s: status %d: %s", page, status, text(body))
			}
		})
	}
	wg.Wait()
	target.mu.Lock()
	most := target.most
	target.mu.Unlock()
	if most > 3 {
		t.Errorf("%d requests in flight to the registry at once, want at most 3", most)
	}
	if most < 2 {
		t.Errorf("at most %d request in flight: the UI does not fetch in parallel", most)
	}
}

func rewrite(r *http.Request, base string) *http.Request {
	out := r.Clone(context.Background())
	out.RequestURI = ""
	out.URL.Scheme = "http"
	out.URL.Host = strings.TrimPrefix(base, "http://")
	out.Host = out.URL.Host
	return out
}

// TestForwardAuth is the UI served by a registry with users, through
// InProcess: without credentials the browser is asked for them (401 and
// WWW-Authenticate), with a registry user's the pages show, and the cache
// does not hand one user's answers to a request without credentials.
func TestForwardAuth(t *testing.T) {
	reg, err := server.New(context.Background(), server.Config{
		Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler),
		Users: []server.User{{Name: "alice", Password: "s3cret", Access: server.ReadWrite}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	h, err := ui.New(ui.Config{
		Registry: registry.Config{URL: "http://registry.invalid", Transport: ui.InProcess(reg)},
		Prefix:   "/ui/", ForwardAuth: true, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	mux.Handle("/", reg)
	hs := httptest.NewServer(mux)
	defer hs.Close()

	c, err := registry.New(registry.Config{URL: hs.URL, Username: "alice", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(context.Background(), "orders-value", `{"type":"record","name":"Order","fields":[]}`, nil); err != nil {
		t.Fatal(err)
	}

	page := func(user, pass string) (int, http.Header, string) {
		req, _ := http.NewRequest("GET", hs.URL+"/ui/", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header, text(readAll(t, resp))
	}
	status, _, txt := page("alice", "s3cret")
	if status != 200 || !strings.Contains(txt, "orders-value") {
		t.Fatalf("with credentials: status %d: %s", status, txt)
	}
	for _, cred := range [][2]string{{"", ""}, {"alice", "wrong"}} {
		status, h, txt := page(cred[0], cred[1])
		if status != 401 || h.Get("WWW-Authenticate") == "" || !strings.Contains(txt, "Sign in with a user of the registry") {
			t.Errorf("credentials %q: status %d, WWW-Authenticate %q: %s", cred, status, h.Get("WWW-Authenticate"), txt)
		}
		if strings.Contains(txt, "orders-value") {
			t.Errorf("credentials %q: the cache showed another user's answer: %s", cred, txt)
		}
	}
	// The prefix without its slash leads to the UI.
	nr := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := nr.Get(hs.URL + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if (resp.StatusCode != http.StatusMovedPermanently && resp.StatusCode != http.StatusTemporaryRedirect) || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestPrefix: under a prefix, every link carries it.
func TestPrefix(t *testing.T) {
	reg, cat := seeded(t)
	h, err := ui.New(ui.Config{Registry: registry.Config{URL: reg.URL}, Catalog: cat, Prefix: "/ui/"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	defer hs.Close()
	status, body := get(t, hs.URL+"/ui/")
	if status != 200 {
		t.Fatalf("status %d: %s", status, text(body))
	}
	for _, want := range []string{`href="/ui/static/style.css"`, `href="/ui/subjects/` + createdSubject + `"`, `href="/ui/topics/order-events"`, `action="/ui/"`} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in %s", want, body)
		}
	}
	if status, _ := get(t, hs.URL+"/ui/subjects/"+createdSubject+"/versions/2"); status != 200 {
		t.Errorf("version page: status %d", status)
	}
	for _, bad := range []string{"ui", "/ui", "ui/"} {
		if _, err := ui.New(ui.Config{Registry: registry.Config{URL: reg.URL}, Prefix: bad}); err == nil || !strings.HasPrefix(err.Error(), "ui: ") {
			t.Errorf("prefix %q: error %v", bad, err)
		}
	}
	if _, err := ui.New(ui.Config{Registry: registry.Config{URL: "localhost:8081"}}); err == nil || !strings.HasPrefix(err.Error(), "ui: ") {
		t.Errorf("a bad registry URL: error %v", err)
	}
}
