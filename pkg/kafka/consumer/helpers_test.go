package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
	"github.com/waybill/waybill/services/registry/registrytest"
)

// env is a test's world: an in-process broker with the topics, Waybill's
// registry on httptest seeded with the repository's schemas, a serde on it,
// and a metrics registry of the test's own.
type env struct {
	cluster *kafkatest.Cluster
	client  *registry.Client
	serde   *serde.Serde
	metrics *prometheus.Registry
	// registryURL is the registry's address; while registryDown is set,
	// it answers every request with 503.
	registryURL  string
	registryDown atomic.Bool
}

// newEnv starts the broker with topics (and their .dlq topics) of
// partitions partitions each.
func newEnv(t testing.TB, partitions int32, topics ...string) *env {
	t.Helper()
	all := slices.Clone(topics)
	for _, tp := range topics {
		all = append(all, kafka.DeadLetterTopic(tp))
	}
	cl := kafkatest.New(t, kfake.SeedTopics(partitions, all...))

	srv := registrytest.WithSchemas(t, "../../../schemas").Server
	e := &env{metrics: prometheus.NewRegistry()}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.registryDown.Load() {
			http.Error(w, `{"error_code":50301,"message":"registry down for the test"}`, http.StatusServiceUnavailable)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	client, err := registry.New(registry.Config{URL: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.cluster, e.client, e.serde, e.registryURL = cl, client, serde.New(client), hs.URL
	return e
}

// config is a consumer configuration for the test cluster: fast commits
// and statistics, the test's metrics registry, quiet logs.
func (e *env) config(group string, topics ...string) consumer.Config {
	return consumer.Config{
		Kafka: e.cluster.Config().
			With("auto.commit.interval.ms", "100").
			With("statistics.interval.ms", "200"),
		Group:      group,
		Topics:     topics,
		Retry:      consumer.RetryPolicy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond},
		Registerer: e.metrics,
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// encode returns ev as a record in the envelope, as a producer writes it.
func (e *env) encode(t testing.TB, ev events.Event) *ck.Message {
	t.Helper()
	value, id, err := e.serde.Serialize(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	m, err := envelope.Encode(envelope.Envelope{
		Source: "test", Type: ev.EventType(), Subject: ev.Key(),
		EventVersion: ev.EventVersion(), SchemaID: id, Body: value[envelope.WireHeaderLen:],
	})
	if err != nil {
		t.Fatal(err)
	}
	return toKafka(ev.Topic(), m)
}

func toKafka(topic string, m envelope.Message) *ck.Message {
	hs := make([]ck.Header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = ck.Header{Key: h.Key, Value: h.Value}
	}
	return &ck.Message{
		TopicPartition: ck.TopicPartition{Topic: &topic, Partition: ck.PartitionAny},
		Key:            m.Key, Value: m.Value, Headers: hs,
	}
}

func header(m *ck.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// produce sends msgs through one idempotent producer and waits for every
// acknowledgement; it returns them as acknowledged, in order.
func (e *env) produce(t testing.TB, msgs ...*ck.Message) []*ck.Message {
	t.Helper()
	cm := e.cluster.Config().ConfigMap(map[string]any{
		"enable.idempotence": true, "partitioner": "murmur2_random", "linger.ms": 2,
	})
	p, err := ck.NewProducer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	reports := make(chan ck.Event, len(msgs))
	for i, m := range msgs {
		m.Opaque = i
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
	acked := make([]*ck.Message, len(msgs))
	timeout := time.After(30 * time.Second)
	for range msgs {
		select {
		case ev := <-reports:
			m := ev.(*ck.Message)
			if m.TopicPartition.Error != nil {
				t.Fatalf("delivery: %v", m.TopicPartition.Error)
			}
			acked[m.Opaque.(int)] = m
		case <-timeout:
			t.Fatal("produce: no acknowledgement after 30s")
		}
	}
	return acked
}

// readAll returns every record of topic up to its end now, by partition
// and offset.
func (e *env) readAll(t testing.TB, topic string) []*ck.Message {
	t.Helper()
	end := e.cluster.EndOffsets(t, topic)
	cm := e.cluster.Config().ConfigMap(map[string]any{"group.id": "test-reader", "enable.auto.commit": false})
	c, err := ck.NewConsumer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var tps []ck.TopicPartition
	for p, high := range end {
		if high > 0 {
			tps = append(tps, ck.TopicPartition{Topic: &topic, Partition: p, Offset: ck.OffsetBeginning})
		} else {
			delete(end, p)
		}
	}
	if err := c.Assign(tps); err != nil {
		t.Fatal(err)
	}
	var out []*ck.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(end) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("reading %s: partitions %v not read to the end after 30s", topic, end)
		}
		m, ok := c.Poll(100).(*ck.Message)
		if !ok || m.TopicPartition.Error != nil {
			continue
		}
		out = append(out, m)
		if int64(m.TopicPartition.Offset)+1 >= end[m.TopicPartition.Partition] {
			delete(end, m.TopicPartition.Partition)
		}
	}
	slices.SortFunc(out, func(a, b *ck.Message) int {
		if a.TopicPartition.Partition != b.TopicPartition.Partition {
			return int(a.TopicPartition.Partition - b.TopicPartition.Partition)
		}
		return int(a.TopicPartition.Offset - b.TopicPartition.Offset)
	})
	return out
}

// start runs c until Stop (or the test's end).
func start(t testing.TB, c *consumer.Consumer) *kafkatest.Running {
	t.Helper()
	return kafkatest.Go(t, c.Run)
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

// seen records what handlers saw, safely across workers.
type seen struct {
	mu    sync.Mutex
	count map[string]int // by event ID
	order map[string][]int
}

func newSeen() *seen { return &seen{count: map[string]int{}, order: map[string][]int{}} }

func (s *seen) add(id string) {
	s.mu.Lock()
	s.count[id]++
	s.mu.Unlock()
}

func (s *seen) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.count)
}

func (s *seen) twice() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, n := range s.count {
		if n > 1 {
			ids = append(ids, fmt.Sprintf("%s×%d", id, n))
		}
	}
	return ids
}
