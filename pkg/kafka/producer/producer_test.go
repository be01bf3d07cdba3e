package producer_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/serde"
)

// Kafka's own vectors for Utils.murmur2 (UtilsTest.testMurmur2): the test's
// hash is Java's.
func TestMurmur2IsJavas(t *testing.T) {
	for in, want := range map[string]int32{
		"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := murmur2([]byte(in)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

// Events sent through Typed and Producer come back with every envelope
// field filled, decode with envelope.Decode and the serde into what was
// sent, and sit on the partition Java's partitioner picks for their key.
func TestSendEnvelope(t *testing.T) {
	const partitions = 6
	c := kafkatest.New(t, kfake.SeedTopics(partitions, topic))
	rc := newRegistry(t)
	s := serde.New(rc)
	p, _ := newProducer(t, c.Config(), s)
	ctx := t.Context()

	parent := envelope.NewTrace()
	tctx := kafka.ContextWithTrace(ctx, parent)
	typed := producer.NewTyped[*orderevents.OrderCreatedV2](p)
	sent := map[string]*orderevents.OrderCreatedV2{}
	deliveries := map[string]producer.Delivery{}
	before := time.Now().Add(-time.Millisecond)
	for i := range 60 {
		ev := order(fmt.Sprintf("ord-%d", i), i)
		var d producer.Delivery
		var err error
		switch i % 3 {
		case 0:
			d, err = typed.Send(tctx, ev)
		case 1:
			d, err = p.Send(tctx, ev)
		default:
			ch := make(chan producer.Delivery, 1)
			if err = typed.SendAsync(tctx, ev, func(d producer.Delivery) { ch <- d }); err == nil {
				d = <-ch
				err = d.Err
			}
		}
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if d.Topic != topic || d.Offset < 0 || d.ID == "" {
			t.Fatalf("send %d: delivery %+v", i, d)
		}
		sent[d.ID] = ev
		deliveries[d.ID] = d
	}
	// Without a trace in the context: a new trace per event.
	noTrace, err := typed.Send(ctx, order("ord-no-trace", 0))
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Millisecond)

	v2 := &orderevents.OrderCreatedV2{}
	wantID, err := s.SchemaID(ctx, v2)
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, c.Config(), topic)
	if len(recs) != len(sent)+1 {
		t.Fatalf("read %d records, want %d", len(recs), len(sent)+1)
	}
	spans := map[[8]byte]bool{}
	ratCmp := cmp.Comparer(func(a, b *big.Rat) bool { return (a == nil) == (b == nil) && (a == nil || a.Cmp(b) == 0) })
	for _, r := range recs {
		env, err := envelope.Decode(message(r))
		if err != nil {
			t.Fatalf("record %v: %v", r.TopicPartition, err)
		}
		u, err := uuid.Parse(env.ID)
		if err != nil || u.Version() != 7 {
			t.Errorf("ce_id %q is not a UUIDv7 (%v)", env.ID, err)
		}
		if env.Time.Before(before) || env.Time.After(after) {
			t.Errorf("ce_time %v is not between %v and %v", env.Time, before, after)
		}
		if env.Source != "order-service" || env.Type != orderevents.OrderCreatedEventType || env.EventVersion != 2 || env.SchemaID != wantID {
			t.Errorf("envelope %+v: want source order-service, type %s, version 2, schema ID %d", env, orderevents.OrderCreatedEventType, wantID)
		}
		if env.Subject != string(r.Key) {
			t.Errorf("ce_subject %q, key %q", env.Subject, r.Key)
		}
		if want := javaPartition(r.Key, partitions); r.TopicPartition.Partition != want {
			t.Errorf("key %q on partition %d, Java's partitioner puts it on %d", r.Key, r.TopicPartition.Partition, want)
		}
		if spans[env.TraceParent.SpanID] {
			t.Errorf("span ID %x used twice", env.TraceParent.SpanID)
		}
		spans[env.TraceParent.SpanID] = true
		var got orderevents.OrderCreatedV2
		if err := s.Deserialize(ctx, r.Value, &got); err != nil {
			t.Fatal(err)
		}
		if env.ID == noTrace.ID {
			if env.TraceParent.TraceID == parent.TraceID || env.TraceParent.IsZero() {
				t.Errorf("an event sent without a trace has traceparent %s: want a new trace", env.TraceParent)
			}
			continue
		}
		want, ok := sent[env.ID]
		if !ok {
			t.Fatalf("record with ce_id %s was not sent", env.ID)
		}
		if d := deliveries[env.ID]; d.Partition != r.TopicPartition.Partition || d.Offset != int64(r.TopicPartition.Offset) {
			t.Errorf("delivery %+v, record at %v", d, r.TopicPartition)
		}
		if env.TraceParent.TraceID != parent.TraceID || env.TraceParent.SpanID == parent.SpanID || env.TraceParent.Flags != parent.Flags {
			t.Errorf("traceparent %s is not a child of %s", env.TraceParent, parent)
		}
		if diff := cmp.Diff(want, &got, ratCmp); diff != "" {
			t.Errorf("event %s (-sent +read):\n%s", env.ID, diff)
		}
	}
}

