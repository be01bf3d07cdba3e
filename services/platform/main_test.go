package platform_test

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/waybill/waybill/services/platform"
	"github.com/waybill/waybill/services/platform/platformtest"
)

const childEnv = "WAYBILL_PLATFORM_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		var ticks atomic.Int64
		os.Exit(platform.Main("counter", counter(&ticks)))
	}
	os.Exit(m.Run())
}

// child runs platform.Main in a process of its own with env added.
func child(t *testing.T, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=1"}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

func exitCode(err error) int {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestMainExit: Main exits 2 with one line on a bad configuration, and 0
// after SIGTERM stopped a running service cleanly.
func TestMainExit(t *testing.T) {
	cmd, stderr := child(t, "WAYBILL_LOG_FORMAT=xml")
	if code := exitCode(cmd.Wait()); code != 2 || strings.Count(stderr.String(), "\n") != 1 ||
		!strings.HasPrefix(stderr.String(), "counter-service: platform: WAYBILL_LOG_FORMAT") {
		t.Errorf("bad configuration: exit %d, stderr %q", code, stderr)
	}

	env := platformtest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd, stderr = child(t, "WAYBILL_KAFKA_BOOTSTRAP_SERVERS="+env.Cluster.Brokers(), "WAYBILL_KAFKA_ENABLE_METRICS_PUSH=false",
		"WAYBILL_REGISTRY_URL="+env.RegistryURL, "WAYBILL_HTTP_ADDR="+addr, "WAYBILL_DATA_DIR="+t.TempDir(), "WAYBILL_LOG_FORMAT=json")
	platformtest.Eventually(t, 30*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(err); code != 0 || !strings.Contains(stderr.String(), `"msg":"service stopped"`) {
			t.Errorf("SIGTERM: exit %d, stderr:\n%s", code, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s after SIGTERM; stderr:\n%s", stderr)
	}
}
