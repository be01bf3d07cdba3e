package txn_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/kafka/txn"
	"github.com/waybill/waybill/pkg/serde"
)

// Each of N orders yields one reservation; read with read_committed the
// output has each exactly once, with the envelope filled and the trace
// continued, and the group's committed offsets reach the end of the input.
func TestHappyPath(t *testing.T) {
	const n = 1000
	e := newEnv(t, 3)
	e.produceOrdersWith(t, n+50, func(i int, m *ck.Message) {
		if i >= n { // 50 cancellations, a type without a handler: skipped
			*m = *e.encode(t, &orderevents.OrderCancelledV1{OrderID: "ord-" + strconv.Itoa(i-n),
				Reason: orderevents.CancellationReasonCustomerRequest, CancelledAt: time.UnixMilli(0).UTC()})
		}
	})
	p, err := txn.New(e.config("happy", "happy-0"), e.serde)
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(p, newOrder, reserve)
	began := time.Now()
	r := start(t, p)
	eventually(t, 30*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "happy", inTopic) })
	took := time.Since(began)
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	count, msgs := e.outputs(t, "read_committed")
	exactlyOnce(t, count, n)
	for _, m := range msgs[:1] {
		var hs []envelope.Header
		for _, h := range m.Headers {
			hs = append(hs, envelope.Header{Key: h.Key, Value: h.Value})
		}
		env, err := envelope.Decode(envelope.Message{Key: m.Key, Value: m.Value, Headers: hs})
		if err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		if env.Source != "warehouse-test" || env.Type != "waybill.warehouse.InventoryReserved" || env.TraceParent.IsZero() {
			t.Errorf("output envelope %+v", env)
		}
	}
	if dlq := e.cluster.ReadTopic(t, kafka.DeadLetterTopic(inTopic), "read_uncommitted"); len(dlq) != 0 {
		t.Errorf("%d dead letters, want none", len(dlq))
	}
	commits := e.metric(t, "waybill_txn_commits_total", nil)
	aborts := e.metric(t, "waybill_txn_aborts_total", nil)
	consumed := e.metric(t, "waybill_events_consumed_total", nil)
	t.Logf("%d events in %v: %v commits, %v aborts, %v consumed", n, took.Round(time.Millisecond), commits, aborts, consumed)
	skipped := e.metric(t, "waybill_events_skipped_total", map[string]string{"event_type": "waybill.orders.OrderCancelled"})
	if consumed != n+50 || skipped != 50 || aborts != 0 || commits == 0 {
		t.Errorf("metrics: consumed %v (want %d), skipped %v (want 50), aborts %v, commits %v", consumed, n+50, skipped, aborts, commits)
	}
}

// New refuses a configuration that is incomplete or would break exactly
// once.
func TestNewRefuses(t *testing.T) {
	e := newEnv(t, 1)
	for name, mutate := range map[string]func(*txn.Config){
		"no brokers":          func(c *txn.Config) { c.Kafka = kafka.Config{} },
		"no group":            func(c *txn.Config) { c.Group = "" },
		"no topics":           func(c *txn.Config) { c.Topics = nil },
		"no transactional ID": func(c *txn.Config) { c.TransactionalID = "" },
		"no source":           func(c *txn.Config) { c.Source = "" },
		"auto commit":         func(c *txn.Config) { c.Kafka = c.Kafka.With("enable.auto.commit", "true") },
		"offset store":        func(c *txn.Config) { c.Kafka = c.Kafka.With("enable.auto.offset.store", "true") },
		"read uncommitted":    func(c *txn.Config) { c.Kafka = c.Kafka.With("isolation.level", "read_uncommitted") },
		"no idempotence":      func(c *txn.Config) { c.Kafka = c.Kafka.With("enable.idempotence", "false") },
		"acks=1":              func(c *txn.Config) { c.Kafka = c.Kafka.With("acks", "1") },
		"other txn id":        func(c *txn.Config) { c.Kafka = c.Kafka.With("transactional.id", "other") },
		"other group":         func(c *txn.Config) { c.Kafka = c.Kafka.With("group.id", "other") },
	} {
		cfg := e.config("g", "t")
		mutate(&cfg)
		if _, err := txn.New(cfg, e.serde); err == nil || !strings.HasPrefix(err.Error(), "txn: ") {
			t.Errorf("%s: New returned %v, want a txn: error", name, err)
		}
	}
	if _, err := txn.New(e.config("g", "t"), nil); err == nil {
		t.Error("New without a serde succeeded")
	}
	if _, err := txn.New(e.config("g", "t"), e.serde); err != nil {
		t.Errorf("New: %v", err)
	}
}

