package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/serde"
)

// ErrFatal is wrapped by the error Run returns when the transactional
// producer met a fatal error (librdkafka's IsFatal) it could not recover
// from: it was fenced by a newer instance with the same TransactionalID
// (ErrFenced: another instance took its place; stop), or the fatal error came
// back after three new producers.
var ErrFatal = errors.New("txn: fatal error")

// ErrFenced is wrapped (with ErrFatal) by the error Run returns when a newer
// producer with the same TransactionalID fenced this one
// (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH).
var ErrFenced = errors.New("txn: fenced by a newer instance with the same transactional.id")

// Config configures a Processor. Kafka, Group, Topics, TransactionalID and
// Source are required; the other fields have documented zero values.
type Config struct {
	// Kafka is how to reach Kafka: librdkafka properties, passed through to
	// the consumer and the producer (bootstrap.servers required). The
	// properties the guarantees rest on are set over it: see the package
	// documentation.
	Kafka kafka.Config
	// Group is the consumer group (group.id).
	Group string
	// Topics are the topics consumed.
	Topics []string
	// TransactionalID is the producer's transactional.id. It must be
	// stable across restarts of one instance and unique among the
	// instances running at once (e.g. "<service>-<pod ordinal>"): a new
	// producer with the same ID fences the old one, which is how a zombie
	// is kept from committing.
	TransactionalID string
	// Source is the ce_source of the events handlers send.
	Source string
	// MaxBatch bounds the records of one transaction (default 500).
	MaxBatch int
	// Workers is how many handlers run at once within a batch, across keys
	// (default 8; 1 runs them one at a time in offset order). The records
	// of one key are handled in offset order by one worker; handlers must
	// be safe for concurrent use, as package consumer's.
	Workers int
	// BatchWait is how long a batch collects records after its first one
	// before its transaction starts (default 50 ms).
	BatchWait time.Duration
	// Retry is how handler errors marked consumer.Retryable are retried in
	// place, inside the open transaction; its defaults are consumer's (3
	// attempts, 100 ms doubling to at most 5 s, ±20 %). Keep the sum of the
	// back-offs well below transaction.timeout.ms (librdkafka's default
	// 60 s), or the coordinator aborts the transaction.
	Retry consumer.RetryPolicy
	// OpTimeout bounds each call of the transaction API (init, send
	// offsets, commit, abort); a call that times out is retried (default
	// 30 s).
	OpTimeout time.Duration
	// Registerer registers the metrics; nil = prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// Logger receives the processor's log lines; nil = slog.Default().
	Logger *slog.Logger
}

// Processor consumes, handles and produces in Kafka transactions. Register
// handlers with Handle, then call Run once.
type Processor struct {
	cfg     Config
	serde   *serde.Serde
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	handlers map[string]*handler
	running  bool
}

type handler struct {
	decode func(ctx context.Context, s *serde.Serde, value []byte) (events.Event, error)
	handle func(ctx context.Context, m consumer.Meta, ev events.Event, out *Out) error
}

// New returns a Processor for cfg that decodes and encodes values with s. It
// checks the configuration; it connects only in Run.
func New(cfg Config, s *serde.Serde) (*Processor, error) {
	switch {
	case s == nil:
		return nil, errors.New("txn: no serde")
	case cfg.Kafka.Brokers() == "":
		return nil, errors.New("txn: bootstrap.servers is not set")
	case cfg.Group == "":
		return nil, errors.New("txn: no group")
	case len(cfg.Topics) == 0:
		return nil, errors.New("txn: no topics")
	case cfg.TransactionalID == "":
		return nil, errors.New("txn: no transactional ID")
	case cfg.Source == "":
		return nil, errors.New("txn: no source")
	}
	for k, v := range cfg.Kafka.Properties {
		bad := false
		switch k {
		case "enable.auto.commit", "enable.auto.offset.store":
			bad = v != "false"
		case "enable.idempotence":
			bad = v != "true"
		case "isolation.level":
			bad = v != "read_committed"
		case "transactional.id":
			bad = v != cfg.TransactionalID
		case "group.id":
			bad = v != cfg.Group
		case "acks", "request.required.acks":
			bad = v != "all" && v != "-1"
		}
		if bad {
			return nil, fmt.Errorf("txn: %s=%s conflicts with exactly-once processing", k, cfg.Kafka.Redact(v))
		}
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 500
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = 50 * time.Millisecond
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 30 * time.Second
	}
	cfg.Retry = cfg.Retry.WithDefaults()
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
	return &Processor{
		cfg: cfg, serde: s, metrics: m, handlers: map[string]*handler{},
		log: cfg.Logger.With("group", cfg.Group, "transactional_id", cfg.TransactionalID),
	}, nil
}

