package platform_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/dedup"
	"github.com/waybill/waybill/services/platform"
	"github.com/waybill/waybill/services/platform/platformtest"
)

// counter is a service of the test: it counts the OrderCreated events it
// handled in its state, and serves the count.
func counter(ticks *atomic.Int64) func(a *platform.App) error {
	return func(a *platform.App) error {
		if err := a.DB.Update(func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists([]byte("count"))
			return err
		}); err != nil {
			return err
		}
		c, err := a.Consumer(orderevents.OrderCreatedTopic)
		if err != nil {
			return err
		}
		orderevents.HandleOrderCreated(c, func(ctx context.Context, _ consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			platform.Logger(ctx).InfoContext(ctx, "counting", "order_id", ev.OrderID)
			b := dedup.Tx(ctx).Bucket([]byte("count"))
			var n uint64
			if v := b.Get([]byte("n")); v != nil {
				n = binary.BigEndian.Uint64(v)
			}
			return b.Put([]byte("n"), binary.BigEndian.AppendUint64(nil, n+1))
		})
		a.Mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
			var n uint64
			_ = a.DB.View(func(tx *bbolt.Tx) error {
				if v := tx.Bucket([]byte("count")).Get([]byte("n")); v != nil {
					n = binary.BigEndian.Uint64(v)
				}
				return nil
			})
			platform.WriteJSON(w, http.StatusOK, map[string]any{"n": n, "trace_id": platform.TraceID(r.Context())})
		})
		a.Go("ticker", func(ctx context.Context) error {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
					ticks.Add(1)
				}
			}
		})
		return nil
	}
}

func TestApp(t *testing.T) {
	env := platformtest.New(t)
	cfg := env.Config(t, "counter")
	var ticks atomic.Int64
	svc := env.Start(t, cfg, counter(&ticks))

	ev := &orderevents.OrderCreatedV2{OrderID: "ord-1", CustomerID: "cus-1",
		LineItems: []orderevents.LineItem{{SKU: "SKU-1", Quantity: 1}}, CreatedAt: time.UnixMilli(1741946531000).UTC()}
	rec := env.Record(t, ev)
	// The same record twice: handled once.
	env.Cluster.Produce(t, "", rec, env.Record(t, ev), rec)
	var got struct {
		N       int    `json:"n"`
		TraceID string `json:"trace_id"`
	}
	platformtest.Eventually(t, 0, func() error {
		platformtest.DoJSON(t, "GET", svc.URL+"/count", nil, http.StatusOK, &got)
		if got.N != 2 {
			return errors.New("count is not 2")
		}
		return nil
	})
	// A request's trace: the caller's traceparent is continued.
	req, _ := http.NewRequest("GET", svc.URL+"/count", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("X-Trace-Id"); h != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("X-Trace-Id %q", h)
	}

	var h platform.Health
	platformtest.DoJSON(t, "GET", svc.URL+"/healthz", nil, http.StatusOK, &h)
	if h.Status != "ok" || h.Consumer != "running" || h.Producer != "running" || h.Service != "counter-service" {
		t.Errorf("healthz %+v", h)
	}
	status, body := platformtest.Do(t, "GET", svc.URL+"/metrics", nil)
	for _, want := range []string{
		`waybill_events_consumed_total{event_type="waybill.orders.OrderCreated",group="counter-service",topic="order-events"} 3`,
		`waybill_events_duplicate_skipped_total{event_type="waybill.orders.OrderCreated",group="counter-service",topic="order-events"} 1`,
		`waybill_http_requests_total{code="200",route="GET /count"}`,
		"go_goroutines", "process_",
	} {
		if status != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("/metrics (%d) lacks %s", status, want)
		}
	}
	if ticks.Load() == 0 {
		t.Error("the background task did not run")
	}
	if err := svc.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if resp, err := http.Get(svc.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("still serving after Stop")
	}

	// Restarted on the same directory: the state and the handled IDs are
	// kept, so a redelivery of the first record is skipped.
	cfg.Listener = nil
	svc = env.Start(t, cfg, counter(&ticks))
	env.Cluster.Produce(t, "", rec)
	platformtest.Eventually(t, 0, func() error {
		_, body := platformtest.Do(t, "GET", svc.URL+"/metrics", nil)
		if !strings.Contains(string(body), `waybill_events_duplicate_skipped_total{event_type="waybill.orders.OrderCreated",group="counter-service",topic="order-events"} 1`) {
			return errors.New("the redelivery was not skipped")
		}
		return nil
	})
	platformtest.DoJSON(t, "GET", svc.URL+"/count", nil, http.StatusOK, &got)
	if got.N != 2 {
		t.Errorf("after a restart and a redelivery: count %d, want 2", got.N)
	}
}

// TestRunFails: a part that stops by itself stops the service with an error.
func TestRunFails(t *testing.T) {
	env := platformtest.New(t)
	cfg := env.Config(t, "failing")
	done := make(chan error, 1)
	go func() {
		done <- platform.Run(t.Context(), cfg, func(a *platform.App) error {
			a.Go("broken", func(context.Context) error { return errors.New("boom") })
			return nil
		})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "broken: boom") {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := platform.Run(t.Context(), cfg, func(*platform.App) error { return errors.New("no") }); err == nil ||
		!strings.Contains(err.Error(), "setup: no") {
		t.Errorf("Run with a failing setup: %v", err)
	}
}

func TestFromEnviron(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "kafka.properties")
	if err := os.WriteFile(file, []byte("security.protocol=SASL_SSL\nsasl.password=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := platform.FromEnviron("warehouse", []string{
		"WAYBILL_KAFKA_CONFIG=" + file, "WAYBILL_KAFKA_SASL_PASSWORD=secret", "WAYBILL_LOG_FORMAT=json",
	}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Kafka.Properties
	if p["bootstrap.servers"] != platform.DefaultBootstrapServers || p["sasl.password"] != "secret" ||
		p["security.protocol"] != "SASL_SSL" || len(p) != 3 {
		t.Errorf("kafka %v", p)
	}
	if cfg.Addr != "127.0.0.1:8091" || cfg.Dir != filepath.Join(".waybill", "warehouse") ||
		cfg.RegistryURL != platform.DefaultRegistryURL || cfg.Source() != "warehouse-service" {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = platform.FromEnviron("order", []string{"WAYBILL_KAFKA_BOOTSTRAP_SERVERS=k:9092", "WAYBILL_HTTP_ADDR=:80",
		"WAYBILL_DATA_DIR=/data", "WAYBILL_REGISTRY_URL=http://sr:8081"}, os.Stderr)
	if err != nil || cfg.Kafka.Brokers() != "k:9092" || cfg.Addr != ":80" || cfg.Dir != "/data" || cfg.RegistryURL != "http://sr:8081" {
		t.Errorf("config %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"WAYBILL_LOG_LEVEL=loud"}, {"WAYBILL_LOG_FORMAT=xml"}, {"WAYBILL_KAFKA_CONFIG=/nonexistent"}} {
		if _, err := platform.FromEnviron("order", bad, os.Stderr); err == nil || !strings.HasPrefix(err.Error(), "platform: ") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
