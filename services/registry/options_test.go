package registry_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waybill/waybill/services/registry"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

func TestBasicAuth(t *testing.T) {
	users, err := registry.ParseUsers(strings.NewReader(`
# name:password:access
reader:r-secret:readonly
writer:w:se:cret:readwrite
`))
	if err != nil {
		t.Fatal(err)
	}
	if users[1].Password != "w:se:cret" {
		t.Fatalf("password with colons: %+v", users[1])
	}
	e := newEnvConfig(t, registry.Config{Users: users})
	send := func(user, password, method, path, body string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	cases := []struct {
		user, password, method, path, body string
		status, code                       int
	}{
		{"", "", "GET", "/subjects", "", 401, 401},
		{"", "", "GET", "/nope", "", 401, 401},
		{"reader", "wrong", "GET", "/subjects", "", 401, 401},
		{"nobody", "r-secret", "GET", "/subjects", "", 401, 401},
		{"reader", "r-secret", "GET", "/subjects", "", 200, 0},
		{"reader", "r-secret", "POST", "/subjects/s/versions", schemaBody(orderV1), 403, 403},
		{"reader", "r-secret", "PUT", "/config", `{"compatibility":"NONE"}`, 403, 403},
		{"reader", "r-secret", "DELETE", "/subjects/s", "", 403, 403},
		{"writer", "w:se:cret", "POST", "/subjects/s/versions", schemaBody(orderV1), 200, 0},
		// Lookups and compatibility checks are POSTs that change nothing.
		{"reader", "r-secret", "POST", "/subjects/s", schemaBody(orderV1), 200, 0},
		{"reader", "r-secret", "POST", "/compatibility/subjects/s/versions", schemaBody(orderV2), 200, 0},
		{"reader", "r-secret", "GET", "/metrics", "", 200, 0},
	}
	for _, c := range cases {
		status, body, h := send(c.user, c.password, c.method, c.path, c.body)
		if status != c.status || (c.code != 0 && errCode(body) != c.code) {
			t.Errorf("%s %s %s as %q: %d %s, want %d", c.method, c.path, c.body, c.user, status, body, c.status)
		}
		if status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("401 without a Basic challenge: %v", h)
		}
	}
	for _, bad := range []string{"nocolon", "a:b", "a:b:admin", ":p:readonly", "a::readonly"} {
		if _, err := registry.ParseUsers(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseUsers(%q): no error", bad)
		}
	}
}

// TestBodyLimit: a body over the limit (a 10 MB one, with the default
// limit) is 422 42209, a JSON error Confluent's clients decode.
func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	big := `{"schema":"` + strings.Repeat(" ", 10<<20) + `\"string\""}`
	e.run(t, []step{
		{method: "POST", path: "/subjects/s/versions", body: big, status: 422, code: 42209},
		{method: "GET", path: "/subjects", status: 200, want: `[]`},
	})
	small := newEnvConfig(t, registry.Config{MaxBodyBytes: 64})
	small.run(t, []step{
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV1), status: 422, code: 42209},
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(`"string"`), status: 200},
	})
}

func TestMalformedRequests(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	for _, path := range []string{"/subjects/s/versions", "/subjects/s", "/compatibility/subjects/s/versions", "/compatibility/subjects/s/versions/1"} {
		for _, body := range []string{"", "{", `{"schema":`, "[]", `{"schema":1}`, `{"schema":"\"string\""} {}`, `{"schema":"\"string\"","id":"x"}`, `{"schema":"\"string\"","version":4294967296}`, "\x00"} {
			status, out := e.do("POST", path, body)
			if status != 400 || errCode(out) != 400 {
				t.Errorf("POST %s %q: %d %s, want 400", path, body, status, out)
			}
		}
	}
	for _, path := range []string{"/config", "/config/s", "/mode", "/mode/s"} {
		for _, body := range []string{"", "{", `{"compatibility":[]}`, `{"mode":1}`} {
			if path[1] == 'm' && body == `{"compatibility":[]}` || path[1] == 'c' && body == `{"mode":1}` {
				continue // unknown fields are ignored
			}
			status, out := e.do("PUT", path, body)
			if status != 400 || errCode(out) != 400 {
				t.Errorf("PUT %s %q: %d %s, want 400", path, body, status, out)
			}
		}
	}
	// Unknown fields are ignored, as Confluent's server ignores them.
	e.run(t, []step{{method: "POST", path: "/subjects/s/versions", body: `{"schema":` + q(orderV1) + `,"metadata":{"properties":{"a":"b"}},"ruleSet":null}`, status: 200, want: `{"id":1}`}})
}