// Handle registers h for the event type of E (newE().EventType()): every
// event of that type, whatever version it was written with, is decoded into
// a new E and handed to h with an Out for the events h produces. Return nil
// when the event is done, consumer.Retryable(err) to have it retried in
// place, any other error to dead-letter it (inside the transaction).
//
// Handle panics when the type already has a handler or Run has started.
func Handle[E events.Event](p *Processor, newE func() E, h func(ctx context.Context, m consumer.Meta, ev E, out *Out) error) {
	typ := newE().EventType()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running {
		panic("txn: Handle after Run")
	}
	if _, dup := p.handlers[typ]; dup {
		panic("txn: a second handler for " + typ)
	}
	p.handlers[typ] = &handler{
		decode: func(ctx context.Context, s *serde.Serde, value []byte) (events.Event, error) {
			ev := newE()
			return ev, s.Deserialize(ctx, value, ev)
		},
		handle: func(ctx context.Context, m consumer.Meta, ev events.Event, out *Out) error {
			return h(ctx, m, ev.(E), out)
		},
	}
}

// Out collects the events a handler sends for the event it handles. They
// are produced in the transaction of that event only when the handler
// returns nil; an attempt that fails (and is retried or dead-lettered) sends
// nothing. Nothing is visible to read_committed consumers before the
// transaction commits, and an aborted transaction's events never are.
type Out struct {
	p     *Processor
	trace envelope.TraceParent
	msgs  []outMsg
	// registryErr is set when Send could not reach the registry: the
	// attempt is retried, and then the transaction aborted, rather than
	// the event dead-lettered.
	registryErr error
}

type outMsg struct {
	topic string
	typ   string
	msg   envelope.Message
}

// Send adds ev to the handled event's transaction. Its envelope is filled
// as the producer fills it: a new ce_id, the time, the Processor's Source,
// ev's type, version and key, and a traceparent that is a child of ctx's
// trace (kafka.TraceFromContext; the handler's ctx carries the consumed
// event's) or, when ctx has none, of the consumed event's. Send fails when
// ev cannot be serialized (its schema unknown to the registry, an encoding
// error) or has no key. When the registry cannot be reached, the handler's
// error is not the event's fault: the attempt is retried, and when the
// registry stays away the transaction is aborted (and the batch read again
// later), whatever error the handler returned.
func (o *Out) Send(ctx context.Context, ev events.Event) error {
	key := ev.Key()
	if key == "" {
		return fmt.Errorf("txn: %s event has no key (entity ID)", ev.EventType())
	}
	value, id, err := o.p.serde.Serialize(ctx, ev)
	if err != nil {
		if serde.Transient(err) {
			o.registryErr = err
		}
		return fmt.Errorf("txn: %w", err)
	}
	tp := kafka.TraceFromContext(ctx)
	if tp.IsZero() {
		tp = o.trace
	}
	m, err := envelope.Encode(envelope.Envelope{
		Source: o.p.cfg.Source, Type: ev.EventType(), Subject: key, EventVersion: ev.EventVersion(),
		SchemaID: id, Body: value[envelope.WireHeaderLen:], TraceParent: tp.Child(),
	})
	if err != nil {
		return fmt.Errorf("txn: %w", err)
	}
	o.msgs = append(o.msgs, outMsg{topic: ev.Topic(), typ: ev.EventType(), msg: m})
	return nil
}

// ckHeaders converts envelope headers to confluent-kafka-go's.
func ckHeaders(hs []envelope.Header) []ck.Header {
	out := make([]ck.Header, len(hs))
	for i, h := range hs {
		out[i] = ck.Header{Key: h.Key, Value: h.Value}
	}
	return out
}
