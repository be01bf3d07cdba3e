package main

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{args: []string{"waybill", "--help"}, code: 0, stdout: "Exit codes: 0 passed, 1 findings"},
		{args: []string{"waybill", "lint", "--schemas", "testdata/nope"}, code: 2, stderr: "waybill: schemas directory \"testdata/nope\": no such file or directory\n"},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		if code := run(tt.args, &stdout, &stderr); code != tt.code {
			t.Errorf("run(%q) = %d, want %d", tt.args, code, tt.code)
		}
		if !strings.Contains(stdout.String(), tt.stdout) {
			t.Errorf("run(%q): stdout %q does not contain %q", tt.args, stdout.String(), tt.stdout)
		}
		if stderr.String() != tt.stderr {
			t.Errorf("run(%q): stderr %q, want %q", tt.args, stderr.String(), tt.stderr)
		}
	}
}
