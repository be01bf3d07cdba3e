// Package platform is what every logistics service (order, warehouse,
// shipment, alert, notification) shares: its configuration from the
// environment or from the embedded stack, and an App that holds the
// service's runtime and runs it until its context ends.
//
// An App gives a service:
//
//   - Serde: the Avro serde on the Schema Registry at Config.RegistryURL;
//   - Producer: an idempotent producer whose ce_source is "<name>-service".
//     It sends at once (linger.ms=0 unless the Kafka configuration sets
//     it): services send inside a bbolt transaction and wait for the
//     acknowledgement, so a batching delay would be pure latency, paid once
//     per event by every writer queued on the database (5 ms, librdkafka's
//     default, cut a service to a third of its rate);
//   - Consumer(topics...): the service's consumer group "<name>-service",
//     de-duplicating by event ID in Store, a bbolt file at Dir/state.db;
//   - DB: that same bbolt file, for the service's own state, so a handler
//     changes its state through dedup.Tx(ctx) in the transaction that marks
//     the event handled (both commit, or neither);
//   - Mux: the HTTP API, with GET /healthz (200 while the consumer and the
//     producer run, 503 otherwise) and GET /metrics (Prometheus, the
//     service's own registry: its producer's and consumer's waybill_*
//     metrics, waybill_http_* of the API, Go and process collectors);
//   - Logger: log/slog with a "service" attribute; records logged with a
//     context carry the trace ID of the event being handled or of the HTTP
//     request (trace_id), and Logger(ctx) returns the service's logger with
//     it added;
//   - Go: background tasks (tickers) that run as long as the service.
//
// Run (or App.Run) serves until its context ends, then shuts down in order:
// the HTTP server and the consumer finish what they are doing (running
// handlers and requests complete, offsets are committed), background tasks
// return, then the producer flushes every event accepted and the state file
// is closed. Main wraps it for a service's binary: configuration from the
// environment, SIGINT and SIGTERM stop it cleanly (exit 0), a bad
// configuration exits 2 with one line on stderr.
//
// Each HTTP request runs with a trace context (kafka.ContextWithTrace): the
// W3C traceparent header of the request when it has a valid one, a new
// trace otherwise, so the events a request produces start (or continue) a
// trace; the response carries its trace ID in the X-Trace-Id header.
//
// The same service runs in `waybill dev` (Service: the embedded stack
// hands it devstack.Env, FromDevstack adapts it) and in docker-compose
// (Main: FromEnv), so both run the same code.
package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/internal/httpserve"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/dedup"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

// Environment variables FromEnv reads (besides every WAYBILL_KAFKA_*
// property, see kafka.LoadConfig).
const (
	EnvKafkaConfig      = "WAYBILL_KAFKA_CONFIG" // a librdkafka properties file, optional
	EnvBootstrapServers = "WAYBILL_KAFKA_BOOTSTRAP_SERVERS"
	EnvRegistryURL      = registry.EnvURL // WAYBILL_REGISTRY_URL
	EnvRegistryUsername = registry.EnvUsername
	EnvRegistryPassword = registry.EnvPassword
	EnvHTTPAddr         = "WAYBILL_HTTP_ADDR"
	EnvDataDir          = "WAYBILL_DATA_DIR"
	EnvLogLevel         = "WAYBILL_LOG_LEVEL"  // debug, info (default), warn, error
	EnvLogFormat        = "WAYBILL_LOG_FORMAT" // text (default) or json
)

// Defaults of FromEnv.
const (
	DefaultBootstrapServers = "127.0.0.1:9092"
	DefaultRegistryURL      = "http://127.0.0.1:8081"
	// DefaultShutdownGrace bounds each step of the shutdown when
	// Config.ShutdownGrace is zero.
	DefaultShutdownGrace = 10 * time.Second
)

