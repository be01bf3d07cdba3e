package ui_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/waybill/waybill/services/registry/ui"
)

// answering is a registry that answers every request with status and body.
func answering(t *testing.T, status int, contentType, body string) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

// unreachable is the URL of a port nothing listens on.
func unreachable(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// hanging is a registry that never answers in time.
func hanging(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(stop)
		hs.Close()
	})
	return hs.URL
}

// errorPages are a request to every page.
var errorPages = []string{
	"/",
	"/?q=city&by=field",
	"/?q=1&by=id",
	"/?deleted=1",
	subjectPath(createdSubject),
	subjectPath(createdSubject) + "/versions/1",
	subjectPath(createdSubject) + "/versions/latest",
	subjectPath(createdSubject) + "/diff?from=1&to=2",
	subjectPath(createdSubject) + "/check",
	checkPath(createdSubject, `{"type":"record","name":"R","fields":[]}`, ""),
	"/ids/1",
	"/topics",
	"/topics/order-events",
}

// TestRegistryErrors renders every page in front of registries that fail:
// each is an error page with the status, the registry's error code and the
// request that failed, never a blank page or a Go error string.
func TestRegistryErrors(t *testing.T) {
	cat := loadCatalog(t)
	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		status  int
		want    []string
	}{
		{
			name:   "storage failure (500, 50001)",
			url:    answering(t, 500, "application/vnd.schemaregistry.v1+json", `{"error_code":50001,"message":"Error in the backend data store"}`),
			status: http.StatusBadGateway,
			want:   []string{"The registry failed (HTTP 500)", "Error in the backend data store", "Registry error code 50001", "Request GET http://"},
		},
		{
			name:   "no leader (500, 50004)",
			url:    answering(t, 500, "application/json", `{"error_code":50004,"message":"Leader not known"}`),
			status: http.StatusBadGateway,
			want:   []string{"The registry failed (HTTP 500)", "Leader not known", "Registry error code 50004"},
		},
		{
			name:   "a proxy's 503 page, not JSON",
			url:    answering(t, 503, "text/html", "<html><body>Service Unavailable</body></html>"),
			status: http.StatusBadGateway,
			want:   []string{"The registry failed (HTTP 503)", "Service Unavailable", "Registry error code 503"},
		},
		{
			name:   "not found (404, 40401)",
			url:    answering(t, 404, "application/json", `{"error_code":40401,"message":"Subject not found."}`),
			status: http.StatusNotFound,
			want:   []string{"Not found in the registry", "Subject not found.", "Registry error code 40401"},
		},
		{
			name:   "no such endpoint (a 404 without a body)",
			url:    answering(t, 404, "text/plain", ""),
			status: http.StatusNotFound,
			want:   []string{"Not found in the registry", "Not Found", "Registry error code 404"},
		},
		{
			name:   "credentials wanted (401)",
			url:    answering(t, 401, "application/json", `{"error_code":401,"message":"Unauthorized"}`),
			status: http.StatusUnauthorized,
			want:   []string{"The registry wants credentials", "Registry error code 401", "WAYBILL_REGISTRY_USERNAME"},
		},
		{
			name:   "unreachable",
			url:    unreachable(t),
			status: http.StatusBadGateway,
			want:   []string{"The registry cannot be reached", "Reason connection refused", "Check that the registry is running"},
		},
		{
			name:    "no answer in time",
			url:     hanging(t),
			timeout: 100 * time.Millisecond,
			status:  http.StatusBadGateway,
			want:    []string{"The registry cannot be reached", "Reason no answer in time (timeout)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUI(t, tc.url, cat, func(c *ui.Config) { c.Registry.Timeout = tc.timeout })
			for _, page := range errorPages {
				status, body := get(t, u.URL+page)
				txt := text(body)
				if status != tc.status {
					t.Errorf("%s: status %d, want %d: %s", page, status, tc.status, txt)
				}
				if !strings.Contains(body, `id="error"`) || !strings.Contains(body, "</html>") {
					t.Errorf("%s: not a whole error page: %s", page, body)
				}
				for _, w := range tc.want {
					if !strings.Contains(txt, w) {
						t.Errorf("%s: the page does not say %q: %s", page, w, txt)
					}
				}
				for _, bad := range []string{"registry: ", "dial tcp", "%!", "<nil>", "context deadline"} {
					if strings.Contains(txt, bad) {
						t.Errorf("%s: the page shows a Go error (%q): %s", page, bad, txt)
					}
				}
			}
		})
	}
}

// TestRegistryFailsMidPage: a registry that answers the first requests of
// a page and fails a later one gives an error page, not half a page.
func TestRegistryFailsMidPage(t *testing.T) {
	reg, cat := seeded(t)
	target, _ := url.Parse(reg.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/config/") || strings.HasSuffix(r.URL.Path, "/referencedby") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"error_code":50002,"message":"Operation timed out"}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer failing.Close()
	u := newUI(t, failing.URL, cat)
	for _, page := range []string{"/", subjectPath(createdSubject), subjectPath(addressSubject) + "/versions/1", "/topics/order-events"} {
		status, body := get(t, u.URL+page)
		txt := text(body)
		if status != http.StatusBadGateway || !strings.Contains(txt, "Registry error code 50002") || !strings.Contains(txt, "Operation timed out") {
			t.Errorf("%s: status %d: %s", page, status, txt)
		}
		if strings.Contains(body, `id="subjects"`) || strings.Contains(body, `id="versions"`) {
			t.Errorf("%s: half a page before the error: %s", page, txt)
		}
	}
}

// TestOlderRegistry is the UI in front of a registry without the newer read
// endpoints (Confluent before 7.x: no GET /schemas, no mode API, no
// referencedby), which answer 404: the pages fall back to one request a
// subject, and say what they cannot know.
func TestOlderRegistry(t *testing.T) {
	reg, cat := seeded(t)
	target, _ := url.Parse(reg.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/schemas" || strings.HasPrefix(r.URL.Path, "/mode") || strings.HasSuffix(r.URL.Path, "/referencedby") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code":404,"message":"HTTP 404 Not Found"}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer old.Close()
	u := newUI(t, old.URL, cat)
	for _, tc := range []struct{ path, want string }{
		{"/", "order-events-waybill.orders.OrderCreated BACKWARD_TRANSITIVE 2"},
		{"/", "9 of 9 subjects"},
		{"/?q=city&by=field", "waybill.common.Address field city in version 1"},
		{"/?q=shipping_address&by=field", createdSubject + " field shipping_address in version 2"},
		{subjectPath(createdSubject), "Mode unknown (the registry has no mode API)"},
		{subjectPath(addressSubject) + "/versions/1", "Referenced by Unknown: this registry has no referencedby endpoint."},
		{subjectPath(createdSubject) + "/diff", "FIELD_ADDED shipping_address"},
	} {
		status, body := get(t, u.URL+tc.path)
		if txt := text(body); status != http.StatusOK || !strings.Contains(txt, tc.want) {
			t.Errorf("%s: status %d, want %q in: %s", tc.path, status, tc.want, txt)
		}
	}
}
