// Package consumer runs Kafka consumer groups that hand typed events to
// handlers, on confluent-kafka-go (librdkafka), with the error handling a
// team moving from Spring Kafka expects:
//
//   - At least once. Offsets are stored (enable.auto.offset.store=false)
//     only once an event is finished: handled, skipped (no handler for its
//     type), a duplicate, or dead-lettered with the dead letter acknowledged
//     by the broker. librdkafka commits the stored offsets in the background
//     (enable.auto.commit), on every revoke (unless the assignment was lost)
//     and on shutdown.
//   - Cooperative rebalancing (cooperative-sticky assignment, or the
//     broker's with group.protocol=consumer), with IncrementalAssign and
//     IncrementalUnassign; a revoked partition's running handlers finish and
//     its offsets are committed before it goes.
//   - Per-key ordering with concurrency. Events are dispatched to Workers
//     goroutines by a hash of their key: one key's events are handled one at
//     a time, in offset order; different keys run in parallel. Per
//     partition, the offset committed is the lowest unfinished one, so a slow
//     event holds back the commit of the later ones (not their handling), and
//     a crash re-delivers from there. The events read but not finished are
//     bounded (MaxInFlight): at the bound the poll loop waits for room, and
//     if none comes within a second (a key is stuck), it pauses the
//     partitions and keeps polling, so rebalances are still served.
//   - Typed handlers per event type (Handle), dispatched by ce_type. The
//     value is decoded into the handler's type through the serde, so a
//     handler compiled against OrderCreatedV2 receives v1 events as v2
//     values. An event type without a handler is skipped and counted.
//   - Retries in place with exponential back-off and jitter for the errors a
//     handler marks Retryable, up to Retry.Attempts; other errors, and
//     exhausted retries, send the event to the dead-letter topic. An event
//     that does not decode (envelope or body: bad magic byte, unknown
//     envelope version, unknown schema ID, short value, garbage...) is
//     dead-lettered at once, never retried. A registry that cannot be reached
//     is not the event's fault: decoding is retried until it answers.
//   - Dead letters go to kafka.DeadLetterTopic(topic), "<topic>.dlq", with
//     the original key, value and headers byte for byte plus the
//     kafka.HeaderDeadLetter* headers (code, reason, original topic,
//     partition, offset, timestamp, group, attempts, time). A dead letter is
//     sent by an idempotent producer (acks=all) and the offset moves past the
//     event only once the broker acknowledged it; a failed send is retried
//     with back-off, never dropped (a producer that hit a fatal error is
//     replaced). Topics, the .dlq ones included, are created by the
//     platform from the catalog (issue 7), not by the consumer: a broker
//     that refuses to auto-create a missing .dlq topic stalls that partition
//     (the send is retried) rather than losing events.
//   - De-duplication by event ID (ce_id) through a dedup.Store: a handler's
//     side effect runs once per ID, even when Kafka delivers the event again.
//     Each attempt is one Store.Do, so with dedup.OpenBolt a handler that
//     writes its state through dedup.Tx(ctx) commits it together with the
//     event's ID, and a failed attempt's writes roll back.
//   - The handler's context carries the event's trace context
//     (kafka.ContextWithTrace), so events it produces continue the trace.
//   - Graceful shutdown when Run's context ends: fetching stops, the events
//     already read are handled (bounded by ShutdownTimeout), offsets are
//     stored and committed, and the consumer leaves the group; the next
//     owner starts exactly after what was handled. A revoked partition, by
//     contrast, only waits for its running handlers: the events of it still
//     queued are left to the new owner, so the rebalance is quick.
//
// Metrics (Prometheus, shared by every consumer of a process that uses the
// same Registerer): waybill_events_consumed_total,
// waybill_events_retried_total, waybill_events_dead_lettered_total (with
// code), waybill_events_duplicate_skipped_total, waybill_events_skipped_total
// by topic, event_type and group ("unknown" event_type for a record that does
// not decode); waybill_handler_duration_seconds; and
// waybill_consumer_lag{topic,partition,group} from librdkafka's statistics
// (statistics.interval.ms, 5 s unless configured).
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/dedup"
	"github.com/waybill/waybill/pkg/serde"
)

