package root_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	server "github.com/waybill/waybill/services/registry"
)

// registryURL starts Waybill's registry server, on a memory log, on
// loopback, and returns its URL.
func registryURL(t *testing.T, users ...server.User) string {
	t.Helper()
	s, err := server.New(context.Background(), server.Config{Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler), Users: users})
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

// schemaCopy copies testdata/schemas to a temporary directory, to be changed.
func schemaCopy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "schemas")
	copyDir(t, schemas, dir)
	return dir
}

func TestRegistryPush(t *testing.T) {
	note := `{"name": "note", "type": ["null", "string"], "default": null, "doc": "A note."}`
	priority := `{"name": "priority", "type": "int", "doc": "How urgent."}`
	type step struct {
		// change is made to the schemas directory before the command runs.
		change func(t *testing.T, dir string)
		args   []string
		code   int
		stdout []string
		// absent must not be in stdout.
		absent []string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "first push registers everything, the second nothing",
			steps: []step{
				{
					code: 0,
					stdout: []string{
						"Plan for http://127.0.0.1:",
						"(3 subjects, 4 versions in the repository):",
						"  ~ waybill.common.Address: compatibility none (registry default BACKWARD) -> FULL_TRANSITIVE\n" +
							"  ~ order-events-waybill.orders.OrderCancelled: compatibility none (registry default BACKWARD) -> BACKWARD_TRANSITIVE\n" +
							"  ~ order-events-waybill.orders.OrderCreated: compatibility none (registry default BACKWARD) -> BACKWARD_TRANSITIVE\n" +
							"  + waybill.common.Address v1 (common/Address/v1.avsc)\n" +
							"  + order-events-waybill.orders.OrderCancelled v1 (orders/OrderCancelled/v1.avsc)\n" +
							"  + order-events-waybill.orders.OrderCreated v1 (orders/OrderCreated/v1.avsc)\n" +
							"  + order-events-waybill.orders.OrderCreated v2 (orders/OrderCreated/v2.avsc), references waybill.common.Address v1\n" +
							"Plan: 4 to register, 3 levels to set, 0 to delete; 0 drift.\n",
						"  ok       + waybill.common.Address v1 (common/Address/v1.avsc): ID ",
						"Applied 7 of 7 actions.",
					},
				},
				{code: 0, stdout: []string{"nothing to do", "Plan: 0 to register, 0 levels to set, 0 to delete; 0 drift."}, absent: []string{"Apply"}},
			},
		},
		{
			name: "dry run writes nothing",
			steps: []step{
				{args: []string{"--dry-run"}, code: 0, stdout: []string{"Plan: 4 to register, 3 levels to set"}, absent: []string{"Apply"}},
				{args: []string{"--dry-run"}, code: 0, stdout: []string{"Plan: 4 to register, 3 levels to set"}},
			},
		},
		{
			name: "a changed file is drift",
			steps: []step{
				{code: 0},
				{
					change: func(t *testing.T, dir string) {
						edit(t, dir, created+"v1.avsc", `"name": "quantity", "type": "int"`, `"name": "quantity", "type": "long"`)
						write(t, dir, created+"v3.avsc", strings.Replace(read(t, dir, created+"v2.avsc"), lastDoc, lastDoc+",\n    "+note, 1))
					},
					code: 1,
					stdout: []string{
						"  + order-events-waybill.orders.OrderCreated v3 (orders/OrderCreated/v3.avsc), references waybill.common.Address v1\n",
						"  ! version 1 of order-events-waybill.orders.OrderCreated in the registry (ID ",
						"differs from orders/OrderCreated/v1.avsc: its schema differs (Parsing Canonical Form) at /fields/2/type\n",
						"Plan: 1 to register, 0 levels to set, 0 to delete; 1 drift.",
						"Applied 1 of 1 action.",
					},
				},
			},
		},
		{
			name: "an incompatible new version fails with the registry's details",
			steps: []step{
				{code: 0},
				{
					change: func(t *testing.T, dir string) {
						write(t, dir, created+"v3.avsc", strings.Replace(read(t, dir, created+"v2.avsc"), lastDoc, lastDoc+",\n    "+priority, 1))
					},
					code: 1,
					stdout: []string{
						"  FAILED   + order-events-waybill.orders.OrderCreated v3 (orders/OrderCreated/v3.avsc), references waybill.common.Address v1: ",
						"priority",
						"(error code 409)",
						"Applied 0 of 1 action: 1 failed, 0 skipped.",
					},
				},
			},
		},
		{
			name: "json",
			steps: []step{
				{args: []string{"--format", "json", "--dry-run"}, code: 0, stdout: []string{`"applied": false`, `"action": "register"`, `"passed": true`}},
				{args: []string{"--format", "json"}, code: 0, stdout: []string{`"applied": true`, `"status": "applied"`}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := registryURL(t)
			dir := schemaCopy(t)
			for i, s := range tt.steps {
				if s.change != nil {
					s.change(t, dir)
				}
				args := append([]string{"registry", "push", "--url", url, "--schemas", dir}, s.args...)
				code, stdout, stderr := waybill(t, "", args...)
				checkStderr(t, code, stderr)
				if code != s.code {
					t.Errorf("step %d: exit %d, want %d\nstdout:\n%s\nstderr: %s", i, code, s.code, stdout, stderr)
				}
				for _, want := range s.stdout {
					if !strings.Contains(stdout, want) {
						t.Errorf("step %d: stdout does not contain %q:\n%s", i, want, stdout)
					}
				}
				for _, no := range s.absent {
					if strings.Contains(stdout, no) {
						t.Errorf("step %d: stdout contains %q:\n%s", i, no, stdout)
					}
				}
				if s.args != nil && s.args[len(s.args)-1] == "json" || strings.Contains(strings.Join(s.args, " "), "json") {
					var v map[string]any
					if err := json.Unmarshal([]byte(stdout), &v); err != nil {
						t.Errorf("step %d: not JSON: %v\n%s", i, err, stdout)
					}
				}
			}
		})
	}
}

