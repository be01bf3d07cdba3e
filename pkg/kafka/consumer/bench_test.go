package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
)

// The end-to-end benchmarks, side by side in one run on the in-process
// broker:
//
//   - typed: events serialized (serde + envelope) and produced by an
//     idempotent confluent-kafka-go producer, consumed by a Consumer with
//     a typed handler, de-duplication (the default memory store) and offset
//     store;
//   - raw: records of the same key, value and headers produced by the same
//     producer configuration and consumed by a plain confluent-kafka-go
//     group consumer (auto store and commit) that only counts them.
//
// Each run starts a broker, joins the group and warms up (one record)
// before the timer starts; the time is from the first produce to the last
// record consumed. Run with a fixed count, e.g.
//
//	go test -run '^$' -bench EndToEnd -benchtime 50000x -count 5 ./pkg/kafka/consumer
func BenchmarkEndToEnd(b *testing.B) {
	b.Run("typed", benchTyped)
	b.Run("raw", benchRaw)
}

const benchTopic = orderevents.OrderCreatedTopic

func benchEvent(i int) *orderevents.OrderCreatedV2 {
	ev := order("ord-" + strconv.Itoa(i%1000))
	ev.CustomerID = "cus-" + strconv.Itoa(i%97)
	return ev
}

func benchProducer(b *testing.B, e *env) (*ck.Producer, func()) {
	cm := e.cluster.Config().ConfigMap(map[string]any{
		"enable.idempotence": true, "partitioner": "murmur2_random", "linger.ms": 5,
	})
	p, err := ck.NewProducer(&cm)
	if err != nil {
		b.Fatal(err)
	}
	var failed atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range p.Events() {
			if m, ok := ev.(*ck.Message); ok && m.TopicPartition.Error != nil {
				failed.Add(1)
			}
		}
	}()
	return p, func() {
		p.Flush(30_000)
		p.Close()
		<-done
		if failed.Load() > 0 {
			b.Errorf("%d deliveries failed", failed.Load())
		}
	}
}