// waybill_consumer_lag follows the committed transactions: above zero while
// a slow handler works through the backlog, zero on every partition once
// everything is committed.
func TestLag(t *testing.T) {
	const n = 600
	e := newEnv(t, 3)
	e.produceOrders(t, n)
	cfg := e.config("lag", "lag-0")
	cfg.Kafka = cfg.Kafka.With("statistics.interval.ms", "100")
	cfg.MaxBatch = 20
	p, err := txn.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(p, newOrder, func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
		time.Sleep(2 * time.Millisecond)
		return reserve(ctx, m, ev, out)
	})
	r := start(t, p)
	lag := func() float64 { return e.metric(t, "waybill_consumer_lag", map[string]string{"group": "lag"}) }
	var peak float64
	eventually(t, 20*time.Second, "lag above zero", func() bool { peak = max(peak, lag()); return peak > 0 })
	eventually(t, 30*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "lag", inTopic) })
	eventually(t, 5*time.Second, "lag back to zero", func() bool { return lag() == 0 })
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("lag seen at %v, then 0", peak)
}

// A registry that cannot be reached is not the events' fault: while it
// answers 503, a processor that has no schema cached yet aborts its
// transactions (reason "registry") and reads the batch again later; once the
// registry is back, every order has its output once and nothing was
// dead-lettered.
func TestRegistryDown(t *testing.T) {
	const n = 300
	e := newEnv(t, 3)
	e.produceOrders(t, n)
	e.registryDown.Store(true)
	p, err := txn.New(e.config("registry", "registry-0"), serde.New(e.client)) // nothing cached
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(p, newOrder, reserve)
	r := start(t, p)
	eventually(t, 20*time.Second, "aborts while the registry is down", func() bool {
		return e.metric(t, "waybill_txn_aborts_total", map[string]string{"reason": "registry"}) >= 2
	})
	e.registryDown.Store(false)
	eventually(t, 30*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "registry", inTopic) })
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	count, _ := e.outputs(t, "read_committed")
	exactlyOnce(t, count, n)
	if dlq := e.cluster.ReadTopic(t, kafka.DeadLetterTopic(inTopic), "read_uncommitted"); len(dlq) != 0 {
		t.Errorf("%d dead letters, want none", len(dlq))
	}
	t.Logf("%v aborts while the registry was down; then %d orders once each", e.metric(t, "waybill_txn_aborts_total", nil), n)
}

// While the output's schema cannot be looked up, Out.Send fails; the
// handler's error is then not the event's fault either.
func TestRegistryDownOnSend(t *testing.T) {
	const n = 300
	e := newEnv(t, 3)
	e.produceOrders(t, n)
	s := serde.New(e.client)
	// The input's schema is cached, the output's is not.
	if err := s.Deserialize(context.Background(), e.encode(t, order(0)).Value, newOrder()); err != nil {
		t.Fatal(err)
	}
	e.registryDown.Store(true)
	p, err := txn.New(e.config("registry", "registry-0"), s)
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(p, newOrder, reserve) // returns Send's error as it is (permanent)
	r := start(t, p)
	eventually(t, 20*time.Second, "aborts while the registry is down", func() bool {
		return e.metric(t, "waybill_txn_aborts_total", map[string]string{"reason": "registry"}) >= 2
	})
	e.registryDown.Store(false)
	eventually(t, 30*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "registry", inTopic) })
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	count, _ := e.outputs(t, "read_committed")
	exactlyOnce(t, count, n)
	if dlq := e.cluster.ReadTopic(t, kafka.DeadLetterTopic(inTopic), "read_uncommitted"); len(dlq) != 0 {
		t.Errorf("%d dead letters, want none", len(dlq))
	}
}

