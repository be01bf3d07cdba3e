package producer_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/serde"
)

// The evidence: 100,000 idempotent sends (10,000 under the race
// detector, which slows the Go side about tenfold) to a 3-broker cluster
// whose brokers answer some produce requests NOT_LEADER_FOR_PARTITION or
// REQUEST_TIMED_OUT (the batch is written all the same, as by a broker
// whose answer got lost) while partition leaders move. Every event is
// acknowledged once and is in the topic, each key's events in the order
// they were sent. Retries write nothing twice, except in librdkafka's one
// window (see the package doc): a batch sent again under a new epoch, which
// some runs show as one batch of duplicate records; they are exact copies,
// after their originals, and the test counts them.
func TestIdempotentSendsUnderFaults(t *testing.T) {
	n := 100_000
	if raceEnabled {
		n = 10_000
	}
	const keys, partitions = 500, 6
	c := kafkatest.New(t, kfake.NumBrokers(3), kfake.SeedTopics(partitions, topic))
	s := serde.New(newRegistry(t))
	p, _ := newProducer(t, c.Config().With("retry.backoff.ms", "10").With("retry.backoff.max.ms", "100"), s)
	typed := producer.NewTyped[*orderevents.OrderCreatedV2](p)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()

	// The faults, until the sends are done.
	stop := make(chan struct{})
	var faultWG sync.WaitGroup
	var handles []*kfake.FaultHandle
	var moves int
	faultWG.Add(1)
	go func() {
		defer faultWG.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		// A bounded number of faults (about two seconds' worth): faults
		// without end on the last few batches would keep them from ever
		// being delivered.
		for i := 0; i < 100; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			switch i % 5 {
			case 0, 2:
				handles = append(handles, c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.NotLeaderForPartition, Count: 2}))
			case 1, 3:
				handles = append(handles, c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.RequestTimedOut, Count: 2}))
			case 4:
				if i%10 == 4 {
					c.ShufflePartitionLeaders()
				} else if err := c.MoveTopicPartition(topic, rand.Int32N(partitions), rand.Int32N(3)); err != nil {
					t.Error(err)
				}
				moves++
			}
		}
	}()

	var delivered, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	var mu sync.Mutex
	reported := make(map[string]bool, n)
	done := func(d producer.Delivery) {
		if d.Err != nil {
			failed.Add(1)
			err := d.Err
			firstErr.CompareAndSwap(nil, &err)
			return
		}
		mu.Lock()
		if reported[d.ID] {
			t.Errorf("event %s reported twice", d.ID)
		}
		reported[d.ID] = true
		mu.Unlock()
		delivered.Add(1)
	}
	start := time.Now()
	for i := range n {
		if err := typed.SendAsync(ctx, order("ord-"+strconv.Itoa(i%keys), i/keys), done); err != nil {
			t.Fatalf("SendAsync %d: %v", i, err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	elapsed := time.Since(start)
	close(stop)
	faultWG.Wait()
	hits := 0
	for _, h := range handles {
		hits += h.Hits()
		h.Remove()
	}
	if f := firstErr.Load(); f != nil {
		t.Fatalf("%d deliveries failed, the first: %v", failed.Load(), *f)
	}
	if delivered.Load() != int64(n) {
		t.Fatalf("%d deliveries reported, want %d", delivered.Load(), n)
	}
	if hits == 0 || moves == 0 {
		t.Fatalf("%d produce requests faulted, %d leader moves: the test did not test", hits, moves)
	}

	recs := readAll(t, c.Config(), topic)
	first := make(map[string]*ck.Message, len(recs)) // by ce_id
	next := make(map[string]int, keys)               // each key's next sequence number
	dups := 0
	var ev orderevents.OrderCreatedV2
	for _, r := range recs {
		env, err := envelope.Decode(message(r))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Deserialize(ctx, r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		seq, err := strconv.Atoi(strings.TrimPrefix(ev.CustomerID, "cus-"))
		if err != nil {
			t.Fatal(err)
		}
		if f, seen := first[env.ID]; seen {
			// librdkafka's one duplicate window (see the package doc):
			// a whole batch sent again after an epoch bump. The copy
			// must be byte for byte the event, on its partition, after
			// it: a consumer de-duplicating by ce_id sees it once.
			if !bytes.Equal(f.Value, r.Value) || !bytes.Equal(f.Key, r.Key) || f.TopicPartition.Partition != r.TopicPartition.Partition {
				t.Fatalf("ce_id %s at %v and %v: not the same record", env.ID, f.TopicPartition, r.TopicPartition)
			}
			dups++
			continue
		}
		first[env.ID] = r
		if want := next[ev.OrderID]; seq != want {
			t.Fatalf("key %s: event %d at %v, want event %d: per-key order broken", ev.OrderID, seq, r.TopicPartition, want)
		}
		next[ev.OrderID]++
	}
	if len(first) != n {
		t.Fatalf("%d distinct events in the topic, want %d", len(first), n)
	}
	t.Logf("%d events sent in %v (%.0f events/s) with %d produce requests faulted and %d leader moves: "+
		"all delivered, reported once each, in per-key order; %d duplicate records (a batch re-sent after an epoch bump)",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), hits, moves, dups)
}
