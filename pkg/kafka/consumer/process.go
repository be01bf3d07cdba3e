package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/serde"
)

// errAbandoned ends an event's decoding without finishing it: the
// partition was revoked or the consumer is stopping while it waited for the
// registry. Its offset is not committed, so the next owner handles it.
var errAbandoned = errors.New("consumer: abandoned")

// process handles one record and reports whether it is finished: handled,
// skipped, a duplicate, or dead-lettered and acknowledged.
func (r *run) process(j job) bool {
	m := j.m
	topic := *m.TopicPartition.Topic
	group := r.c.cfg.Group
	em := envelope.Message{Key: m.Key, Value: m.Value, Headers: envelopeHeaders(m.Headers)}
	env, err := r.decoder.Decode(em)
	if err != nil {
		r.c.metrics.forType(&r.typeMetrics, group, topic, unknownType).consumed.Inc()
		return r.deadLetter(j, unknownType, err, 0)
	}
	tm := r.c.metrics.forType(&r.typeMetrics, group, topic, env.Type)
	tm.consumed.Inc()
	h := r.handlers[env.Type]
	if h == nil {
		tm.skipped.Inc()
		return true
	}
	ev, err := r.decode(j, h, env)
	if errors.Is(err, errAbandoned) {
		return false
	}
	if err != nil {
		return r.deadLetter(j, env.Type, err, 0)
	}

	meta := Meta{
		ID: env.ID, Source: env.Source, Type: env.Type, Time: env.Time, Subject: env.Subject,
		EventVersion: env.EventVersion, TraceParent: env.TraceParent, SchemaID: env.SchemaID,
		Topic: topic, Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset),
		Timestamp: m.Timestamp, Group: group,
	}
	ctx := kafka.ContextWithTrace(j.p.ctx, env.TraceParent)
	// Each attempt is one call of the store's Do, so the back-off between
	// attempts runs outside it (a durable store's Do holds a write
	// transaction).
	pol := r.c.cfg.Retry
	storeTries := 0
	for attempt := 1; ; {
		meta.Attempt = attempt
		var herr error // the handler's error, when fn ran
		ran := false
		dup, err := r.dedup.Do(ctx, env.ID, func(ctx context.Context) error {
			ran = true
			start := time.Now()
			herr = call(ctx, h, meta, ev)
			tm.duration.Observe(time.Since(start).Seconds())
			return herr
		})
		switch {
		case err == nil && dup:
			tm.duplicates.Inc()
			return true
		case err == nil:
			return true
		case ran && herr != nil && j.p.ctx.Err() != nil:
			// Cut short by a shutdown or revoke that stopped waiting:
			// not the event's fault; the next owner handles it.
			return false
		case ran && herr != nil && IsRetryable(herr) && attempt < pol.Attempts:
			r.c.log.Debug("consumer: retrying", "topic", topic, "partition", meta.Partition, "offset", meta.Offset,
				"attempt", attempt+1, "error", herr)
			if !r.backoff(j.p, attempt-1) {
				return false
			}
			tm.retried.Inc()
			attempt++
		case ran && herr != nil:
			code := kafka.CodeHandler
			if IsRetryable(herr) {
				code = kafka.CodeRetriesExhausted
			}
			return r.deadLetter(j, env.Type, &handlerError{code: code, err: herr}, attempt)
		default:
			// The store failed, not the handler: wait and ask again
			// (the same attempt).
			r.c.log.Warn("consumer: de-duplication store", "error", err, "topic", topic, "partition", meta.Partition, "offset", meta.Offset)
			if !r.backoff(j.p, storeTries) {
				return false
			}
			storeTries++
		}
	}
}

// call runs the handler, turning a panic into a (permanent) error.
func call(ctx context.Context, h *handler, m Meta, ev events.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("consumer: handler panicked: %v", p)
		}
	}()
	return h.handle(ctx, m, ev)
}

