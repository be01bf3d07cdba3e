package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/kafka"
)

// encoder is the memory one send encodes into, reused through a pool:
// librdkafka copies key, value and headers before Produce returns (ck sets
// RD_KAFKA_MSG_F_COPY and copies the headers), so nothing here outlives the
// send.
type encoder struct {
	value []byte // the serde's wire-format value; the envelope copies its body
	msg   envelope.Message
	hdrs  []ck.Header
	km    ck.Message
	topic string
}

// pending is what a queued event's delivery report needs; it travels as the
// record's Opaque.
type pending struct {
	done   func(Delivery)
	id     string
	topic  string
	start  time.Time
	series *series
}

var pendings = sync.Pool{New: func() any { return new(pending) }}

// send encodes env into e and queues it on topic.
func (p *Producer) send(ctx context.Context, e *encoder, env envelope.Envelope, topic string, s *series, done func(Delivery)) error {
	if env.Subject == "" {
		return fmt.Errorf("producer: %s event has no key (entity ID)", env.Type)
	}
	env.TraceParent = kafka.TraceFromContext(ctx).Child()
	if err := envelope.EncodeInto(&e.msg, env); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	return p.enqueue(ctx, e, topic, s, done)
}

// enqueue queues the message encoded in e on topic.
func (p *Producer) enqueue(ctx context.Context, e *encoder, topic string, s *series, done func(Delivery)) error {
	id, _ := e.msg.Header(envelope.HeaderID)
	pd := pendings.Get().(*pending)
	*pd = pending{done: done, id: string(id), topic: topic, start: time.Now(), series: s}
	if err := p.produce(ctx, e, &e.msg, topic, pd); err != nil {
		*pd = pending{}
		pendings.Put(pd)
		return err
	}
	return nil
}

// sendRaw queues m on topic as it is.
func (p *Producer) sendRaw(ctx context.Context, m envelope.Message, topic string, done func(Delivery)) error {
	e := p.pool.Get().(*encoder)
	defer p.pool.Put(e)
	typ := "unknown"
	if t, ok := m.Header(envelope.HeaderType); ok && validType(t) {
		typ = string(t)
	}
	var id string
	if v, ok := m.Header(envelope.HeaderID); ok {
		id = string(v)
	}
	pd := pendings.Get().(*pending)
	*pd = pending{done: done, id: id, topic: topic, start: time.Now(), series: p.seriesFor(topic, typ)}
	if err := p.produce(ctx, e, &m, topic, pd); err != nil {
		*pd = pending{}
		pendings.Put(pd)
		return err
	}
	return nil
}

// validType reports whether t looks like an event type (a full Avro name of
// reasonable length), so that a raw record's ce_type can label a metric
// without letting garbage headers make unbounded series.
func validType(t []byte) bool {
	if len(t) == 0 || len(t) > 200 {
		return false
	}
	for _, c := range t {
		ok := c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// produce hands m to librdkafka, waiting for room in its queue until ctx
// ends.
func (p *Producer) produce(ctx context.Context, e *encoder, m *envelope.Message, topic string, pd *pending) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("producer: %w", context.Cause(ctx))
	}
	e.topic = topic
	e.hdrs = e.hdrs[:0]
	for _, h := range m.Headers {
		e.hdrs = append(e.hdrs, ck.Header{Key: h.Key, Value: h.Value})
	}
	e.km = ck.Message{
		TopicPartition: ck.TopicPartition{Topic: &e.topic, Partition: ck.PartitionAny},
		Key:            m.Key, Value: m.Value, Headers: e.hdrs, Opaque: pd,
	}
	var timer *time.Timer
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		p.mu.RLock()
		if p.closed {
			p.mu.RUnlock()
			return ErrClosed
		}
		if f := p.fatal.Load(); f != nil {
			p.mu.RUnlock()
			pd.series.errors.Inc()
			return &Error{Op: "send", Topic: topic, Code: f.Code, Msg: f.Msg, Fatal: true}
		}
		p.outstanding.Add(1)
		err := p.ck.Produce(&e.km, nil)
		p.mu.RUnlock()
		if err == nil {
			return nil
		}
		p.outstanding.Add(-1)
		var ke ck.Error
		if !errors.As(err, &ke) || ke.Code() != ck.ErrQueueFull {
			pd.series.errors.Inc()
			return p.kafkaError("send", topic, err)
		}
		// librdkafka's queue is full (queue.buffering.max.messages or
		// .kbytes): wait for deliveries to make room.
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("producer: waiting for room in the send queue: %w", context.Cause(ctx))
		case <-timer.C:
		}
	}
}

// wait runs send with a done that hands the Delivery back, and waits for it
// or for ctx.
func wait(ctx context.Context, send func(done func(Delivery)) error) (Delivery, error) {
	ch := make(chan Delivery, 1)
	if err := send(func(d Delivery) { ch <- d }); err != nil {
		return Delivery{}, err
	}
	select {
	case d := <-ch:
		return d, d.Err
	case <-ctx.Done():
		err := fmt.Errorf("producer: waiting for the acknowledgement: %w", context.Cause(ctx))
		return Delivery{Err: err, Offset: -1, Partition: -1}, err
	}
}