func TestRegistryPushCannotRun(t *testing.T) {
	t.Setenv("WAYBILL_REGISTRY_URL", "") // the no-URL case must not find one in the environment
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{name: "unreachable", args: []string{"--url", "http://127.0.0.1:1"}, stderr: "waybill: registry push: registry: cannot reach http://127.0.0.1:1 (GET /config): "},
		{name: "no URL", args: nil, stderr: "--url (or $WAYBILL_REGISTRY_URL) is required"},
		{name: "bad URL", args: []string{"--url", "localhost:8081"}, stderr: `invalid URL "localhost:8081"`},
		{name: "markdown", args: []string{"--url", "http://127.0.0.1:1", "--format", "markdown"}, stderr: "want text or json"},
		{name: "schemas do not load", args: []string{"--url", "http://127.0.0.1:1", "--schemas", "testdata/pair"}, stderr: "does not load"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"registry", "push", "--schemas", schemas}, tt.args...)
			code, stdout, stderr := waybill(t, "", args...)
			checkStderr(t, code, stderr)
			if code != 2 || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q\nstdout: %s", code, stderr, tt.stderr, stdout)
			}
		})
	}
}

func TestCheckAgainstRegistry(t *testing.T) {
	note := `{"name": "note", "type": ["null", "string"], "default": null, "doc": "A note."}`
	priority := `{"name": "priority", "type": "int", "doc": "How urgent."}`
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		format string
		code   int
		stdout []string
	}{
		{
			name:   "in sync",
			change: func(*testing.T, string) {},
			code:   0,
			stdout: []string{"passed: no findings (3 event types, 4 versions against registry:http://127.0.0.1:"},
		},
		{
			name: "compatible new version",
			change: func(t *testing.T, dir string) {
				write(t, dir, created+"v3.avsc", strings.Replace(read(t, dir, created+"v2.avsc"), lastDoc, lastDoc+",\n    "+note, 1))
			},
			code:   0,
			stdout: []string{"passed: no findings (3 event types, 5 versions against registry:http://127.0.0.1:", "; new versions: 1 checked by compat, 1 of them also by the registry)"},
		},
		{
			name: "incompatible new version",
			change: func(t *testing.T, dir string) {
				write(t, dir, created+"v3.avsc", strings.Replace(read(t, dir, created+"v2.avsc"), lastDoc, lastDoc+",\n    "+priority, 1))
			},
			code: 1,
			stdout: []string{
				"/orders/OrderCreated/v3.avsc:11:5: error READER_FIELD_MISSING_DEFAULT_VALUE at /fields/4: compat: BACKWARD_TRANSITIVE: v3 cannot read data written with v1, v2",
				"/orders/OrderCreated/v3.avsc: error REGISTRY_INCOMPATIBLE: registry (BACKWARD_TRANSITIVE): ",
				"failed: ",
			},
		},
		{
			name: "drift, as GitHub annotations",
			change: func(t *testing.T, dir string) {
				edit(t, dir, created+"v1.avsc", `"name": "quantity", "type": "int"`, `"name": "quantity", "type": "long"`)
			},
			format: "github",
			code:   1,
			stdout: []string{"::error file=", "/orders/OrderCreated/v1.avsc,line=9,col=34,title=REGISTRY_DRIFT at /fields/2/type::registry: version 1 of order-events-waybill.orders.OrderCreated (ID "},
		},
		{
			name: "markdown",
			change: func(t *testing.T, dir string) {
				edit(t, dir, created+"v1.avsc", `"name": "quantity", "type": "int"`, `"name": "quantity", "type": "long"`)
			},
			format: "markdown",
			code:   1,
			stdout: []string{"| ❌ error |", "`REGISTRY_DRIFT`"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := registryURL(t)
			dir := schemaCopy(t)
			if code, stdout, stderr := waybill(t, "", "registry", "push", "--url", url, "--schemas", dir); code != 0 {
				t.Fatalf("push: exit %d\n%s%s", code, stdout, stderr)
			}
			tt.change(t, dir)
			args := []string{"compat", "check", "--schemas", dir, "--against", "registry:" + url}
			if tt.format != "" {
				args = append(args, "--format", tt.format)
			}
			code, stdout, stderr := waybill(t, "", args...)
			checkStderr(t, code, stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout does not contain %q:\n%s", want, stdout)
				}
			}
		})
	}
}

