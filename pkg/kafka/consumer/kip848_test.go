package consumer_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
)

// The next-generation group protocol (KIP-848, group.protocol=consumer)
// assigns on the broker; the consumer leaves out its client-side
// assignment strategy and works the same.
func TestGroupProtocolConsumer(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 3, topic)
	var msgs []*ck.Message
	for i := range 300 {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("ord-%d", i%40))))
	}
	e.produce(t, msgs...)
	cfg := e.config("kip848", topic)
	cfg.Kafka = cfg.Kafka.With("group.protocol", "consumer")
	var handled atomic.Int64
	c, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			handled.Add(1)
			return nil
		})
	r := start(t, c)
	eventually(t, 30*time.Second, "all handled and committed", func() bool {
		return handled.Load() >= 300 && e.committedAll(t, "kip848", topic)
	})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if handled.Load() != 300 {
		t.Errorf("handled %d, want 300", handled.Load())
	}
}
