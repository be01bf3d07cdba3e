package orderevents_test

import (
	"context"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/serde"
	"github.com/waybill/waybill/services/registry/registrytest"
)

// TestGeneratedKafka runs the generated wrappers end to end on an in-process
// broker and Waybill's registry: an old producer still writing OrderCreated
// v1 and a new one writing v2, one handler compiled against v2 that receives
// both as v2 values and reacts with an OrderCancelled, whose trace continues
// the trace of the event it reacts to.
func TestGeneratedKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cl := kafkatest.New(t, kfake.SeedTopics(3, orderevents.OrderCreatedTopic, kafka.DeadLetterTopic(orderevents.OrderCreatedTopic)))
	reg := registrytest.WithSchemas(t, "../../../schemas")
	sd := serde.New(reg.Client)
	metrics := prometheus.NewRegistry()
	quiet := slog.New(slog.DiscardHandler)

	p, err := producer.New(producer.Config{Kafka: cl.Config(), Source: "order-service", Registerer: metrics, Logger: quiet}, sd)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())

	c, err := consumer.New(consumer.Config{
		Kafka: cl.Config().With("auto.commit.interval.ms", "100"), Group: "generated-test",
		Topics: []string{orderevents.OrderCreatedTopic}, Registerer: metrics, Logger: quiet,
	}, sd)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		order *orderevents.OrderCreatedV2
		meta  consumer.Meta
	}
	var mu sync.Mutex
	received := map[string]got{}
	cancelled := map[string]envelope.TraceParent{} // order ID -> traceparent of the OrderCancelled consumed
	cancels := orderevents.NewOrderCancelledProducer(p)
	orderevents.HandleOrderCreated(c, func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
		mu.Lock()
		received[ev.OrderID] = got{ev, m}
		mu.Unlock()
		if ev.OrderID == "ord-v1" {
			return nil
		}
		if _, err := cancels.Send(ctx, &orderevents.OrderCancelledV1{
			OrderID: ev.OrderID, Reason: orderevents.CancellationReasonOutOfStock, CancelledAt: time.UnixMilli(1741946600000).UTC(),
		}); err != nil {
			return consumer.Retryable(err)
		}
		return nil
	})
	orderevents.HandleOrderCancelled(c, func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCancelledV1) error {
		mu.Lock()
		cancelled[ev.OrderID] = m.TraceParent
		mu.Unlock()
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	// The two producers of one event type, an old and a new version.
	v1 := &orderevents.OrderCreatedV1{OrderID: "ord-v1", CustomerID: "cus-1",
		LineItems: []orderevents.LineItem{{SKU: "SKU-MUG-350", Quantity: 1}}, CreatedAt: time.UnixMilli(1741946531000).UTC()}
	if _, err := orderevents.NewOrderCreatedV1Producer(p).Send(ctx, v1); err != nil {
		t.Fatal(err)
	}
	v2 := order()
	v2.OrderID = "ord-v2"
	parent := envelope.NewTrace()
	d, err := orderevents.NewOrderCreatedProducer(p).Send(kafka.ContextWithTrace(ctx, parent), v2)
	if err != nil {
		t.Fatal(err)
	}
	if d.Topic != orderevents.OrderCreatedTopic || d.Offset < 0 || d.ID == "" {
		t.Fatalf("delivery %+v", d)
	}

	for {
		mu.Lock()
		n := len(received) + len(cancelled)
		mu.Unlock()
		if n == 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out: received %d events, %d cancellations", len(received), len(cancelled))
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	old := received["ord-v1"]
	if old.meta.EventVersion != 1 || old.order.Total != nil || old.order.Currency != nil || old.order.CustomerID != "cus-1" ||
		len(old.order.LineItems) != 1 || !old.order.CreatedAt.Equal(v1.CreatedAt) {
		t.Errorf("v1 event as v2: version %d, %+v", old.meta.EventVersion, old.order)
	}
	cur := received["ord-v2"]
	if cur.meta.EventVersion != 2 || cur.order.Total == nil || cur.order.Total.Cmp(big.NewRat(8450, 100)) != 0 || cur.meta.ID != d.ID {
		t.Errorf("v2 event: version %d, id %s (sent %s), %+v", cur.meta.EventVersion, cur.meta.ID, d.ID, cur.order)
	}
	if cur.meta.Source != "order-service" || cur.meta.Subject != "ord-v2" || cur.meta.Type != orderevents.OrderCreatedEventType {
		t.Errorf("meta %+v", cur.meta)
	}
	// The consumed event is a child of the sender's context; the
	// cancellation the handler sent is a child of the consumed event.
	if tp := cur.meta.TraceParent; tp.TraceID != parent.TraceID || tp.SpanID == parent.SpanID {
		t.Errorf("consumed traceparent %s, sent under %s: want the same trace, a new span", tp, parent)
	}
	if tp := cancelled["ord-v2"]; tp.TraceID != parent.TraceID || tp.SpanID == cur.meta.TraceParent.SpanID {
		t.Errorf("OrderCancelled sent by the handler has traceparent %s; want trace %x with a span of its own", tp, parent.TraceID)
	}
}
