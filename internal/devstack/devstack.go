// Package devstack is Waybill's embedded stack, the machinery of `waybill dev`
// and of the end-to-end tests: in one process, a Kafka broker (kfake, with its
// state on disk), Waybill's Schema Registry storing its schemas in that broker
// with the browsing UI, the catalog's topics and their dead-letter topics,
// schemas/ pushed to the registry, and the services, each given the addresses
// of the rest.
//
// State lives under Config.Dir (.waybill/): the broker's log under kafka/ and
// each service's data under <name>/. Starting again on the same directory
// resumes: topics, records and consumer offsets are the broker's, schemas are
// replayed from the registry's _schemas topic, and the push plans nothing new.
//
// The addresses default to DESIGN.md's ("Ports of the embedded stack"):
// Kafka 127.0.0.1:9092, the registry 127.0.0.1:8081 (the UI under /ui/),
// services from 127.0.0.1:8090 up. Port 0 picks a free port, for tests.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/waybill/waybill/internal/httpserve"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	sr "github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/services/registry"
	"github.com/waybill/waybill/services/registry/ui"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The default addresses and directories (DESIGN.md).
const (
	DefaultDir          = ".waybill"
	DefaultSchemas      = "schemas"
	DefaultKafkaAddr    = "127.0.0.1:9092"
	DefaultRegistryAddr = "127.0.0.1:8081"
	DefaultServicesAddr = "127.0.0.1:8090"
	// DefaultShutdownGrace is how long services and HTTP requests in flight
	// may take to finish when the stack closes.
	DefaultShutdownGrace = 10 * time.Second
)

// Config says where the stack keeps its state and listens. The zero value is
// `waybill dev` run from the repository's root.
type Config struct {
	// Dir holds the state: the broker's under Dir/kafka, each service's
	// under Dir/<name>. "" means DefaultDir. Two stacks cannot share it.
	Dir string
	// Schemas is the schema repository (catalog.yaml and the .avsc files)
	// the topics are created from and pushed to the registry. "" means
	// DefaultSchemas.
	Schemas string
	// KafkaAddr is where the broker listens, and the address it gives
	// clients in its metadata, so it must be one they can dial: not
	// 0.0.0.0. "" means DefaultKafkaAddr; port 0, a free port.
	KafkaAddr string
	// RegistryAddr is where the registry and its UI (under /ui/) listen.
	// "" means DefaultRegistryAddr; port 0, a free port.
	RegistryAddr string
	// ServicesAddr is the first service's HTTP address; the next services
	// take the ports after it, in the order of Services. "" means
	// DefaultServicesAddr; port 0, a free port for each.
	ServicesAddr string
	// Services run once the rest is ready, each in its own goroutine,
	// until Close.
	Services []Service
	// ShutdownGrace bounds, on Close, how long HTTP requests in flight
	// may take to finish. 0 means DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// Logger receives the log of every part of the stack, each with a
	// "component" attribute; nil discards it.
	Logger *slog.Logger
}

// Service is a program the stack runs: one of the logistics services.
type Service interface {
	// Name names the service in logs and its data directory: lower-case
	// letters, digits and dashes ("order", "warehouse").
	Name() string
	// Run runs the service until ctx is done, then stops it gracefully and
	// returns nil. An error, or returning before ctx is done, is a failure
	// of the stack (Stack.Done).
	Run(ctx context.Context, env Env) error
}

// Env is what a service is given: where everything else is, and where its
// own state and API go. The same service runs in docker-compose with these
// taken from its environment.
type Env struct {
	// Kafka reaches the broker (Kafka.Brokers() is the bootstrap address).
	Kafka kafka.Config
	// RegistryURL is the Schema Registry's base URL.
	RegistryURL string
	// Dir is the service's data directory, Config.Dir/<name>; it exists.
	Dir string
	// Listener is bound to the service's HTTP address (Addr), for its API,
	// /healthz and /metrics. The service serves on it and closes it.
	Listener net.Listener
	// Addr is Listener's address, "127.0.0.1:8090".
	Addr string
	// Logger is the stack's, with "component" set to the service's name.
	Logger *slog.Logger
}

// ServiceInfo is a running service as Stack.Services lists it.
type ServiceInfo struct {
	Name string
	// URL is the base URL of its HTTP API, "http://127.0.0.1:8090".
	URL string
}

// AddrInUseError is returned by Start when an address it must listen on is
// taken: by another stack, or another Kafka or registry.
type AddrInUseError struct {
	// What listens there: "Kafka", "the registry" or "service <name>".
	What string
	Addr string
	Err  error
}

func (e *AddrInUseError) Error() string {
	return fmt.Sprintf("devstack: %s address %s is in use", e.What, e.Addr)
}

func (e *AddrInUseError) Unwrap() error { return e.Err }

