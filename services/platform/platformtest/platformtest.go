// Package platformtest runs services built on platform in tests: an
// in-process Kafka broker (kfake) with the catalog's topics, Waybill's Schema
// Registry on httptest holding the repository's schemas, and helpers to start
// a service on them, send it events and read the events it produced.
package platformtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
	"github.com/waybill/waybill/services/platform"
	"github.com/waybill/waybill/services/registry/registrytest"
)

// Env is a test's world: a broker with the catalog's topics (and their
// dead-letter topics) and a registry holding schemas/.
type Env struct {
	Cluster     *kafkatest.Cluster
	RegistryURL string
	Client      *registry.Client
	Serde       *serde.Serde
	Catalog     *catalog.Catalog

	mu       sync.Mutex
	producer *producer.Producer
}

// New starts the broker and the registry for t; both stop when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := kafkatest.New(t)
	dir, err := schemasDir()
	if err != nil {
		t.Fatal(err)
	}
	reg := registrytest.WithSchemas(t, dir)
	client := reg.Client
	cat, err := catalog.Load(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.CreateTopics(ctx, cl.Config(), cat); err != nil {
		t.Fatal(err)
	}
	e := &Env{Cluster: cl, RegistryURL: reg.URL, Client: client, Serde: serde.New(client), Catalog: cat}
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.producer != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = e.producer.Close(ctx)
		}
	})
	return e
}

// schemasDir finds schemas/ at the module's root, above the working
// directory.
func schemasDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "schemas"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("platformtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Config returns a configuration for the service name on the test's broker
// and registry: a fresh data directory, a free port, fast offset commits,
// and a log that is discarded unless WAYBILL_TEST_LOG is set (then stderr,
// at debug level). Start the service again with the same Config to restart
// it on the same data directory.
func (e *Env) Config(t testing.TB, name string) platform.Config {
	t.Helper()
	return platform.Config{
		Name: name,
		Kafka: e.Cluster.Config().
			With("auto.commit.interval.ms", "100").
			With("statistics.interval.ms", "500"),
		RegistryURL:   e.RegistryURL,
		Dir:           filepath.Join(t.TempDir(), name),
		Addr:          "127.0.0.1:0",
		Logger:        Logger(),
		ShutdownGrace: 10 * time.Second,
	}
}

// Logger is the log of services under test: discarded unless the
// environment variable WAYBILL_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("WAYBILL_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Service is a service started by Start.
type Service struct {
	// URL is the base URL of its HTTP API, "http://127.0.0.1:port".
	URL string
	// App is the running App.
	App *platform.App

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Start makes an App for cfg, runs setup on it, runs it and waits until its
// /healthz answers 200. The service is stopped when t ends (Stop).
func (e *Env) Start(t testing.TB, cfg platform.Config, setup func(*platform.App) error) *Service {
	t.Helper()
	a, err := platform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(a); err != nil {
		_ = a.Close()
		t.Fatalf("platformtest: setup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{URL: "http://" + a.Addr(), App: a, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("platformtest: stopping %s: %v", cfg.Name, err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("platformtest: %s not healthy after 30 s: %v", cfg.Name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the service gracefully and returns Run's error; calling it
// again returns the same.
func (s *Service) Stop() error {
	s.once.Do(func() {
		s.cancel()
		select {
		case s.err = <-s.done:
		case <-time.After(60 * time.Second):
			s.err = errors.New("platformtest: the service did not stop within 60 s")
		}
	})
	return s.err
}

// Send sends ev with a producer of the test's own (ce_source "test"),
// under ctx's trace context, and waits for the acknowledgement.
func (e *Env) Send(t testing.TB, ctx context.Context, ev events.Event) producer.Delivery {
	t.Helper()
	e.mu.Lock()
	if e.producer == nil {
		p, err := producer.New(producer.Config{Kafka: e.Cluster.Config(), Source: "test",
			Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}, e.Serde)
		if err != nil {
			e.mu.Unlock()
			t.Fatal(err)
		}
		e.producer = p
	}
	p := e.producer
	e.mu.Unlock()
	d, err := p.Send(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Record returns ev as the record a producer writes (envelope headers,
// a fresh ce_id), for tests that send the same record twice
// (Cluster.Produce) to see it de-duplicated.
func (e *Env) Record(t testing.TB, ev events.Event) *ck.Message {
	t.Helper()
	value, id, err := e.Serde.Serialize(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	m, err := envelope.Encode(envelope.Envelope{
		Source: "test", Type: ev.EventType(), Subject: ev.Key(),
		EventVersion: ev.EventVersion(), SchemaID: id, Body: value[envelope.WireHeaderLen:],
	})
	if err != nil {
		t.Fatal(err)
	}
	topic := ev.Topic()
	hs := make([]ck.Header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = ck.Header{Key: h.Key, Value: h.Value}
	}
	return &ck.Message{
		TopicPartition: ck.TopicPartition{Topic: &topic, Partition: ck.PartitionAny},
		Key:            m.Key, Value: m.Value, Headers: hs,
	}
}

// Record is one event read back from its topic.
type Record[E events.Event] struct {
	Event     E
	Envelope  envelope.Envelope
	Partition int32
	Offset    int64
}

// Events returns every event of E's type on its topic, decoded into E (the
// version the test reads, whatever version was written), in order of
// partition and offset.
func Events[E events.Event](t testing.TB, e *Env, newE func() E) []Record[E] {
	t.Helper()
	proto := newE()
	var out []Record[E]
	for _, m := range e.Cluster.ReadAll(t, proto.Topic()) {
		em := envelope.Message{Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			em.Headers = append(em.Headers, envelope.Header{Key: h.Key, Value: h.Value})
		}
		env, err := envelope.Decode(em)
		if err != nil {
			t.Fatalf("platformtest: %s[%d]@%d: %v", proto.Topic(), m.TopicPartition.Partition, m.TopicPartition.Offset, err)
		}
		if env.Type != proto.EventType() {
			continue
		}
		ev := newE()
		if err := e.Serde.Deserialize(context.Background(), m.Value, ev); err != nil {
			t.Fatalf("platformtest: %s[%d]@%d: %v", proto.Topic(), m.TopicPartition.Partition, m.TopicPartition.Offset, err)
		}
		out = append(out, Record[E]{Event: ev, Envelope: env, Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset)})
	}
	return out
}

// Wait returns the events of E's type for which match is true, once there
// are at least n of them; it fails t after timeout (30 s when 0).
func Wait[E events.Event](t testing.TB, e *Env, newE func() E, n int, timeout time.Duration, match func(E) bool) []Record[E] {
	t.Helper()
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		var got []Record[E]
		for _, r := range Events(t, e, newE) {
			if match == nil || match(r.Event) {
				got = append(got, r)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("platformtest: %d %s events after %s, want %d", len(got), newE().EventType(), timeout, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Eventually polls cond every 50 ms until it returns nil, and fails t with
// its last error after timeout (30 s when 0).
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("platformtest: after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Do sends an HTTP request with body as JSON (none when nil; a string or
// []byte as it is) and returns the status and the response body.
func Do(t testing.TB, method, url string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// DoJSON is Do that decodes the response body into out (when not nil) and
// fails t unless the status is want.
func DoJSON(t testing.TB, method, url string, body any, want int, out any) {
	t.Helper()
	status, b := Do(t, method, url, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
}

// DecodeBody decodes resp's JSON body into out and closes it.
func DecodeBody(t testing.TB, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s %s: decoding the body: %v", resp.Request.Method, resp.Request.URL, err)
	}
}
