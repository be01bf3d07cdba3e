package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// reader is the consumer that replays the topic and tails it, delivering
// committed records to apply and tracking how far it got.
type reader struct {
	c     *kafka.Consumer
	admin *kafka.AdminClient // the topic's end, on connections of its own
	tp    kafka.TopicPartition
	apply func(schemalog.Record)
	log   *Log

	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex    // guards what follows
	next    int64         // every committed record below next was applied
	changed chan struct{} // closed and replaced when next or err changes
	err     error         // the consumer failed for good
}

// startReader creates the topic if needed and starts a consumer reading it
// from the beginning.
func (l *Log) startReader(ctx context.Context, apply func(schemalog.Record)) (*reader, error) {
	cfg := l.clientConfig("reader")
	for k, v := range map[string]any{
		// The Go client requires a group; it is never joined (the
		// partition is assigned) and offsets are never committed.
		"group.id":                 "waybill-registry-reader-" + l.cfg.InstanceID,
		"isolation.level":          "read_committed",
		"enable.auto.commit":       false,
		"enable.auto.offset.store": false,
		"auto.offset.reset":        "earliest",
		// An EOF event says how far the consumer got when the last
		// records of the partition were markers or aborted records.
		"enable.partition.eof": true,
	} {
		(*cfg)[k] = v
	}
	c, err := kafka.NewConsumer(cfg)
	if err != nil {
		return nil, fmt.Errorf("kafkalog: consumer: %w", err)
	}
	// Not on the consumer's connection: a request there waits behind the
	// consumer's long-polling fetch (brokers answer a connection's
	// requests in order).
	admin, err := kafka.NewAdminClient(l.clientConfig("admin"))
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("kafkalog: admin client: %w", err)
	}
	if err := l.ensureTopic(ctx, admin); err != nil {
		admin.Close()
		_ = c.Close()
		return nil, err
	}
	topic := l.cfg.Topic
	r := &reader{
		c:       c,
		admin:   admin,
		tp:      kafka.TopicPartition{Topic: &topic, Partition: 0},
		apply:   apply,
		log:     l,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	// Assign at the log's first offset rather than "the beginning": that
	// would cost the consumer a lookup of its own, which it retries only
	// after a second when it asks before it knows the partition's leader.
	begin, err := r.offset(ctx, kafka.EarliestOffsetSpec)
	if err != nil {
		admin.Close()
		_ = c.Close()
		return nil, err
	}
	r.next = begin
	// Let the consumer learn the topic's leader before it is assigned: a
	// consumer that does not know it yet fetches nothing until its next
	// periodic metadata refresh, a second later (a random 1 s stall in
	// about 40% of starts).
	if _, err := c.GetMetadata(&topic, false, 5000); err != nil {
		l.logger.Debug("kafkalog: metadata before assign", "err", err)
	}
	from := r.tp
	from.Offset = kafka.Offset(begin)
	if err := c.Assign([]kafka.TopicPartition{from}); err != nil {
		admin.Close()
		_ = c.Close()
		return nil, fmt.Errorf("kafkalog: assign %s: %w", topic, err)
	}
	go r.run()
	return r, nil
}

// pollMs is how long one poll of the consumer waits for an event. It is
// also how late, at most, the reader notices that the consumer moved past
// records it never delivers: transaction markers and aborted records.
const pollMs = 10

// run polls the consumer until close.
func (r *reader) run() {
	defer close(r.done)
	at := []kafka.TopicPartition{r.tp}
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		switch e := r.c.Poll(pollMs).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				r.log.logger.Warn("kafkalog: consume", "error", e.TopicPartition.Error)
				continue
			}
			off := int64(e.TopicPartition.Offset)
			r.apply(schemalog.Record{Key: e.Key, Value: e.Value, Offset: off})
			r.advance(off + 1)
			continue
		case kafka.PartitionEOF:
			r.advance(int64(e.Offset))
		case kafka.Error:
			if e.IsFatal() {
				r.fail(fmt.Errorf("kafkalog: consumer: %w", e))
				return
			}
			r.log.logger.Warn("kafkalog: consumer", "error", e)
		}
		// No record came: the consumer may have moved past markers and
		// aborted records. Its position is past the last record it
		// delivered, and those were all applied above.
		if pos, err := r.c.Position(at); err == nil && pos[0].Offset >= 0 {
			r.advance(int64(pos[0].Offset))
		}
	}
}

func (r *reader) advance(next int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if next > r.next {
		r.next = next
		close(r.changed)
		r.changed = make(chan struct{})
	}
}

func (r *reader) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	close(r.changed)
	r.changed = make(chan struct{})
}

// end returns the partition's last stable offset: every record below it is
// committed or aborted, none is in an open transaction.
func (r *reader) end(ctx context.Context) (int64, error) {
	return r.offset(ctx, kafka.LatestOffsetSpec)
}

// offset looks up the partition's first offset or, read_committed, its end.
func (r *reader) offset(ctx context.Context, spec kafka.OffsetSpec) (int64, error) {
	res, err := r.admin.ListOffsets(ctx,
		map[kafka.TopicPartition]kafka.OffsetSpec{r.tp: spec},
		kafka.SetAdminIsolationLevel(kafka.IsolationLevelReadCommitted))
	if err != nil {
		return 0, fmt.Errorf("kafkalog: list offsets: %w", err)
	}
	for _, info := range res.ResultInfos {
		if info.Error.Code() != kafka.ErrNoError {
			return 0, fmt.Errorf("kafkalog: list offsets: %w", info.Error)
		}
		return int64(info.Offset), nil
	}
	return 0, errors.New("kafkalog: list offsets: no result")
}

// wait returns once every committed record below offset was applied.
func (r *reader) wait(ctx context.Context, offset int64) error {
	for {
		r.mu.Lock()
		next, err, changed := r.next, r.err, r.changed
		r.mu.Unlock()
		switch {
		case next >= offset:
			return nil
		case err != nil:
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("kafkalog: read up to offset %d, at %d: %w", offset, next, context.Cause(ctx))
		}
	}
}

// close stops the consumer; apply is not called after it returns.
func (r *reader) close() {
	close(r.stop)
	<-r.done
	r.admin.Close()
	_ = r.c.Close()
	r.fail(schemalog.ErrClosed)
}