// ErrLocked is what a LockedError matches (errors.Is).
var ErrLocked = errors.New("devstack: another stack is running on this directory")

// LockedError is returned by Start when another stack, in this process or
// another, is running on the same directory.
type LockedError struct {
	Dir string
	// PID is the other stack's process ID, 0 if unknown.
	PID int
}

func (e *LockedError) Error() string {
	if e.PID != 0 {
		return fmt.Sprintf("devstack: another stack is running on %s (process %d)", e.Dir, e.PID)
	}
	return fmt.Sprintf("devstack: another stack is running on %s", e.Dir)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// Stack is a running embedded stack.
type Stack struct {
	cfg     Config
	logger  *slog.Logger
	catalog *catalog.Catalog
	lock    *os.File

	cluster *kafkatest.Cluster
	kafka   kafka.Config

	registry    *registry.Server
	registryURL string
	serveCancel context.CancelFunc
	serveDone   chan struct{}

	created []string
	plan    *sr.Plan
	results []sr.Result

	services       []ServiceInfo
	servicesCancel context.CancelFunc
	servicesWG     sync.WaitGroup
	serviceErrs    []error // by index of cfg.Services

	done     chan struct{}
	failOnce sync.Once
	failErr  error

	closeOnce sync.Once
	closeErr  error
}

var serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// reserved are the names of Dir's entries that are not services'.
var reserved = map[string]bool{"kafka": true, "registry": true}

// Start starts the stack and returns once it is ready: the broker serves, the
// topics exist, the registry holds schemas/ and serves its API and UI, and the
// services have been started. ctx bounds starting; the stack runs until Close,
// and its services' contexts carry ctx's values.
//
// Topics and schemas already there (a second start on the same directory) are
// fine: Created lists the topics this start created, Push what it changed.
// Drift between the registry and schemas/, or a version the registry refused,
// is no error: Push reports it.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	began := time.Now()
	cfg = withDefaults(cfg)
	s := &Stack{cfg: cfg, logger: cfg.Logger, done: make(chan struct{})}
	if err := checkAddrs(cfg); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, svc := range cfg.Services {
		n := svc.Name()
		switch {
		case !serviceName.MatchString(n):
			return nil, fmt.Errorf("devstack: service name %q: want lower-case letters, digits and dashes", n)
		case reserved[n]:
			return nil, fmt.Errorf("devstack: service name %q is taken by the stack's own state", n)
		case seen[n]:
			return nil, fmt.Errorf("devstack: two services are named %q", n)
		}
		seen[n] = true
	}
	if s.catalog, err = loadCatalog(cfg.Schemas); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if s.lock, err = lockDir(cfg.Dir); err != nil {
		return nil, err
	}
	// From here on, a failure undoes what was started.
	defer func() {
		if err != nil {
			s.abort()
		}
	}()

	// Bind every address first, so that one in use is reported before
	// anything slow happens.
	regLn, err := listen("the registry", cfg.RegistryAddr)
	if err != nil {
		return nil, err
	}
	svcLns, err := s.listenServices()
	if err != nil {
		regLn.Close()
		return nil, err
	}
	closeSvcLns := func() {
		for _, ln := range svcLns {
			ln.Close()
		}
	}
	kafkaLn, err := listen("Kafka", cfg.KafkaAddr)
	if err != nil {
		regLn.Close()
		closeSvcLns()
		return nil, err
	}

	s.cluster, err = kafkatest.Start(
		kfake.DataDir(filepath.Join(cfg.Dir, "kafka")),
		kafkatest.Listener(kafkaLn),
		kafkatest.Slog(s.logger.With("component", "kafka")),
	)
	if err != nil {
		kafkaLn.Close() // kfake closes it only on some of its errors
		regLn.Close()
		closeSvcLns()
		return nil, fmt.Errorf("devstack: starting Kafka from %s (delete it to start afresh): %w", filepath.Join(cfg.Dir, "kafka"), err)
	}
	s.kafka = s.cluster.Config()
	s.logger.Debug("devstack: Kafka up", "brokers", s.Brokers(), "after", time.Since(began))

	// The topics and the registry's replay of _schemas are independent:
	// do them at once.
	topicsErr := make(chan error, 1)
	go func() {
		var err error
		s.created, err = kafka.CreateTopics(ctx, s.kafka, s.catalog)
		s.logger.Debug("devstack: topics ensured", "created", len(s.created), "after", time.Since(began))
		topicsErr <- err
	}()
	regErr := s.startRegistry(ctx, regLn)
	s.logger.Debug("devstack: registry replayed", "after", time.Since(began))
	if err := <-topicsErr; err != nil {
		closeSvcLns()
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if regErr != nil {
		closeSvcLns()
		return nil, regErr
	}

	if err := s.push(ctx); err != nil {
		closeSvcLns()
		return nil, err
	}
	s.logger.Debug("devstack: schemas pushed", "after", time.Since(began))

	s.startServices(ctx, svcLns)
	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Dir == "" {
		cfg.Dir = DefaultDir
	}
	if cfg.Schemas == "" {
		cfg.Schemas = DefaultSchemas
	}
	if cfg.KafkaAddr == "" {
		cfg.KafkaAddr = DefaultKafkaAddr
	}
	if cfg.RegistryAddr == "" {
		cfg.RegistryAddr = DefaultRegistryAddr
	}
	if cfg.ServicesAddr == "" {
		cfg.ServicesAddr = DefaultServicesAddr
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

func checkAddrs(cfg Config) error {
	for _, a := range []struct{ what, addr string }{
		{"Kafka", cfg.KafkaAddr}, {"registry", cfg.RegistryAddr}, {"services", cfg.ServicesAddr},
	} {
		host, port, err := net.SplitHostPort(a.addr)
		if err != nil {
			return fmt.Errorf("devstack: %s address %q: want host:port", a.what, a.addr)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("devstack: %s address %q: port %q is not a number up to 65535", a.what, a.addr, port)
		}
		if a.what == "Kafka" {
			if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
				return fmt.Errorf("devstack: Kafka address %q: the broker tells clients the address it listens on, so it must be one they can dial, such as 127.0.0.1:%s", a.addr, port)
			}
		}
	}
	return nil
}

func loadCatalog(dir string) (*catalog.Catalog, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("devstack: schemas directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("devstack: schemas directory %s: not a directory", dir)
	}
	cat, err := catalog.Load(os.DirFS(dir))
	if err != nil {
		var probs catalog.Problems
		if errors.As(err, &probs) && len(probs) > 0 {
			return nil, fmt.Errorf("devstack: %s does not load (%d problems; run waybill lint): %s", dir, len(probs), probs[0].Error())
		}
		return nil, fmt.Errorf("devstack: loading %s: %w", dir, err)
	}
	return cat, nil
}

// listen binds addr for what, telling a port in use apart.
func listen(what, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, &AddrInUseError{What: what, Addr: addr, Err: err}
		}
		return nil, fmt.Errorf("devstack: %s: %w", what, err)
	}
	return ln, nil
}