// decode decodes the record's value into the handler's type. A failure of
// the event's own (an unknown schema ID, a body that does not decode or
// resolve) is returned for the dead-letter topic; a registry that cannot be
// reached is waited for.
func (r *run) decode(j job, h *handler, env envelope.Envelope) (events.Event, error) {
	for try := 0; ; try++ {
		ev, err := h.decode(j.p.ctx, r.c.serde, j.m.Value)
		if err == nil {
			return ev, nil
		}
		if !serde.Transient(err) {
			var ee *envelope.Error
			if !errors.As(err, &ee) {
				// Incompatible writer, a writer schema that is not Avro
				// or does not parse: the body cannot be read.
				err = envelope.UndecodableBody(env.Type, env.SchemaID, err)
			}
			return nil, err
		}
		r.c.log.Warn("consumer: decoding waits for the registry", "error", err, "schema_id", env.SchemaID)
		if !r.backoff(j.p, try) {
			return nil, errAbandoned
		}
	}
}

// backoff sleeps before retry number try+1 (from 0): Initial *
// Multiplier^try, at most Max, ± Jitter. It returns false, at once, when
// the partition stops.
func (r *run) backoff(p *partition, try int) bool {
	t := time.NewTimer(r.c.cfg.Retry.Delay(try))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.stop:
		return false
	}
}

// handlerError is a handler's error on the dead-letter topic.
type handlerError struct {
	code string
	err  error
}

func (e *handlerError) Error() string { return e.err.Error() }
func (e *handlerError) Unwrap() error { return e.err }

// deadLetter sends the record to its dead-letter topic and waits for the
// broker's acknowledgement, retrying a failed send with back-off until it
// succeeds or the partition stops. It reports whether the event is finished.
func (r *run) deadLetter(j job, eventType string, cause error, attempts int) bool {
	m := j.m
	topic := *m.TopicPartition.Topic
	code, reason := envelope.Reason(cause)
	var he *handlerError
	if errors.As(cause, &he) {
		code, reason = he.code, he.err.Error()
	}
	info := kafka.DeadLetter{Code: code, Reason: reason, Topic: topic, Partition: m.TopicPartition.Partition,
		Offset: int64(m.TopicPartition.Offset), Timestamp: m.Timestamp, Group: r.c.cfg.Group, Attempts: attempts,
		DeadLetteredAt: time.Now()}
	hs := make([]ck.Header, 0, len(m.Headers)+9)
	hs = append(hs, m.Headers...)
	for _, h := range info.AppendHeaders(nil) {
		hs = append(hs, ck.Header{Key: h.Key, Value: h.Value})
	}
	dlqTopic := kafka.DeadLetterTopic(topic)
	done := make(chan ck.Event, 1)
	for try := 0; ; try++ {
		p := r.producer()
		if p.IsClosed() {
			return false // Run has returned (a handler outlived ShutdownTimeout)
		}
		err := p.Produce(&ck.Message{
			TopicPartition: ck.TopicPartition{Topic: &dlqTopic, Partition: ck.PartitionAny},
			Key:            m.Key, Value: m.Value, Headers: hs,
		}, done)
		if err == nil {
			select {
			case ev := <-done:
				err = ev.(*ck.Message).TopicPartition.Error
			case <-j.p.ctx.Done():
				return false
			}
		}
		if err == nil {
			r.c.metrics.deadLettered.WithLabelValues(topic, eventType, r.c.cfg.Group, code).Inc()
			r.c.log.Info("consumer: dead letter", "topic", topic, "partition", m.TopicPartition.Partition,
				"offset", int64(m.TopicPartition.Offset), "code", code, "reason", reason)
			return true
		}
		r.c.log.Warn("consumer: sending a dead letter failed; retrying", "topic", dlqTopic,
			"error", r.c.cfg.Kafka.Redact(err.Error()), "offset", int64(m.TopicPartition.Offset))
		if isFatal(p.GetFatalError()) {
			r.replaceProducer(p)
		}
		if !r.backoff(j.p, try) {
			return false
		}
	}
}

// envelopeHeaders views confluent-kafka-go's headers as the envelope's: the
// two types have the same fields in the same order (envelope.Header's
// documentation promises it), so the slice is reinterpreted, not copied.
func envelopeHeaders(hs []ck.Header) []envelope.Header {
	if len(hs) == 0 {
		return nil
	}
	return unsafe.Slice((*envelope.Header)(unsafe.Pointer(unsafe.SliceData(hs))), len(hs))
}