// DefaultAddrs are the services' HTTP addresses when WAYBILL_HTTP_ADDR is
// not set, as DESIGN.md numbers them from 127.0.0.1:8090. A service not
// listed gets a free port.
var DefaultAddrs = map[string]string{
	"order":        "127.0.0.1:8090",
	"warehouse":    "127.0.0.1:8091",
	"shipment":     "127.0.0.1:8092",
	"alert":        "127.0.0.1:8093",
	"notification": "127.0.0.1:8094",
}

// Config is what a service needs to run: where Kafka and the registry are,
// where its state and HTTP API go.
type Config struct {
	// Name is the service's short name ("order"): its consumer group and
	// ce_source are "<Name>-service". Required.
	Name string
	// Kafka is how to reach Kafka; bootstrap.servers is required.
	Kafka kafka.Config
	// RegistryURL is the Schema Registry's base URL. Required.
	RegistryURL string
	// RegistryUsername and RegistryPassword are the registry's basic auth
	// credentials, if it needs any.
	RegistryUsername, RegistryPassword string
	// Dir is the service's data directory (created if missing); its state
	// and de-duplication store are Dir/state.db. Required.
	Dir string
	// Listener is where the HTTP API is served; when nil, New listens on
	// Addr. The App closes it.
	Listener net.Listener
	// Addr is the HTTP address to listen on when Listener is nil
	// ("127.0.0.1:8090", ":8090"; port 0 picks a free port).
	Addr string
	// Logger receives the service's log; nil means slog.Default().
	Logger *slog.Logger
	// ShutdownGrace bounds each step of the shutdown: requests in flight,
	// running handlers, the producer's flush. 0 means DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

// Source returns the service's ce_source and consumer group,
// "<Name>-service".
func (c Config) Source() string { return c.Name + "-service" }

// FromEnv reads a service's configuration from the environment, as the
// binaries run in docker-compose: getenv looks a variable up (os.Getenv).
//
// Kafka: every WAYBILL_KAFKA_<PROPERTY> variable sets a librdkafka property
// (kafka.LoadConfig), over the properties file WAYBILL_KAFKA_CONFIG names,
// if any; bootstrap.servers defaults to 127.0.0.1:9092. The names of the
// WAYBILL_KAFKA_* variables are taken from os.Environ() and their values
// through getenv. WAYBILL_REGISTRY_URL (default http://127.0.0.1:8081, with
// WAYBILL_REGISTRY_USERNAME and _PASSWORD for basic auth),
// WAYBILL_HTTP_ADDR (default DefaultAddrs[name]), WAYBILL_DATA_DIR (default
// .waybill/<name>), WAYBILL_LOG_LEVEL (debug|info|warn|error, default info)
// and WAYBILL_LOG_FORMAT (text|json, default text; the log goes to stderr).
func FromEnv(name string, getenv func(string) string) (Config, error) {
	var environ []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, kafka.EnvPrefix) {
			if v := getenv(k); v != "" {
				environ = append(environ, k+"="+v)
			}
		}
	}
	return fromEnv(name, getenv, environ, os.Stderr)
}

// FromEnviron is FromEnv on environ, os.Environ()'s form ("NAME=value"),
// and with the log written to logOut: for tests, and callers that build
// the environment themselves.
func FromEnviron(name string, environ []string, logOut io.Writer) (Config, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return fromEnv(name, func(k string) string { return vars[k] }, environ, logOut)
}