// kafkaError turns a librdkafka error into an *Error with its secrets
// redacted.
func (p *Producer) kafkaError(op, topic string, err error) *Error {
	e := &Error{Op: op, Topic: topic, Code: ck.ErrUnknown, Msg: err.Error()}
	var ke ck.Error
	if errors.As(err, &ke) {
		e.Code, e.Msg = ke.Code(), ke.Error()
		e.Fatal = ke.IsFatal() || ke.Code() == ck.ErrFatal
	}
	if f := p.fatal.Load(); f != nil {
		// The first report after a fatal error is often the failure
		// that caused it; the others were purged because of it.
		e.Fatal = true
		if e.Code != f.Code {
			e.Msg += "; the producer met a fatal error: " + f.Msg
		} else {
			e.Msg = f.Msg
		}
	}
	if e.Code == ck.ErrMsgTimedOut {
		// Why it timed out is often in the client's last error
		// (authentication, TLS, no broker reachable).
		if last := p.lastErr.Load(); last != nil {
			e.Msg += "; last client error: " + *last
		}
	}
	e.Msg = p.cfg.Kafka.Redact(e.Msg)
	return e
}

// serveEvents serves librdkafka's events until the client is closed:
// delivery reports to their callbacks and metrics, client errors to the
// log, fatal errors to p.fatal.
func (p *Producer) serveEvents() {
	defer close(p.drained)
	for ev := range p.ck.Events() {
		switch ev := ev.(type) {
		case *ck.Message:
			p.delivered(ev)
		case ck.Error:
			p.clientError(ev)
		}
	}
}

func (p *Producer) delivered(m *ck.Message) {
	pd, ok := m.Opaque.(*pending)
	if !ok {
		return
	}
	d := Delivery{Topic: pd.topic, Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset), ID: pd.id}
	if err := m.TopicPartition.Error; err != nil {
		d.Offset = -1
		e := p.kafkaError("delivery", pd.topic, err)
		d.Err = e
		pd.series.errors.Inc()
		if pd.done == nil {
			p.log.Error("producer: event not delivered", "topic", pd.topic, "id", pd.id, "error", e.Msg)
		}
	} else {
		pd.series.produced.Inc()
		pd.series.latency.Observe(time.Since(pd.start).Seconds())
	}
	done := pd.done
	*pd = pending{}
	pendings.Put(pd)
	p.outstanding.Add(-1)
	if done != nil {
		done(d)
	}
}

func (p *Producer) clientError(e ck.Error) {
	msg := p.cfg.Kafka.Redact(e.Error())
	if e.IsFatal() {
		msg = strings.TrimPrefix(msg, "Fatal error: ")
		f := &Error{Op: "send", Code: e.Code(), Msg: msg, Fatal: true}
		if p.fatal.CompareAndSwap(nil, f) {
			p.log.Error("producer: fatal error: the producer cannot send any more", "code", e.Code().String(), "error", msg)
			// librdkafka fails most outstanding events at once, but
			// one waiting for a retry can sit until message.timeout.ms
			// (5 minutes by default): fail them all now, so that
			// every caller hears of the fatal error promptly.
			if p.ckMu.TryRLock() {
				if !p.ckClosed {
					_ = p.ck.Purge(ck.PurgeQueue | ck.PurgeInFlight | ck.PurgeNonBlocking)
				}
				p.ckMu.RUnlock()
			}
		}
		return
	}
	// Transient from librdkafka's point of view (all brokers down,
	// authentication failures it retries): deliveries that end because of
	// them carry their own error.
	p.lastErr.Store(&msg)
	p.log.Warn("producer: kafka client error", "code", e.Code().String(), "error", msg)
}

// shutdown flushes, checks for a fatal error and closes the client; new
// sends are refused already.
func (p *Producer) shutdown(ctx context.Context) error {
	var errs []error
	for p.outstanding.Load() > 0 && ctx.Err() == nil {
		ms := 100
		if dl, ok := ctx.Deadline(); ok {
			ms = max(1, min(ms, int(time.Until(dl).Milliseconds())))
		}
		if p.ck.Flush(ms) == 0 && p.outstanding.Load() > 0 {
			// librdkafka is done; the last reports are being served.
			time.Sleep(time.Millisecond)
		}
	}
	if n := p.outstanding.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("producer: close: %d events not acknowledged: %w", n, context.Cause(ctx)))
		// Fail them now, so that every callback hears of its event.
		_ = p.ck.Purge(ck.PurgeQueue | ck.PurgeInFlight | ck.PurgeNonBlocking)
		for end := time.Now().Add(5 * time.Second); p.outstanding.Load() > 0 && time.Now().Before(end); {
			if p.ck.Flush(100) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}
	if err := p.ck.GetFatalError(); err != nil {
		f := p.kafkaError("close", "", err)
		f.Fatal = true
		p.fatal.CompareAndSwap(nil, f)
	}
	if f := p.fatal.Load(); f != nil {
		errs = append(errs, &Error{Op: "close", Code: f.Code, Msg: f.Msg, Fatal: true})
	}
	p.ckMu.Lock()
	p.ckClosed = true
	p.ckMu.Unlock()
	p.ck.Close()
	<-p.drained
	<-p.logged
	return errors.Join(errs...)
}