// The reinterpretation above needs identical layouts.
var _ = [1]struct{}{}[unsafe.Sizeof(ck.Header{})-unsafe.Sizeof(envelope.Header{})]
var _ = [1]struct{}{}[unsafe.Offsetof(ck.Header{}.Value)-unsafe.Offsetof(envelope.Header{}.Value)]

// deadLetterProducer is the producer of dead letters and the goroutine
// that drains its events.
type deadLetterProducer struct {
	*ck.Producer
	drained chan struct{}
}

// newDeadLetterProducer makes the producer of dead letters: idempotent,
// acks=all, Java-compatible partitioning, on the consumer's connection
// properties.
func (c *Consumer) newDeadLetterProducer() (*deadLetterProducer, error) {
	// A dead letter is awaited before its worker moves on: send it at once.
	m := c.cfg.Kafka.ConfigMap(map[string]any{"linger.ms": 0})
	for k := range m {
		if consumerOnly(k) {
			delete(m, k)
		}
	}
	m["enable.idempotence"] = true
	m["acks"] = "all"
	m["partitioner"] = "murmur2_random"
	m["go.logs.channel.enable"] = true
	p, err := ck.NewProducer(&m)
	if err != nil {
		return nil, fmt.Errorf("consumer: dead-letter producer: %s", c.cfg.Kafka.Redact(err.Error()))
	}
	dp := &deadLetterProducer{Producer: p, drained: make(chan struct{})}
	logsDone := kafka.ForwardLogs(p.Logs(), c.log, c.cfg.Kafka, "consumer: dead-letter producer")
	go func() {
		defer close(dp.drained)
		defer func() { <-logsDone }()
		for ev := range p.Events() {
			if e, ok := ev.(ck.Error); ok {
				if n, ok := c.warns.allow(e.Code()); ok || e.IsFatal() {
					c.log.Warn("consumer: dead-letter producer", "error", c.cfg.Kafka.Redact(e.Error()), "fatal", e.IsFatal(), "repeats", n)
				}
			}
		}
	}()
	return dp, nil
}

// producer returns the dead-letter producer.
func (r *run) producer() *deadLetterProducer {
	r.dlqMu.Lock()
	defer r.dlqMu.Unlock()
	return r.dlq
}

// replaceProducer replaces p, which hit a fatal error (an idempotence
// violation: librdkafka asks for a new producer), unless another worker
// already did.
func (r *run) replaceProducer(p *deadLetterProducer) {
	r.dlqMu.Lock()
	defer r.dlqMu.Unlock()
	if r.dlq != p || r.dlqClosed {
		return
	}
	r.c.log.Warn("consumer: replacing the dead-letter producer after a fatal error",
		"error", r.c.cfg.Kafka.Redact(p.GetFatalError().Error()))
	np, err := r.c.newDeadLetterProducer()
	if err != nil {
		r.c.log.Error("consumer: replacing the dead-letter producer", "error", err)
		return
	}
	r.dlq = np
	go r.closeProducer(p)
}

// isFatal reports whether err is a fatal librdkafka error.
func isFatal(err error) bool {
	var ke ck.Error
	return errors.As(err, &ke) && ke.IsFatal()
}

// closeProducer flushes (while its events are drained) and closes p.
func (r *run) closeProducer(p *deadLetterProducer) {
	if !isFatal(p.GetFatalError()) {
		if n := p.Flush(int(r.c.cfg.ShutdownTimeout / time.Millisecond)); n > 0 {
			r.c.log.Warn("consumer: dead-letter producer closed with outstanding messages", "count", n)
		}
	}
	p.Close()
	<-p.drained
}

// consumerOnly reports whether a property is one only consumers take, so
// the dead-letter producer leaves it out (librdkafka would warn about it).
func consumerOnly(k string) bool {
	switch k {
	case "group.id", "group.instance.id", "group.protocol", "group.remote.assignor",
		"partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms",
		"max.poll.interval.ms", "enable.auto.commit", "auto.commit.interval.ms",
		"enable.auto.offset.store", "auto.offset.reset", "isolation.level",
		"fetch.min.bytes", "fetch.max.bytes", "fetch.wait.max.ms", "fetch.message.max.bytes",
		"max.partition.fetch.bytes", "queued.min.messages", "queued.max.messages.kbytes",
		"enable.partition.eof", "check.crcs", "statistics.interval.ms":
		return true
	}
	return false
}
