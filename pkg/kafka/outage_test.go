package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
	"github.com/waybill/waybill/services/registry/registrytest"
)

// switchable serves a registry on a fixed address that the test can take
// down (the listener closed: connections refused) and bring back, with the
// registry's state kept.
type switchable struct {
	t    *testing.T
	addr string
	h    http.Handler
	mu   sync.Mutex
	srv  *http.Server
}

func (s *switchable) up() {
	s.t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("registry up: %v", err)
	}
	s.addr = l.Addr().String()
	srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

func (s *switchable) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// TestRegistryOutage: with the registry unreachable, events whose schemas
// are cached keep flowing both ways; a schema not seen yet fails with a
// clear error on the producer and holds the consumer back (never a dead
// letter), and both succeed once the registry is back.
func TestRegistryOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	topic := orderevents.OrderCreatedTopic
	cl := kafkatest.New(t, kfake.SeedTopics(2, topic, kafka.DeadLetterTopic(topic)))

	// The registry's state, pushed through its own httptest address; the
	// services reach it through reg, which the test takes down and back.
	state := registrytest.WithSchemas(t, "../../schemas")
	reg := &switchable{t: t, addr: "127.0.0.1:0", h: state.Server}
	reg.up()
	t.Cleanup(reg.down)
	url := "http://" + reg.addr

	quiet := slog.New(slog.DiscardHandler)
	metrics := prometheus.NewRegistry()
	// Two services, each with its own serde (its own cache): the producer
	// and the consumer.
	newSerde := func() *serde.Serde {
		c, err := registry.New(registry.Config{URL: url, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return serde.New(c)
	}
	producerSerde := newSerde()
	p, err := producer.New(producer.Config{Kafka: cl.Config(), Source: "order-service", Registerer: metrics, Logger: quiet}, producerSerde)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	c, err := consumer.New(consumer.Config{
		Kafka: cl.Config().With("auto.commit.interval.ms", "100"), Group: "outage", Topics: []string{topic},
		Registerer: metrics, Logger: quiet,
	}, newSerde())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	handled := map[string]int{} // order ID -> writer version
	orderevents.HandleOrderCreated(c, func(_ context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
		mu.Lock()
		handled[ev.OrderID] = m.EventVersion
		mu.Unlock()
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor := func(ids ...string) {
		t.Helper()
		for {
			mu.Lock()
			n := 0
			for _, id := range ids {
				if _, ok := handled[id]; ok {
					n++
				}
			}
			mu.Unlock()
			if n == len(ids) {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %v; handled %v", ids, handled)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	created := func(id string) *orderevents.OrderCreatedV2 {
		return &orderevents.OrderCreatedV2{OrderID: id, CustomerID: "cus-1",
			LineItems: []orderevents.LineItem{{SKU: "SKU-MUG-350", Quantity: 1}}, CreatedAt: time.UnixMilli(1741946531000).UTC()}
	}
	v2 := orderevents.NewOrderCreatedProducer(p)
	v1 := orderevents.NewOrderCreatedV1Producer(p)

	// Warm-up: v2 flows both ways, so both caches hold its schema; the
	// producer alone also looks up v1's ID.
	if _, err := v2.Send(ctx, created("warm-v2")); err != nil {
		t.Fatal(err)
	}
	if _, err := producerSerde.SchemaID(ctx, &orderevents.OrderCreatedV1{}); err != nil {
		t.Fatal(err)
	}
	waitFor("warm-v2")

	reg.down()
	// Cached schemas keep flowing both ways.
	for _, id := range []string{"down-1", "down-2", "down-3"} {
		if _, err := v2.Send(ctx, created(id)); err != nil {
			t.Fatalf("send with a cached schema while the registry is down: %v", err)
		}
	}
	waitFor("down-1", "down-2", "down-3")

	// A schema the producer has not looked up yet fails, clearly.
	_, err = orderevents.NewOrderCancelledProducer(p).Send(ctx, &orderevents.OrderCancelledV1{
		OrderID: "down-1", Reason: orderevents.CancellationReasonOutOfStock, CancelledAt: time.UnixMilli(1741946600000).UTC()})
	var se *serde.SchemaError
	if !errors.As(err, &se) || se.Subject != orderevents.OrderCancelledV1Subject || !strings.Contains(err.Error(), reg.addr) {
		t.Fatalf("send with an uncached schema while the registry is down: %v; want a serde.SchemaError naming the subject and the registry", err)
	}
	t.Logf("producer, uncached schema, registry down: %v", err)

	// A writer schema the consumer has not fetched yet holds the event back:
	// not handled, not dead-lettered, the consumer keeps running.
	old := &orderevents.OrderCreatedV1{OrderID: "old-1", CustomerID: "cus-2",
		LineItems: []orderevents.LineItem{{SKU: "SKU-MUG-350", Quantity: 2}}, CreatedAt: time.UnixMilli(1741946531000).UTC()}
	if _, err := v1.Send(ctx, old); err != nil {
		t.Fatalf("send v1 (ID cached by the producer) while down: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	_, early := handled["old-1"]
	mu.Unlock()
	if early {
		t.Fatal("the consumer handled an event whose writer schema it could not fetch")
	}
	if n := len(cl.ReadAll(t, kafka.DeadLetterTopic(topic))); n != 0 {
		t.Fatalf("%d dead letters while the registry was down; an unreachable registry is not the event's fault", n)
	}

	reg.up()
	waitFor("old-1")
	if _, err := orderevents.NewOrderCancelledProducer(p).Send(ctx, &orderevents.OrderCancelledV1{
		OrderID: "down-1", Reason: orderevents.CancellationReasonOutOfStock, CancelledAt: time.UnixMilli(1741946600000).UTC()}); err != nil {
		t.Fatalf("send after the registry returned: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled["old-1"] != 1 || handled["down-1"] != 2 {
		t.Errorf("writer versions seen: %v", handled)
	}
}