func fromEnv(name string, getenv func(string) string, environ []string, logOut io.Writer) (Config, error) {
	if name == "" {
		return Config{}, errors.New("platform: no service name")
	}
	// WAYBILL_KAFKA_CONFIG names the file; it is no librdkafka property.
	environ = slices.DeleteFunc(slices.Clone(environ), func(kv string) bool {
		return strings.HasPrefix(kv, EnvKafkaConfig+"=")
	})
	kc, err := kafka.LoadConfig(getenv(EnvKafkaConfig), environ)
	if err != nil {
		return Config{}, fmt.Errorf("platform: %w", err)
	}
	if kc.Brokers() == "" {
		kc = kc.With("bootstrap.servers", DefaultBootstrapServers)
	}
	cfg := Config{
		Name:             name,
		Kafka:            kc,
		RegistryURL:      orDefault(getenv(EnvRegistryURL), DefaultRegistryURL),
		RegistryUsername: getenv(EnvRegistryUsername),
		RegistryPassword: getenv(EnvRegistryPassword),
		Addr:             orDefault(getenv(EnvHTTPAddr), DefaultAddrs[name]),
		Dir:              orDefault(getenv(EnvDataDir), filepath.Join(devstack.DefaultDir, name)),
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	var level slog.Level
	if v := getenv(EnvLogLevel); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return Config{}, fmt.Errorf("platform: %s=%q: want debug, info, warn or error", EnvLogLevel, v)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f := getenv(EnvLogFormat); f {
	case "", "text":
		cfg.Logger = slog.New(slog.NewTextHandler(logOut, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(logOut, opts))
	default:
		return Config{}, fmt.Errorf("platform: %s=%q: want text or json", EnvLogFormat, f)
	}
	return cfg, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// FromDevstack adapts what the embedded stack gives a service.
func FromDevstack(name string, env devstack.Env) Config {
	return Config{
		Name:        name,
		Kafka:       env.Kafka,
		RegistryURL: env.RegistryURL,
		Dir:         env.Dir,
		Listener:    env.Listener,
		Addr:        env.Addr,
		Logger:      env.Logger,
	}
}

// Service returns the devstack.Service that runs setup's service in the
// embedded stack: Run(ctx, FromDevstack(name, env), setup).
func Service(name string, setup func(*App) error) devstack.Service {
	return service{name, setup}
}

type service struct {
	name  string
	setup func(*App) error
}

func (s service) Name() string { return s.name }

func (s service) Run(ctx context.Context, env devstack.Env) error {
	return Run(ctx, FromDevstack(s.name, env), s.setup)
}

// App is a running service's runtime. New makes it; the service's Setup
// registers its handlers (Consumer), routes (Mux) and tasks (Go); Run runs
// it. Fields are set by New and must not be replaced.
type App struct {
	// Name is Config.Name.
	Name string
	// Serde decodes and encodes events through the registry.
	Serde *serde.Serde
	// Producer sends the service's events (ce_source "<name>-service").
	Producer *producer.Producer
	// Store is the durable de-duplication store of the consumer.
	Store *dedup.Bolt
	// DB is the service's state, the file of Store: read with DB.View;
	// write inside a handler through dedup.Tx(ctx), elsewhere (an HTTP
	// handler) with DB.Update.
	DB *bbolt.DB
	// Mux routes the HTTP API; /healthz and /metrics are registered.
	Mux *http.ServeMux
	// Metrics is the service's own Prometheus registry, served on /metrics:
	// register the service's collectors here.
	Metrics *prometheus.Registry
	// Logger is the service's logger (see Logger for one with the trace
	// ID of a context).
	Logger *slog.Logger

	cfg      Config
	ln       net.Listener
	addr     string
	mu       sync.Mutex
	consumer *consumer.Consumer
	topics   []string
	tasks    []task
	running  bool
	closed   bool

	consumerUp atomic.Bool
	producerUp atomic.Bool
	stopping   atomic.Bool
	http       *httpMetrics
}

type task struct {
	name string
	fn   func(ctx context.Context) error
}

// New opens the service's state (Dir/state.db), makes its producer, serde,
// metrics and HTTP mux, and listens on its HTTP address. It connects to
// nothing yet. Call Run, or Close if Run is not to be called.
func New(cfg Config) (*App, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("platform: Config.Name is required")
	case cfg.Kafka.Brokers() == "":
		return nil, fmt.Errorf("platform: %s: no Kafka bootstrap.servers", cfg.Name)
	case cfg.RegistryURL == "":
		return nil, fmt.Errorf("platform: %s: no registry URL", cfg.Name)
	case cfg.Dir == "":
		return nil, fmt.Errorf("platform: %s: no data directory", cfg.Name)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	base := cfg.Logger
	if base == nil {
		base = slog.Default()
	}
	logger := slog.New(traceHandler{base.Handler()}).With("service", cfg.Source())
	a := &App{Name: cfg.Name, cfg: cfg, Logger: logger, Mux: http.NewServeMux(), Metrics: prometheus.NewRegistry()}
	ok := false
	defer func() {
		if !ok {
			_ = a.Close()
		}
	}()
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.http = newHTTPMetrics(a.Metrics)

	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("platform: %s: %w", cfg.Name, err)
	}
	store, err := dedup.OpenBolt(filepath.Join(cfg.Dir, "state.db"), dedup.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("platform: %s: state: %w", cfg.Name, err)
	}
	a.Store, a.DB = store, store.DB()

	client, err := registry.New(registry.Config{URL: cfg.RegistryURL, Username: cfg.RegistryUsername, Password: cfg.RegistryPassword})
	if err != nil {
		return nil, fmt.Errorf("platform: %s: %w", cfg.Name, err)
	}
	a.Serde = serde.New(client)
	pk := cfg.Kafka
	if _, set := pk.Properties["linger.ms"]; !set {
		pk = pk.With("linger.ms", "0")
	}
	a.Producer, err = producer.New(producer.Config{
		Kafka: pk, Source: cfg.Source(), Registerer: a.Metrics, Logger: logger.With("component", "producer"),
	}, a.Serde)
	if err != nil {
		return nil, fmt.Errorf("platform: %s: %w", cfg.Name, err)
	}
	a.producerUp.Store(true)

	a.ln = cfg.Listener
	if a.ln == nil {
		a.ln, err = net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("platform: %s: %w", cfg.Name, err)
		}
	}
	a.addr = a.ln.Addr().String()
	a.Mux.HandleFunc("GET /healthz", a.healthz)
	a.Mux.Handle("GET /metrics", metricsHandler(a.Metrics))
	ok = true
	return a, nil
}

// Config returns the configuration the App was made with.
func (a *App) Config() Config { return a.cfg }

// Addr returns the address the HTTP API listens on.
func (a *App) Addr() string { return a.addr }

// Consumer returns the service's consumer, subscribed to topics, for the
// generated Handle functions (orderevents.HandleOrderCreated(c, ...)).
// The first call makes it; a later call must name no topic the first did
// not (a consumer's topics are fixed when it is made), and returns the same
// consumer. Call it from Setup, before Run.
//
// The consumer's group is "<name>-service"; it de-duplicates by event ID in
// Store (durable, shared with DB), so a handler that writes its state
// through dedup.Tx(ctx) changes it exactly once per event. Handlers run
// one at a time (bbolt has one writer): keep them short.
func (a *App) Consumer(topics ...string) (*consumer.Consumer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running {
		return nil, fmt.Errorf("platform: %s: Consumer called after Run", a.Name)
	}
	if a.consumer != nil {
		for _, t := range topics {
			if !slices.Contains(a.topics, t) {
				return nil, fmt.Errorf("platform: %s: consumer already subscribed to %v, not to %s: name every topic in the first call", a.Name, a.topics, t)
			}
		}
		return a.consumer, nil
	}
	if len(topics) == 0 {
		return nil, fmt.Errorf("platform: %s: Consumer needs a topic", a.Name)
	}
	c, err := consumer.New(consumer.Config{
		Kafka: a.cfg.Kafka, Group: a.cfg.Source(), Topics: topics, Dedup: a.Store,
		ShutdownTimeout: a.cfg.ShutdownGrace, Registerer: a.Metrics, Logger: a.Logger.With("component", "consumer"),
	}, a.Serde)
	if err != nil {
		return nil, fmt.Errorf("platform: %s: %w", a.Name, err)
	}
	a.consumer, a.topics = c, slices.Clone(topics)
	return c, nil
}

// Go registers a background task that runs, with Run's context, for as
// long as the service: it must return when its context ends. A task that
// returns an error, or returns before the context ends, stops the service.
// Call it from Setup, before Run.
func (a *App) Go(name string, fn func(ctx context.Context) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tasks = append(a.tasks, task{name, fn})
}

// Run serves the HTTP API, runs the consumer (if Consumer was called) and
// the background tasks until ctx ends, then shuts down gracefully (see the
// package doc) and closes the App. It returns nil after a clean shutdown,
// and an error when a part failed or stopped by itself (the rest is then
// stopped too). Run may be called once.
func (a *App) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running || a.closed {
		a.mu.Unlock()
		return fmt.Errorf("platform: %s: Run called twice or after Close", a.Name)
	}
	a.running = true
	c, tasks := a.consumer, slices.Clone(a.tasks)
	a.mu.Unlock()

	ctx = withLogger(ctx, a.Logger)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	start := func(name string, fn func(context.Context) error) {
		wg.Go(func() {
			err := fn(runCtx)
			if err == nil && runCtx.Err() == nil {
				err = errors.New("stopped by itself")
			}
			if err != nil {
				if runCtx.Err() == nil {
					a.Logger.Error("stopping the service", "component", name, "err", err)
				}
				emu.Lock()
				errs = append(errs, fmt.Errorf("platform: %s: %s: %w", a.Name, name, err))
				emu.Unlock()
				cancel()
			}
		})
	}
	if c != nil {
		a.consumerUp.Store(true)
		start("consumer", func(ctx context.Context) error {
			defer a.consumerUp.Store(false)
			return c.Run(ctx)
		})
	}
	for _, t := range tasks {
		start(t.name, t.fn)
	}
	ln := a.ln
	a.ln = nil // Serve closes it
	start("http", func(ctx context.Context) error {
		return httpserve.Serve(ctx, ln, nil, a.cfg.ShutdownGrace, a.Handler(), a.Logger.With("component", "http"))
	})
	registryURL := a.cfg.RegistryURL
	if u, err := url.Parse(registryURL); err == nil {
		registryURL = u.Redacted() // no password in the log
	}
	a.Logger.Info("service started", "addr", a.addr, "kafka", a.cfg.Kafka.Brokers(), "registry", registryURL, "dir", a.cfg.Dir)
	<-runCtx.Done()
	a.stopping.Store(true)
	wg.Wait()
	if err := a.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.Logger.Info("service stopped")
	return nil
}

