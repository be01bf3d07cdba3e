package producer_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/serde"
)

// BenchmarkProduce measures produce throughput on the in-process broker,
// side by side:
//
//   - typed: Typed[*OrderCreatedV2].SendAsync, i.e. Avro encoding through
//     the serde's Writer, the envelope (new UUIDv7, time, child span),
//     metrics and the delivery callback, on the idempotent producer;
//   - raw: confluent-kafka-go's Produce of the same records pre-encoded
//     (key, value and the ten envelope headers, so the same sizes; 2,000
//     distinct records, each with its own ID, time and span), with
//     the same librdkafka configuration (idempotence, lz4, murmur2_random,
//     no key/value copied back into delivery reports) and its Events()
//     drained.
//
// Both send b.N events over 500 keys and stop the clock when the last is
// acknowledged, and report events/s and the process's CPU time per event
// (every thread: librdkafka's and the broker's too). The pair
// sub-benchmark runs typed and then raw on b.N events each, back to back,
// and reports both and the ratios typed/raw (throughput, and raw's CPU per
// event over typed's): on a machine shared with other work, adjacent runs
// compare best, and CPU per event varies less than the wall clock. Each run has
// a broker of its own. Run with a fixed count for stable figures:
//
//	go test -run '^$' -bench BenchmarkProduce -benchtime 200000x -count 5 ./pkg/kafka/producer
func BenchmarkProduce(b *testing.B) {
	const keys = 500
	s := serde.New(newRegistry(b))
	evs := make([]*orderevents.OrderCreatedV2, keys)
	for i := range evs {
		evs[i] = order("ord-"+strconv.Itoa(i), i)
	}
	report := func(b *testing.B, prefix string, elapsed, cpu time.Duration) {
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), prefix+"events/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), prefix+"cpu-µs/event")
	}
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		elapsed, cpu := produceTyped(b, s, evs, b.N)
		report(b, "", elapsed, cpu)
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		elapsed, cpu := produceRaw(b, s, evs, b.N)
		report(b, "", elapsed, cpu)
	})
	b.Run("pair", func(b *testing.B) {
		typed, typedCPU := produceTyped(b, s, evs, b.N)
		raw, rawCPU := produceRaw(b, s, evs, b.N)
		report(b, "typed-", typed, typedCPU)
		report(b, "raw-", raw, rawCPU)
		b.ReportMetric(raw.Seconds()/typed.Seconds(), "typed/raw")
		b.ReportMetric(rawCPU.Seconds()/typedCPU.Seconds(), "typed/raw-cpu")
	})
}

// cpuTime is the CPU time the process has used, every thread counted:
// librdkafka's and the in-process broker's too. On a machine shared with
// other work it varies less than the wall clock: events/s is what a user
// sees, CPU per event what this package costs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// produceTyped sends n events with Typed.SendAsync on a fresh broker and
// returns the time from the first send to the last acknowledgement; the
// benchmark timer runs only then.
func produceTyped(b *testing.B, s *serde.Serde, evs []*orderevents.OrderCreatedV2, n int) (elapsed, cpu time.Duration) {
	b.StopTimer()
	c := kafkatest.New(b, kfake.SeedTopics(6, topic))
	p, err := producer.New(producer.Config{Kafka: c.Config(), Source: "order-service", Registerer: prometheus.NewRegistry()}, s)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	typed := producer.NewTyped[*orderevents.OrderCreatedV2](p)
	ctx := context.Background()
	if _, err := typed.Send(ctx, evs[0]); err != nil { // warm: schema ID, PID, metadata
		b.Fatal(err)
	}
	var acked atomic.Int64
	var failed atomic.Pointer[error]
	all := make(chan struct{})
	done := func(d producer.Delivery) {
		if d.Err != nil {
			err := d.Err // not &d.Err: d would escape on every call
			failed.CompareAndSwap(nil, &err)
		}
		if acked.Add(1) == int64(n) {
			close(all)
		}
	}
	b.StartTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for i := range n {
		if err := typed.SendAsync(ctx, evs[i%len(evs)], done); err != nil {
			b.Fatal(err)
		}
	}
	<-all
	elapsed = time.Since(start)
	cpu = cpuTime() - cpu0
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatal(*f)
	}
	return elapsed, cpu
}

// produceRaw is produceTyped for confluent-kafka-go's Produce of the same
// records, encoded up front.
func produceRaw(b *testing.B, s *serde.Serde, evs []*orderevents.OrderCreatedV2, n int) (elapsed, cpu time.Duration) {
	b.StopTimer()
	c := kafkatest.New(b, kfake.SeedTopics(6, topic))
	// Distinct records (each its own ID, time and span, as the typed
	// producer makes them), so that batches compress as the typed ones do:
	// 2,000 of them take about 1 MB, so a record repeats far outside lz4's
	// 64 KB window, and they add little for the garbage collector to scan.
	const distinct = 2_000
	msgs := make([]*ck.Message, distinct)
	tp := topic
	for i := range msgs {
		ev := evs[i%len(evs)]
		body, id, err := s.Serialize(context.Background(), ev)
		if err != nil {
			b.Fatal(err)
		}
		m, err := envelope.Encode(envelope.Envelope{Source: "order-service", Type: ev.EventType(), Subject: ev.Key(),
			EventVersion: ev.EventVersion(), SchemaID: id, Body: body[envelope.WireHeaderLen:]})
		if err != nil {
			b.Fatal(err)
		}
		km := &ck.Message{TopicPartition: ck.TopicPartition{Topic: &tp, Partition: ck.PartitionAny}, Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			km.Headers = append(km.Headers, ck.Header{Key: h.Key, Value: h.Value})
		}
		msgs[i] = km
	}
	// The producer's configuration.
	cm := c.Config().ConfigMap(nil)
	for k, v := range map[string]any{
		"enable.idempotence": true, "acks": "all", "partitioner": "murmur2_random", "compression.type": "lz4",
		"client.id":                 "order-service",
		"go.delivery.report.fields": "none", "go.logs.channel.enable": true,
	} {
		cm[k] = v
	}
	p, err := ck.NewProducer(&cm)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	go func() {
		for range p.Logs() {
		}
	}()
	var acked atomic.Int64
	var failed atomic.Pointer[error]
	all := make(chan struct{})
	warm := make(chan struct{})
	go func() {
		for ev := range p.Events() {
			if m, ok := ev.(*ck.Message); ok {
				if m.TopicPartition.Error != nil {
					failed.CompareAndSwap(nil, &m.TopicPartition.Error)
				}
				switch acked.Add(1) {
				case 1:
					close(warm)
				case int64(n) + 1:
					close(all)
				}
			}
		}
	}()
	if err := p.Produce(msgs[0], nil); err != nil {
		b.Fatal(err)
	}
	<-warm
	b.StartTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for i := range n {
		for {
			err := p.Produce(msgs[i%len(msgs)], nil)
			if err == nil {
				break
			}
			var ke ck.Error
			if !errors.As(err, &ke) || ke.Code() != ck.ErrQueueFull {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	<-all
	elapsed = time.Since(start)
	cpu = cpuTime() - cpu0
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatal(*f)
	}
	return elapsed, cpu
}
