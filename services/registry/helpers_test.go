package registry_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/services/registry"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

const ct = "application/vnd.schemaregistry.v1+json"

// env is a registry on httptest over a memory log.
type env struct {
	t   testing.TB
	srv *httptest.Server
	reg *registry.Server
	log *schemalog.Memory
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEnv starts a registry on a memory log holding records.
func newEnv(t testing.TB, records ...schemalog.Record) *env {
	t.Helper()
	return newEnvConfig(t, registry.Config{}, records...)
}

func newEnvConfig(t testing.TB, cfg registry.Config, records ...schemalog.Record) *env {
	t.Helper()
	mem := schemalog.NewMemory(records...)
	cfg.Log = mem
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	reg, err := registry.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(func() {
		srv.Close()
		_ = reg.Close()
	})
	return &env{t: t, srv: srv, reg: reg, log: mem}
}

// do sends a request with a JSON body (none when body is "") and returns
// the status and body.
func (e *env) do(method, path, body string) (int, string) {
	e.t.Helper()
	return e.doType(method, path, body, ct)
}

func (e *env) doType(method, path, body, contentType string) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode < 300 || resp.StatusCode >= 400 {
		if got := resp.Header.Get("Content-Type"); got != ct && path != "/metrics" {
			e.t.Errorf("%s %s: Content-Type %q, want %q", method, path, got, ct)
		}
	}
	return resp.StatusCode, string(b)
}

// must sends a request that must succeed and returns the body.
func (e *env) must(method, path, body string) string {
	e.t.Helper()
	status, out := e.do(method, path, body)
	if status != http.StatusOK {
		e.t.Fatalf("%s %s %s: %d %s", method, path, body, status, out)
	}
	return out
}

// register registers a schema and returns its ID.
func (e *env) register(subject, schema string, refs ...schemalog.Reference) int {
	e.t.Helper()
	var out struct{ ID int }
	if err := json.Unmarshal([]byte(e.must("POST", "/subjects/"+url.PathEscape(subject)+"/versions", schemaBody(schema, refs...))), &out); err != nil {
		e.t.Fatal(err)
	}
	return out.ID
}

// schemaBody is a register/lookup/compatibility request body.
func schemaBody(schema string, refs ...schemalog.Reference) string {
	req := map[string]any{"schema": schema}
	if len(refs) > 0 {
		req["references"] = refs
	}
	b, _ := json.Marshal(req)
	return string(b)
}

// errCode returns the error_code of an error body, or 0.
func errCode(body string) int {
	var e struct {
		ErrorCode int `json:"error_code"`
	}
	_ = json.Unmarshal([]byte(body), &e)
	return e.ErrorCode
}

// record schemas used across the tests: each a compatible evolution of the
// one before under BACKWARD.
const (
	orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"}]}`
	orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"total","type":"long","default":0}]}`
	// orderBad drops no field but adds one without a default: BACKWARD
	// incompatible with orderV1.
	orderBad = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"}]}`
	address  = `{"type":"record","name":"Address","namespace":"common","fields":[{"name":"street","type":"string"}]}`
	customer = `{"type":"record","name":"Customer","namespace":"shop","fields":[{"name":"address","type":"common.Address"}]}`
)

// step is one request of a scenario and what it must answer.
type step struct {
	method, path, body string
	status             int
	// want is the exact response body, when set; code the error_code.
	want string
	code int
}

// run sends the steps in order.
func (e *env) run(t *testing.T, steps []step) {
	t.Helper()
	for _, s := range steps {
		status, body := e.do(s.method, s.path, s.body)
		if status != s.status {
			t.Errorf("%s %s %.80s: status %d, want %d (%s)", s.method, s.path, s.body, status, s.status, body)
			continue
		}
		if s.want != "" && body != s.want {
			t.Errorf("%s %s %.80s:\n got %s\nwant %s", s.method, s.path, s.body, body, s.want)
		}
		if s.code != 0 && errCode(body) != s.code {
			t.Errorf("%s %s %.80s: error_code %d, want %d (%s)", s.method, s.path, s.body, errCode(body), s.code, body)
		}
	}
}

// compact is a schema as the registry stores it: compat's compact JSON.
func compact(t testing.TB, text string, refs ...*compat.Schema) string {
	t.Helper()
	s, err := compat.Parse([]byte(text), refs...)
	if err != nil {
		t.Fatal(err)
	}
	return s.String()
}

// q is a string as JSON, without HTML escaping (as the registry writes it).
func q(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func mustParse(t testing.TB, text string, refs ...*compat.Schema) *compat.Schema {
	t.Helper()
	s, err := compat.Parse([]byte(text), refs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
