package producer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/serde"
)

// Fatal errors, provoked on the broker: librdkafka gives up (an
// idempotence violation, a producer ID it may not have), and so does the
// producer, loudly: the deliveries outstanding, every later send and Close
// fail with ErrFatal, and nothing more reaches the topic.
func TestFatalError(t *testing.T) {
	rc := newRegistry(t)
	for _, tc := range []struct {
		name string
		// warmup: send one event before the fault (the producer has its
		// ID and sequence numbers by then).
		warmup bool
		fault  kfake.Fault
	}{
		// The broker says a batch's sequence number is not the next one:
		// the idempotence guarantee cannot hold.
		{"out of order sequence", true, kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.OutOfOrderSequenceNumber}},
		// The producer may not get an idempotent producer ID at all.
		{"no producer ID", false, kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.ClusterAuthorizationFailed, Count: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := kafkatest.New(t, kfake.SeedTopics(1, topic))
			// A linger, so that the events sent at once share batches
			// and are queued when the fault hits.
			p, _ := newProducer(t, c.Config(), serde.New(rc), func(cfg *producer.Config) { cfg.Linger = 20 * time.Millisecond })
			typed := producer.NewTyped[*orderevents.OrderCreatedV2](p)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			want := 0
			if tc.warmup {
				if _, err := typed.Send(ctx, order("ord-1", 0)); err != nil {
					t.Fatal(err)
				}
				want = 1
			}
			h := c.Fault(tc.fault)
			defer h.Remove()

			const n = 200
			var wg sync.WaitGroup
			var mu sync.Mutex
			var notFatal []error
			for i := range n {
				wg.Add(1)
				err := typed.SendAsync(ctx, order(fmt.Sprintf("ord-%d", i%7), i), func(d producer.Delivery) {
					defer wg.Done()
					if !errors.Is(d.Err, producer.ErrFatal) {
						mu.Lock()
						notFatal = append(notFatal, fmt.Errorf("event %s: %w", d.ID, d.Err))
						mu.Unlock()
					}
				})
				if err != nil {
					// The fatal error came before this event was queued.
					wg.Done()
					if !errors.Is(err, producer.ErrFatal) {
						t.Fatalf("SendAsync %d: %v, want ErrFatal", i, err)
					}
				}
			}
			reported := make(chan struct{})
			go func() { wg.Wait(); close(reported) }()
			select {
			case <-reported:
			case <-time.After(10 * time.Second):
				t.Fatal("the outstanding deliveries were not all reported within 10s")
			}
			if len(notFatal) > 0 {
				t.Fatalf("%d of %d outstanding deliveries did not fail with ErrFatal: %v", len(notFatal), n, errors.Join(notFatal[:min(3, len(notFatal))]...))
			}
			_, err := typed.Send(ctx, order("ord-late", 0))
			var pe *producer.Error
			if !errors.Is(err, producer.ErrFatal) || !errors.As(err, &pe) || pe.Op != "send" {
				t.Fatalf("Send after the fatal error: %v, want a send *Error wrapping ErrFatal", err)
			}
			t.Logf("Send after the fatal error: %v", err)
			if err := p.Err(); !errors.Is(err, producer.ErrFatal) {
				t.Fatalf("Err after the fatal error: %v, want ErrFatal", err)
			}
			if err := p.Close(ctx); !errors.Is(err, producer.ErrFatal) {
				t.Fatalf("Close: %v, want ErrFatal", err)
			}
			h.Remove()
			if got := len(readAll(t, c.Config(), topic)); got != want {
				t.Errorf("%d records in the topic, want %d", got, want)
			}
		})
	}
}
