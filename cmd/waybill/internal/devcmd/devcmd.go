// Package devcmd is `waybill dev`: the embedded stack (internal/devstack) in
// one command, until Ctrl-C.
package devcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/pkg/registry"
)

// processStart approximates when the process started: package variables are
// initialized before main runs. "ready in" counts from it.
var processStart = time.Now()

type flags struct {
	dir          string
	kafkaAddr    string
	registryAddr string
	servicesAddr string
	schemas      string
	logLevel     string
	// demo runs the scripted demo (demo.go) instead of serving until Ctrl-C.
	demo        bool
	demoOrders  int
	dirSet      bool
	logLevelSet bool
}

// New returns the dev command.
func New(env *cli.Env) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "dev [--dir DIR] [--kafka-addr HOST:PORT] [--registry-addr HOST:PORT]",
		Short: "Run the whole embedded stack: Kafka, the registry and its UI, topics, schemas, the services",
		Long: `Dev runs Waybill's embedded stack in this process: a Kafka broker (kfake, which
speaks Kafka's wire protocol, so kcat and Confluent's clients work against it),
Waybill's Schema Registry storing its schemas in that broker, with the browsing
UI under /ui/; it creates the catalog's topics and their dead-letter topics
(<topic>.dlq) and pushes schemas/ to the registry, as waybill registry push
does; then it starts the logistics services (order, warehouse, shipment,
alert, notification; HTTP APIs from --services-addr up, each with /healthz
and /metrics), the same code their binaries run in docker-compose. It prints
the addresses and a curl line to place an order, and runs until SIGINT or
SIGTERM (Ctrl-C), then stops everything cleanly.

State lives under --dir: the broker's log in --dir/kafka (topics, records,
consumer offsets, the registry's _schemas topic), each service's in
--dir/<service>. Running it again resumes from there; delete the directory to
start afresh. One stack per directory.

With --demo (make demo) it starts the same stack, with shipments moving one
status every 400ms (WAYBILL_SHIPMENT_STEP overrides it), drives a scripted
flow through the services' APIs (a regular order, one short of stock that a
delivery of goods then fills, one whose shipment is delayed past its ETA, one
cancelled), prints what happened to each order across the services (status
timeline, shipment, alerts, the customer's messages, trace ID), measures the
throughput (--demo-orders placed concurrently, until all are reserved), and
exits. Its state goes to a fresh temporary directory, deleted at the end, so
the demo starts from the opening stock and leaves .waybill/ alone; with --dir
it uses (and keeps) that directory instead. Only errors are logged unless
--log-level says otherwise: the shortage and the delay are the story.

Exit codes: 0 stopped cleanly (with --demo: every order reached its end
state); 1 with --demo, an order did not within the time allowed; 2 could not
run (an address in use, schemas/ does not load, a part of the stack failed).`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.dirSet = cmd.Flags().Changed("dir")
			f.logLevelSet = cmd.Flags().Changed("log-level")
			return run(cmd.Context(), env, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", devstack.DefaultDir, "the directory of the stack's state")
	fl.StringVar(&f.kafkaAddr, "kafka-addr", devstack.DefaultKafkaAddr, "where Kafka listens (and the address it gives clients)")
	fl.StringVar(&f.registryAddr, "registry-addr", devstack.DefaultRegistryAddr, "where the Schema Registry and its UI listen")
	fl.StringVar(&f.servicesAddr, "services-addr", devstack.DefaultServicesAddr, "the first service's HTTP address; the next ones take the ports after it")
	fl.StringVar(&f.logLevel, "log-level", "warn", "the stack's log on standard error: debug, info, warn or error")
	fl.BoolVar(&f.demo, "demo", false, "run the scripted demo, print what happened to each order, measure the throughput, and exit (in a fresh temporary --dir unless one is given)")
	fl.IntVar(&f.demoOrders, "demo-orders", demoOrders, "how many orders the demo's throughput phase places (0: skip it)")
	cli.SchemasFlag(cmd, &f.schemas)
	return cmd
}

