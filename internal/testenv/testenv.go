// Package testenv decides what a test does when something it needs from the
// machine (a Debian package, git, the shared conformance suite) is missing:
// on a developer's machine it skips with a SKIP line saying what to install;
// under CI (CI=true), where .ci/run installs everything, it fails, so a test
// can never silently stop running.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Missing reports that the test cannot run without something the machine
// lacks: t.Skip locally, t.Fatal under CI. The message says what is missing
// and how to get it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, refusing to skip: %s", msg)
	}
	t.Skip("SKIP: " + msg)
}