func (s *Stack) listenServices() ([]net.Listener, error) {
	host, portS, _ := net.SplitHostPort(s.cfg.ServicesAddr)
	port, _ := strconv.Atoi(portS)
	var lns []net.Listener
	for i, svc := range s.cfg.Services {
		p := 0
		if port != 0 {
			p = port + i
		}
		ln, err := listen("service "+svc.Name(), net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// startRegistry replays the registry's _schemas topic and serves its API and
// UI on ln (which it closes on failure).
func (s *Stack) startRegistry(ctx context.Context, ln net.Listener) error {
	logger := s.logger.With("component", "registry")
	log, err := registry.KafkaLog(registry.KafkaConfig{
		Brokers:      []string{s.Brokers()},
		InstanceID:   "waybill-dev",
		ClientConfig: map[string]string{"enable.metrics.push": "false"},
		Logger:       logger,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("devstack: registry: %w", err)
	}
	srv, err := registry.New(ctx, registry.Config{Log: log, Logger: logger})
	if err != nil {
		_ = log.Close()
		ln.Close()
		return fmt.Errorf("devstack: %w", err)
	}
	s.registry = srv
	s.registryURL = "http://" + ln.Addr().String()
	h, err := ui.New(ui.Config{
		// The UI reads the registry in-process, with no network.
		Registry: sr.Config{URL: s.registryURL, Transport: ui.InProcess(srv)},
		Catalog:  s.catalog,
		Prefix:   "/ui/",
		Logger:   logger,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("devstack: registry UI: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	mux.Handle("/", srv)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.serveCancel = cancel
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		if err := httpserve.Serve(sctx, ln, nil, s.cfg.ShutdownGrace, mux, logger); err != nil {
			s.fail(fmt.Errorf("devstack: registry: %w", err))
		}
	}()
	return nil
}

// push makes the registry hold schemas/, as `waybill registry push` does.
func (s *Stack) push(ctx context.Context) error {
	c, err := sr.New(sr.Config{URL: s.registryURL})
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	s.plan, err = sr.PlanSync(ctx, c, s.catalog)
	if err != nil {
		return fmt.Errorf("devstack: pushing schemas: %w", err)
	}
	if len(s.plan.Actions) == 0 {
		return nil
	}
	s.results, err = sr.Apply(ctx, c, s.plan)
	if err != nil {
		return fmt.Errorf("devstack: pushing schemas: %w", err)
	}
	return nil
}

func (s *Stack) startServices(ctx context.Context, lns []net.Listener) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.servicesCancel = cancel
	s.serviceErrs = make([]error, len(s.cfg.Services))
	for i, svc := range s.cfg.Services {
		name := svc.Name()
		dir := filepath.Join(s.cfg.Dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			lns[i].Close()
			s.serviceErrs[i] = fmt.Errorf("devstack: service %s: %w", name, err)
			s.fail(s.serviceErrs[i])
			continue
		}
		env := Env{
			Kafka:       s.kafka,
			RegistryURL: s.registryURL,
			Dir:         dir,
			Listener:    lns[i],
			Addr:        lns[i].Addr().String(),
			Logger:      s.logger.With("component", name),
		}
		s.services = append(s.services, ServiceInfo{Name: name, URL: "http://" + env.Addr})
		s.servicesWG.Add(1)
		go func() {
			defer s.servicesWG.Done()
			err := svc.Run(sctx, env)
			switch {
			case err != nil:
				err = fmt.Errorf("devstack: service %s: %w", name, err)
			case sctx.Err() == nil:
				err = fmt.Errorf("devstack: service %s stopped by itself", name)
			default:
				return
			}
			s.serviceErrs[i] = err
			s.fail(err)
		}()
	}
}

func (s *Stack) fail(err error) {
	s.failOnce.Do(func() {
		s.failErr = err
		close(s.done)
	})
}

// Done is closed when a part of the stack stops by itself: a service fails
// or returns, or the registry stops serving. Err says why. Close the stack
// then.
func (s *Stack) Done() <-chan struct{} { return s.done }

// Err returns why the stack is Done, or nil while it runs.
func (s *Stack) Err() error {
	select {
	case <-s.done:
		return s.failErr
	default:
		return nil
	}
}

// Brokers returns the broker's address, Kafka's bootstrap.servers.
func (s *Stack) Brokers() string { return s.cluster.Brokers() }

// Config returns a kafka.Config for the broker.
func (s *Stack) Config() kafka.Config { return s.kafka }

// RegistryURL returns the Schema Registry's base URL.
func (s *Stack) RegistryURL() string { return s.registryURL }

// UIURL returns the browsing UI's URL.
func (s *Stack) UIURL() string { return s.registryURL + "/ui/" }

// Dir returns the directory the stack keeps its state in.
func (s *Stack) Dir() string { return s.cfg.Dir }

// Catalog returns the catalog the topics were created from and pushed.
func (s *Stack) Catalog() *catalog.Catalog { return s.catalog }

// Topics returns the topics the stack keeps, sorted: the catalog's and
// their dead-letter topics.
func (s *Stack) Topics() []string {
	seen := map[string]bool{}
	var names []string
	for _, t := range s.catalog.Topics {
		for _, n := range []string{t.Name, kafka.DeadLetterTopic(t.Name)} {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

// Created returns the topics Start created, sorted: on a first start, every
// topic of the catalog and its dead-letter topic; on a later one, those the
// catalog gained since.
func (s *Stack) Created() []string { return s.created }

// Push returns the plan that synced schemas/ to the registry, and the
// results of applying it (nil when it planned nothing). registry.Passed
// says whether anything needs a person's attention.
func (s *Stack) Push() (*sr.Plan, []sr.Result) { return s.plan, s.results }

// Services lists the services started, in the order of Config.Services.
func (s *Stack) Services() []ServiceInfo { return s.services }

// Close stops the stack: the services first (their contexts are canceled,
// and Close waits for Run to return), then the registry (requests in flight
// finish, up to Config.ShutdownGrace), then the broker, which writes its
// state to disk. If ctx ends first, Close stops waiting for the services and
// tears down the rest. It returns the services' errors, and ctx's if it
// ended; calling it again returns the same.
func (s *Stack) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *Stack) close(ctx context.Context) error {
	var errs []error
	if s.servicesCancel != nil {
		s.servicesCancel()
		waited := make(chan struct{})
		go func() { s.servicesWG.Wait(); close(waited) }()
		select {
		case <-waited:
			for _, err := range s.serviceErrs {
				if err != nil {
					errs = append(errs, err)
				}
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("devstack: services did not stop: %w", context.Cause(ctx)))
		}
	}
	s.abort()
	return errors.Join(errs...)
}

// abort stops the registry and the broker and releases the directory.
func (s *Stack) abort() {
	if s.serveCancel != nil {
		s.serveCancel()
		<-s.serveDone
	}
	if s.registry != nil {
		if err := s.registry.Close(); err != nil {
			s.logger.Warn("devstack: closing the registry", "error", err)
		}
	}
	if s.cluster != nil {
		s.cluster.Close()
	}
	if s.lock != nil {
		unlockDir(s.lock)
	}
}
