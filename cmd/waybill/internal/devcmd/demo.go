package devcmd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/internal/demo"
	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/services/platform"
	"github.com/waybill/waybill/services/shipment"
)

// demoStep is the shipment step of the demo: a journey of a few seconds,
// a delayed one of a few more, where `waybill dev`'s default (3s) would make
// the newcomer wait half a minute.
const demoStep = 400 * time.Millisecond

// demoOrders is the default of --demo-orders.
const demoOrders = demo.DefaultOrders

// runDemo is `waybill dev --demo`: the stack, the demo (internal/demo), then
// a clean stop.
func runDemo(ctx context.Context, env *cli.Env, f flags, logger *slog.Logger) error {
	if !f.logLevelSet {
		// The demo prints the story; the services' warnings (a shortage,
		// a delay) are part of it, so only errors go to the log.
		logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	dir := f.dir
	if !f.dirSet {
		tmp, err := os.MkdirTemp("", "waybill-demo-")
		if err != nil {
			return fmt.Errorf("dev: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	svcs, step, err := demoServices()
	if err != nil {
		return cli.Usagef("dev: %v", err)
	}
	s, err := devstack.Start(ctx, devstack.Config{
		Dir:          dir,
		Schemas:      f.schemas,
		KafkaAddr:    f.kafkaAddr,
		RegistryAddr: f.registryAddr,
		ServicesAddr: f.servicesAddr,
		Services:     svcs,
		Logger:       logger,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return startError(err, f)
	}
	report(env.Stdout, s, time.Since(processStart))
	if !f.dirSet {
		fmt.Fprintf(env.Stdout, "(the demo's state is in %s, deleted when it ends)\n", dir)
	}
	fmt.Fprintln(env.Stdout)

	// A part of the stack that stops by itself ends the demo at once.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.Done():
			cancel()
		case <-dctx.Done():
		}
	}()
	urls := map[string]string{}
	for _, svc := range s.Services() {
		urls[svc.Name] = svc.URL
	}
	orders := f.demoOrders
	if orders == 0 {
		orders = -1 // skip the throughput phase
	}
	demoErr := demo.Run(dctx, demo.Config{URLs: urls, Out: env.Stdout, Orders: orders, Step: step})
	if demoErr == nil {
		fmt.Fprintf(env.Stdout, "\nFollow an order through the services' log: rerun with --log-level info and grep its trace ID.\n")
	}

	stopping := time.Now()
	cctx, ccancel := context.WithTimeout(context.Background(), devstack.DefaultShutdownGrace+5*time.Second)
	defer ccancel()
	closeErr := s.Close(cctx)
	switch {
	case s.Err() != nil:
		return fmt.Errorf("dev: %w", s.Err())
	case ctx.Err() != nil:
		return nil // Ctrl-C: stopped cleanly
	case demoErr != nil:
		fmt.Fprintf(env.Stderr, "waybill: dev: %v\n", demoErr)
		return cli.ErrFindings
	case closeErr != nil:
		return fmt.Errorf("dev: stopping: %w", closeErr)
	}
	fmt.Fprintf(env.Stdout, "stopped in %s\n", seconds(time.Since(stopping)))
	return nil
}

// demoServices are services() with the shipment service moving a status
// every demoStep, unless WAYBILL_SHIPMENT_STEP says otherwise.
func demoServices() ([]devstack.Service, time.Duration, error) {
	opts, err := shipment.OptionsFromEnv(os.Getenv)
	if err != nil {
		return nil, 0, err
	}
	if os.Getenv(shipment.EnvStep) == "" {
		opts.Step = demoStep
	}
	svcs := services()
	for i, svc := range svcs {
		if svc.Name() == shipment.Name {
			svcs[i] = platform.Service(shipment.Name, opts.Setup)
		}
	}
	step := opts.Step
	if step == 0 {
		step = shipment.DefaultStep
	}
	return svcs, step, nil
}