// Config configures a Consumer. The zero values of the optional fields are
// documented defaults.
type Config struct {
	// Kafka is how to reach Kafka; bootstrap.servers is required. Every
	// librdkafka consumer property passes through, except those that would
	// break the guarantees (enable.auto.offset.store must stay false).
	// Defaults set under it: partition.assignment.strategy=
	// cooperative-sticky, enable.auto.commit=true, auto.offset.reset=
	// earliest, statistics.interval.ms=5000. With enable.auto.commit=false
	// the consumer commits the stored offsets itself, every
	// auto.commit.interval.ms. The dead-letter producer is made from the
	// same properties (idempotent, acks=all).
	Kafka kafka.Config
	// Group is the consumer group (group.id); required.
	Group string
	// Topics are the topics to subscribe to; at least one.
	Topics []string
	// Workers is how many handlers run at once, across keys (default 8).
	// Events with the same key are handled in order by one worker.
	Workers int
	// MaxInFlight bounds the events read but not finished (default 1000, at
	// least Workers). At the bound the poll loop stops reading and waits
	// for room; after a second without room it pauses the partitions
	// (which drops what librdkafka prefetched) and resumes them when half
	// are done.
	MaxInFlight int
	// Retry is how retryable handler errors are retried.
	Retry RetryPolicy
	// Dedup remembers handled event IDs (ce_id); nil =
	// dedup.NewMemory(100_000), closed when Run returns. A Store given here
	// is not closed. Consumers of one group may share a Store; consumers of
	// different groups must not (each group handles every event). A
	// durable Store (dedup.OpenBolt) keeps the IDs across restarts.
	Dedup dedup.Store
	// ShutdownTimeout bounds the wait for the events already read when
	// Run's context ends, and for the running handlers of revoked
	// partitions (default 30 s). When it expires, the handlers' contexts
	// are cancelled and their events stay uncommitted.
	ShutdownTimeout time.Duration
	// ReadCommitted forces isolation.level=read_committed: only committed
	// transactional records are read. read_committed is also the default
	// when it is false (librdkafka's default); to read uncommitted records,
	// leave it false and set isolation.level=read_uncommitted in Kafka.
	ReadCommitted bool
	// Registerer registers the metrics; nil = prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// Logger receives the consumer's log lines; nil = slog.Default().
	Logger *slog.Logger
}

// RetryPolicy is how a handler's retryable errors are retried in place:
// attempt n+1 starts Initial*Multiplier^(n-1) after attempt n failed (at
// most Max), varied by ±Jitter of itself.
type RetryPolicy struct {
	// Attempts is how many times the handler runs at most, the first
	// included (default 3).
	Attempts int
	// Initial is the first back-off (default 100 ms).
	Initial time.Duration
	// Max caps the back-off (default 5 s).
	Max time.Duration
	// Multiplier grows the back-off per attempt (default 2).
	Multiplier float64
	// Jitter is the fraction of the back-off by which it varies at random,
	// 0 to 1 (default 0.2).
	Jitter float64
}

// WithDefaults returns r with its zero (or out-of-range) fields set to the
// documented defaults.
func (r RetryPolicy) WithDefaults() RetryPolicy {
	if r.Attempts <= 0 {
		r.Attempts = 3
	}
	if r.Initial <= 0 {
		r.Initial = 100 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Second
	}
	if r.Multiplier < 1 {
		r.Multiplier = 2
	}
	if r.Jitter <= 0 || r.Jitter > 1 {
		r.Jitter = 0.2
	}
	return r
}

// Delay is the back-off before retry number try+1 (try from 0):
// Initial*Multiplier^try, at most Max, varied at random by ±Jitter of itself.
func (r RetryPolicy) Delay(try int) time.Duration {
	d := float64(r.Initial) * math.Pow(r.Multiplier, float64(try))
	d = min(d, float64(r.Max))
	d *= 1 + r.Jitter*(2*rand.Float64()-1)
	return time.Duration(d)
}

