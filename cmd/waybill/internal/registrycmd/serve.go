package registrycmd

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/internal/httpserve"
	"github.com/waybill/waybill/pkg/catalog"
	sr "github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/services/registry"
	"github.com/waybill/waybill/services/registry/ui"
)

type serveFlags struct {
	addr             string
	storage          string
	bootstrapServers string
	topic            string
	usersFile        string
	tlsCert, tlsKey  string
	maxBodyBytes     int64
	writeTimeout     time.Duration
	shutdownGrace    time.Duration
	ui               bool
	uiSchemas        string
}

func newServe(env *cli.Env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--storage memory|kafka] [--addr HOST:PORT]",
		Short: "Run Waybill's Confluent-compatible Schema Registry",
		Long: `Serve runs Waybill's Schema Registry: the REST API of Confluent's Schema
Registry (7.x), so Confluent's clients and serializers work against it
unchanged. Compatibility is decided by the same engine as waybill compat.

Storage:
  --storage memory   nothing survives a restart (tests, experiments)
  --storage kafka    the _schemas topic (--topic) on --bootstrap-servers, in
                     the record formats of Confluent's registry: it starts from
                     a topic Confluent's registry wrote, and several instances
                     can share one topic

Basic auth (--users-file): one user a line, name:password:access, where access
is readonly (every read, lookups and compatibility checks included) or
readwrite. Without the file, no auth. With --tls-cert and --tls-key it serves
HTTPS.

With --ui it also serves the browsing UI under /ui/, on its own API (the UI
waybill browse serves); --ui-schemas adds the catalog's topics, owners and
services to its pages. With --users-file the UI asks the browser for a
registry user's credentials.

SIGINT or SIGTERM stops it gracefully: requests in flight finish (up to
--shutdown-grace).`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), env, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8081", "the address to listen on")
	fl.StringVar(&f.storage, "storage", "memory", "where schemas are kept: memory or kafka")
	fl.StringVar(&f.bootstrapServers, "bootstrap-servers", "127.0.0.1:9092", "Kafka brokers, comma-separated (--storage kafka)")
	fl.StringVar(&f.topic, "topic", "_schemas", "the schemas topic (--storage kafka)")
	fl.StringVar(&f.usersFile, "users-file", "", "basic auth users, name:password:readonly|readwrite a line")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key, serve HTTPS")
	fl.StringVar(&f.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fl.Int64Var(&f.maxBodyBytes, "max-body-bytes", registry.DefaultMaxBodyBytes, "the largest request body; a larger one is refused with error code 42209")
	fl.DurationVar(&f.writeTimeout, "write-timeout", registry.DefaultWriteTimeout, "how long a write to the storage may take before it fails with error code 50002")
	fl.DurationVar(&f.shutdownGrace, "shutdown-grace", 10*time.Second, "how long requests in flight may take to finish on shutdown")
	fl.BoolVar(&f.ui, "ui", false, "serve the browsing UI under /ui/")
	fl.StringVar(&f.uiSchemas, "ui-schemas", "", "with --ui: a schemas directory whose catalog the UI shows (topics, keys, owners, services)")
	return cmd
}

func runServe(ctx context.Context, env *cli.Env, f serveFlags) error {
	logger := slog.New(slog.NewTextHandler(env.Stderr, nil))
	cfg := registry.Config{MaxBodyBytes: f.maxBodyBytes, WriteTimeout: f.writeTimeout, Logger: logger}
	if f.maxBodyBytes <= 0 {
		return cli.Usagef("registry serve: --max-body-bytes %d: want a positive size", f.maxBodyBytes)
	}
	if f.uiSchemas != "" && !f.ui {
		return cli.Usagef("registry serve: --ui-schemas goes with --ui")
	}
	var cat *catalog.Catalog
	if f.uiSchemas != "" {
		if err := cli.CheckSchemasDir(f.uiSchemas); err != nil {
			return err
		}
		var err error
		if cat, err = catalog.Load(os.DirFS(f.uiSchemas)); err != nil {
			return fmt.Errorf("registry serve: --ui-schemas %s does not load (run waybill lint): %w", f.uiSchemas, err)
		}
	}
	if f.usersFile != "" {
		r, err := os.Open(f.usersFile)
		if err != nil {
			return fmt.Errorf("registry serve: --users-file: %w", err)
		}
		cfg.Users, err = registry.ParseUsers(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("registry serve: --users-file %s: %w", f.usersFile, err)
		}
	}
	var tlsConfig *tls.Config
	switch {
	case f.tlsCert != "" && f.tlsKey != "":
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return fmt.Errorf("registry serve: TLS: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case f.tlsCert != "" || f.tlsKey != "":
		return cli.Usagef("registry serve: --tls-cert and --tls-key go together")
	}
	log, err := openLog(f, logger)
	if err != nil {
		return err
	}
	cfg.Log = log
	// Listen first: a port in use is reported before a long replay.
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		_ = log.Close()
		return fmt.Errorf("registry serve: %w", err)
	}
	start := time.Now()
	srv, err := registry.New(ctx, cfg)
	if err != nil {
		ln.Close()
		_ = log.Close()
		return fmt.Errorf("registry serve: %w", err)
	}
	defer srv.Close()
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	logger.Info("registry: serving", "url", url, "storage", f.storage, "replayed_in", time.Since(start).Round(time.Millisecond))
	if f.ui {
		// The UI reads the registry's API in-process: no network, whatever
		// the address and TLS settings; the registry's users sign in to it.
		h, err := ui.New(ui.Config{
			Registry: sr.Config{URL: url, Transport: ui.InProcess(srv)},
			Catalog:  cat, Prefix: "/ui/", ForwardAuth: len(cfg.Users) > 0, Logger: logger,
		})
		if err != nil {
			return fmt.Errorf("registry serve: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/ui/", h)
		mux.Handle("/", srv)
		logger.Info("registry: browsing UI", "url", url+"/ui/")
		if err := httpserve.Serve(ctx, ln, tlsConfig, f.shutdownGrace, mux, logger); err != nil {
			return fmt.Errorf("registry serve: %w", err)
		}
	} else if err := srv.Serve(ctx, ln, tlsConfig, f.shutdownGrace); err != nil {
		return fmt.Errorf("registry serve: %w", err)
	}
	logger.Info("registry: stopped")
	return nil
}

func openLog(f serveFlags, logger *slog.Logger) (registry.Log, error) {
	switch f.storage {
	case "memory":
		return registry.MemoryLog(), nil
	case "kafka":
		var brokers []string
		for _, b := range strings.Split(f.bootstrapServers, ",") {
			if b = strings.TrimSpace(b); b != "" {
				brokers = append(brokers, b)
			}
		}
		if len(brokers) == 0 {
			return nil, cli.Usagef("registry serve: --storage kafka needs --bootstrap-servers")
		}
		log, err := registry.KafkaLog(registry.KafkaConfig{Brokers: brokers, Topic: f.topic, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("registry serve: %w", err)
		}
		return log, nil
	}
	return nil, cli.Usagef("registry serve: --storage %q: want memory or kafka", f.storage)
}
