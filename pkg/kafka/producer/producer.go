// Package producer sends Waybill events to Kafka: typed events in, envelope
// records out, on an idempotent confluent-kafka-go (librdkafka) producer.
//
// Every event becomes one record as pkg/envelope describes it: the key is the
// event's entity ID (Event.Key), the value the Confluent wire format written
// by the serde, and the headers carry a fresh UUIDv7 ce_id, ce_time, the
// configured ce_source, ce_type, ce_subject (the key), the event version and
// a W3C traceparent that continues the trace of the context it was sent with
// (kafka.ContextWithTrace; a new trace when there is none).
//
// Its librdkafka configuration keeps Kafka's delivery guarantees; New
// refuses properties that would turn the first two off:
//
//   - enable.idempotence=true and acks=all: a record retried after a lost
//     answer, a leader change or a timeout is written once, in order
//     (librdkafka retries without limit within message.timeout.ms);
//   - partitioner=murmur2_random: a key lands on the partition Java's
//     default partitioner picks, so Java and Go producers of one topic agree
//     on per-key order;
//   - compression (lz4 unless configured) and batching (linger.ms,
//     batch.size) are exposed in Config; every other librdkafka property
//     passes through kafka.Config, SASL and TLS included.
//
// Idempotence leaves one window for duplicates, which consumers close by
// de-duplicating on ce_id (pkg/kafka/consumer does): when librdkafka
// recovers from a sequence gap (a batch refused as not persisted while the
// partition's next batch was already sent, in flight or to a new leader) it
// bumps the producer epoch and sends again, under new sequence numbers,
// every batch whose outcome it does not know, a batch that timed out
// (REQUEST_TIMED_OUT) but was written included; the broker cannot
// recognize that copy. This is librdkafka issue #4953 (present in the
// librdkafka 2.15.0 that confluent-kafka-go v2.15.0 bundles; its maintainers
// point to transactions for exactly-once in every case).
// TestIdempotentSendsUnderFaults provokes it: about one run in five of
// 100,000 events under constant faults writes a few batches twice (tens to
// hundreds of records); no event is ever lost or reordered. Setting
// max.in.flight.requests.per.connection=1 narrows the window but does not
// close it (a leader change still races), so the producer keeps
// librdkafka's default of 5.
//
// Send returns once the broker has acknowledged the event; SendAsync returns
// once the event is queued and reports its Delivery to a callback. Delivery
// errors always reach the caller (as Delivery.Err, counted in
// waybill_produce_errors_total); they are never only logged. A fatal error
// (an idempotence violation such as OUT_OF_ORDER_SEQUENCE_NUMBER, a producer
// ID the cluster refuses) ends the producer: every later Send and every
// delivery still outstanding fails with an error wrapping ErrFatal, and the
// service should stop or build a new Producer.
//
// Close shuts down cleanly: it stops accepting events, flushes while the
// delivery reports are served (librdkafka's Close alone does not flush),
// checks for a fatal error and closes the client. No event accepted by Send
// or SendAsync is lost on a clean shutdown: each is delivered, or its
// callback hears why not.
//
// For the hot path use Typed[E] (NewTyped): its schema ID is looked up once
// through a serde.Writer[E], so there is no per-event subject lookup, and
// its envelope.Template formats the static headers once. Producer.Send
// works for any events.Event and finds the schema ID through the serde's
// cache on every send.
//
//	p, err := producer.New(producer.Config{Kafka: cfg, Source: "order-service"}, s)
//	...
//	orders := producer.NewTyped[*orderevents.OrderCreatedV2](p)
//	d, err := orders.Send(ctx, &orderevents.OrderCreatedV2{OrderID: "ord-1", ...})
//	...
//	err = p.Close(shutdownCtx) // before exit: flushes every event accepted
//
// Metrics (Prometheus, shared by every producer registered on the same
// Registerer): waybill_events_produced_total{topic,event_type},
// waybill_produce_errors_total{topic,event_type} and
// waybill_delivery_latency_seconds{topic}, from the moment the event is
// accepted to its acknowledgement.
package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/serde"
)

// Config configures a Producer. Kafka and Source are required; the other
// fields have documented zero values.
type Config struct {
	// Kafka is how to reach Kafka: librdkafka properties, passed through
	// (bootstrap.servers required). Properties that would break the
	// producer's guarantees (enable.idempotence=false, acks other than
	// all, a partitioner other than murmur2_random or murmur2,
	// transactional.id) make New fail.
	Kafka kafka.Config
	// Source is the producing service, the ce_source of every event
	// (e.g. "order-service"). It is also the default client.id.
	Source string
	// Compression is compression.type: "lz4" (the default), "zstd",
	// "snappy", "gzip" or "none". It wins over the same property in Kafka.
	Compression string
	// Linger is linger.ms, how long librdkafka waits to fill a batch; 0
	// keeps librdkafka's default (5 ms) or Kafka's property.
	Linger time.Duration
	// BatchSize is batch.size in bytes; 0 keeps librdkafka's default (1 MB)
	// or Kafka's property.
	BatchSize int
	// Registerer registers the producer's metrics; nil means
	// prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// Logger receives librdkafka's log lines and client errors, with
	// secrets removed; nil means slog.Default().
	Logger *slog.Logger
}