// Meta is what a handler knows about its event besides its value: the
// envelope's fields and where the record was read.
type Meta struct {
	// ID is the event's unique ID (ce_id), the de-duplication key.
	ID string
	// Source is the producing service (ce_source).
	Source string
	// Type is the event type's full Avro name (ce_type).
	Type string
	// Time is when the event happened (ce_time).
	Time time.Time
	// Subject is the entity ID (ce_subject), also the record key.
	Subject string
	// EventVersion is the writer's version of the event type.
	EventVersion int
	// TraceParent is the event's trace context (zero when it had none).
	TraceParent envelope.TraceParent
	// SchemaID is the registry ID of the writer's schema.
	SchemaID uint32

	// Topic, Partition and Offset locate the record.
	Topic     string
	Partition int32
	Offset    int64
	// Timestamp is the record's Kafka timestamp.
	Timestamp time.Time
	// Attempt is the handler's attempt at this event, from 1.
	Attempt int
	// Group is the consumer group.
	Group string
}

// Retryable marks err as retryable: the handler is run again, after a
// back-off, up to RetryPolicy.Attempts. errors.Is and errors.As see err
// through it. Retryable(nil) is nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryable{err}
}

type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// IsRetryable reports whether err was marked with Retryable.
func IsRetryable(err error) bool {
	var r *retryable
	return errors.As(err, &r)
}

// Consumer is a consumer group member with typed handlers. Register the
// handlers with Handle, then call Run once.
type Consumer struct {
	cfg     Config
	serde   *serde.Serde
	log     *slog.Logger
	metrics *metrics
	warns   warnLimiter // client errors, logged once per code per repeatEvery

	mu       sync.Mutex
	handlers map[string]*handler // by ce_type; read-only once Run started
	running  bool
}

// handler is one registered event type: decode decodes a value into a new
// event of the handler's type, handle runs the handler on it.
type handler struct {
	decode func(ctx context.Context, s *serde.Serde, value []byte) (events.Event, error)
	handle func(ctx context.Context, m Meta, ev events.Event) error
}

// New returns a Consumer for cfg that decodes values with s. It checks the
// configuration; it connects only in Run.
func New(cfg Config, s *serde.Serde) (*Consumer, error) {
	if s == nil {
		return nil, errors.New("consumer: no serde")
	}
	if cfg.Kafka.Brokers() == "" {
		return nil, errors.New("consumer: bootstrap.servers is not set")
	}
	if cfg.Group == "" {
		return nil, errors.New("consumer: no group")
	}
	if len(cfg.Topics) == 0 {
		return nil, errors.New("consumer: no topics")
	}
	for k, v := range cfg.Kafka.Properties {
		switch k {
		case "enable.auto.offset.store":
			if v != "false" {
				return nil, fmt.Errorf("consumer: %s=%s would commit events before they are handled", k, cfg.Kafka.Redact(v))
			}
		case "group.id":
			if v != cfg.Group {
				return nil, fmt.Errorf("consumer: group.id %q differs from Config.Group %q", v, cfg.Group)
			}
		}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 1000
	}
	cfg.MaxInFlight = max(cfg.MaxInFlight, cfg.Workers)
	cfg.Retry = cfg.Retry.WithDefaults()
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.DefaultRegisterer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Consumer{
		cfg:      cfg,
		serde:    s,
		log:      cfg.Logger.With("group", cfg.Group),
		metrics:  m,
		handlers: map[string]*handler{},
	}, nil
}

// Handle registers h for the event type of E (newE().EventType()): every
// event of that type, whatever version it was written with, is decoded into
// a new E (made by newE) and handed to h. Return nil when the event is done,
// Retryable(err) to have it retried, any other error to dead-letter it.
//
//	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
//		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error { ... })
//
// Handle panics when the type already has a handler or Run has started.
func Handle[E events.Event](c *Consumer, newE func() E, h func(ctx context.Context, m Meta, ev E) error) {
	typ := newE().EventType()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		panic("consumer: Handle after Run")
	}
	if _, dup := c.handlers[typ]; dup {
		panic("consumer: a second handler for " + typ)
	}
	c.handlers[typ] = &handler{
		decode: func(ctx context.Context, s *serde.Serde, value []byte) (events.Event, error) {
			ev := newE()
			return ev, s.Deserialize(ctx, value, ev)
		},
		handle: func(ctx context.Context, m Meta, ev events.Event) error {
			return h(ctx, m, ev.(E))
		},
	}
}
