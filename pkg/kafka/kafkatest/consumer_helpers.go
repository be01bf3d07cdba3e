package kafkatest

import (
	"errors"
	"testing"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// GroupCommitted returns the offsets group has committed for topic, by
// partition, as a client sees them (OffsetFetch through confluent-kafka-go);
// a partition without a commit is absent.
func (c *Cluster) GroupCommitted(t testing.TB, group, topic string) map[int32]int64 {
	t.Helper()
	cm := c.Config().ConfigMap(map[string]any{"group.id": group, "enable.auto.commit": false})
	cons, err := ck.NewConsumer(&cm)
	if err != nil {
		t.Fatalf("kafkatest: consumer: %v", err)
	}
	defer cons.Close()
	tps := c.partitions(t, cons, topic)
	got, err := cons.Committed(tps, 10_000)
	if ke := (ck.Error{}); errors.As(err, &ke) && ke.Code() == ck.ErrGroupIDNotFound {
		return map[int32]int64{} // nothing committed yet
	}
	if err != nil {
		t.Fatalf("kafkatest: committed offsets of %s for %s: %v", topic, group, err)
	}
	out := map[int32]int64{}
	for _, tp := range got {
		if tp.Error == nil && tp.Offset >= 0 {
			out[tp.Partition] = int64(tp.Offset)
		}
	}
	return out
}

// EndOffsets returns topic's high watermarks by partition: the offset the
// next record of each will get.
func (c *Cluster) EndOffsets(t testing.TB, topic string) map[int32]int64 {
	t.Helper()
	cm := c.Config().ConfigMap(map[string]any{"group.id": "kafkatest-endoffsets"})
	cons, err := ck.NewConsumer(&cm)
	if err != nil {
		t.Fatalf("kafkatest: consumer: %v", err)
	}
	defer cons.Close()
	out := map[int32]int64{}
	for _, tp := range c.partitions(t, cons, topic) {
		_, high, err := cons.QueryWatermarkOffsets(topic, tp.Partition, 10_000)
		if err != nil {
			t.Fatalf("kafkatest: watermarks of %s/%d: %v", topic, tp.Partition, err)
		}
		out[tp.Partition] = high
	}
	return out
}

func (c *Cluster) partitions(t testing.TB, cons *ck.Consumer, topic string) []ck.TopicPartition {
	t.Helper()
	md, err := cons.GetMetadata(&topic, false, 10_000)
	if err != nil {
		t.Fatalf("kafkatest: metadata of %s: %v", topic, err)
	}
	var tps []ck.TopicPartition
	for _, p := range md.Topics[topic].Partitions {
		tps = append(tps, ck.TopicPartition{Topic: &topic, Partition: p.ID})
	}
	return tps
}
