// Package browsecmd is `waybill browse`: the registry browsing UI on its
// own, in front of any Confluent-compatible Schema Registry.
package browsecmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/internal/httpserve"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/services/registry/ui"
)

type flags struct {
	registry           string
	addr               string
	schemas            string
	username, password string
	timeout            time.Duration
	cacheTTL           time.Duration
	concurrency        int
	shutdownGrace      time.Duration
}

// New returns the browse command.
func New(env *cli.Env) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "browse --registry URL [--addr HOST:PORT] [--schemas DIR]",
		Short: "Browse a Schema Registry in a web browser",
		Long: `Browse serves the registry browsing UI for any Confluent-compatible Schema
Registry (Confluent's, Waybill's, ...): it reads the registry's REST API only.

Pages: subjects (search by subject name, by record or field name inside the
schemas, by schema ID), a subject's versions, level and mode, a version's
schema and fields with its references both ways, the structural diff of two
versions with each change's consequence at the subject's level, a "would this
be accepted?" form that checks a candidate as the pull-request check and the
registry do, and topics. Every page has a URL that can be pasted into a pull
request.

With --schemas, the catalog adds each event type's topic, key, owner,
producing and consuming services and description.

Registry answers are cached for --cache-ttl and fetched --concurrency at a
time. Credentials: --username and --password, or $` + registry.EnvUsername + ` and
$` + registry.EnvPassword + `, or user:password@ in the URL.

SIGINT or SIGTERM stops it gracefully.`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), env, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.registry, "registry", "", "the registry's URL, e.g. http://localhost:8081 (required)")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8082", "the address to serve the UI on")
	fl.StringVar(&f.schemas, "schemas", "", "a schemas directory (catalog.yaml ...): topics, keys, owners and services on the pages")
	fl.StringVar(&f.username, "username", "", "basic auth user of the registry (default $"+registry.EnvUsername+")")
	fl.StringVar(&f.password, "password", "", "basic auth password (default $"+registry.EnvPassword+")")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "timeout of each request to the registry")
	fl.DurationVar(&f.cacheTTL, "cache-ttl", ui.DefaultCacheTTL, "how long registry answers are reused (0s: not at all)")
	fl.IntVar(&f.concurrency, "concurrency", ui.DefaultConcurrency, "the most requests in flight to the registry")
	fl.DurationVar(&f.shutdownGrace, "shutdown-grace", 5*time.Second, "how long requests in flight may take to finish on shutdown")
	return cmd
}

func run(ctx context.Context, env *cli.Env, f flags) error {
	if f.registry == "" {
		return cli.Usagef("browse: --registry is required")
	}
	if f.concurrency < 1 {
		return cli.Usagef("browse: --concurrency %d: want at least 1", f.concurrency)
	}
	if f.username == "" {
		f.username = os.Getenv(registry.EnvUsername)
	}
	if f.password == "" {
		f.password = os.Getenv(registry.EnvPassword)
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, nil))
	cfg := ui.Config{
		Registry:    registry.Config{URL: f.registry, Username: f.username, Password: f.password, Timeout: f.timeout},
		CacheTTL:    f.cacheTTL,
		Concurrency: f.concurrency,
		Logger:      logger,
	}
	if f.cacheTTL == 0 {
		cfg.CacheTTL = -1
	}
	if f.schemas != "" {
		cat, err := loadCatalog(f.schemas)
		if err != nil {
			return err
		}
		cfg.Catalog = cat
	}
	h, err := ui.New(cfg)
	if err != nil {
		return cli.Usagef("browse: --registry %s: %v", f.registry, err)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("browse: %w", err)
	}
	probe(ctx, logger, cfg.Registry)
	logger.Info("browse: serving", "url", "http://"+ln.Addr().String()+"/", "registry", f.registry, "catalog", f.schemas)
	if err := httpserve.Serve(ctx, ln, nil, f.shutdownGrace, h, logger); err != nil {
		return fmt.Errorf("browse: %w", err)
	}
	logger.Info("browse: stopped")
	return nil
}

// loadCatalog loads the --schemas directory; one that does not load is a
// usage error, as for every command that reads it.
func loadCatalog(dir string) (*catalog.Catalog, error) {
	if err := cli.CheckSchemasDir(dir); err != nil {
		return nil, err
	}
	cat, err := catalog.Load(os.DirFS(dir))
	if err != nil {
		var probs catalog.Problems
		if errors.As(err, &probs) {
			return nil, fmt.Errorf("browse: %s does not load (%d problems; run waybill lint): %s", dir, len(probs), probs[0].Error())
		}
		return nil, fmt.Errorf("browse: loading %s: %w", dir, err)
	}
	return cat, nil
}

// probe says at start whether the registry answers. The UI starts either
// way: its pages say when the registry cannot be reached, and work as soon
// as it can.
func probe(ctx context.Context, logger *slog.Logger, cfg registry.Config) {
	c, err := registry.New(cfg)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.GlobalCompatibility(ctx); err != nil {
		logger.Warn("browse: the registry does not answer yet; pages will say so until it does", "registry", cfg.URL, "err", err)
	}
}
