package kafkalog_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/services/registry/internal/kafkalog"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

const topic = kafkalog.DefaultTopic

// newCluster starts an in-process one-broker Kafka, closed at the end of
// the test.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// state is what a test's apply keeps of a log: every record in order, and
// the live value of every key.
type state struct {
	mu      sync.Mutex
	records []schemalog.Record
	live    map[string][]byte
	ids     map[int][]byte // SCHEMA id -> key that claimed it first
	dups    []string       // ids claimed twice
	maxID   int
}

func newState() *state {
	return &state{live: map[string][]byte{}, ids: map[int][]byte{}}
}

func (s *state) apply(r schemalog.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, r)
	if r.Value == nil {
		delete(s.live, string(r.Key))
		return
	}
	s.live[string(r.Key)] = r.Value
	k, err := schemalog.ParseKey(r.Key)
	if err != nil || k.KeyType != schemalog.KeySchema {
		return
	}
	var v schemalog.SchemaValue
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return
	}
	if prev, ok := s.ids[v.ID]; ok && !bytes.Equal(prev, r.Key) {
		s.dups = append(s.dups, string(prev)+" and "+string(r.Key))
	} else {
		s.ids[v.ID] = r.Key
	}
	s.maxID = max(s.maxID, v.ID)
}

func (s *state) snapshot() []schemalog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]schemalog.Record(nil), s.records...)
}

func (s *state) value(key []byte) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.live[string(key)]
	return v, ok
}

func (s *state) nextID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxID + 1
}

// startLog starts a Log on the cluster at addr, closed at the end of the
// test.
func startLog(t testing.TB, addr string, cfg kafkalog.Config) (*kafkalog.Log, *state) {
	t.Helper()
	cfg.Brokers = []string{addr}
	l, err := kafkalog.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	s := newState()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Start(ctx, s.apply); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return l, s
}

// schemaRecord is a SCHEMA record claiming id for subject's version.
func schemaRecord(subject string, version, id int) schemalog.Record {
	return schemalog.Record{
		Key: schemalog.SchemaKey(subject, version),
		Value: schemalog.Value(schemalog.SchemaValue{
			Subject: subject, Version: version, ID: id,
			Schema: `{"type":"record","name":"E","fields":[{"name":"a","type":"string"}]}`,
		}),
	}
}

// write appends records without a Log, as Confluent's registry (or any
// plain producer) would: idempotent, not transactional.
func write(t testing.TB, addr string, recs []schemalog.Record) {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":   addr,
		"enable.idempotence":  true,
		"linger.ms":           5,
		"enable.metrics.push": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan error, 1)
	go func() {
		var first error
		n := 0
		for e := range p.Events() {
			if m, ok := e.(*kafka.Message); ok {
				if m.TopicPartition.Error != nil && first == nil {
					first = m.TopicPartition.Error
				}
				if n++; n == len(recs) {
					break
				}
			}
		}
		done <- first
	}()
	name := topic
	for _, r := range recs {
		msg := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &name, Partition: 0}, Key: r.Key, Value: r.Value}
		for {
			err := p.Produce(msg, nil)
			if err == nil {
				break
			}
			var kerr kafka.Error
			if !errors.As(err, &kerr) || kerr.Code() != kafka.ErrQueueFull {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("write: no delivery reports")
	}
}

// readFixture reads testdata/<name>: key TAB value per line, "null" for a
// null value, "#" comments.
func readFixture(t testing.TB, name string) []schemalog.Record {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []schemalog.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: no tab in %q", name, line)
		}
		r := schemalog.Record{Key: []byte(k)}
		if v != "null" {
			r.Value = []byte(v)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// testLogger writes a Log's debug output to the test log (go test -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