// ErrFatal is wrapped by every error after the producer met a fatal error
// (librdkafka's ERR__FATAL: an idempotence violation such as the broker's
// OUT_OF_ORDER_SEQUENCE_NUMBER, an idempotent producer ID the cluster
// refuses, e.g. CLUSTER_AUTHORIZATION_FAILED). The Producer cannot send any
// more; stop the service or make a new Producer.
var ErrFatal = errors.New("producer: fatal error")

// ErrClosed is returned by Send, SendAsync and SendRaw after Close began.
var ErrClosed = errors.New("producer: closed")

// Error is a Kafka error met while sending: librdkafka's code, and its text
// with every secret of the configuration replaced by [redacted]. It wraps
// ErrFatal (errors.Is) when Fatal is set.
type Error struct {
	// Op is what failed: "send" (the event was not queued), "delivery"
	// (the event was queued but not acknowledged) or "close".
	Op string
	// Topic is the event's topic, if known.
	Topic string
	// Code is librdkafka's error code (e.g. ck.ErrMsgTimedOut).
	Code ck.ErrorCode
	// Msg is librdkafka's description, secrets redacted. For a fatal
	// error it is the fatal error's description.
	Msg string
	// Fatal is set when the producer met a fatal error.
	Fatal bool
}

// Error returns "producer: <op> <topic>: <msg>".
func (e *Error) Error() string {
	s := "producer: " + e.Op
	if e.Topic != "" {
		s += " " + e.Topic
	}
	if e.Fatal {
		s += ": fatal error"
	}
	return s + ": " + e.Msg
}

// Is reports whether target is ErrFatal and e is fatal.
func (e *Error) Is(target error) bool { return target == ErrFatal && e.Fatal }

// Delivery is the outcome of one event.
type Delivery struct {
	// Topic, Partition and Offset locate the record; Offset is -1 (and
	// Partition may be -1) when Err is set.
	Topic     string
	Partition int32
	Offset    int64
	// ID is the event's ce_id.
	ID string
	// Err is nil when the broker acknowledged the event. Otherwise it is an
	// *Error (wrapping ErrFatal after a fatal error) or the caller's
	// context error for Send.
	Err error
}

// Producer sends events with an idempotent librdkafka producer. It is safe
// for concurrent use; one per service and cluster is usually right.
type Producer struct {
	cfg    Config
	ck     *ck.Producer
	serde  *serde.Serde
	log    *slog.Logger
	m      *metrics
	series sync.Map // seriesKey -> *series

	// mu guards closed against the sends in progress: a send holds it for
	// reading while it queues, Close takes it to stop new ones.
	mu     sync.RWMutex
	closed bool

	fatal   atomic.Pointer[Error]
	lastErr atomic.Pointer[string] // the last client error, redacted

	// ckMu guards ckClosed: the delivery goroutine purges after a fatal
	// error only while the client is open.
	ckMu     sync.RWMutex
	ckClosed bool

	pool    sync.Pool // *encoder
	drained chan struct{}
	logged  <-chan struct{} // closed when librdkafka's log lines are drained
	// outstanding counts events queued whose delivery was not reported yet.
	outstanding atomic.Int64
}

// Err returns the fatal error that ended the producer (an *Error wrapping
// ErrFatal), or nil while it can still send: what a health check reports.
func (p *Producer) Err() error {
	if f := p.fatal.Load(); f != nil {
		return &Error{Op: "client", Code: f.Code, Msg: f.Msg, Fatal: true}
	}
	return nil
}

