package txn_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/txn"
)

// Members come and go while 4,000 orders are processed: a second member
// joins (a cooperative rebalance moves partitions to it), the first shuts
// down gracefully mid-stream and comes back with its TransactionalID. The
// output, read with read_committed, has every order exactly once.
func TestRebalanceAndRestart(t *testing.T) {
	const n = 4000
	e := newEnv(t, 4)
	e.produceOrders(t, n)
	member := func(txnID string, handled *atomic.Int64) *kafkatest.Running {
		cfg := e.config("members", txnID)
		cfg.MaxBatch = 50
		cfg.Workers = 1 // slow: the members must overlap
		cfg.Kafka = cfg.Kafka.With("heartbeat.interval.ms", "100")
		p, err := txn.New(cfg, e.serde)
		if err != nil {
			t.Fatal(err)
		}
		txn.Handle(p, newOrder, func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
			time.Sleep(time.Millisecond)
			handled.Add(1)
			return reserve(ctx, m, ev, out)
		})
		return start(t, p)
	}
	var a1, b, a2 atomic.Int64
	ra := member("members-a", &a1)
	eventually(t, 20*time.Second, "a handles", func() bool { return a1.Load() >= 500 })
	rb := member("members-b", &b)
	eventually(t, 30*time.Second, "b handles", func() bool { return b.Load() >= 300 })
	stopping := time.Now()
	if err := ra.Stop(); err != nil {
		t.Fatalf("a's Run: %v", err)
	}
	stopTook := time.Since(stopping)
	ra2 := member("members-a", &a2)
	eventually(t, 45*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "members", inTopic) })
	if err := rb.Stop(); err != nil {
		t.Fatalf("b's Run: %v", err)
	}
	if err := ra2.Stop(); err != nil {
		t.Fatalf("a's second Run: %v", err)
	}
	committed, _ := e.outputs(t, "read_committed")
	exactlyOnce(t, committed, n)
	t.Logf("%d orders: a handled %d, b %d, a again %d (%d handled twice, their transactions aborted or never committed); a's graceful stop took %v; %v commits, %v aborts (%v at send_offsets: the group's generation moved on)",
		n, a1.Load(), b.Load(), a2.Load(), a1.Load()+b.Load()+a2.Load()-n, stopTook.Round(time.Millisecond),
		e.metric(t, "waybill_txn_commits_total", nil), e.metric(t, "waybill_txn_aborts_total", nil),
		e.metric(t, "waybill_txn_aborts_total", map[string]string{"reason": "send_offsets"}))
	if a2.Load() == 0 {
		t.Error("a's second life handled nothing: the test did not restart mid-stream")
	}
}