// Workers handle different keys in parallel and one key's events in order:
// 100 orders with 20 events each, handled with random pauses by 8 workers,
// are handled and come out (read_committed) in each order's sequence.
func TestPerKeyOrder(t *testing.T) {
	const keys, per = 100, 20
	e := newEnv(t, 3)
	var msgs []int
	for s := range per {
		for k := range keys {
			msgs = append(msgs, k*per+s)
		}
	}
	e.produceOrdersWith(t, len(msgs), func(i int, m *ck.Message) {
		k, s := msgs[i]/per, msgs[i]%per
		o := order(k)
		o.LineItems[0].Quantity = int32(s + 1) // the sequence number
		*m = *e.encode(t, o)
	})
	cfg := e.config("order", "order-0")
	cfg.Workers = 8
	p, err := txn.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	var running, most atomic.Int64
	var mu sync.Mutex
	last := map[string]int32{} // by key: the sequence number last handled
	var disorder []string
	txn.Handle(p, newOrder, func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
		mu.Lock()
		if q := ev.LineItems[0].Quantity; q != last[ev.OrderID]+1 {
			disorder = append(disorder, fmt.Sprintf("%s: %d after %d", ev.OrderID, q, last[ev.OrderID]))
		}
		last[ev.OrderID] = ev.LineItems[0].Quantity
		mu.Unlock()
		n := running.Add(1)
		defer running.Add(-1)
		for {
			old := most.Load()
			if n <= old || most.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		return reserve(ctx, m, ev, out)
	})
	r := start(t, p)
	eventually(t, 30*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "order", inTopic) })
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(disorder) > 0 {
		t.Fatalf("handled out of order: %v", disorder[:min(len(disorder), 5)])
	}
	out := e.cluster.ReadTopic(t, outTopic, "read_committed")
	next := map[string]int32{}
	for _, m := range out {
		var res warehouseevents.InventoryReservedV1
		if err := e.serde.Deserialize(context.Background(), m.Value, &res); err != nil {
			t.Fatal(err)
		}
		k := string(m.Key)
		if q := res.Reservations[0].Quantity; q != next[k]+1 {
			t.Fatalf("%s: event %d after %d", k, q, next[k])
		}
		next[k]++
	}
	if len(out) != keys*per || len(next) != keys {
		t.Fatalf("%d outputs for %d keys, want %d for %d", len(out), len(next), keys*per, keys)
	}
	t.Logf("%d events of %d keys in order; up to %d handlers at once", len(out), keys, most.Load())
	if most.Load() < 2 {
		t.Errorf("handlers never ran in parallel")
	}
}

// A Run stopped while the cluster cannot be reached returns soon, without
// an error.
func TestStopWhileUnreachable(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.config("unreachable", "unreachable-0")
	cfg.Kafka = kafka.NewConfig("127.0.0.1:1").With("enable.metrics.push", "false")
	p, err := txn.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, p)
	time.Sleep(1500 * time.Millisecond)
	stopped := time.Now()
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(stopped); took > 5*time.Second {
		t.Errorf("Run returned %v after its context ended", took)
	}
	if got := e.metric(t, "waybill_txn_retries_total", map[string]string{"op": "init"}); got == 0 {
		t.Error("InitTransactions was not retried")
	}
}

// The event metrics are package consumer's and producer's: a process that
// runs a consumer, a producer and a processor on one registry shares them.
func TestMetricsShared(t *testing.T) {
	e := newEnv(t, 1)
	if _, err := consumer.New(consumer.Config{Kafka: e.cluster.Config(), Group: "g", Topics: []string{inTopic},
		Registerer: e.metrics}, e.serde); err != nil {
		t.Fatal(err)
	}
	prod, err := producer.New(producer.Config{Kafka: e.cluster.Config(), Source: "s", Registerer: e.metrics}, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = prod.Close(context.Background()) }()
	if _, err := txn.New(e.config("g", "t"), e.serde); err != nil {
		t.Fatalf("txn.New on a registry with consumer and producer metrics: %v", err)
	}
	if _, err := txn.New(e.config("g2", "t2"), e.serde); err != nil {
		t.Fatalf("a second txn.New: %v", err)
	}
}
