package consumer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/dedup"
)

// With the durable store, a handler writes its state through dedup.Tx in the
// transaction that records the event: a retried attempt's writes are
// rolled back with it, a duplicate writes nothing, and a consumer that
// re-reads the whole topic (its offsets lost, or rewound) applies nothing
// twice.
func TestBoltExactlyOnceEffects(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	const n = 200
	e := newEnv(t, 2, topic)
	var msgs []*ck.Message
	for i := range n {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("ord-%d", i))))
	}
	e.produce(t, msgs...)
	e.produce(t, msgs[:20]...) // redelivered by a producer retry: same IDs

	store, err := dedup.OpenBolt(filepath.Join(t.TempDir(), "dedup.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	bucket := []byte("orders")
	if err := store.DB().Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	var calls, noTx atomic.Int64
	run := func(group string) {
		cfg := e.config(group, topic)
		cfg.Dedup = store
		c, err := consumer.New(cfg, e.serde)
		if err != nil {
			t.Fatal(err)
		}
		consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
			func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
				calls.Add(1)
				tx := dedup.Tx(ctx)
				if tx == nil {
					noTx.Add(1)
					return nil
				}
				b := tx.Bucket(bucket)
				k := []byte(ev.OrderID)
				var count byte
				if v := b.Get(k); v != nil {
					count = v[0]
				}
				if err := b.Put(k, []byte{count + 1}); err != nil {
					return err
				}
				if m.Attempt == 1 && ev.OrderID < "ord-5" {
					// The write above rolls back with this attempt.
					return consumer.Retryable(fmt.Errorf("flaky"))
				}
				return nil
			})
		r := start(t, c)
		eventually(t, 30*time.Second, "all committed", func() bool { return e.committedAll(t, group, topic) })
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	run("bolt")
	first := calls.Load()
	run("bolt-rewound") // the same service re-reading everything
	_ = store.DB().View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if got := b.Stats().KeyN; got != n {
			t.Errorf("%d orders in the state, want %d", got, n)
		}
		return b.ForEach(func(k, v []byte) error {
			if v[0] != 1 {
				t.Errorf("order %s applied %d times", k, v[0])
			}
			return nil
		})
	})
	if noTx.Load() > 0 {
		t.Errorf("%d handler calls without dedup.Tx", noTx.Load())
	}
	if calls.Load() != first {
		t.Errorf("the re-reading consumer ran %d handlers", calls.Load()-first)
	}
	if got := e.metric(t, "waybill_events_duplicate_skipped_total", nil); got != 20+n+20 {
		t.Errorf("waybill_events_duplicate_skipped_total = %v, want %d", got, 20+n+20)
	}
}