func TestCheckAgainstUnreachableRegistry(t *testing.T) {
	code, _, stderr := waybill(t, "", "compat", "check", "--schemas", schemas, "--against", "registry:http://127.0.0.1:1")
	checkStderr(t, code, stderr)
	if want := "waybill: compat check: --against registry:http://127.0.0.1:1: registry: cannot reach http://127.0.0.1:1"; code != 2 || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}

func TestRegistryCredentials(t *testing.T) {
	url := registryURL(t, server.User{Name: "ci", Password: "s3cret", Access: server.ReadWrite})

	code, _, stderr := waybill(t, "", "registry", "push", "--url", url, "--schemas", schemas, "--dry-run")
	checkStderr(t, code, stderr)
	if code != 2 || !strings.Contains(stderr, "Unauthorized") {
		t.Errorf("without credentials: exit %d, stderr %q", code, stderr)
	}

	code, stdout, stderr := waybill(t, "", "registry", "push", "--url", url, "--schemas", schemas, "--username", "ci", "--password", "s3cret", "--dry-run")
	if code != 0 {
		t.Errorf("with --username and --password: exit %d\n%s%s", code, stdout, stderr)
	}

	t.Setenv("WAYBILL_REGISTRY_USERNAME", "ci")
	t.Setenv("WAYBILL_REGISTRY_PASSWORD", "s3cret")
	code, stdout, stderr = waybill(t, "", "registry", "push", "--url", url, "--schemas", schemas)
	if code != 0 {
		t.Errorf("with credentials from the environment: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = waybill(t, "", "compat", "check", "--schemas", schemas, "--against", "registry:"+url)
	if code != 0 || !strings.Contains(stdout, "passed: no findings") {
		t.Errorf("check with credentials from the environment: exit %d\n%s%s", code, stdout, stderr)
	}
}
