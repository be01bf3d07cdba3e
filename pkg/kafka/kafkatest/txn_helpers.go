package kafkatest

import (
	"slices"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// ReadTopic returns every record of topic up to its end now, by partition
// and offset, as a consumer with isolation.level isolation
// ("read_committed" or "read_uncommitted") reads them: with
// read_committed, only the records of committed transactions (and
// non-transactional ones), up to the last stable offset. It reads each
// partition until librdkafka reports its end (enable.partition.eof), so
// the control records of transactions, which take offsets but are not
// delivered, do not confuse it; it fails t after 30 s.
func (c *Cluster) ReadTopic(t testing.TB, topic, isolation string) []*ck.Message {
	t.Helper()
	cm := c.Config().ConfigMap(map[string]any{
		"group.id": "kafkatest-readtopic", "enable.auto.commit": false,
		"isolation.level": isolation, "enable.partition.eof": true,
	})
	cons, err := ck.NewConsumer(&cm)
	if err != nil {
		t.Fatalf("kafkatest: consumer: %v", err)
	}
	defer cons.Close()
	tps := c.partitions(t, cons, topic)
	pending := map[int32]bool{}
	for i := range tps {
		tps[i].Offset = ck.OffsetBeginning
		pending[tps[i].Partition] = true
	}
	if err := cons.Assign(tps); err != nil {
		t.Fatalf("kafkatest: assign %s: %v", topic, err)
	}
	var out []*ck.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("kafkatest: reading %s (%s): partitions %v not read to the end after 30s", topic, isolation, pending)
		}
		switch e := cons.Poll(100).(type) {
		case *ck.Message:
			if e.TopicPartition.Error == nil {
				out = append(out, e)
			}
		case ck.PartitionEOF:
			delete(pending, e.Partition)
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