// New returns a Producer for cfg, serializing with s. It fails when cfg is
// incomplete or conflicts with the producer's guarantees, or when
// librdkafka rejects the configuration; it does not wait for the cluster.
func New(cfg Config, s *serde.Serde) (*Producer, error) {
	if s == nil {
		return nil, errors.New("producer: no serde")
	}
	cm, err := configMap(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	kp, err := ck.NewProducer(&cm)
	if err != nil {
		return nil, fmt.Errorf("producer: %s", cfg.Kafka.Redact(err.Error()))
	}
	p := &Producer{
		cfg: cfg, ck: kp, serde: s, log: cfg.Logger, m: m,
		drained: make(chan struct{}),
	}
	p.pool.New = func() any { return new(encoder) }
	p.logged = kafka.ForwardLogs(p.ck.Logs(), p.log, p.cfg.Kafka, "producer")
	go p.serveEvents()
	return p, nil
}

// Send sends ev and waits until the broker acknowledged it or ctx ended.
// When ctx ends first, Send returns ctx's error; the event may still be
// delivered (a record handed to librdkafka cannot be taken back), and Close
// waits for it.
func (p *Producer) Send(ctx context.Context, ev events.Event) (Delivery, error) {
	return wait(ctx, func(done func(Delivery)) error { return p.SendAsync(ctx, ev, done) })
}

// SendAsync queues ev and returns; done is called once with its Delivery,
// from the producer's delivery goroutine, so it must be quick and must not
// call Send (SendAsync is fine). When SendAsync returns an error, the event
// was not queued and done is not called. A nil done is allowed: failures
// are then only counted and logged.
//
// When librdkafka's queue is full (queue.buffering.max.messages), SendAsync
// waits for room until ctx ends. The key is ev.Key(), which must not be
// empty.
func (p *Producer) SendAsync(ctx context.Context, ev events.Event, done func(Delivery)) error {
	e := p.pool.Get().(*encoder)
	defer p.pool.Put(e)
	var err error
	var id uint32
	if e.value, id, err = p.serde.AppendSerialize(ctx, e.value[:0], ev); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	topic := ev.Topic()
	return p.send(ctx, e, envelope.Envelope{
		Source: p.cfg.Source, Type: ev.EventType(), Subject: ev.Key(), EventVersion: ev.EventVersion(),
		SchemaID: id, Body: e.value[envelope.WireHeaderLen:],
	}, topic, p.seriesFor(topic, ev.EventType()), done)
}

// SendRaw sends m to topic as it is (key, value and headers byte for byte,
// nothing filled in) and waits for the acknowledgement: for dead letters
// and for replaying them. The delivery's ID is m's ce_id header, if any.
func (p *Producer) SendRaw(ctx context.Context, m envelope.Message, topic string) (Delivery, error) {
	if topic == "" {
		return Delivery{}, errors.New("producer: SendRaw: no topic")
	}
	return wait(ctx, func(done func(Delivery)) error { return p.sendRaw(ctx, m, topic, done) })
}

// Close stops accepting events, waits until every event accepted is
// delivered (or failed) and its done called, and closes the client. When
// ctx ends first, the events not yet delivered are purged (their callbacks
// get an error) and Close returns an error saying how many. Close returns
// an error wrapping ErrFatal when the producer met a fatal error. Calling
// Close again returns ErrClosed.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	p.mu.Unlock()
	return p.shutdown(ctx)
}

// Typed sends the events of one type, E. On the first send it looks the
// schema ID up once through a serde.Writer[E] and prepares an
// envelope.Template (the static headers formatted once), and resolves its
// metric series; after that the per-event work is the Avro encoding,
// written in place after the wire header, and the five per-event header
// values. Use it on the hot path. It is safe for concurrent use.
type Typed[E events.Event] struct {
	p  *Producer
	mu sync.Mutex
	w  atomic.Pointer[typedState[E]]
}

type typedState[E events.Event] struct {
	w      *serde.Writer[E] // looked the schema ID up; the template writes it
	tmpl   *envelope.Template
	topic  string
	typ    string
	series *series
}

// NewTyped returns a Typed producer of E events on p.
func NewTyped[E events.Event](p *Producer) *Typed[E] { return &Typed[E]{p: p} }

// Send sends ev and waits for the acknowledgement, as Producer.Send.
func (t *Typed[E]) Send(ctx context.Context, ev E) (Delivery, error) {
	return wait(ctx, func(done func(Delivery)) error { return t.SendAsync(ctx, ev, done) })
}

// SendAsync queues ev and reports its Delivery to done, as
// Producer.SendAsync.
func (t *Typed[E]) SendAsync(ctx context.Context, ev E, done func(Delivery)) error {
	st := t.w.Load()
	if st == nil {
		var err error
		if st, err = t.state(ctx, ev); err != nil {
			return err
		}
	}
	key := ev.Key()
	if key == "" {
		return fmt.Errorf("producer: %s event has no key (entity ID)", st.typ)
	}
	e := t.p.pool.Get().(*encoder)
	defer t.p.pool.Put(e)
	// The template writes the Writer's wire header and the Avro body in
	// place, after the per-event header values.
	f := envelope.Fields{Subject: key, TraceParent: kafka.TraceFromContext(ctx).Child()}
	if err := st.tmpl.EncodeInto(&e.msg, f, ev); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	return t.p.enqueue(ctx, e, st.topic, st.series, done)
}

func (t *Typed[E]) state(ctx context.Context, ev E) (*typedState[E], error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.w.Load(); st != nil {
		return st, nil
	}
	w, err := serde.NewWriter(ctx, t.p.serde, ev)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	tmpl, err := envelope.NewTemplate(t.p.cfg.Source, ev.EventType(), ev.EventVersion(), w.SchemaID())
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	st := &typedState[E]{
		w: w, tmpl: tmpl, topic: ev.Topic(), typ: ev.EventType(),
		series: t.p.seriesFor(ev.Topic(), ev.EventType()),
	}
	t.w.Store(st)
	return st, nil
}
