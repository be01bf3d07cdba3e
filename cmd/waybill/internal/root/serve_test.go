package root_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/cmd/waybill/internal/root"
)

// syncBuilder is a strings.Builder safe for the server's goroutines.
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

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve runs `waybill registry serve` until stop is called, which returns
// its exit code and standard error.
func serve(t *testing.T, args ...string) (url string, stop func() (int, string)) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuilder
	done := make(chan int, 1)
	go func() {
		done <- root.Run(ctx, append([]string{"registry", "serve", "--addr", addr}, args...), strings.NewReader(""), io.Discard, &stderr)
	}()
	url = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited %d before serving: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not come up: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return url, func() (int, string) {
		cancel()
		return <-done, stderr.String()
	}
}

// TestServeKafka runs the registry command on Kafka storage (the in-process
// broker): a schema registered before a restart of the command is there
// after it, and SIGINT-like cancellation stops it cleanly with exit 0.
func TestServeKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")

	url, stop := serve(t, "--storage", "kafka", "--bootstrap-servers", brokers)
	resp, err := http.Post(url+"/subjects/orders-value/versions", "application/vnd.schemaregistry.v1+json",
		strings.NewReader(`{"schema":"{\"type\":\"record\",\"name\":\"Order\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"id":1}` {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	if code, stderr := stop(); code != 0 || !strings.Contains(stderr, "registry: stopped") {
		t.Fatalf("stop: exit %d, stderr %s", code, stderr)
	}

	url, stop = serve(t, "--storage", "kafka", "--bootstrap-servers", brokers)
	defer stop()
	resp, err = http.Get(url + "/subjects/orders-value/versions/latest")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"id":1`) {
		t.Fatalf("after a restart: %d %s", resp.StatusCode, body)
	}
}

func TestServeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"registry", "serve", "--storage", "disk"},
		{"registry", "serve", "--tls-cert", "x.pem"},
		{"registry", "serve", "--addr", "127.0.0.1:99999"},
		{"registry", "serve", "--users-file", "/nonexistent"},
	} {
		code, _, stderr := waybill(t, "", args...)
		checkStderr(t, code, stderr)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