// faultyLog is a memory log whose writes can be made to fail, as a broker
// outage makes them fail.
type faultyLog struct {
	*schemalog.Memory
	mu   sync.Mutex
	fail error
}

func (f *faultyLog) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *faultyLog) Update(ctx context.Context, compute func() ([]schemalog.Record, error)) error {
	f.mu.Lock()
	err := f.fail
	f.mu.Unlock()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			<-ctx.Done() // the write never completes
			return ctx.Err()
		}
		// The records are computed, then the append fails: nothing is
		// written.
		if _, cerr := compute(); cerr != nil {
			return cerr
		}
		return err
	}
	return f.Memory.Update(ctx, compute)
}

func TestStorageFailures(t *testing.T) {
	fl := &faultyLog{Memory: schemalog.NewMemory()}
	reg, err := registry.New(context.Background(), registry.Config{Log: fl, WriteTimeout: 50 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	e := &env{t: t, srv: srv, reg: reg, log: fl.Memory}
	e.register("s", orderV1)
	before := len(fl.Records())

	fl.setFail(fmt.Errorf("broker down: %w", schemalog.ErrUnavailable))
	e.run(t, []step{
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV2), status: 500, code: 50001},
		{method: "DELETE", path: "/subjects/s", status: 500, code: 50001},
		{method: "PUT", path: "/config", body: `{"compatibility":"NONE"}`, status: 500, code: 50001},
		// Validation still answers first, and reads still work.
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderBad), status: 409},
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV1), status: 200, want: `{"id":1}`},
		{method: "GET", path: "/subjects/s/versions", status: 200, want: `[1]`},
	})
	fl.setFail(context.DeadlineExceeded)
	e.run(t, []step{
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV2), status: 500, code: 50002},
		{method: "PUT", path: "/mode", body: `{"mode":"READONLY"}`, status: 500, code: 50002},
	})
	if n := len(fl.Records()); n != before {
		t.Errorf("failed writes left %d records", n-before)
	}
	// No half-written state: after the outage, the same requests work.
	fl.setFail(nil)
	e.run(t, []step{
		{method: "GET", path: "/subjects/s/versions", status: 200, want: `[1]`},
		{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"BACKWARD"}`},
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV2), status: 200, want: `{"id":2}`},
	})
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.do("GET", "/schemas/ids/1", "")
	e.do("GET", "/schemas/ids/9", "")
	e.do("BREW", "/coffee", "")
	body := e.must("GET", "/metrics", "")
	for _, want := range []string{
		`waybill_registry_http_requests_total{code="200",method="GET",route="/schemas/ids/{id}"} 1`,
		`waybill_registry_http_requests_total{code="404",method="GET",route="/schemas/ids/{id}"} 1`,
		`waybill_registry_http_requests_total{code="200",method="POST",route="/subjects/{subject}/versions"} 1`,
		`waybill_registry_http_requests_total{code="404",method="OTHER",route="unmatched"} 1`,
		`waybill_registry_http_request_duration_seconds_bucket{route="/schemas/ids/{id}",le=`,
		"waybill_registry_schemas 1",
		"waybill_registry_subjects 1",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestServe: TLS, and a graceful shutdown that lets the request in flight
// finish.
func TestServe(t *testing.T) {
	mem := schemalog.NewMemory()
	reg, err := registry.New(context.Background(), registry.Config{Log: mem, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	// A TLS certificate: httptest's.
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	cert := ts.TLS.Certificates[0]
	client := ts.Client()
	ts.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Serve(ctx, ln, &tls.Config{Certificates: []tls.Certificate{cert}}, 5*time.Second) }()
	url := "https://" + ln.Addr().String()
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "{}" {
		t.Fatalf("GET / over TLS: %d %s", resp.StatusCode, b)
	}
	// Plain HTTP is refused on a TLS listener.
	if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served on the TLS listener")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if resp, err := client.Get(url + "/"); err == nil {
		resp.Body.Close()
		t.Error("still serving after shutdown")
	}
}
