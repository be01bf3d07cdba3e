package consumer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
)

// sequenced is an order event whose customer ID carries its sequence
// number within its key.
func sequenced(key string, seq int) *orderevents.OrderCreatedV2 {
	ev := order(key)
	ev.CustomerID = strconv.Itoa(seq)
	return ev
}

// Per key, events are handled one at a time and in order, while different
// keys run in parallel on the workers.
func TestPerKeyOrder(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	const keys, perKey = 60, 30
	e := newEnv(t, 3, topic)
	var msgs []*ck.Message
	for s := range perKey {
		for k := range keys {
			msgs = append(msgs, e.encode(t, sequenced(fmt.Sprintf("key-%d", k), s)))
		}
	}
	e.produce(t, msgs...)

	cfg := e.config("ordering", topic)
	cfg.Workers = 8
	var (
		mu       sync.Mutex
		last     = map[string]int{}
		active   = map[string]bool{}
		errs     []string
		handled  atomic.Int64
		parallel atomic.Int64 // handlers running at once, the most seen
		now      atomic.Int64
	)
	c, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			seq, _ := strconv.Atoi(ev.CustomerID)
			mu.Lock()
			if active[ev.OrderID] {
				errs = append(errs, fmt.Sprintf("%s: two handlers at once", ev.OrderID))
			}
			active[ev.OrderID] = true
			want, ok := last[ev.OrderID]
			if !ok {
				want = -1
			}
			if seq != want+1 {
				errs = append(errs, fmt.Sprintf("%s: event %d after %d", ev.OrderID, seq, want))
			}
			last[ev.OrderID] = seq
			mu.Unlock()
			n := now.Add(1)
			for {
				p := parallel.Load()
				if n <= p || parallel.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			now.Add(-1)
			mu.Lock()
			active[ev.OrderID] = false
			mu.Unlock()
			handled.Add(1)
			return nil
		})
	r := start(t, c)
	eventually(t, 40*time.Second, "all handled and committed", func() bool {
		return handled.Load() >= keys*perKey && e.committedAll(t, "ordering", topic)
	})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Errorf("%d ordering violations, e.g. %v", len(errs), errs[:min(5, len(errs))])
	}
	if handled.Load() != keys*perKey {
		t.Errorf("handled %d, want %d", handled.Load(), keys*perKey)
	}
	if parallel.Load() < 2 {
		t.Errorf("at most %d handlers ran at once; want parallel keys", parallel.Load())
	}
	t.Logf("%d events on %d keys; up to %d handlers at once", keys*perKey, keys, parallel.Load())
}

// A slow event holds back the commit of its partition's later offsets, but
// not the handling of other keys; once it finishes, the commit catches up.
func TestSlowKeyHoldsCommit(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 1, topic)
	var msgs []*ck.Message
	for i := range 5 {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("before-%d", i))))
	}
	msgs = append(msgs, e.encode(t, order("slow")))
	const after = 200
	for i := range after {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("after-%d", i))))
	}
	acked := e.produce(t, msgs...)
	slowOffset := int64(acked[5].TopicPartition.Offset)

	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock)
	var handledAfter atomic.Int64
	var slowDone atomic.Bool
	cfg := e.config("slow", topic)
	cfg.Workers = 8
	c, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			switch {
			case ev.OrderID == "slow":
				<-release
				slowDone.Store(true)
			case m.Offset > slowOffset:
				handledAfter.Add(1)
			}
			return nil
		})
	r := start(t, c)
	// Most later events (those whose keys hash to other workers than the
	// slow one's) are handled while it blocks.
	eventually(t, 30*time.Second, "later events of other keys handled while one blocks", func() bool {
		return handledAfter.Load() >= after/2
	})
	eventually(t, 10*time.Second, "the commit reaches the slow event", func() bool {
		return e.cluster.GroupCommitted(t, "slow", topic)[0] == slowOffset
	})
	// The lag gauge (librdkafka statistics, every 200 ms here) sees the
	// records past the commit.
	eventually(t, 10*time.Second, "waybill_consumer_lag counts the records past the commit", func() bool {
		return e.metric(t, "waybill_consumer_lag", map[string]string{"topic": topic, "partition": "0", "group": "slow"}) >= after
	})
	time.Sleep(500 * time.Millisecond) // five auto-commit intervals
	if got := e.cluster.GroupCommitted(t, "slow", topic)[0]; got != slowOffset || slowDone.Load() {
		t.Fatalf("committed %d while the event at %d is unfinished (handled after it: %d)", got, slowOffset, handledAfter.Load())
	}
	unblock()
	eventually(t, 20*time.Second, "the commit passes the slow event once it is done", func() bool {
		return e.committedAll(t, "slow", topic)
	})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if handledAfter.Load() != after {
		t.Errorf("handled %d later events, want %d", handledAfter.Load(), after)
	}
	t.Logf("committed offset held at %d while %d later events were handled", slowOffset, after)
}

// With enable.auto.commit=false the consumer commits what is done itself,
// every auto.commit.interval.ms, while it runs.
func TestCommitsWithoutAutoCommit(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 2, topic)
	var msgs []*ck.Message
	for i := range 100 {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("ord-%d", i%10))))
	}
	e.produce(t, msgs...)
	cfg := e.config("manual", topic)
	cfg.Kafka = cfg.Kafka.With("enable.auto.commit", "false").With("auto.commit.interval.ms", "200")
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
	eventually(t, 20*time.Second, "committed while running", func() bool {
		return handled.Load() == 100 && e.committedAll(t, "manual", topic)
	})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
}
