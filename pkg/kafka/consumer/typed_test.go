package consumer_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

// A handler compiled against OrderCreatedV2 receives v1 events as v2
// values; an event type without a handler is skipped and counted, not
// dead-lettered; the same event (same ce_id) delivered twice is handled
// once; the handler's context carries the event's trace.
func TestTypedDispatch(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 2, topic)
	created := time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)
	v1 := &orderevents.OrderCreatedV1{OrderID: "ord-v1", CustomerID: "cus-9",
		LineItems: []orderevents.LineItem{{SKU: "SKU-1", Quantity: 2}}, CreatedAt: created}
	v2 := order("ord-v2")
	cancelled := &orderevents.OrderCancelledV1{OrderID: "ord-v1", Reason: orderevents.CancellationReasonCustomerRequest, CancelledAt: created}
	dup := e.encode(t, v2)
	dupAgain := *dup // same key, value and headers: the same ce_id
	e.produce(t, e.encode(t, v1), dup, e.encode(t, cancelled), &dupAgain)

	type call struct {
		meta  consumer.Meta
		ev    orderevents.OrderCreatedV2
		trace envelope.TraceParent
	}
	var mu sync.Mutex
	var calls []call
	c, err := consumer.New(e.config("typed", topic), e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			mu.Lock()
			calls = append(calls, call{m, *ev, kafka.TraceFromContext(ctx)})
			mu.Unlock()
			return nil
		})
	r := start(t, c)
	eventually(t, 30*time.Second, "all committed", func() bool { return e.committedAll(t, "typed", topic) })
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 {
		t.Fatalf("%d handler calls, want 2 (v1 and v2 once each): %+v", len(calls), calls)
	}
	for _, cl := range calls {
		switch cl.ev.OrderID {
		case "ord-v1":
			if cl.meta.EventVersion != 1 || cl.ev.CustomerID != "cus-9" || !cl.ev.CreatedAt.Equal(created) ||
				len(cl.ev.LineItems) != 1 || cl.ev.LineItems[0].Quantity != 2 || cl.ev.Total != nil || cl.ev.ShippingAddress != nil {
				t.Errorf("v1 event read as v2: %+v (meta %+v)", cl.ev, cl.meta)
			}
		case "ord-v2":
			if cl.meta.EventVersion != 2 {
				t.Errorf("v2 event: version %d", cl.meta.EventVersion)
			}
		default:
			t.Errorf("unexpected event %+v", cl.ev)
		}
		m := cl.meta
		if m.Type != orderevents.OrderCreatedEventType || m.Subject != cl.ev.OrderID || m.Source != "test" ||
			m.ID == "" || m.Topic != topic || m.Group != "typed" || m.Attempt != 1 || m.SchemaID == 0 ||
			m.Time.IsZero() || m.Timestamp.IsZero() {
			t.Errorf("meta %+v", m)
		}
		if m.TraceParent.IsZero() || cl.trace != m.TraceParent {
			t.Errorf("handler context trace %v, want the event's %v", cl.trace, m.TraceParent)
		}
	}
	if got := e.metric(t, "waybill_events_skipped_total", map[string]string{"event_type": orderevents.OrderCancelledEventType}); got != 1 {
		t.Errorf("waybill_events_skipped_total{OrderCancelled} = %v, want 1", got)
	}
	if got := e.metric(t, "waybill_events_duplicate_skipped_total", map[string]string{"event_type": orderevents.OrderCreatedEventType}); got != 1 {
		t.Errorf("waybill_events_duplicate_skipped_total = %v, want 1", got)
	}
	if got := e.metric(t, "waybill_events_dead_lettered_total", nil); got != 0 {
		t.Errorf("dead letters: %v, want none", got)
	}
	if got := e.metric(t, "waybill_handler_duration_seconds", nil); got != 2 {
		t.Errorf("handler duration observations: %v, want 2", got)
	}
}

// New refuses configurations that cannot work or would break
// at-least-once delivery.
func TestNewRefuses(t *testing.T) {
	client, err := registry.New(registry.Config{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	s := serde.New(client)
	base := consumer.Config{Kafka: kafka.NewConfig("127.0.0.1:1"), Group: "g", Topics: []string{"t"}}
	for name, mutate := range map[string]func(*consumer.Config){
		"no brokers":       func(c *consumer.Config) { c.Kafka = kafka.Config{} },
		"no group":         func(c *consumer.Config) { c.Group = "" },
		"no topics":        func(c *consumer.Config) { c.Topics = nil },
		"auto store":       func(c *consumer.Config) { c.Kafka = c.Kafka.With("enable.auto.offset.store", "true") },
		"group.id differs": func(c *consumer.Config) { c.Kafka = c.Kafka.With("group.id", "other") },
	} {
		cfg := base
		mutate(&cfg)
		if _, err := consumer.New(cfg, s); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := consumer.New(base, nil); err == nil {
		t.Error("New accepted a nil serde")
	}
}

// librdkafka's error texts reach Run's error with secrets redacted.
func TestRunRedactsSecrets(t *testing.T) {
	client, err := registry.New(registry.Config{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	const secret = "hunter2-not-a-policy"
	cfg := consumer.Config{
		Kafka: kafka.NewConfig("127.0.0.1:1").
			With("sasl.password", secret).
			With("auto.offset.reset", secret), // librdkafka quotes the bad value
		Group: "g", Topics: []string{"t"},
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
	}
	c, err := consumer.New(cfg, serde.New(client))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(t.Context())
	if err == nil {
		t.Fatal("Run started with an invalid auto.offset.reset")
	}
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), kafka.Redacted) {
		t.Errorf("Run: %v: want the secret redacted", err)
	}
}
