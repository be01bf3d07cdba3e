package devcmd_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waybill/waybill/cmd/waybill/internal/root"
)

const schemas = "../../../../schemas"

// syncBuilder is a strings.Builder safe for the command's goroutines.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// dev is `waybill dev` running in-process.
type dev struct {
	cancel         context.CancelFunc
	done           chan int
	stdout, stderr syncBuilder
}

// startDev runs `waybill dev args...` until it prints its ready line, and
// returns it running.
func startDev(t *testing.T, args ...string) *dev {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &dev{cancel: cancel, done: make(chan int, 1)}
	go func() {
		d.done <- root.Run(ctx, append([]string{"dev"}, args...), strings.NewReader(""), &d.stdout, &d.stderr)
	}()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(d.stdout.String(), "ready in") {
		select {
		case code := <-d.done:
			cancel()
			t.Fatalf("waybill dev exited %d before it was ready:\n%s%s", code, d.stdout.String(), d.stderr.String())
		case <-deadline:
			cancel()
			t.Fatalf("waybill dev not ready in 30s:\n%s%s", d.stdout.String(), d.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return d
}

// stop is Ctrl-C: it cancels the command's context and returns its exit
// code.
func (d *dev) stop(t *testing.T) int {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("waybill dev did not stop in 30s")
		return -1
	}
}

// field returns the rest of the output line that starts with label.
func field(t *testing.T, out, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + ` +(.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", label, out)
	}
	return m[1]
}

func TestDev(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--dir", dir, "--kafka-addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--schemas", schemas}
	d := startDev(t, args...)
	out := d.stdout.String()
	t.Logf("first run:\n%s", out)

	registryURL := field(t, out, "Registry")
	if ui := field(t, out, "UI"); ui != registryURL+"/ui/" {
		t.Errorf("UI %q, want %q", ui, registryURL+"/ui/")
	}
	kafkaLine := field(t, out, "Kafka")
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+ \(state in .*/kafka\)$`).MatchString(kafkaLine) {
		t.Errorf("Kafka line %q", kafkaLine)
	}
	if got := field(t, out, "Topics"); !strings.HasPrefix(got, "8 created: alert-events, alert-events.dlq, order-events,") {
		t.Errorf("Topics line %q, want the 8 topics created", got)
	}
	if got := field(t, out, "Schemas"); !regexp.MustCompile(`^\d+ versions registered, \d+ compatibility levels set \(\d+ subjects, \d+ versions in schemas/\)$`).MatchString(got) {
		t.Errorf("Schemas line %q", got)
	}
	if !regexp.MustCompile(`(?m)^ready in \d+\.\ds$`).MatchString(out) {
		t.Errorf("no `ready in N.Ns` line in:\n%s", out)
	}

	// The registry answers, with the schemas pushed.
	resp, err := http.Get(registryURL + "/subjects")
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	err = json.NewDecoder(resp.Body).Decode(&subjects)
	resp.Body.Close()
	if err != nil || len(subjects) == 0 {
		t.Errorf("GET /subjects: %v, %v", subjects, err)
	}

	// A second stack on the same directory is refused, in one line.
	code, stdout, stderr := run(t, args...)
	if code != 2 || stdout != "" || !regexp.MustCompile(`^waybill: dev: another waybill dev is running on .* \(process \d+\); stop it, or use another --dir\n$`).MatchString(stderr) {
		t.Errorf("second waybill dev on one directory: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	if code := d.stop(t); code != 0 {
		t.Fatalf("waybill dev exited %d after Ctrl-C:\n%s", code, d.stderr.String())
	}
	if !regexp.MustCompile(`(?m)^stopped in \d+\.\ds$`).MatchString(d.stdout.String()) {
		t.Errorf("no `stopped in` line in:\n%s", d.stdout.String())
	}
	if s := d.stderr.String(); s != "" {
		t.Errorf("stderr of a clean run: %s", s)
	}

	// Again: it resumes.
	d = startDev(t, args...)
	out = d.stdout.String()
	t.Logf("second run:\n%s", out)
	if got := field(t, out, "Topics"); got != "8, all there already" {
		t.Errorf("Topics line on resume %q", got)
	}
	if got := field(t, out, "Schemas"); !regexp.MustCompile(`^up to date \(\d+ subjects, \d+ versions in schemas/\)$`).MatchString(got) {
		t.Errorf("Schemas line on resume %q", got)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("waybill dev exited %d after Ctrl-C:\n%s", code, d.stderr.String())
	}
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuilder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = root.Run(ctx, append([]string{"dev"}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDevCannotRun(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	free := []string{"--kafka-addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--schemas", schemas}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"Kafka port in use", append(free, "--kafka-addr", addr),
			"waybill: dev: Kafka address " + addr + " is in use (another waybill dev, or another Kafka?); choose another with --kafka-addr"},
		{"registry port in use", append(free, "--registry-addr", addr),
			"waybill: dev: the registry address " + addr + " is in use (another waybill dev, or another registry?); choose another with --registry-addr"},
		{"no schemas", append(free, "--schemas", "testdata/none"), `waybill: schemas directory "testdata/none": no such file or directory`},
		{"log level", append(free, "--log-level", "loud"), `waybill: dev: --log-level "loud": want debug, info, warn or error`},
		{"argument", []string{"now"}, `waybill: waybill dev: unexpected argument "now"`},
		{"Kafka on every interface", append(free, "--kafka-addr", "0.0.0.0:9092"),
			`waybill: dev: devstack: Kafka address "0.0.0.0:9092": the broker tells clients the address it listens on, so it must be one they can dial, such as 127.0.0.1:9092`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, append([]string{"--dir", t.TempDir()}, tc.args...)...)
			if code != 2 || stdout != "" || stderr != tc.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, tc.want)
			}
		})
	}
}

// TestDevDrift: a published version edited in place is drift, which the
// stack reports in full and runs with.
func TestDevDrift(t *testing.T) {
	dir, schemasCopy := t.TempDir(), filepath.Join(t.TempDir(), "schemas")
	if err := os.CopyFS(schemasCopy, os.DirFS(schemas)); err != nil {
		t.Fatal(err)
	}
	args := []string{"--dir", dir, "--kafka-addr", "127.0.0.1:0", "--registry-addr", "127.0.0.1:0", "--schemas", schemasCopy}
	if code := startDev(t, args...).stop(t); code != 0 {
		t.Fatalf("first run exited %d", code)
	}
	v1 := filepath.Join(schemasCopy, "orders", "OrderCreated", "v1.avsc")
	b, err := os.ReadFile(v1)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `"fields": [`, `"fields": [{"name": "added_in_place", "type": "string", "default": ""},`, 1)
	if edited == string(b) {
		t.Fatalf("%s has no `\"fields\": [` to edit", v1)
	}
	if err := os.WriteFile(v1, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}

	d := startDev(t, args...)
	out := d.stdout.String()
	if got := field(t, out, "Schemas"); !regexp.MustCompile(`^1 drift, nothing to push \(`).MatchString(got) {
		t.Errorf("Schemas line %q, want 1 drift", got)
	}
	for _, want := range []string{
		"! version 1 of order-events-waybill.orders.OrderCreated in the registry",
		"(the registry's state is in " + dir + ": delete it to start afresh)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code := d.stop(t); code != 0 {
		t.Errorf("exit %d with drift, want 0: it runs", code)
	}
}
