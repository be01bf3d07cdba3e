package txn_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/txn"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
	server "github.com/waybill/waybill/services/registry"
)

const (
	inTopic  = orderevents.OrderCreatedTopic          // order-events
	outTopic = warehouseevents.InventoryReservedTopic // warehouse-events
)

// env is a test's world: an in-process broker with the topics (and their
// .dlq topics), Waybill's registry on httptest seeded with the repository's
// schemas, a serde on it, and a metrics registry of the test's own.
type env struct {
	cluster *kafkatest.Cluster
	client  *registry.Client
	serde   *serde.Serde
	metrics *prometheus.Registry
	// registryDown makes the registry answer every request with 503.
	registryDown atomic.Bool
}

func newEnv(t testing.TB, partitions int32, opts ...kfake.Opt) *env {
	t.Helper()
	topics := []string{inTopic, outTopic, kafka.DeadLetterTopic(inTopic)}
	cl := kafkatest.New(t, append([]kfake.Opt{kfake.SeedTopics(partitions, topics...)}, opts...)...)
	srv, err := server.New(context.Background(), server.Config{Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{metrics: prometheus.NewRegistry()}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.registryDown.Load() {
			http.Error(w, `{"error_code":50301,"message":"registry down for the test"}`, http.StatusServiceUnavailable)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	client, err := registry.New(registry.Config{URL: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(os.DirFS("../../../schemas"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	plan, err := registry.PlanSync(ctx, client, cat)
	if err != nil {
		t.Fatal(err)
	}
	results, err := registry.Apply(ctx, client, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status != registry.Applied {
			t.Fatalf("%s %s v%d: %s: %v", r.Action.Kind, r.Action.Subject, r.Action.Version, r.Status, r.Err)
		}
	}
	e.cluster, e.client, e.serde = cl, client, serde.New(client)
	return e
}

// config is a processor configuration for the test cluster.
func (e *env) config(group, txnID string) txn.Config {
	return txn.Config{
		Kafka:           e.cluster.Config().With("transaction.timeout.ms", "10000"),
		Group:           group,
		Topics:          []string{inTopic},
		TransactionalID: txnID,
		Source:          "warehouse-test",
		MaxBatch:        200,
		BatchWait:       20 * time.Millisecond,
		Retry:           consumer.RetryPolicy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		OpTimeout:       10 * time.Second,
		Registerer:      e.metrics,
		Logger:          testLogger(),
	}
}

// testLogger discards the processor's logs, unless TXN_TEST_LOG is set
// (to a level: debug, info, warn).
func testLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("TXN_TEST_LOG"))); err != nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func order(i int) *orderevents.OrderCreatedV2 {
	return &orderevents.OrderCreatedV2{
		OrderID: "ord-" + strconv.Itoa(i), CustomerID: "cus-1",
		LineItems: []orderevents.LineItem{{SKU: "SKU-1", Quantity: int32(1 + i%5)}},
		CreatedAt: time.UnixMilli(1_700_000_000_000).UTC(),
	}
}

// reserve is the test's handler: one InventoryReserved per order, with the
// order's ID (its sequence number) as key.
func reserve(_ context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
	res := &warehouseevents.InventoryReservedV1{
		OrderID: ev.OrderID, WarehouseID: "wh-1", ReservedAt: time.UnixMilli(1_700_000_000_000).UTC(),
	}
	for _, li := range ev.LineItems {
		res.Reservations = append(res.Reservations, warehouseevents.Reservation{SKU: li.SKU, Quantity: li.Quantity})
	}
	return out.Send(context.Background(), res)
}

func newOrder() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) }

// encode returns ev as a record in the envelope, as a producer writes it.
func (e *env) encode(t testing.TB, ev events.Event) *ck.Message {
	t.Helper()
	value, id, err := e.serde.Serialize(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	m, err := envelope.Encode(envelope.Envelope{
		Source: "test", Type: ev.EventType(), Subject: ev.Key(), TraceParent: envelope.NewTrace(),
		EventVersion: ev.EventVersion(), SchemaID: id, Body: value[envelope.WireHeaderLen:],
	})
	if err != nil {
		t.Fatal(err)
	}
	topic := ev.Topic()
	hs := make([]ck.Header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = ck.Header{Key: h.Key, Value: h.Value}
	}
	return &ck.Message{
		TopicPartition: ck.TopicPartition{Topic: &topic, Partition: ck.PartitionAny},
		Key:            m.Key, Value: m.Value, Headers: hs,
	}
}

// produceOrders sends orders 0..n-1 through one idempotent producer and
// waits for every acknowledgement.
func (e *env) produceOrders(t testing.TB, n int) { e.produceOrdersWith(t, n, nil) }

// produceOrdersWith is produceOrders with mutate applied to each record
// (order i) before it is sent.
func (e *env) produceOrdersWith(t testing.TB, n int, mutate func(i int, m *ck.Message)) {
	t.Helper()
	cm := e.cluster.Config().ConfigMap(map[string]any{
		"enable.idempotence": true, "partitioner": "murmur2_random", "linger.ms": 2,
	})
	p, err := ck.NewProducer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	reports := make(chan ck.Event, n)
	for i := range n {
		m := e.encode(t, order(i))
		if mutate != nil {
			mutate(i, m)
		}
		for {
			err := p.Produce(m, reports)
			if err == nil {
				break
			}
			if ke := (ck.Error{}); errors.As(err, &ke) && ke.Code() == ck.ErrQueueFull {
				time.Sleep(time.Millisecond)
				continue
			}
			t.Fatal(err)
		}
	}
	timeout := time.After(30 * time.Second)
	for range n {
		select {
		case ev := <-reports:
			if m := ev.(*ck.Message); m.TopicPartition.Error != nil {
				t.Fatalf("delivery: %v", m.TopicPartition.Error)
			}
		case <-timeout:
			t.Fatal("produce: no acknowledgement after 30s")
		}
	}
}

// start runs p until Stop (or the test's end).
func start(t testing.TB, p *txn.Processor) *kafkatest.Running {
	t.Helper()
	return kafkatest.Go(t, p.Run)
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	kafkatest.Eventually(t, d, what, cond)
}

// metric sums the samples of the metric name whose labels include want.
func (e *env) metric(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	return kafkatest.Metric(t, e.metrics, name, want)
}

// committedAll reports whether group's committed offsets of topic are at
// its end on every partition.
func (e *env) committedAll(t testing.TB, group, topic string) bool {
	return e.cluster.CommittedAll(t, group, topic)
}

// outputs reads outTopic with isolation and returns how often each order
// (by key) appears, and the records.
func (e *env) outputs(t testing.TB, isolation string) (map[string]int, []*ck.Message) {
	t.Helper()
	msgs := e.cluster.ReadTopic(t, outTopic, isolation)
	count := map[string]int{}
	for _, m := range msgs {
		count[string(m.Key)]++
	}
	return count, msgs
}

// exactlyOnce checks that count holds every order 0..n-1 once: no
// duplicates, no gaps.
func exactlyOnce(t testing.TB, count map[string]int, n int) {
	t.Helper()
	var missing, dup []string
	for i := range n {
		k := "ord-" + strconv.Itoa(i)
		switch c := count[k]; {
		case c == 0:
			missing = append(missing, k)
		case c > 1:
			dup = append(dup, k+"×"+strconv.Itoa(c))
		}
	}
	if len(count) > n {
		t.Errorf("%d distinct keys, want %d", len(count), n)
	}
	slices.Sort(missing)
	slices.Sort(dup)
	if len(missing) > 0 || len(dup) > 0 {
		t.Fatalf("read_committed output: %d missing (%.10v), %d duplicated (%.10v)", len(missing), missing, len(dup), dup)
	}
}
