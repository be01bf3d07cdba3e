package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// timed produces n records to each of 2 partitions of topic, record i of
// each at t0 + i seconds.
func timed(t *testing.T, c *kafkatest.Cluster, topic string, n int) {
	t.Helper()
	if err := c.CreateTopic(topic, 2, nil); err != nil {
		t.Fatal(err)
	}
	var msgs []*ck.Message
	for p := range int32(2) {
		for i := range n {
			msgs = append(msgs, &ck.Message{
				TopicPartition: ck.TopicPartition{Topic: &topic, Partition: p},
				Key:            []byte(fmt.Sprintf("p%d-%d", p, i)),
				Value:          []byte{byte(i)},
				Timestamp:      t0.Add(time.Duration(i) * time.Second),
			})
		}
	}
	c.Produce(t, topic, msgs...)
}

// member joins group on topic and returns once it was assigned partitions
// and got a record, with the first offset it got on each partition it
// read within a second after that. It commits nothing.
func member(t *testing.T, c *kafkatest.Cluster, group, topic string) (*ck.Consumer, map[int32]int64) {
	t.Helper()
	cm := c.Config().ConfigMap(map[string]any{
		"group.id":           group,
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
	})
	cons, err := ck.NewConsumer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cons.Close() })
	if err := cons.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	first := map[int32]int64{}
	deadline := time.Now().Add(30 * time.Second)
	var settle time.Time
	for time.Now().Before(deadline) && (settle.IsZero() || time.Now().Before(settle)) {
		m, ok := cons.Poll(100).(*ck.Message)
		if !ok || m.TopicPartition.Error != nil {
			continue
		}
		if _, seen := first[m.TopicPartition.Partition]; !seen {
			first[m.TopicPartition.Partition] = int64(m.TopicPartition.Offset)
		}
		if settle.IsZero() {
			settle = time.Now().Add(time.Second)
		}
	}
	if len(first) == 0 {
		t.Fatalf("the member of %s got no record in 30s", group)
	}
	return cons, first
}

func TestRewind(t *testing.T) {
	c := kafkatest.New(t)
	timed(t, c, "events", 20)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	cfg := c.Config()

	// Half-way between record 7 and record 8: both partitions start at 8.
	got, err := kafka.Rewind(ctx, cfg, "g1", "events", t0.Add(7500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	want := []kafka.PartitionOffset{{Partition: 0, Offset: 8, Previous: -1}, {Partition: 1, Offset: 8, Previous: -1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rewind to t0+7.5s (-want +got):\n%s", diff)
	}
	cons, first := member(t, c, "g1", "events")
	if diff := cmp.Diff(map[int32]int64{0: 8, 1: 8}, first); diff != "" {
		t.Errorf("a consumer of the rewound group starts at (-want +got):\n%s", diff)
	}
	if err := cons.Close(); err != nil {
		t.Fatal(err)
	}

	// At exactly a record's time: that record. The dry run commits nothing.
	got, err = kafka.PlanRewind(ctx, cfg, "g1", "events", t0.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want = []kafka.PartitionOffset{{Partition: 0, Offset: 3, Previous: 8}, {Partition: 1, Offset: 3, Previous: 8}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PlanRewind to t0+3s (-want +got):\n%s", diff)
	}

	// Later than every record: the end. Earlier: the beginning.
	for _, tc := range []struct {
		from       time.Time
		off, front int64
	}{{t0.Add(time.Hour), 20, 8}, {t0.Add(-time.Hour), 0, 20}} {
		got, err = kafka.Rewind(ctx, cfg, "g1", "events", tc.from)
		if err != nil {
			t.Fatal(err)
		}
		want = []kafka.PartitionOffset{{Partition: 0, Offset: tc.off, Previous: tc.front}, {Partition: 1, Offset: tc.off, Previous: tc.front}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Rewind to %v (-want +got):\n%s", tc.from, diff)
		}
	}

	if _, err := kafka.Rewind(ctx, cfg, "g1", "no-such-topic", t0); err == nil {
		t.Error("Rewind of a topic that does not exist succeeded")
	}
}

func TestRewindRefusesActiveGroup(t *testing.T) {
	c := kafkatest.New(t)
	timed(t, c, "events", 10)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	cfg := c.Config()
	if _, err := kafka.Rewind(ctx, cfg, "g2", "events", t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}

	cons, _ := member(t, c, "g2", "events")
	_, err := kafka.Rewind(ctx, cfg, "g2", "events", t0)
	var active *kafka.GroupActiveError
	if !errors.As(err, &active) || active.Members != 1 || active.Group != "g2" {
		t.Fatalf("Rewind of a running group: %v, want a GroupActiveError with 1 member", err)
	}
	// Nothing was committed; the dry run says the same and why.
	plan, err := kafka.PlanRewind(ctx, cfg, "g2", "events", t0)
	if !errors.As(err, &active) {
		t.Errorf("PlanRewind of a running group: %v, want a GroupActiveError", err)
	}
	want := []kafka.PartitionOffset{{Partition: 0, Offset: 0, Previous: 5}, {Partition: 1, Offset: 0, Previous: 5}}
	if diff := cmp.Diff(want, plan); diff != "" {
		t.Errorf("PlanRewind (-want +got):\n%s", diff)
	}

	// Once the member left, the rewind goes through.
	if err := cons.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.Rewind(ctx, cfg, "g2", "events", t0); err != nil {
		t.Errorf("Rewind after the member left: %v", err)
	}
}
