package txn_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/txn"
)

// BenchmarkExactlyOnce measures the end-to-end rate of the transactional
// mode on the embedded broker: 20,000 orders already on the input topic,
// each handled into one reservation, until the group's offsets reach the
// end; by MaxBatch (the records per transaction) and Workers (with a
// handler that does no I/O, more workers only add goroutines). It reports
// events/s and transactions/s.
func BenchmarkExactlyOnce(b *testing.B) {
	const n = 20_000
	for _, c := range []struct{ batch, workers int }{{50, 1}, {500, 1}, {500, 8}, {2000, 1}, {2000, 8}} {
		batch := c.batch
		b.Run("batch="+strconv.Itoa(batch)+"/workers="+strconv.Itoa(c.workers), func(b *testing.B) {
			var elapsed time.Duration
			var commits float64
			for i := range b.N {
				b.StopTimer()
				e := newEnv(b, 3)
				e.produceOrders(b, n)
				group := "bench-" + strconv.Itoa(i)
				cfg := e.config(group, group)
				cfg.MaxBatch = batch
				cfg.Workers = c.workers
				p, err := txn.New(cfg, e.serde)
				if err != nil {
					b.Fatal(err)
				}
				var handled atomic.Int64
				txn.Handle(p, newOrder, func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
					handled.Add(1)
					return reserve(ctx, m, ev, out)
				})
				b.StartTimer()
				began := time.Now()
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- p.Run(ctx) }()
				for handled.Load() < n {
					time.Sleep(time.Millisecond)
				}
				for !e.committedAll(b, group, inTopic) {
					time.Sleep(2 * time.Millisecond)
				}
				elapsed += time.Since(began)
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				commits += e.metric(b, "waybill_txn_commits_total", nil)
			}
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(commits/elapsed.Seconds(), "txns/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
