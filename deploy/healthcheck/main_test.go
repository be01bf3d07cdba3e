package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			_, _ = w.Write([]byte("ok"))
			return
		}
		http.Error(w, "consumer not running", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"healthy", []string{srv.URL + "/healthz"}, 0, ""},
		{"unhealthy", []string{srv.URL + "/other"}, 1, "503 Service Unavailable: consumer not running"},
		{"unreachable", []string{closed.URL + "/healthz"}, 1, "connection refused"},
		{"no URL", nil, 2, "usage: healthcheck URL"},
		{"bad URL", []string{"http://%zz"}, 2, "invalid URL escape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := run(tc.args, &stderr); code != tc.code {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.msg)
			}
		})
	}
}
