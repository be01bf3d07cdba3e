package devstack_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/pkg/kafka"
	sr "github.com/waybill/waybill/pkg/registry"
)

const schemas = "../../schemas"

// testConfig is a stack in dir on free ports.
func testConfig(t *testing.T, dir string, services ...devstack.Service) devstack.Config {
	return devstack.Config{
		Dir:          dir,
		Schemas:      schemas,
		KafkaAddr:    "127.0.0.1:0",
		RegistryAddr: "127.0.0.1:0",
		ServicesAddr: "127.0.0.1:0",
		Services:     services,
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// testWriter logs into the test, for the warnings of a failing run.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func start(t *testing.T, cfg devstack.Config) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := devstack.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

func closeStack(t *testing.T, s *devstack.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// probe is a service that records what it was given and serves /healthz.
type probe struct {
	name string
	mu   sync.Mutex
	env  devstack.Env
	// stopped is closed when Run returns, after its context ended.
	stopped chan struct{}
	fail    error // returned at once when set
}

func newProbe(name string) *probe { return &probe{name: name, stopped: make(chan struct{})} }

func (p *probe) Name() string { return p.name }

func (p *probe) Run(ctx context.Context, env devstack.Env) error {
	p.mu.Lock()
	p.env = env
	p.mu.Unlock()
	if p.fail != nil {
		env.Listener.Close()
		return p.fail
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok "+p.name) })
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(env.Listener) }()
	<-ctx.Done()
	srv.Close()
	close(p.stopped)
	return nil
}

func (p *probe) Env() devstack.Env {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.env
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func subjects(t *testing.T, registryURL string) []string {
	t.Helper()
	code, body := get(t, registryURL+"/subjects")
	if code != http.StatusOK {
		t.Fatalf("GET /subjects: %d %s", code, body)
	}
	var subs []string
	if err := json.Unmarshal([]byte(body), &subs); err != nil {
		t.Fatalf("GET /subjects: %v: %s", err, body)
	}
	slices.Sort(subs)
	return subs
}

// topics returns the broker's topics and their partition counts, internal
// topics (_schemas) left out, through confluent-kafka-go.
func topics(t *testing.T, cfg kafka.Config) map[string]int {
	t.Helper()
	cm := cfg.ConfigMap(nil)
	admin, err := ck.NewAdminClient(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	md, err := admin.GetMetadata(nil, true, 10_000)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	got := map[string]int{}
	for name, tm := range md.Topics {
		if !strings.HasPrefix(name, "_") {
			got[name] = len(tm.Partitions)
		}
	}
	return got
}

// retention returns topic's retention.ms.
func retention(t *testing.T, cfg kafka.Config, topic string) string {
	t.Helper()
	cm := cfg.ConfigMap(nil)
	admin, err := ck.NewAdminClient(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := admin.DescribeConfigs(ctx, []ck.ConfigResource{{Type: ck.ResourceTopic, Name: topic}})
	if err != nil || len(res) != 1 || res[0].Error.Code() != ck.ErrNoError {
		t.Fatalf("describe %s: %v %v", topic, err, res)
	}
	return res[0].Config["retention.ms"].Value
}

// produce writes one record to topic and waits for its ack.
func produce(t *testing.T, cfg kafka.Config, topic string) {
	t.Helper()
	cm := cfg.ConfigMap(nil)
	p, err := ck.NewProducer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan ck.Event, 1)
	if err := p.Produce(&ck.Message{TopicPartition: ck.TopicPartition{Topic: &topic, Partition: 0}, Key: []byte("k"), Value: []byte("v")}, done); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-done:
		if m := e.(*ck.Message); m.TopicPartition.Error != nil {
			t.Fatalf("produce: %v", m.TopicPartition.Error)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("produce: no ack in 10s")
	}
}

// highWatermark returns the end offset of partition 0 of topic.
func highWatermark(t *testing.T, cfg kafka.Config, topic string) int64 {
	t.Helper()
	cm := cfg.ConfigMap(map[string]any{"group.id": "devstack-test"})
	c, err := ck.NewConsumer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, high, err := c.QueryWatermarkOffsets(topic, 0, 10_000)
	if err != nil {
		t.Fatalf("watermarks of %s: %v", topic, err)
	}
	return high
}

func TestStartAndResume(t *testing.T) {
	dir := t.TempDir()
	svc := newProbe("probe")
	began := time.Now()
	s := start(t, testConfig(t, dir, svc))
	t.Logf("first start: %v", time.Since(began))

	// The catalog's topics and their dead-letter topics.
	want := map[string]int{}
	for _, tp := range s.Catalog().Topics {
		want[tp.Name] = tp.Partitions
		want[kafka.DeadLetterTopic(tp.Name)] = tp.Partitions
	}
	if len(want) != 8 {
		t.Errorf("schemas/ has %d topics and dead-letter topics, want 8", len(want))
	}
	if diff := cmp.Diff(want, topics(t, s.Config())); diff != "" {
		t.Errorf("topics (-want +got):\n%s", diff)
	}
	var wantCreated []string
	for name := range want {
		wantCreated = append(wantCreated, name)
	}
	slices.Sort(wantCreated)
	if diff := cmp.Diff(wantCreated, s.Created()); diff != "" {
		t.Errorf("Created (-want +got):\n%s", diff)
	}

	// schemas/ pushed: every subject of the catalog registered, cleanly.
	plan, results := s.Push()
	if plan.Empty() || !sr.Passed(plan, results) {
		var b strings.Builder
		_ = plan.WriteText(&b, results)
		t.Fatalf("first push did not register cleanly:\n%s", b.String())
	}
	var wantSubjects []string
	for _, e := range s.Catalog().Events {
		wantSubjects = append(wantSubjects, e.Subject())
	}
	for _, e := range s.Catalog().Shared {
		wantSubjects = append(wantSubjects, e.Subject())
	}
	slices.Sort(wantSubjects)
	if diff := cmp.Diff(wantSubjects, subjects(t, s.RegistryURL())); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
	if plan.Count(sr.Register) != plan.Versions {
		t.Errorf("first push registered %d versions, want all %d", plan.Count(sr.Register), plan.Versions)
	}

	// The UI, with the catalog's topics.
	if code, body := get(t, s.UIURL()+"topics"); code != http.StatusOK || !strings.Contains(body, "order-events") {
		t.Errorf("GET %stopics: %d, want 200 naming order-events:\n%.500s", s.UIURL(), code, body)
	}

	// The service got the stack's addresses, a data directory and a port.
	env := svc.Env()
	if env.Kafka.Brokers() != s.Brokers() || env.RegistryURL != s.RegistryURL() {
		t.Errorf("service env: brokers %q, registry %q; want %q, %q", env.Kafka.Brokers(), env.RegistryURL, s.Brokers(), s.RegistryURL())
	}
	if env.Dir != filepath.Join(dir, "probe") {
		t.Errorf("service dir %q, want %q", env.Dir, filepath.Join(dir, "probe"))
	}
	if info, err := os.Stat(env.Dir); err != nil || !info.IsDir() {
		t.Errorf("service dir: %v", err)
	}
	if diff := cmp.Diff([]devstack.ServiceInfo{{Name: "probe", URL: "http://" + env.Addr}}, s.Services()); diff != "" {
		t.Errorf("Services (-want +got):\n%s", diff)
	}
	if code, body := get(t, s.Services()[0].URL+"/healthz"); code != http.StatusOK || body != "ok probe" {
		t.Errorf("service /healthz: %d %q", code, body)
	}

	// A record, to find again after the restart.
	produce(t, s.Config(), "order-events")

	closeStack(t, s)
	select {
	case <-svc.stopped:
	default:
		t.Error("Close returned before the service stopped")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err after a clean run: %v", err)
	}

	// Again on the same directory: everything is there, nothing to do.
	svc2 := newProbe("probe")
	began = time.Now()
	s = start(t, testConfig(t, dir, svc2))
	t.Logf("second start: %v", time.Since(began))
	defer closeStack(t, s)
	if got := s.Created(); len(got) != 0 {
		t.Errorf("second start created %v, want nothing", got)
	}
	if diff := cmp.Diff(want, topics(t, s.Config())); diff != "" {
		t.Errorf("topics after restart (-want +got):\n%s", diff)
	}
	if plan, results := s.Push(); !plan.Empty() || results != nil {
		var b strings.Builder
		_ = plan.WriteText(&b, results)
		t.Errorf("second push planned something:\n%s", b.String())
	}
	if diff := cmp.Diff(wantSubjects, subjects(t, s.RegistryURL())); diff != "" {
		t.Errorf("subjects after restart (-want +got):\n%s", diff)
	}
	if got := retention(t, s.Config(), "shipment-events.dlq"); got != "2592000000" {
		t.Errorf("shipment-events.dlq retention.ms after restart = %q, want the catalog's 30d", got)
	}
	// The registry still writes to its topic after the restart (its
	// transactional writer resumes on the broker's persisted state).
	resp, err := http.Post(s.RegistryURL()+"/subjects/restart-check/versions", "application/vnd.schemaregistry.v1+json",
		strings.NewReader(`{"schema": "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("registering after restart: %d %s", resp.StatusCode, body)
	}
	if hw := highWatermark(t, s.Config(), "order-events"); hw != 1 {
		t.Errorf("order-events partition 0 ends at %d after restart, want 1 (the record written before)", hw)
	}
}

func TestStartTwiceOnOneDir(t *testing.T) {
	dir := t.TempDir()
	s := start(t, testConfig(t, dir))
	defer closeStack(t, s)
	_, err := devstack.Start(t.Context(), testConfig(t, dir))
	if !errors.Is(err, devstack.ErrLocked) {
		t.Fatalf("second Start on %s = %v, want ErrLocked", dir, err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory", err)
	}
}

func TestStartAddrInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		what string
		set  func(*devstack.Config, string)
	}{
		{"Kafka", func(c *devstack.Config, a string) { c.KafkaAddr = a }},
		{"the registry", func(c *devstack.Config, a string) { c.RegistryAddr = a }},
		{"service probe", func(c *devstack.Config, a string) { c.ServicesAddr = a }},
	} {
		t.Run(tc.what, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(t, dir, newProbe("probe"))
			tc.set(&cfg, taken.Addr().String())
			_, err := devstack.Start(t.Context(), cfg)
			var inUse *devstack.AddrInUseError
			if !errors.As(err, &inUse) || inUse.What != tc.what || inUse.Addr != taken.Addr().String() {
				t.Fatalf("Start = %v, want an AddrInUseError for %s at %s", err, tc.what, taken.Addr())
			}
		})
	}
	// The failed starts released what they had started.
	closeStack(t, start(t, testConfig(t, t.TempDir())))
}

func TestServiceFailure(t *testing.T) {
	bad := newProbe("bad")
	bad.fail = errors.New("cannot open its store")
	good := newProbe("good")
	s := start(t, testConfig(t, t.TempDir(), good, bad))
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after a service failed")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "service bad: cannot open its store") {
		t.Errorf("Err = %v, want the service's failure", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Close(ctx); err == nil || !strings.Contains(err.Error(), "cannot open its store") {
		t.Errorf("Close = %v, want the service's failure", err)
	}
	select {
	case <-good.stopped:
	default:
		t.Error("the good service was not stopped")
	}
}

func TestStartBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*devstack.Config)
		want string
	}{
		{"unspecified Kafka host", func(c *devstack.Config) { c.KafkaAddr = "0.0.0.0:9092" }, `Kafka address "0.0.0.0:9092"`},
		{"no port", func(c *devstack.Config) { c.RegistryAddr = "localhost" }, `registry address "localhost": want host:port`},
		{"no schemas", func(c *devstack.Config) { c.Schemas = "testdata/none" }, "schemas directory"},
		{"service name", func(c *devstack.Config) { c.Services = []devstack.Service{newProbe("Order Service")} }, `service name "Order Service"`},
		{"reserved name", func(c *devstack.Config) { c.Services = []devstack.Service{newProbe("kafka")} }, `service name "kafka" is taken`},
		{"same name", func(c *devstack.Config) { c.Services = []devstack.Service{newProbe("a"), newProbe("a")} }, `two services are named "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			cfg := testConfig(t, dir)
			tc.edit(&cfg)
			_, err := devstack.Start(t.Context(), cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "devstack: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start = %v, want an error with %q", err, tc.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("Start refused its configuration but created %s", dir)
			}
		})
	}
}

func TestStartCanceled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if s, err := devstack.Start(ctx, testConfig(t, dir)); err == nil {
		closeStack(t, s)
		t.Fatal("Start with a canceled context succeeded")
	}
	// Nothing was left holding the directory.
	closeStack(t, start(t, testConfig(t, dir)))
}
