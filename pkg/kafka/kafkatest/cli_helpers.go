package kafkatest

import (
	"context"
	"strconv"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/kafka"
)

// Produce sends msgs through one idempotent producer and fails t unless the
// broker acknowledges all of them within 30 seconds. A message without a
// topic goes to topic; one without a timestamp gets the current time. It
// returns the messages as acknowledged (partition, offset and timestamp set),
// in order.
func (c *Cluster) Produce(t testing.TB, topic string, msgs ...*ck.Message) []*ck.Message {
	t.Helper()
	cm := c.Config().ConfigMap(map[string]any{
		"enable.idempotence": true,
		"partitioner":        "murmur2_random",
		"linger.ms":          0,
		// The reports carry the headers too, for DeadLetterOf.
		"go.delivery.report.fields": "all",
	})
	p, err := ck.NewProducer(&cm)
	if err != nil {
		t.Fatalf("kafkatest: producer: %v", err)
	}
	defer p.Close()
	reports := make(chan ck.Event, len(msgs))
	now := time.Now()
	for i, m := range msgs {
		m.Opaque = i
		if m.Timestamp.IsZero() {
			// So that the returned messages say when they were sent.
			m.Timestamp = now
		}
		if m.TopicPartition.Topic == nil {
			m.TopicPartition = ck.TopicPartition{Topic: &topic, Partition: ck.PartitionAny}
		}
		if err := p.Produce(m, reports); err != nil {
			t.Fatalf("kafkatest: produce: %v", err)
		}
	}
	acked := make([]*ck.Message, len(msgs))
	timeout := time.After(30 * time.Second)
	for n := 0; n < len(msgs); n++ {
		select {
		case e := <-reports:
			m := e.(*ck.Message)
			if m.TopicPartition.Error != nil {
				t.Fatalf("kafkatest: delivery: %v", m.TopicPartition.Error)
			}
			i := m.Opaque.(int)
			if m.Timestamp.IsZero() {
				m.Timestamp = msgs[i].Timestamp
			}
			acked[i] = m
		case <-timeout:
			t.Fatalf("kafkatest: %d of %d messages acknowledged after 30s", n, len(msgs))
		}
	}
	return acked
}

// DeadLetterOf returns the record a Waybill consumer writes to the
// dead-letter topic for orig (as acknowledged: topic, partition, offset and
// timestamp set): orig's key, value and headers byte for byte, then the
// kafka.HeaderDeadLetter* headers.
func DeadLetterOf(orig *ck.Message, code, reason, group string, attempts int, at time.Time) *ck.Message {
	hs := append([]ck.Header(nil), orig.Headers...)
	for _, h := range [][2]string{
		{kafka.HeaderDeadLetterCode, code},
		{kafka.HeaderDeadLetterReason, reason},
		{kafka.HeaderDeadLetterTopic, *orig.TopicPartition.Topic},
		{kafka.HeaderDeadLetterPartition, strconv.Itoa(int(orig.TopicPartition.Partition))},
		{kafka.HeaderDeadLetterOffset, strconv.FormatInt(int64(orig.TopicPartition.Offset), 10)},
		{kafka.HeaderDeadLetterTimestamp, strconv.FormatInt(orig.Timestamp.UnixMilli(), 10)},
		{kafka.HeaderDeadLetterGroup, group},
		{kafka.HeaderDeadLetterAttempts, strconv.Itoa(attempts)},
		{kafka.HeaderDeadLetterTime, at.UTC().Format(time.RFC3339Nano)},
	} {
		hs = append(hs, ck.Header{Key: h[0], Value: []byte(h[1])})
	}
	dlq := kafka.DeadLetterTopic(*orig.TopicPartition.Topic)
	return &ck.Message{
		TopicPartition: ck.TopicPartition{Topic: &dlq, Partition: ck.PartitionAny},
		Key:            orig.Key,
		Value:          orig.Value,
		Headers:        hs,
	}
}

// ReadAll returns every record of topic, from the beginning of each
// partition to its end at the time of the call, in order of partition and
// offset; it fails t after 30 seconds.
func (c *Cluster) ReadAll(t testing.TB, topic string) []*ck.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cm := c.Config().ConfigMap(map[string]any{
		"group.id":           "kafkatest-readall",
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
	})
	cons, err := ck.NewConsumer(&cm)
	if err != nil {
		t.Fatalf("kafkatest: consumer: %v", err)
	}
	defer cons.Close()
	md, err := cons.GetMetadata(&topic, false, 10_000)
	if err != nil {
		t.Fatalf("kafkatest: metadata of %s: %v", topic, err)
	}
	var assign []ck.TopicPartition
	end := map[int32]int64{}
	for _, p := range md.Topics[topic].Partitions {
		_, high, err := cons.QueryWatermarkOffsets(topic, p.ID, 10_000)
		if err != nil {
			t.Fatalf("kafkatest: watermarks of %s/%d: %v", topic, p.ID, err)
		}
		if high > 0 {
			end[p.ID] = high
			assign = append(assign, ck.TopicPartition{Topic: &topic, Partition: p.ID, Offset: ck.OffsetBeginning})
		}
	}
	if len(assign) == 0 {
		return nil
	}
	if err := cons.Assign(assign); err != nil {
		t.Fatalf("kafkatest: assign: %v", err)
	}
	byPart := map[int32][]*ck.Message{}
	for len(end) > 0 {
		if ctx.Err() != nil {
			t.Fatalf("kafkatest: reading %s: still waiting for partitions %v after 30s", topic, end)
		}
		m, ok := cons.Poll(100).(*ck.Message)
		if !ok || m.TopicPartition.Error != nil {
			continue
		}
		p := m.TopicPartition.Partition
		byPart[p] = append(byPart[p], m)
		if int64(m.TopicPartition.Offset)+1 >= end[p] {
			delete(end, p)
		}
	}
	var out []*ck.Message
	for _, tp := range assign {
		out = append(out, byPart[tp.Partition]...)
	}
	return out
}
