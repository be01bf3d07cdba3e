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
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/dedup"
)

// Members join and leave while events flow (cooperative rebalancing): a
// revoked partition's running handlers finish and its offsets are
// committed before it moves, so with a de-duplication store the members
// share, every event's side effect runs exactly once, and the group's
// commit reaches the end.
func TestRebalance(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	const n = 4000
	e := newEnv(t, 4, topic)
	var msgs []*ck.Message
	for i := range n {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("ord-%d", i%100))))
	}
	e.produce(t, msgs[:n/4]...)

	store := dedup.NewMemory(2 * n)
	t.Cleanup(func() { _ = store.Close() })
	var mu sync.Mutex
	count := map[string]int{}
	var by [2]atomic.Int64
	member := func(i int) *consumer.Consumer {
		cfg := e.config("rebalance", topic)
		cfg.Workers = 4
		cfg.Dedup = store
		c, err := consumer.New(cfg, e.serde)
		if err != nil {
			t.Fatal(err)
		}
		consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
			func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
				time.Sleep(2 * time.Millisecond)
				mu.Lock()
				count[m.ID]++
				mu.Unlock()
				by[i].Add(1)
				return nil
			})
		return c
	}
	total := func() int64 { return by[0].Load() + by[1].Load() }

	r1 := start(t, member(0))
	eventually(t, 20*time.Second, "the first member handles events", func() bool { return total() >= n/8 })
	r2 := start(t, member(1))
	eventually(t, 30*time.Second, "both members own partitions", func() bool {
		g := e.cluster.GroupInfo("rebalance")
		return g != nil && len(g.Members) == 2 && g.Members[0].NumAssigned() > 0 && g.Members[1].NumAssigned() > 0
	})
	e.produce(t, msgs[n/4:n/2]...)
	eventually(t, 30*time.Second, "the second member handles events", func() bool { return by[1].Load() > 0 })
	e.produce(t, msgs[n/2:]...)
	// The first member leaves with work in flight.
	if err := r1.Stop(); err != nil {
		t.Fatalf("first member: %v", err)
	}
	eventually(t, 40*time.Second, "all handled and committed", func() bool {
		mu.Lock()
		done := len(count) >= n
		mu.Unlock()
		return done && e.committedAll(t, "rebalance", topic)
	})
	if err := r2.Stop(); err != nil {
		t.Fatalf("second member: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(count) != n {
		t.Errorf("%d events handled, want %d", len(count), n)
	}
	for id, c := range count {
		if c != 1 {
			t.Errorf("event %s handled %d times", id, c)
		}
	}
	t.Logf("first member handled %d, second %d; duplicates skipped: %v", by[0].Load(), by[1].Load(),
		e.metric(t, "waybill_events_duplicate_skipped_total", nil))
}

// With MaxInFlight at its minimum, fetching pauses and resumes all the
// time; every event still gets handled and committed.
func TestBackPressure(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	const n = 600
	e := newEnv(t, 2, topic)
	var msgs []*ck.Message
	for i := range n {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("ord-%d", i%50))))
	}
	e.produce(t, msgs...)
	cfg := e.config("backpressure", topic)
	cfg.Workers, cfg.MaxInFlight = 2, 2
	var handled, inHandler, most atomic.Int64
	c, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			k := inHandler.Add(1)
			if k > most.Load() {
				most.Store(k)
			}
			time.Sleep(200 * time.Microsecond)
			inHandler.Add(-1)
			handled.Add(1)
			return nil
		})
	r := start(t, c)
	eventually(t, 20*time.Second, "all handled and committed", func() bool {
		return handled.Load() >= n && e.committedAll(t, "backpressure", topic)
	})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if handled.Load() != n {
		t.Errorf("handled %d, want %d", handled.Load(), n)
	}
	if most.Load() > 2 {
		t.Errorf("%d handlers at once with 2 workers", most.Load())
	}
}

// When the events in flight stay at MaxInFlight (a key blocks its worker
// and the events behind it pile up), fetching pauses while the loop keeps
// polling, and resumes once the key moves; nothing is lost.
func TestBackPressurePause(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	const n = 300
	e := newEnv(t, 1, topic)
	var msgs []*ck.Message
	for i := range n {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("ord-%d", i%2))))
	}
	e.produce(t, msgs...)
	cfg := e.config("pause", topic)
	cfg.Workers, cfg.MaxInFlight = 2, 4
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	var handled atomic.Int64
	c, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			if m.Offset == 10 {
				<-hold
			}
			handled.Add(1)
			return nil
		})
	r := start(t, c)
	eventually(t, 20*time.Second, "the events before the blocked one handled", func() bool { return handled.Load() >= 10 })
	time.Sleep(2 * time.Second) // past pauseAfter: paused, polling
	// Without back-pressure, the other key's 150 events would all be
	// handled by now.
	h := handled.Load()
	if h > 10+30 {
		t.Errorf("%d handled while an event blocked with MaxInFlight 4: no back-pressure", h)
	}
	t.Logf("%d handled while blocked", h)
	release()
	eventually(t, 30*time.Second, "all handled and committed after the pause", func() bool {
		return handled.Load() >= n && e.committedAll(t, "pause", topic)
	})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
}