func run(ctx context.Context, env *cli.Env, f flags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return cli.Usagef("dev: --log-level %q: want debug, info, warn or error", f.logLevel)
	}
	if err := cli.CheckSchemasDir(f.schemas); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	if f.demo {
		return runDemo(ctx, env, f, logger)
	}
	s, err := devstack.Start(ctx, devstack.Config{
		Dir:          f.dir,
		Schemas:      f.schemas,
		KafkaAddr:    f.kafkaAddr,
		RegistryAddr: f.registryAddr,
		ServicesAddr: f.servicesAddr,
		Services:     services(),
		Logger:       logger,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting: nothing is left running
		}
		return startError(err, f)
	}
	ready := time.Since(processStart)
	report(env.Stdout, s, ready)
	tryIt(env.Stdout, s)

	select {
	case <-ctx.Done():
	case <-s.Done():
	}
	stopping := time.Now()
	cctx, cancel := context.WithTimeout(context.Background(), devstack.DefaultShutdownGrace+5*time.Second)
	defer cancel()
	closeErr := s.Close(cctx)
	if err := s.Err(); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	if closeErr != nil {
		return fmt.Errorf("dev: stopping: %w", closeErr)
	}
	fmt.Fprintf(env.Stdout, "stopped in %s\n", seconds(time.Since(stopping)))
	return nil
}

// startError says why the stack did not start, and which flag changes it.
func startError(err error, f flags) error {
	var inUse *devstack.AddrInUseError
	if errors.As(err, &inUse) {
		flag := map[string]string{"Kafka": "--kafka-addr", "the registry": "--registry-addr"}[inUse.What]
		if flag == "" {
			flag = "--services-addr"
		}
		return fmt.Errorf("dev: %s address %s is in use (another waybill dev, or another %s?); choose another with %s",
			inUse.What, inUse.Addr, strings.TrimPrefix(inUse.What, "the "), flag)
	}
	var locked *devstack.LockedError
	if errors.As(err, &locked) {
		by := ""
		if locked.PID != 0 {
			by = fmt.Sprintf(" (process %d)", locked.PID)
		}
		return fmt.Errorf("dev: another waybill dev is running on %s%s; stop it, or use another --dir", locked.Dir, by)
	}
	return fmt.Errorf("dev: %w", err)
}

// report prints what is running, one fact a line.
func report(w io.Writer, s *devstack.Stack, ready time.Duration) {
	fmt.Fprintf(w, "Kafka     %s (state in %s)\n", s.Brokers(), filepath.Join(s.Dir(), "kafka"))
	fmt.Fprintf(w, "Registry  %s\n", s.RegistryURL())
	fmt.Fprintf(w, "UI        %s\n", s.UIURL())
	topics, created := s.Topics(), s.Created()
	switch {
	case len(created) == 0:
		fmt.Fprintf(w, "Topics    %d, all there already\n", len(topics))
	case len(created) == len(topics):
		fmt.Fprintf(w, "Topics    %d created: %s\n", len(created), strings.Join(created, ", "))
	default:
		fmt.Fprintf(w, "Topics    %d, %d created: %s\n", len(topics), len(created), strings.Join(created, ", "))
	}
	plan, results := s.Push()
	fmt.Fprintf(w, "Schemas   %s\n", pushSummary(plan, results))
	if !registry.Passed(plan, results) {
		// Drift, or a version the registry refused: the whole plan.
		var b strings.Builder
		_ = plan.WriteText(&b, results)
		for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
			fmt.Fprintf(w, "          %s\n", l)
		}
		if len(plan.Drift) > 0 {
			fmt.Fprintf(w, "          (the registry's state is in %s: delete it to start afresh)\n", s.Dir())
		}
	}
	for _, svc := range s.Services() {
		fmt.Fprintf(w, "%-9s %s\n", svc.Name, svc.URL)
	}
	fmt.Fprintf(w, "ready in %s\n", seconds(ready))
}

func pushSummary(plan *registry.Plan, results []registry.Result) string {
	in := fmt.Sprintf("%d subjects, %d versions in schemas/", plan.Subjects, plan.Versions)
	if plan.Empty() {
		return "up to date (" + in + ")"
	}
	var registered, levels, failed, skipped int
	for _, r := range results {
		switch {
		case r.Status == registry.Failed:
			failed++
		case r.Status == registry.Skipped:
			skipped++
		case r.Action.Kind == registry.Register:
			registered++
		case r.Action.Kind == registry.SetCompatibility:
			levels++
		}
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{
		{registered, "versions registered"}, {levels, "compatibility levels set"},
		{failed, "FAILED"}, {skipped, "skipped"}, {len(plan.Drift), "drift"},
	} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(plan.Actions) == 0 {
		parts = append(parts, "nothing to push")
	}
	return strings.Join(parts, ", ") + " (" + in + ")"
}

// seconds formats d as seconds to the tenth, "1.2s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
