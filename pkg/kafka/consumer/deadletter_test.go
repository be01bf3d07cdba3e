package consumer_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
)

// While the dead-letter topic refuses writes, the event that must go there
// is not dropped: its send is retried and the committed offset stays
// before it; once the topic accepts writes, the dead letter lands once and
// the commit moves on.
func TestDeadLetterSendFails(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 1, topic)
	dlqTopic := kafka.DeadLetterTopic(topic)
	var msgs []*ck.Message
	for i := range 20 {
		m := e.encode(t, order(fmt.Sprintf("ord-%d", i)))
		if i == 3 {
			m.Value = bytes.Clone(m.Value)
			m.Value[0] = 0x7f
		}
		msgs = append(msgs, m)
	}
	acked := e.produce(t, msgs...)
	bad := int64(acked[3].TopicPartition.Offset)

	remove := e.cluster.FailProduce(dlqTopic, kerr.TopicAuthorizationFailed, -1)
	var handled atomic.Int64
	c, err := consumer.New(e.config("dlq-fails", topic), e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			handled.Add(1)
			return nil
		})
	r := start(t, c)
	eventually(t, 20*time.Second, "the commit reaches the event to dead-letter", func() bool {
		return e.cluster.GroupCommitted(t, "dlq-fails", topic)[0] == bad
	})
	time.Sleep(time.Second) // a few failed sends and ten auto-commit intervals
	if got := e.cluster.GroupCommitted(t, "dlq-fails", topic)[0]; got != bad {
		t.Fatalf("committed %d while the dead letter for %d was not written", got, bad)
	}
	if n := e.cluster.EndOffsets(t, dlqTopic)[0]; n != 0 {
		t.Fatalf("%d records on the refusing dead-letter topic", n)
	}
	if got := e.metric(t, "waybill_events_dead_lettered_total", nil); got != 0 {
		t.Fatalf("waybill_events_dead_lettered_total = %v before any dead letter was written", got)
	}
	remove()
	eventually(t, 20*time.Second, "the commit passes the event once its dead letter is written", func() bool {
		return e.committedAll(t, "dlq-fails", topic)
	})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	dlq := e.readAll(t, dlqTopic)
	if len(dlq) != 1 || header(dlq[0], kafka.HeaderDeadLetterOffset) != fmt.Sprint(bad) ||
		header(dlq[0], kafka.HeaderDeadLetterCode) != "unknown-magic-byte" {
		t.Fatalf("dead-letter topic: %d records, want the one for offset %d", len(dlq), bad)
	}
	if handled.Load() != 19 {
		t.Errorf("handled %d, want 19", handled.Load())
	}
}

// The broker answers a dead letter's produce with an error the idempotent
// producer cannot ride out (OUT_OF_ORDER_SEQUENCE_NUMBER: librdkafka
// raises a fatal error, or bumps the epoch): the consumer replaces the
// producer if needed, and every dead letter still lands exactly once.
func TestDeadLetterProducerFatal(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 1, topic)
	dlqTopic := kafka.DeadLetterTopic(topic)
	var msgs []*ck.Message
	for i := range 30 {
		m := e.encode(t, order(fmt.Sprintf("ord-%d", i)))
		if i%3 == 0 {
			m.Value = bytes.Clone(m.Value)
			m.Value[0] = 0x7f
		}
		msgs = append(msgs, m)
	}
	acked := e.produce(t, msgs...)
	e.cluster.FailProduce(dlqTopic, kerr.OutOfOrderSequenceNumber, 1)
	cfg := e.config("dlq-fatal", topic)
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error { return nil })
	r := start(t, c)
	eventually(t, 30*time.Second, "all committed", func() bool { return e.committedAll(t, "dlq-fatal", topic) })
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, d := range e.readAll(t, dlqTopic) {
		got[header(d, kafka.HeaderDeadLetterOffset)]++
	}
	for i, a := range acked {
		off := fmt.Sprint(int64(a.TopicPartition.Offset))
		if want := map[bool]int{true: 1}[i%3 == 0]; got[off] != want {
			t.Errorf("offset %s: %d dead letters, want %d", off, got[off], want)
		}
	}
}