func produceOne(b *testing.B, p *ck.Producer, m *ck.Message) {
	for {
		err := p.Produce(m, nil)
		if err == nil {
			return
		}
		if ke := (ck.Error{}); errors.As(err, &ke) && ke.Code() == ck.ErrQueueFull {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		b.Fatal(err)
	}
}

func benchTyped(b *testing.B) {
	e := newEnv(b, 4, benchTopic)
	ctx := context.Background()
	var handled atomic.Int64
	target := int64(b.N) + 1
	all := make(chan struct{})
	c, err := consumer.New(e.config(fmt.Sprintf("bench-typed-%d", b.N), benchTopic), e.serde)
	if err != nil {
		b.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			if handled.Add(1) == target {
				close(all)
			}
			return nil
		})
	r := start(b, c)
	p, closeP := benchProducer(b, e)
	topic := benchTopic
	var em envelope.Message
	var buf []byte
	var hs []ck.Header
	send := func(i int) {
		ev := benchEvent(i)
		var id uint32
		var err error
		buf, id, err = e.serde.AppendSerialize(ctx, buf[:0], ev)
		if err != nil {
			b.Fatal(err)
		}
		if err := envelope.EncodeInto(&em, envelope.Envelope{
			Source: "bench", Type: ev.EventType(), Subject: ev.Key(), EventVersion: ev.EventVersion(),
			SchemaID: id, Body: buf[envelope.WireHeaderLen:],
		}); err != nil {
			b.Fatal(err)
		}
		hs = hs[:0]
		for _, h := range em.Headers {
			hs = append(hs, ck.Header{Key: h.Key, Value: h.Value})
		}
		produceOne(b, p, &ck.Message{
			TopicPartition: ck.TopicPartition{Topic: &topic, Partition: ck.PartitionAny},
			Key:            em.Key, Value: em.Value, Headers: hs,
		})
	}
	send(-1)
	eventually(b, 30*time.Second, "warm-up event handled", func() bool { return handled.Load() == 1 })

	b.ResetTimer()
	t0 := time.Now()
	for i := range b.N {
		send(i)
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "produced/s")
	select {
	case <-all:
	case <-time.After(120 * time.Second):
		b.Fatalf("handled %d of %d", handled.Load()-1, b.N)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	closeP()
	if err := r.Stop(); err != nil {
		b.Fatal(err)
	}
}

func benchRaw(b *testing.B) {
	e := newEnv(b, 4, benchTopic)
	// Records exactly the size of the typed run's.
	msgs := make([]*ck.Message, 1000)
	for i := range msgs {
		msgs[i] = e.encode(b, benchEvent(i))
	}
	cm := e.cluster.Config().ConfigMap(map[string]any{
		"group.id": fmt.Sprintf("bench-raw-%d", b.N), "auto.offset.reset": "earliest",
		"partition.assignment.strategy": "cooperative-sticky",
	})
	cons, err := ck.NewConsumer(&cm)
	if err != nil {
		b.Fatal(err)
	}
	if err := cons.SubscribeTopics([]string{benchTopic}, nil); err != nil {
		b.Fatal(err)
	}
	var consumed atomic.Int64
	target := int64(b.N) + 1
	all := make(chan struct{})
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if m, ok := cons.Poll(100).(*ck.Message); ok && m.TopicPartition.Error == nil {
				if consumed.Add(1) == target {
					close(all)
				}
			}
		}
	}()
	defer func() {
		close(stop)
		<-stopped
		_ = cons.Close()
	}()
	p, closeP := benchProducer(b, e)
	defer closeP()
	produceOne(b, p, msgs[0])
	eventually(b, 30*time.Second, "warm-up record consumed", func() bool { return consumed.Load() == 1 })

	b.ResetTimer()
	t0 := time.Now()
	for i := range b.N {
		produceOne(b, p, msgs[i%len(msgs)])
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "produced/s")
	select {
	case <-all:
	case <-time.After(120 * time.Second):
		b.Fatalf("consumed %d of %d", consumed.Load()-1, b.N)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkConsume is consumption alone: b.N records are produced first
// (untimed), then a new group reads them; the rate is measured from the
// first record handled to the last, so the group join is left out.
//
//   - typed: Consumer, typed handler, de-duplication, offset store;
//   - raw: a plain confluent-kafka-go group consumer that counts.
func BenchmarkConsume(b *testing.B) {
	b.Run("typed", func(b *testing.B) {
		e := newEnv(b, 4, benchTopic)
		e.produceBench(b)
		var handled atomic.Int64
		var first atomic.Int64
		all := make(chan struct{})
		c, err := consumer.New(e.config("bench-consume", benchTopic), e.serde)
		if err != nil {
			b.Fatal(err)
		}
		consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
			func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
				n := handled.Add(1)
				if n == 1 {
					first.Store(time.Now().UnixNano())
				}
				if n == int64(b.N) {
					close(all)
				}
				return nil
			})
		b.ResetTimer()
		r := start(b, c)
		select {
		case <-all:
		case <-time.After(120 * time.Second):
			b.Fatalf("handled %d of %d", handled.Load(), b.N)
		}
		elapsed := time.Since(time.Unix(0, first.Load()))
		b.StopTimer()
		b.ReportMetric(float64(max(b.N-1, 1))/elapsed.Seconds(), "events/s")
		if err := r.Stop(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("raw", func(b *testing.B) {
		e := newEnv(b, 4, benchTopic)
		e.produceBench(b)
		cm := e.cluster.Config().ConfigMap(map[string]any{
			"group.id": "bench-consume-raw", "auto.offset.reset": "earliest",
			"partition.assignment.strategy": "cooperative-sticky",
		})
		cons, err := ck.NewConsumer(&cm)
		if err != nil {
			b.Fatal(err)
		}
		defer cons.Close()
		b.ResetTimer()
		if err := cons.SubscribeTopics([]string{benchTopic}, nil); err != nil {
			b.Fatal(err)
		}
		var first time.Time
		deadline := time.Now().Add(120 * time.Second)
		for n := 0; n < b.N; {
			if time.Now().After(deadline) {
				b.Fatalf("consumed %d of %d", n, b.N)
			}
			if m, ok := cons.Poll(100).(*ck.Message); ok && m.TopicPartition.Error == nil {
				if n == 0 {
					first = time.Now()
				}
				n++
			}
		}
		elapsed := time.Since(first)
		b.StopTimer()
		b.ReportMetric(float64(max(b.N-1, 1))/elapsed.Seconds(), "events/s")
	})
}

// produceBench produces b.N typed events (untimed).
func (e *env) produceBench(b *testing.B) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	p, closeP := benchProducer(b, e)
	for i := range b.N {
		produceOne(b, p, e.encode(b, benchEvent(i)))
	}
	closeP()
}
