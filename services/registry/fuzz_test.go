package registry_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequestBodies sends arbitrary bodies to every endpoint that decodes
// one: the answer is 200 or a JSON error with its code, never a panic or a
// 500.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		schemaBody(orderV1), schemaBody(orderV2), schemaBody(orderBad), refBody,
		`{"schema":"\"string\"","id":5,"version":3}`, `{"schema":""}`, `{}`, `null`, `[]`, `{"schema":1}`,
		`{"compatibility":"FULL"}`, `{"compatibility":"nope"}`, `{"mode":"IMPORT"}`, `{"mode":"READONLY"}`,
		`{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\",\"R\"]}]}"}`,
		`{"schema":"\"string\"","references":[{"name":"x","subject":"s","version":-1}]}`,
		`{"schema":"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"B\"}"}`,
		"", "{", "\x00\xff",
	} {
		f.Add(seed)
	}
	e := newEnv(f)
	e.register("s", orderV1)
	e.register("common.Address", address)
	paths := []struct{ method, path string }{
		{"POST", "/subjects/s/versions"},
		{"POST", "/subjects/f/versions?normalize=true"},
		{"POST", "/subjects/s"},
		{"POST", "/subjects/s?normalize=true&deleted=true"},
		{"POST", "/compatibility/subjects/s/versions?verbose=true"},
		{"POST", "/compatibility/subjects/s/versions/latest"},
		{"PUT", "/config"},
		{"PUT", "/config/f"},
		{"PUT", "/mode/f?force=true"},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			req := httptest.NewRequest(p.method, p.path, strings.NewReader(body))
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			e.reg.ServeHTTP(rec, req)
			if rec.Code == http.StatusOK {
				if !json.Valid(rec.Body.Bytes()) {
					t.Fatalf("%s %s %q: 200 with invalid JSON %q", p.method, p.path, body, rec.Body)
				}
				continue
			}
			var e struct {
				ErrorCode *int    `json:"error_code"`
				Message   *string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.ErrorCode == nil || e.Message == nil {
				t.Fatalf("%s %s %q: %d with body %q", p.method, p.path, body, rec.Code, rec.Body)
			}
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: %d %s", p.method, p.path, body, rec.Code, rec.Body)
			}
		}
	})
}
