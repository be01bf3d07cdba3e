package consumer_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

// A registry that cannot answer is not the events' fault: with no schema
// cached, decoding waits for it (nothing dead-lettered, nothing committed)
// and resumes when it is back; with the schemas cached, events keep
// flowing through an outage.
func TestRegistryOutage(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 1, topic)
	var msgs []*ck.Message
	for i := range 20 {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("ord-%d", i))))
	}
	e.produce(t, msgs[:10]...)

	// A serde of the consumer's own: nothing cached.
	client, err := registry.New(registry.Config{URL: e.registryURL})
	if err != nil {
		t.Fatal(err)
	}
	e.registryDown.Store(true)
	var handled atomic.Int64
	c, err := consumer.New(e.config("outage", topic), serde.New(client))
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			handled.Add(1)
			return nil
		})
	r := start(t, c)
	eventually(t, 20*time.Second, "the consumer reads the events", func() bool {
		return e.metric(t, "waybill_events_consumed_total", nil) >= 1
	})
	time.Sleep(time.Second)
	if h, d := handled.Load(), e.metric(t, "waybill_events_dead_lettered_total", nil); h != 0 || d != 0 {
		t.Fatalf("registry down, no schema cached: %d handled, %v dead-lettered; want 0 and 0", h, d)
	}
	if got := e.cluster.GroupCommitted(t, "outage", topic)[0]; got != 0 {
		t.Fatalf("committed %d with nothing handled", got)
	}
	e.registryDown.Store(false)
	eventually(t, 20*time.Second, "handled once the registry is back", func() bool { return handled.Load() == 10 })

	// Down again: the schema is cached, events keep flowing.
	e.registryDown.Store(true)
	e.produce(t, msgs[10:]...)
	eventually(t, 20*time.Second, "handled during the second outage", func() bool {
		return handled.Load() == 20 && e.committedAll(t, "outage", topic)
	})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := e.cluster.EndOffsets(t, kafka.DeadLetterTopic(topic))[0]; n != 0 {
		t.Errorf("%d dead letters", n)
	}
}
