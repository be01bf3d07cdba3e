package consumer_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
)

type tp struct {
	part   int32
	offset int64
}

// Cancelling Run while handlers run: they and the events already
// dispatched to the workers finish (their contexts stay live), Run returns
// nil only after them, the offsets committed cover exactly what was handled
// (a prefix of each partition, no holes), and a second member of the group
// continues from there without handling anything again.
func TestGracefulShutdown(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	const n, block = 300, 100
	e := newEnv(t, 2, topic)
	var msgs []*ck.Message
	for i := range n {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("ord-%d", i%30))))
	}
	acked := e.produce(t, msgs...)
	all := map[tp]bool{}
	for _, m := range acked {
		all[tp{m.TopicPartition.Partition, int64(m.TopicPartition.Offset)}] = true
	}

	var (
		mu       sync.Mutex
		handled1 = map[tp]bool{}
		started  atomic.Int64
		finished atomic.Int64
		ctxErr   atomic.Value
	)
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	cfg := e.config("graceful", topic)
	cfg.Workers = 4
	cfg.MaxInFlight = 20 // most events are still unread when Run is cancelled
	c1, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c1, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			if started.Add(1) > block {
				<-hold
				time.Sleep(10 * time.Millisecond)
				if ctx.Err() != nil {
					ctxErr.Store(ctx.Err())
				}
			}
			mu.Lock()
			handled1[tp{m.Partition, m.Offset}] = true
			mu.Unlock()
			finished.Add(1)
			return nil
		})
	r1 := start(t, c1)
	// Handlers block from the 101st on; give every worker that still has
	// events the time to reach one (a worker may have run out of keys).
	eventually(t, 30*time.Second, "a handler blocked", func() bool { return started.Load() > block })
	time.Sleep(200 * time.Millisecond)
	blocked := started.Load() - block

	stopped := make(chan error, 1)
	go func() { stopped <- r1.Stop() }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while %d handlers were running", err, blocked)
	default:
	}
	releasedAt := time.Now()
	release()
	var runErr error
	select {
	case runErr = <-stopped:
	case <-time.After(45 * time.Second):
		t.Fatal("Run did not return after the handlers finished")
	}
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}
	if time.Since(releasedAt) < 10*time.Millisecond {
		t.Error("Run returned before the handlers it waited for could finish")
	}
	if s, f := started.Load(), finished.Load(); s != f {
		t.Errorf("%d handlers started, %d finished", s, f)
	}
	if err := ctxErr.Load(); err != nil {
		t.Errorf("a running handler's context ended during a graceful shutdown: %v", err)
	}

	// What was committed is exactly what was handled.
	committed := e.cluster.GroupCommitted(t, "graceful", topic)
	mu.Lock()
	for p := range int32(2) {
		prefix := int64(0)
		for handled1[tp{p, prefix}] {
			prefix++
		}
		if committed[p] != prefix {
			t.Errorf("partition %d: committed %d, handled prefix ends at %d", p, committed[p], prefix)
		}
	}
	for x := range handled1 {
		if x.offset >= committed[x.part] {
			t.Errorf("partition %d offset %d: handled but not committed (committed %d)", x.part, x.offset, committed[x.part])
		}
	}
	if len(handled1) >= n {
		t.Errorf("the first member handled all %d events: nothing left to show", n)
	}
	mu.Unlock()

	// A second member continues from the commit.
	var handled2 sync.Map
	c2, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c2, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			handled2.Store(tp{m.Partition, m.Offset}, true)
			return nil
		})
	r2 := start(t, c2)
	eventually(t, 30*time.Second, "the second member committed everything", func() bool {
		return e.committedAll(t, "graceful", topic)
	})
	if err := r2.Stop(); err != nil {
		t.Fatal(err)
	}
	again := 0
	handled2.Range(func(k, _ any) bool {
		x := k.(tp)
		if x.offset < committed[x.part] {
			t.Errorf("partition %d offset %d: handled again although committed (%d)", x.part, x.offset, committed[x.part])
		}
		if handled1[x] {
			again++
		}
		return true
	})
	for x := range all {
		_, ok := handled2.Load(x)
		if !handled1[x] && !ok {
			t.Errorf("partition %d offset %d: never handled", x.part, x.offset)
		}
	}
	if again > 0 {
		t.Errorf("%d events handled by both members", again)
	}
	t.Logf("first member: %d handled, committed %v; the second member handled the other %d", len(handled1), committed, n-len(handled1))
}

// A handler that outlives ShutdownTimeout has its context cancelled; Run
// reports the unclean shutdown, and the event it was handling is neither
// dead-lettered nor committed: the next member handles it.
func TestShutdownTimeout(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 1, topic)
	acked := e.produce(t, e.encode(t, order("ord-1")), e.encode(t, order("stuck")), e.encode(t, order("ord-2")))
	stuck := int64(acked[1].TopicPartition.Offset)
	cfg := e.config("timeout", topic)
	cfg.ShutdownTimeout = 300 * time.Millisecond
	var inStuck, returned atomic.Bool
	c, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			if ev.OrderID != "stuck" {
				return nil
			}
			inStuck.Store(true)
			<-ctx.Done()
			returned.Store(true)
			return ctx.Err()
		})
	r := start(t, c)
	eventually(t, 20*time.Second, "the stuck handler runs", inStuck.Load)
	t0 := time.Now()
	err = r.Stop()
	if err == nil {
		t.Fatal("Run returned nil although a handler had to be cancelled")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Run took %v to give up on a handler with ShutdownTimeout 300ms", d)
	}
	if !returned.Load() {
		t.Error("the handler's context was not cancelled")
	}
	if got := e.cluster.GroupCommitted(t, "timeout", topic)[0]; got != stuck {
		t.Errorf("committed %d, want %d (before the cancelled event)", got, stuck)
	}
	if n := e.cluster.EndOffsets(t, kafka.DeadLetterTopic(topic))[0]; n != 0 {
		t.Errorf("%d dead letters: a cancelled handler's event is not the event's fault", n)
	}
	t.Logf("Run: %v", err)
}
