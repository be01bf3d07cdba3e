package producer_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/commonevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
	"github.com/waybill/waybill/services/registry/registrytest"
)

const topic = orderevents.OrderCreatedTopic

// newRegistry starts Waybill's registry server on httptest, seeded with the
// repository's schemas as `waybill registry push` does, and returns a
// client for it.
func newRegistry(t testing.TB) *registry.Client {
	t.Helper()
	return registrytest.WithSchemas(t, "../../../schemas").Client
}

// logBuffer collects a logger's output, safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newProducer returns a producer on kcfg with a fresh metrics registry,
// closed at the end of the test if the test did not close it.
func newProducer(t testing.TB, kcfg kafka.Config, s *serde.Serde, opts ...func(*producer.Config)) (*producer.Producer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := producer.Config{Kafka: kcfg, Source: "order-service", Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := producer.New(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p, reg
}

// testWriter logs through t.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

var created = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// order returns an OrderCreatedV2 for order id whose customer ID carries
// seq, so a test can check order by reading it back.
func order(id string, seq int) *orderevents.OrderCreatedV2 {
	cur := "EUR"
	return &orderevents.OrderCreatedV2{
		OrderID: id, CustomerID: fmt.Sprintf("cus-%d", seq),
		LineItems:       []orderevents.LineItem{{SKU: "SKU-1", Quantity: 2}, {SKU: "SKU-22", Quantity: 1}},
		CreatedAt:       created,
		ShippingAddress: &commonevents.AddressV1{Line1: "Damrak 1", City: "Amsterdam", PostalCode: "1012 LG", CountryCode: "NL"},
		Total:           big.NewRat(12345, 100),
		Currency:        &cur,
	}
}

// readAll reads every record of topic from the beginning up to the high
// watermarks as they are now, with a plain confluent-kafka-go consumer (no
// group: assigned partitions), and returns them in partition, offset order.
func readAll(t testing.TB, kcfg kafka.Config, topic string) []*ck.Message {
	t.Helper()
	cm := kcfg.ConfigMap(map[string]any{"group.id": "readall", "enable.auto.commit": false})
	cm["go.logs.channel.enable"] = true // keep librdkafka's lines off stderr
	c, err := ck.NewConsumer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md, err := c.GetMetadata(&topic, false, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var tps []ck.TopicPartition
	ends := map[int32]int64{}
	want := 0
	for _, p := range md.Topics[topic].Partitions {
		_, high, err := c.QueryWatermarkOffsets(topic, p.ID, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		if high > 0 {
			tps = append(tps, ck.TopicPartition{Topic: &topic, Partition: p.ID, Offset: ck.OffsetBeginning})
			ends[p.ID] = high
			want += int(high)
		}
	}
	if err := c.Assign(tps); err != nil {
		t.Fatal(err)
	}
	byPart := map[int32][]*ck.Message{}
	deadline := time.Now().Add(30 * time.Second)
	got := 0
	for got < want {
		if time.Now().After(deadline) {
			t.Fatalf("readAll %s: %d of %d records after 30s", topic, got, want)
		}
		ev := c.Poll(100)
		switch e := ev.(type) {
		case *ck.Message:
			if e.TopicPartition.Error != nil {
				t.Fatal(e.TopicPartition.Error)
			}
			if int64(e.TopicPartition.Offset) < ends[e.TopicPartition.Partition] {
				byPart[e.TopicPartition.Partition] = append(byPart[e.TopicPartition.Partition], e)
				got++
			}
		case ck.Error:
			t.Logf("readAll: %v", e)
		}
	}
	var all []*ck.Message
	for _, p := range md.Topics[topic].Partitions {
		all = append(all, byPart[p.ID]...)
	}
	return all
}

// message is a record as the envelope sees it.
func message(m *ck.Message) envelope.Message {
	em := envelope.Message{Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		em.Headers = append(em.Headers, envelope.Header{Key: h.Key, Value: h.Value})
	}
	return em
}

// murmur2 is Kafka's Utils.murmur2, the hash of Java's default partitioner
// (org.apache.kafka.common.utils.Utils), written from its Java source.
func murmur2(data []byte) int32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	length := len(data)
	h := uint32(seed) ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[length&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// javaPartition is the partition Java's DefaultPartitioner (and
// BuiltInPartitioner.partitionForKey) picks for a key:
// toPositive(murmur2(key)) % numPartitions, toPositive being & 0x7fffffff.
func javaPartition(key []byte, numPartitions int32) int32 {
	return (murmur2(key) & 0x7fffffff) % numPartitions
}