// Close flushes and closes the producer (bounded by ShutdownGrace) and
// closes the state file and the listener. Run calls it; call it only when
// Run is not called (a Setup that failed).
func (a *App) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.stopping.Store(true)
	var errs []error
	if a.Producer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
		if err := a.Producer.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("platform: %s: %w", a.Name, err))
		}
		cancel()
		a.producerUp.Store(false)
	}
	if a.Store != nil {
		if err := a.Store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("platform: %s: %w", a.Name, err))
		}
	}
	if a.ln != nil {
		_ = a.ln.Close()
	}
	return errors.Join(errs...)
}

// Run makes an App for cfg, lets setup register the service on it, and runs
// it until ctx ends (App.Run).
func Run(ctx context.Context, cfg Config, setup func(*App) error) error {
	a, err := New(cfg)
	if err != nil {
		return err
	}
	if err := setup(a); err != nil {
		_ = a.Close()
		return fmt.Errorf("platform: %s: setup: %w", cfg.Name, err)
	}
	return a.Run(ctx)
}

// Main runs a service's binary: the configuration from the environment
// (FromEnv), stopped by SIGINT or SIGTERM. It returns the exit code: 0
// after a clean stop, 1 when the service failed while running, 2 when it
// could not start (a bad configuration, an unusable data directory), with
// one line on stderr.
//
//	func main() { os.Exit(platform.Main("order", order.Setup)) }
func Main(name string, setup func(*App) error) int {
	cfg, err := FromEnv(name, os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s-service: %v\n", name, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process, as without a handler
	}()
	a, err := New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s-service: %v\n", name, err)
		return 2
	}
	if err := setup(a); err != nil {
		_ = a.Close()
		fmt.Fprintf(os.Stderr, "%s-service: setup: %v\n", name, err)
		return 2
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "%s-service: %v\n", name, err)
		return 1
	}
	return 0
}
