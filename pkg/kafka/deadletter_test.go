package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
)

func hdrs(kv ...string) []envelope.Header {
	var hs []envelope.Header
	for i := 0; i < len(kv); i += 2 {
		hs = append(hs, envelope.Header{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return hs
}

func TestParseDeadLetter(t *testing.T) {
	orig := hdrs("ce_id", "id-1", "ce_type", "waybill.orders.OrderCreated", "x", "\x00\xff")
	full := append(append([]envelope.Header(nil), orig...), hdrs(
		kafka.HeaderDeadLetterCode, "handler",
		kafka.HeaderDeadLetterReason, "payment refused",
		kafka.HeaderDeadLetterTopic, "orders",
		kafka.HeaderDeadLetterPartition, "3",
		kafka.HeaderDeadLetterOffset, "1045",
		kafka.HeaderDeadLetterTimestamp, "1700000000123",
		kafka.HeaderDeadLetterGroup, "billing",
		kafka.HeaderDeadLetterAttempts, "3",
		kafka.HeaderDeadLetterTime, "2026-11-22T01:02:03.5Z",
	)...)
	d, err := kafka.ParseDeadLetter(envelope.Message{Key: []byte("k"), Value: []byte{0, 1}, Headers: full})
	if err != nil {
		t.Fatal(err)
	}
	want := kafka.DeadLetter{
		Message: envelope.Message{Key: []byte("k"), Value: []byte{0, 1}, Headers: orig},
		Code:    "handler", Reason: "payment refused", Topic: "orders", Partition: 3, Offset: 1045,
		Timestamp: time.UnixMilli(1700000000123).UTC(), Group: "billing", Attempts: 3,
		DeadLetteredAt: time.Date(2026, 11, 22, 1, 2, 3, 5e8, time.UTC),
		DLQPartition:   -1, DLQOffset: -1,
	}
	if diff := cmp.Diff(want, d, cmp.AllowUnexported(envelope.Message{})); diff != "" {
		t.Errorf("ParseDeadLetter (-want +got):\n%s", diff)
	}
	if d.ID() != "id-1" {
		t.Errorf("ID() = %q", d.ID())
	}

	// Only code and topic are required; absent locations are -1.
	d, err = kafka.ParseDeadLetter(envelope.Message{Headers: hdrs(kafka.HeaderDeadLetterCode, "no-magic-byte", kafka.HeaderDeadLetterTopic, "t")})
	if err != nil || d.Partition != -1 || d.Offset != -1 || !d.Timestamp.IsZero() || d.Message.Headers != nil {
		t.Errorf("minimal dead letter: %+v, %v", d, err)
	}
	// The last copy of a header counts.
	d, err = kafka.ParseDeadLetter(envelope.Message{Headers: hdrs(kafka.HeaderDeadLetterCode, "a", kafka.HeaderDeadLetterTopic, "t", kafka.HeaderDeadLetterCode, "b")})
	if err != nil || d.Code != "b" {
		t.Errorf("repeated code: %q, %v", d.Code, err)
	}

	for _, tc := range []struct {
		name    string
		headers []envelope.Header
		want    string
	}{
		{"no headers", nil, "no waybill_dlq_code header"},
		{"no topic", hdrs(kafka.HeaderDeadLetterCode, "handler"), "no waybill_dlq_topic header"},
		{"bad partition", hdrs(kafka.HeaderDeadLetterCode, "c", kafka.HeaderDeadLetterTopic, "t", kafka.HeaderDeadLetterPartition, "x"), `waybill_dlq_partition "x"`},
		{"negative offset", hdrs(kafka.HeaderDeadLetterCode, "c", kafka.HeaderDeadLetterTopic, "t", kafka.HeaderDeadLetterOffset, "-4"), `waybill_dlq_offset "-4"`},
		{"bad timestamp", hdrs(kafka.HeaderDeadLetterCode, "c", kafka.HeaderDeadLetterTopic, "t", kafka.HeaderDeadLetterTimestamp, "yesterday"), "waybill_dlq_timestamp"},
		{"bad attempts", hdrs(kafka.HeaderDeadLetterCode, "c", kafka.HeaderDeadLetterTopic, "t", kafka.HeaderDeadLetterAttempts, "many"), "waybill_dlq_attempts"},
		{"bad time", hdrs(kafka.HeaderDeadLetterCode, "c", kafka.HeaderDeadLetterTopic, "t", kafka.HeaderDeadLetterTime, "1700000000"), "waybill_dlq_time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.ParseDeadLetter(envelope.Message{Headers: tc.headers})
			if err == nil || !strings.HasPrefix(err.Error(), "kafka: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// originals produces n envelope-like records to topic (3 partitions) and
// returns them as acknowledged.
func originals(t *testing.T, c *kafkatest.Cluster, topic string, n int) []*ck.Message {
	t.Helper()
	if err := c.CreateTopic(topic, 3, nil); err != nil {
		t.Fatal(err)
	}
	msgs := make([]*ck.Message, n)
	for i := range msgs {
		key := fmt.Sprintf("order-%d", i)
		msgs[i] = &ck.Message{
			Key:   []byte(key),
			Value: append([]byte{0, 0, 0, 0, 7}, byte(i), 0xff, 0x00),
			Headers: []ck.Header{
				{Key: envelope.HeaderID, Value: []byte(fmt.Sprintf("id-%d", i))},
				{Key: envelope.HeaderSubject, Value: []byte(key)},
				{Key: "binary", Value: []byte{0, 0xfe, byte(i)}},
				{Key: "empty", Value: []byte{}},
			},
		}
	}
	return c.Produce(t, topic, msgs...)
}

func TestReadDeadLetters(t *testing.T) {
	c := kafkatest.New(t)
	orig := originals(t, c, "orders", 5)
	at := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	if err := c.CreateTopic("orders.dlq", 2, nil); err != nil {
		t.Fatal(err)
	}
	c.Produce(t, "orders.dlq",
		kafkatest.DeadLetterOf(orig[1], "handler", "payment refused", "billing", 1, at),
		kafkatest.DeadLetterOf(orig[3], "retries-exhausted", "timeout", "billing", 3, at.Add(time.Second)),
	)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	for _, name := range []string{"orders", "orders.dlq"} {
		letters, err := kafka.ReadDeadLetters(ctx, c.Config(), name)
		if err != nil {
			t.Fatalf("ReadDeadLetters(%s): %v", name, err)
		}
		if len(letters) != 2 {
			t.Fatalf("ReadDeadLetters(%s): %d letters, want 2", name, len(letters))
		}
		byID := map[string]kafka.DeadLetter{}
		for _, d := range letters {
			byID[d.ID()] = d
		}
		for i, want := range map[int]struct {
			code     string
			attempts int
		}{1: {"handler", 1}, 3: {"retries-exhausted", 3}} {
			o := orig[i]
			d, ok := byID[fmt.Sprintf("id-%d", i)]
			if !ok {
				t.Fatalf("no dead letter for id-%d in %+v", i, letters)
			}
			if d.Code != want.code || d.Attempts != want.attempts || d.Group != "billing" ||
				d.Topic != "orders" || d.Partition != o.TopicPartition.Partition || d.Offset != int64(o.TopicPartition.Offset) ||
				d.Timestamp.IsZero() || !d.Timestamp.Equal(o.Timestamp.Truncate(time.Millisecond)) || d.DLQTopic != "orders.dlq" || d.DLQOffset < 0 || d.DeadLetteredAt.IsZero() {
				t.Errorf("dead letter of id-%d: %+v", i, d)
			}
			if !bytes.Equal(d.Message.Key, o.Key) || !bytes.Equal(d.Message.Value, o.Value) {
				t.Errorf("id-%d: key/value %q %x, want %q %x", i, d.Message.Key, d.Message.Value, o.Key, o.Value)
			}
			if diff := cmp.Diff(toEnvelope(o.Headers), d.Message.Headers); diff != "" {
				t.Errorf("id-%d headers (-want +got):\n%s", i, diff)
			}
		}
	}

	// A topic with no dead-letter topic has no dead letters.
	letters, err := kafka.ReadDeadLetters(ctx, c.Config(), "nothing-here")
	if err != nil || len(letters) != 0 {
		t.Errorf("ReadDeadLetters(nothing-here) = %v, %v; want none", letters, err)
	}

	// A record that is no dead letter is reported, the others still read.
	c.Produce(t, "orders.dlq", &ck.Message{Key: []byte("junk"), Value: []byte("junk")})
	letters, err = kafka.ReadDeadLetters(ctx, c.Config(), "orders")
	var me *kafka.MalformedError
	if !errors.As(err, &me) || len(me.Letters) != 1 || len(letters) != 2 || !strings.Contains(err.Error(), "no waybill_dlq_code header") {
		t.Errorf("with a junk record: %d letters, %v", len(letters), err)
	}
}

func toEnvelope(hs []ck.Header) []envelope.Header {
	out := make([]envelope.Header, len(hs))
	for i, h := range hs {
		out[i] = envelope.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

func TestReplay(t *testing.T) {
	c := kafkatest.New(t)
	orig := originals(t, c, "orders", 6)
	at := time.Now()
	if err := c.CreateTopic("orders.dlq", 1, nil); err != nil {
		t.Fatal(err)
	}
	c.Produce(t, "orders.dlq",
		kafkatest.DeadLetterOf(orig[0], "handler", "no", "g", 1, at),
		kafkatest.DeadLetterOf(orig[2], "handler", "no", "g", 1, at),
		kafkatest.DeadLetterOf(orig[4], "unknown-schema-id", "schema 7 unknown", "g", 0, at),
		// orig[2] again: dead-lettered after an earlier replay.
		kafkatest.DeadLetterOf(orig[2], "handler", "no again", "g", 1, at),
	)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	before := time.Now().UTC().Truncate(time.Millisecond)
	n, err := kafka.Replay(ctx, c.Config(), "orders.dlq", func(d kafka.DeadLetter) bool { return d.Code == "handler" })
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("Replay sent %d, want 2 (id-0 and id-2 once)", n)
	}
	all := c.ReadAll(t, "orders")
	if len(all) != 8 {
		t.Fatalf("orders has %d records, want 6 + 2", len(all))
	}
	replayed := map[string]*ck.Message{}
	for _, m := range all {
		if len(m.Headers) > 0 && m.Headers[len(m.Headers)-1].Key == kafka.HeaderReplayedAt {
			id := string(m.Headers[0].Value)
			if replayed[id] != nil {
				t.Errorf("%s replayed twice", id)
			}
			replayed[id] = m
		}
	}
	for _, i := range []int{0, 2} {
		o := orig[i]
		m := replayed[fmt.Sprintf("id-%d", i)]
		if m == nil {
			t.Fatalf("id-%d was not replayed; replayed: %v", i, replayed)
		}
		if !bytes.Equal(m.Key, o.Key) || !bytes.Equal(m.Value, o.Value) {
			t.Errorf("id-%d: key/value %q %x, want %q %x", i, m.Key, m.Value, o.Key, o.Value)
		}
		if m.TopicPartition.Partition != o.TopicPartition.Partition {
			t.Errorf("id-%d replayed to partition %d, was on %d", i, m.TopicPartition.Partition, o.TopicPartition.Partition)
		}
		hs := m.Headers[:len(m.Headers)-1]
		if diff := cmp.Diff(o.Headers, hs); diff != "" {
			t.Errorf("id-%d headers (-original +replayed):\n%s", i, diff)
		}
		when, err := time.Parse(time.RFC3339Nano, string(m.Headers[len(m.Headers)-1].Value))
		if err != nil || when.Before(before) || when.After(time.Now()) {
			t.Errorf("id-%d: %s = %q (%v)", i, kafka.HeaderReplayedAt, m.Headers[len(m.Headers)-1].Value, err)
		}
	}

	// An original topic that is gone is an error at once, nothing sent.
	gone := "gone"
	if err := c.CreateTopic("gone.dlq", 1, nil); err != nil {
		t.Fatal(err)
	}
	c.Produce(t, "gone.dlq", kafkatest.DeadLetterOf(&ck.Message{TopicPartition: ck.TopicPartition{Topic: &gone}, Key: []byte("k")}, "handler", "no", "g", 1, at))
	start := time.Now()
	if n, err := kafka.Replay(ctx, c.Config(), "gone", nil); n != 0 || err == nil || !strings.Contains(err.Error(), "the original topic gone does not exist") {
		t.Errorf("Replay to a topic that is gone = %d, %v", n, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Replay to a topic that is gone took %v", el)
	}

	// Nothing selected: nothing sent.
	n, err = kafka.Replay(ctx, c.Config(), "orders", func(kafka.DeadLetter) bool { return false })
	if n != 0 || err != nil {
		t.Errorf("Replay of none = %d, %v", n, err)
	}
}

func TestUnreachable(t *testing.T) {
	cfg := kafka.NewConfig("127.0.0.1:1").With("sasl.password", "hunter2")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := kafka.ReadDeadLetters(ctx, cfg, "orders")
	if err == nil || !strings.HasPrefix(err.Error(), "kafka: ") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("ReadDeadLetters from nowhere: %v", err)
	}
	t.Logf("error: %v", err)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("ReadDeadLetters took %v with a 2s context", el)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows a secret: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel2()
	if _, err := kafka.Rewind(ctx2, cfg, "g", "orders", time.Now()); err == nil {
		t.Error("Rewind against nowhere succeeded")
	}
}

// A dead letter is the original record plus waybill_dlq_* headers;
// ParseDeadLetter splits them.
func ExampleParseDeadLetter() {
	m := envelope.Message{
		Key:   []byte("order-1"),
		Value: []byte{0, 0, 0, 0, 7, 2},
		Headers: []envelope.Header{
			{Key: envelope.HeaderID, Value: []byte("0193a1b2-0000-7000-8000-000000000001")},
			{Key: kafka.HeaderDeadLetterCode, Value: []byte(kafka.CodeRetriesExhausted)},
			{Key: kafka.HeaderDeadLetterReason, Value: []byte("inventory service: timeout")},
			{Key: kafka.HeaderDeadLetterTopic, Value: []byte("order-events")},
			{Key: kafka.HeaderDeadLetterPartition, Value: []byte("3")},
			{Key: kafka.HeaderDeadLetterOffset, Value: []byte("1045")},
			{Key: kafka.HeaderDeadLetterGroup, Value: []byte("inventory")},
			{Key: kafka.HeaderDeadLetterAttempts, Value: []byte("3")},
		},
	}
	d, err := kafka.ParseDeadLetter(m)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %s\n", d.Code, d.Reason)
	fmt.Printf("from %s %d/%d, group %s after %d attempts\n", d.Topic, d.Partition, d.Offset, d.Group, d.Attempts)
	fmt.Printf("event %s, %d original header(s)\n", d.ID(), len(d.Message.Headers))
	// Output:
	// retries-exhausted: inventory service: timeout
	// from order-events 3/1045, group inventory after 3 attempts
	// event 0193a1b2-0000-7000-8000-000000000001, 1 original header(s)
}

// Dead letters written in transactions (a consumer in its exactly-once mode):
// only committed ones are read, and the read ends although the partition
// ends with a transaction marker, which is never delivered.
func TestReadDeadLettersTransactional(t *testing.T) {
	c := kafkatest.New(t)
	orig := originals(t, c, "orders", 3)
	if err := c.CreateTopic("orders.dlq", 1, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cm := c.Config().ConfigMap(map[string]any{"transactional.id": "dlq-writer"})
	p, err := ck.NewProducer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.InitTransactions(ctx); err != nil {
		t.Fatal(err)
	}
	for i, commit := range []bool{false, true, false, true} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := p.Produce(kafkatest.DeadLetterOf(orig[i%3], "handler", fmt.Sprintf("txn %d", i), "g", 1, time.Now()), nil); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = p.CommitTransaction(ctx)
		} else {
			err = p.AbortTransaction(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	letters, err := kafka.ReadDeadLetters(ctx, c.Config(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, d := range letters {
		reasons = append(reasons, d.Reason)
	}
	if diff := cmp.Diff([]string{"txn 1", "txn 3"}, reasons); diff != "" {
		t.Errorf("dead letters read (-want +got):\n%s", diff)
	}
}