// SendAsync N events and Close at once: Close flushes, every callback runs
// with a successful delivery before Close returns, and all N are in the
// topic.
func TestCloseLosesNothing(t *testing.T) {
	const n = 5000
	c := kafkatest.New(t, kfake.SeedTopics(3, topic))
	s := serde.New(newRegistry(t))
	// A long linger: without a flush, most events would still be queued.
	p, _ := newProducer(t, c.Config(), s, func(cfg *producer.Config) { cfg.Linger = 2 * time.Second })
	typed := producer.NewTyped[*orderevents.OrderCreatedV2](p)
	ctx := t.Context()
	var mu sync.Mutex
	ids := map[string]bool{}
	var failed []error
	for i := range n {
		err := typed.SendAsync(ctx, order(fmt.Sprintf("ord-%d", i%100), i), func(d producer.Delivery) {
			mu.Lock()
			defer mu.Unlock()
			if d.Err != nil {
				failed = append(failed, d.Err)
			}
			ids[d.ID] = true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(ids) != n || len(failed) > 0 {
		t.Fatalf("after Close: %d callbacks with distinct IDs, %d failed (%v); want %d, 0", len(ids), len(failed), errors.Join(failed...), n)
	}
	mu.Unlock()
	recs := readAll(t, c.Config(), topic)
	if len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}
	for _, r := range recs {
		id, _ := message(r).Header(envelope.HeaderID)
		if !ids[string(id)] {
			t.Errorf("record %s was not reported", id)
		}
	}
	if _, err := typed.Send(ctx, order("late", 0)); !errors.Is(err, producer.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(ctx); !errors.Is(err, producer.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

// SendRaw writes the record byte for byte: key, value and headers, in
// order, nothing added.
func TestSendRaw(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, "raw"))
	p, _ := newProducer(t, c.Config(), serde.New(newRegistry(t)))
	m := envelope.Message{
		Key:   []byte("k-1"),
		Value: []byte{0xff, 0x00, 0x01, 'n', 'o', 't', ' ', 'a', 'v', 'r', 'o'},
		Headers: []envelope.Header{
			{Key: "ce_id", Value: []byte("id-1")}, {Key: "x", Value: []byte{0}}, {Key: "x", Value: []byte("again")},
		},
	}
	d, err := p.SendRaw(t.Context(), m, "raw")
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "id-1" || d.Topic != "raw" || d.Offset != 0 {
		t.Errorf("delivery %+v", d)
	}
	recs := readAll(t, c.Config(), "raw")
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	got := message(recs[0])
	if diff := cmp.Diff(m, got, cmp.AllowUnexported(envelope.Message{})); diff != "" {
		t.Errorf("record (-sent +read):\n%s", diff)
	}
}

// A delivery the broker refuses for good reaches Send's caller and
// SendAsync's callback as an *Error, and is counted; the events that were
// acknowledged are counted and timed.
func TestDeliveryErrorsAndMetrics(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, topic))
	s := serde.New(newRegistry(t))
	p, reg := newProducer(t, c.Config(), s)
	typed := producer.NewTyped[*orderevents.OrderCreatedV2](p)
	ctx := t.Context()
	for i := range 5 {
		if _, err := typed.Send(ctx, order("ord-ok", i)); err != nil {
			t.Fatal(err)
		}
	}
	// MESSAGE_TOO_LARGE is not retriable: librdkafka fails the batch.
	c.FailProduce(topic, kerr.MessageTooLarge, 1)
	_, err := typed.Send(ctx, order("ord-bad", 0))
	var pe *producer.Error
	if !errors.As(err, &pe) || pe.Op != "delivery" || pe.Topic != topic || pe.Code != ck.ErrMsgSizeTooLarge || errors.Is(err, producer.ErrFatal) {
		t.Fatalf("Send with MESSAGE_TOO_LARGE: %v (%#v), want a delivery *Error with code %v, not fatal", err, pe, ck.ErrMsgSizeTooLarge)
	}
	if !strings.HasPrefix(err.Error(), "producer: ") {
		t.Errorf("error %q does not start with the package name", err)
	}
	c.FailProduce(topic, kerr.MessageTooLarge, 1)
	ch := make(chan producer.Delivery, 1)
	if err := p.SendAsync(ctx, order("ord-bad", 1), func(d producer.Delivery) { ch <- d }); err != nil {
		t.Fatal(err)
	}
	if d := <-ch; d.Err == nil || d.ID == "" || d.Offset != -1 {
		t.Errorf("SendAsync with MESSAGE_TOO_LARGE: delivery %+v, want an error", d)
	}
	// An event with no key is refused before it is queued.
	if err := p.SendAsync(ctx, order("", 0), func(producer.Delivery) { t.Error("callback for an event not queued") }); err == nil {
		t.Error("SendAsync of an event without a key: no error")
	}

	produced := `
# HELP waybill_events_produced_total Events the broker acknowledged, by topic and event type.
# TYPE waybill_events_produced_total counter
waybill_events_produced_total{event_type="waybill.orders.OrderCreated",topic="order-events"} 5
# HELP waybill_produce_errors_total Events that could not be queued or were not acknowledged, by topic and event type.
# TYPE waybill_produce_errors_total counter
waybill_produce_errors_total{event_type="waybill.orders.OrderCreated",topic="order-events"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(produced), "waybill_events_produced_total", "waybill_produce_errors_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "waybill_delivery_latency_seconds"); n != 1 {
		t.Errorf("%d latency series, want 1", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "waybill_delivery_latency_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 5 || h.GetSampleSum() <= 0 {
				t.Errorf("latency histogram: %d samples, sum %v; want 5, > 0", h.GetSampleCount(), h.GetSampleSum())
			}
		}
	}

	// A second producer on the same registry shares the collectors.
	p2, err := producer.New(producer.Config{Kafka: c.Config(), Source: "other", Registerer: reg}, s)
	if err != nil {
		t.Fatalf("second producer on one registry: %v", err)
	}
	if _, err := producer.NewTyped[*orderevents.OrderCreatedV2](p2).Send(ctx, order("ord-2", 0)); err != nil {
		t.Fatal(err)
	}
	if err := p2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "waybill_events_produced_total")); got != 6 {
		t.Errorf("produced total %v after a second producer's send, want 6", got)
	}
}

// mustCounter returns the one series of a counter family as a collector.
func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: "copy"}, func() float64 {
				return mf.GetMetric()[0].GetCounter().GetValue()
			})
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// New refuses configurations that would break the guarantees, and
// incomplete ones.
func TestNewRefuses(t *testing.T) {
	s := serde.New(nil)
	base := kafka.NewConfig("127.0.0.1:1")
	for name, cfg := range map[string]producer.Config{
		"no brokers":         {Kafka: kafka.Config{}, Source: "x"},
		"no source":          {Kafka: base},
		"idempotence off":    {Kafka: base.With("enable.idempotence", "false"), Source: "x"},
		"acks=1":             {Kafka: base.With("acks", "1"), Source: "x"},
		"other partitioner":  {Kafka: base.With("partitioner", "consistent_random"), Source: "x"},
		"transactional.id":   {Kafka: base.With("transactional.id", "t"), Source: "x"},
		"unknown property":   {Kafka: base.With("no.such.property", "1"), Source: "x"},
		"no delivery report": {Kafka: base.With("go.delivery.reports", "false"), Source: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Registerer = prometheus.NewRegistry()
			p, err := producer.New(cfg, s)
			if err == nil {
				_ = p.Close(t.Context())
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "producer: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
		})
	}
	for name, cfg := range map[string]producer.Config{
		"acks=-1":        {Kafka: base.With("acks", "-1"), Source: "x"},
		"murmur2":        {Kafka: base.With("partitioner", "murmur2"), Source: "x"},
		"zstd, batching": {Kafka: base, Source: "x", Compression: "zstd", Linger: 20 * time.Millisecond, BatchSize: 64 << 10},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Registerer = prometheus.NewRegistry()
			p, err := producer.New(cfg, s)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// holdProduce makes the broker hold every produce request until the
// returned function is called.
func holdProduce(c *kafkatest.Cluster) (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-ch })
		return nil, nil, false
	})
	return func() { once.Do(func() { close(ch) }) }
}

// Send gives up when its context ends, and the event it handed to
// librdkafka is still delivered: Close waits for it.
func TestSendContextEnds(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, topic))
	p, _ := newProducer(t, c.Config(), serde.New(newRegistry(t)))
	typed := producer.NewTyped[*orderevents.OrderCreatedV2](p)
	if _, err := typed.Send(t.Context(), order("ord-0", 0)); err != nil { // the schema ID and producer ID
		t.Fatal(err)
	}
	release := holdProduce(c)
	defer release()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := typed.Send(ctx, order("ord-1", 1))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Send with a held broker: %v after %v, want the context's deadline", err, time.Since(start))
	}
	release()
	cctx, ccancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer ccancel()
	if err := p.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if recs := readAll(t, c.Config(), topic); len(recs) != 2 {
		t.Errorf("%d records, want 2: the event whose Send gave up is delivered by Close", len(recs))
	}
}

// Close bounded by its context: the events it could not deliver in time
// are purged, every callback hears of its event, and Close says how many.
func TestCloseDeadline(t *testing.T) {
	c := kafkatest.New(t, kfake.SeedTopics(1, topic))
	p, _ := newProducer(t, c.Config(), serde.New(newRegistry(t)))
	typed := producer.NewTyped[*orderevents.OrderCreatedV2](p)
	ctx := t.Context()
	if _, err := typed.Send(ctx, order("ord-0", 0)); err != nil {
		t.Fatal(err)
	}
	release := holdProduce(c)
	defer release()
	const n = 20
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		wg.Add(1)
		if err := typed.SendAsync(ctx, order(fmt.Sprintf("ord-%d", i), i), func(d producer.Delivery) {
			defer wg.Done()
			if d.Err != nil {
				failed.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	err := p.Close(cctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), fmt.Sprintf("%d events not acknowledged", n)) {
		t.Fatalf("Close: %v, want %d events not acknowledged and the deadline", err, n)
	}
	wg.Wait() // every callback ran
	if failed.Load() != n {
		t.Errorf("%d of %d callbacks got an error", failed.Load(), n)
	}
}
