package kafkalog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/services/registry/internal/kafkalog"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// replayRecords is the size of the log the replay is timed on.
const replayRecords = 10_000

// A fresh instance replays 10,000 SCHEMA records, written in transactions
// of ten as the registry writes them, within two seconds (ten under the
// race detector).
func TestReplayTime(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,000 records")
	}
	c := newCluster(t)
	if err := c.CreateTopic(topic, 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	addr := c.ListenAddrs()[0]
	writeSchemas(t, addr, replayRecords, 10)

	l, err := kafkalog.New(kafkalog.Config{Brokers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := newState()
	start := time.Now()
	if err := l.Start(context.Background(), s.apply); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("replayed %d records in %v", len(s.records), took)
	if len(s.records) != replayRecords || s.maxID != replayRecords {
		t.Errorf("replayed %d records up to id %d, want %d", len(s.records), s.maxID, replayRecords)
	}
	limit := 2 * time.Second
	if raceEnabled {
		limit = 10 * time.Second
	}
	if took > limit {
		t.Errorf("replay took %v, want under %v", took, limit)
	}
}

// BenchmarkReplay times Start on a log of 10,000 SCHEMA records.
func BenchmarkReplay(b *testing.B) {
	c := newCluster(b)
	if err := c.CreateTopic(topic, 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		b.Fatal(err)
	}
	addr := c.ListenAddrs()[0]
	writeSchemas(b, addr, replayRecords, 10)
	b.ResetTimer()
	for b.Loop() {
		l, err := kafkalog.New(kafkalog.Config{Brokers: []string{addr}})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := l.Start(context.Background(), func(schemalog.Record) { n++ }); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n != replayRecords {
			b.Fatalf("replayed %d records", n)
		}
		_ = l.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(replayRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkUpdate times one write of one record by the instance that
// holds the lease: commit and read back.
func BenchmarkUpdate(b *testing.B) {
	c := newCluster(b)
	l, s := startLog(b, c.ListenAddrs()[0], kafkalog.Config{})
	for b.Loop() {
		if err := l.Update(context.Background(), func() ([]schemalog.Record, error) {
			id := s.nextID()
			return []schemalog.Record{schemaRecord(fmt.Sprint("s", id), 1, id)}, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// writeSchemas appends n SCHEMA records of realistic size (a record schema
// of a dozen fields) with a transactional producer, perTxn a transaction.
func writeSchemas(t testing.TB, addr string, n, perTxn int) {
	t.Helper()
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":   addr,
		"transactional.id":    "bulk-writer",
		"linger.ms":           5,
		"enable.metrics.push": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go func() {
		for range p.Events() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for f := range 12 {
		fields = append(fields, fmt.Sprintf(`{"name":"field_%d","type":["null","string"],"default":null,"doc":"Field number %d of the event."}`, f, f))
	}
	name := topic
	for i := 0; i < n; i += perTxn {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for id := i + 1; id <= min(i+perTxn, n); id++ {
			subject := fmt.Sprintf("orders-events-com.example.Event%d", id)
			v := schemalog.Value(schemalog.SchemaValue{
				Subject: subject, Version: 1, ID: id,
				Schema: fmt.Sprintf(`{"type":"record","name":"Event%d","namespace":"com.example","fields":[%s]}`, id, strings.Join(fields, ",")),
			})
			for {
				err := p.Produce(&kafka.Message{
					TopicPartition: kafka.TopicPartition{Topic: &name, Partition: 0},
					Key:            schemalog.SchemaKey(subject, 1),
					Value:          v,
				}, nil)
				var kerr kafka.Error
				if err == nil {
					break
				}
				if !errors.As(err, &kerr) || kerr.Code() != kafka.ErrQueueFull {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
		}
		if err := p.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
