package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
)

// HeaderDeadLetterPrefix starts the name of every header a dead letter adds
// to the original record (HeaderDeadLetterCode, ...Topic, ...); ParseDeadLetter
// removes the headers with this prefix to give back the original record.
const HeaderDeadLetterPrefix = "waybill_dlq_"

// HeaderReplayedAt is the one header Replay adds to a dead letter it sends
// back: when it was replayed (RFC 3339, UTC, milliseconds). The original key,
// value and headers are sent byte for byte, in order, and this header comes
// after them. Decoders ignore it (the envelope ignores headers it does not
// know); it is there for people: a record that carries it was dead-lettered
// once, and, if it is dead-lettered again, its new dead letter says so. An
// event replayed twice carries it twice.
//
// The event keeps its ce_id, so a consumer's de-duplication still works: an
// event that was dead-lettered was never recorded as handled, so its replay is
// handled once; replaying it again after that is skipped as a duplicate for as
// long as the de-duplication store remembers the ID.
const HeaderReplayedAt = "waybill_replayed_at"

// DeadLetter is one record of a dead-letter topic, decoded: the original
// record and why, where and when it was given up on.
type DeadLetter struct {
	// Message is the original record: its key, value and headers byte for
	// byte, without the waybill_dlq_* headers.
	Message envelope.Message
	// Code is the error class (HeaderDeadLetterCode): an envelope.Kind,
	// CodeHandler or CodeRetriesExhausted.
	Code string
	// Reason is the error message (HeaderDeadLetterReason), one line.
	Reason string
	// Topic, Partition, Offset and Timestamp locate the original record;
	// Partition and Offset are -1 and Timestamp is zero when the dead
	// letter does not say.
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	// Group is the consumer group that gave up (empty if not said).
	Group string
	// Attempts is how many times the handler ran (0 for an event that did
	// not decode).
	Attempts int
	// DeadLetteredAt is when the event was dead-lettered (HeaderDeadLetterTime,
	// else the dead-letter record's timestamp); zero when unknown.
	DeadLetteredAt time.Time
	// DLQTopic, DLQPartition and DLQOffset locate the dead letter itself
	// (set by ReadDeadLetters; -1 from ParseDeadLetter).
	DLQTopic     string
	DLQPartition int32
	DLQOffset    int64
}

// AppendHeaders appends the waybill_dlq_* headers describing d to hs, in
// the order ParseDeadLetter reads them: code, reason (made one line),
// topic, partition, offset, timestamp (Unix milliseconds), group,
// attempts, and DeadLetteredAt (RFC 3339, UTC). A consumer gives up on a
// record by producing its key, value and headers followed by these.
func (d DeadLetter) AppendHeaders(hs []envelope.Header) []envelope.Header {
	reason := d.Reason
	if strings.ContainsAny(reason, "\r\n") {
		reason = strings.Join(strings.Fields(reason), " ")
	}
	return append(hs,
		envelope.Header{Key: HeaderDeadLetterCode, Value: []byte(d.Code)},
		envelope.Header{Key: HeaderDeadLetterReason, Value: []byte(reason)},
		envelope.Header{Key: HeaderDeadLetterTopic, Value: []byte(d.Topic)},
		envelope.Header{Key: HeaderDeadLetterPartition, Value: strconv.AppendInt(nil, int64(d.Partition), 10)},
		envelope.Header{Key: HeaderDeadLetterOffset, Value: strconv.AppendInt(nil, d.Offset, 10)},
		envelope.Header{Key: HeaderDeadLetterTimestamp, Value: strconv.AppendInt(nil, d.Timestamp.UnixMilli(), 10)},
		envelope.Header{Key: HeaderDeadLetterGroup, Value: []byte(d.Group)},
		envelope.Header{Key: HeaderDeadLetterAttempts, Value: strconv.AppendInt(nil, int64(d.Attempts), 10)},
		envelope.Header{Key: HeaderDeadLetterTime, Value: d.DeadLetteredAt.UTC().AppendFormat(nil, time.RFC3339Nano)},
	)
}

// ID returns the original event's ce_id, or "" when it has none.
func (d DeadLetter) ID() string {
	v, _ := d.Message.Header(envelope.HeaderID)
	return string(v)
}

// ParseDeadLetter splits a dead-letter record into the original record and
// the dead-letter headers (the last copy of each counts: a dead letter of a
// replayed dead letter has been cleaned before). The record must say at least
// its code and its original topic; the other headers are optional, but must
// be well-formed when present. On error the DeadLetter holds what parsed.
func ParseDeadLetter(m envelope.Message) (DeadLetter, error) {
	d := DeadLetter{Partition: -1, Offset: -1, DLQPartition: -1, DLQOffset: -1}
	d.Message = envelope.Message{Key: m.Key, Value: m.Value}
	dlq := map[string]string{}
	for _, h := range m.Headers {
		if strings.HasPrefix(h.Key, HeaderDeadLetterPrefix) {
			dlq[h.Key] = string(h.Value)
			continue
		}
		d.Message.Headers = append(d.Message.Headers, h)
	}
	var errs []error
	bad := func(header, value, want string) {
		errs = append(errs, fmt.Errorf("%s %q is not %s", header, value, want))
	}
	d.Code = dlq[HeaderDeadLetterCode]
	d.Reason = dlq[HeaderDeadLetterReason]
	d.Topic = dlq[HeaderDeadLetterTopic]
	d.Group = dlq[HeaderDeadLetterGroup]
	if d.Code == "" {
		errs = append(errs, fmt.Errorf("no %s header", HeaderDeadLetterCode))
	}
	if d.Topic == "" {
		errs = append(errs, fmt.Errorf("no %s header", HeaderDeadLetterTopic))
	}
	if v, ok := dlq[HeaderDeadLetterPartition]; ok {
		p, err := strconv.ParseInt(v, 10, 32)
		if err != nil || p < 0 {
			bad(HeaderDeadLetterPartition, v, "a partition")
		} else {
			d.Partition = int32(p)
		}
	}
	if v, ok := dlq[HeaderDeadLetterOffset]; ok {
		o, err := strconv.ParseInt(v, 10, 64)
		if err != nil || o < 0 {
			bad(HeaderDeadLetterOffset, v, "an offset")
		} else {
			d.Offset = o
		}
	}
	if v, ok := dlq[HeaderDeadLetterTimestamp]; ok {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad(HeaderDeadLetterTimestamp, v, "Unix milliseconds")
		} else {
			d.Timestamp = time.UnixMilli(ms).UTC()
		}
	}
	if v, ok := dlq[HeaderDeadLetterAttempts]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad(HeaderDeadLetterAttempts, v, "a count")
		} else {
			d.Attempts = n
		}
	}
	if v, ok := dlq[HeaderDeadLetterTime]; ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			bad(HeaderDeadLetterTime, v, "an RFC 3339 time")
		} else {
			d.DeadLetteredAt = t.UTC()
		}
	}
	if len(errs) > 0 {
		return d, fmt.Errorf("kafka: not a dead letter: %w", errors.Join(errs...))
	}
	return d, nil
}

// MalformedError is a record of a dead-letter topic that ParseDeadLetter
// refuses (a record written there by hand, or by something else than a
// Waybill consumer). ReadDeadLetters returns every record it could read along
// with a MalformedError listing these.
type MalformedError struct {
	// Letters are the records as far as they parsed (DLQTopic, DLQPartition
	// and DLQOffset set), each with its error in Errs.
	Letters []DeadLetter
	Errs    []error
}

func (e *MalformedError) Error() string {
	d := e.Letters[0]
	s := fmt.Sprintf("kafka: %s partition %d offset %d: %v", d.DLQTopic, d.DLQPartition, d.DLQOffset, e.Errs[0])
	if len(e.Letters) > 1 {
		s += fmt.Sprintf(" (and %d more malformed records)", len(e.Letters)-1)
	}
	return s
}

// DeadLetterTopicOf returns the dead-letter topic for topic: topic itself when
// it already ends with DeadLetterSuffix, DeadLetterTopic(topic) otherwise. The
// commands accept either name.
func DeadLetterTopicOf(topic string) string {
	if strings.HasSuffix(topic, DeadLetterSuffix) {
		return topic
	}
	return DeadLetterTopic(topic)
}

// ReadDeadLetters reads the dead-letter topic of topic (topic may be the
// original topic or its ".dlq" name) from its beginning to its end at the
// time of the call, with no consumer group (nothing is committed), and
// returns its dead letters in order of partition and offset. Only committed
// records are read (read_committed). A dead-letter topic that does not exist
// has no dead letters: the result is empty, with no error.
//
// Records that are not dead letters are not in the result; when there are
// any, the error is a *MalformedError holding them, and the result holds all
// the others.
func ReadDeadLetters(ctx context.Context, cfg Config, topic string) ([]DeadLetter, error) {
	dlqTopic := DeadLetterTopicOf(topic)
	c, err := newClients(cfg, "dlq")
	if err != nil {
		return nil, err
	}
	defer c.close()

	parts, err := c.partitions(ctx, dlqTopic)
	if err != nil {
		if errors.Is(err, errUnknownTopic) {
			return nil, nil
		}
		return nil, err
	}
	begin, err := c.listOffsets(ctx, dlqTopic, parts, ck.EarliestOffsetSpec)
	if err != nil {
		return nil, err
	}
	end, err := c.listOffsets(ctx, dlqTopic, parts, ck.LatestOffsetSpec)
	if err != nil {
		return nil, err
	}
	var assign []ck.TopicPartition
	for _, p := range parts {
		if begin[p] < end[p] {
			assign = append(assign, ck.TopicPartition{Topic: &dlqTopic, Partition: p, Offset: ck.Offset(begin[p])})
		}
	}
	if len(assign) == 0 {
		return nil, nil
	}
	recs, err := c.read(ctx, assign, end)
	if err != nil {
		return nil, err
	}
	letters := make([]DeadLetter, 0, len(recs))
	var malformed MalformedError
	for _, r := range recs {
		m := envelope.Message{Key: r.Key, Value: r.Value, Headers: make([]envelope.Header, len(r.Headers))}
		for i, h := range r.Headers {
			m.Headers[i] = envelope.Header{Key: h.Key, Value: h.Value}
		}
		d, err := ParseDeadLetter(m)
		d.DLQTopic, d.DLQPartition, d.DLQOffset = dlqTopic, r.TopicPartition.Partition, int64(r.TopicPartition.Offset)
		if d.DeadLetteredAt.IsZero() && !r.Timestamp.IsZero() {
			d.DeadLetteredAt = r.Timestamp.UTC()
		}
		if err != nil {
			malformed.Letters = append(malformed.Letters, d)
			malformed.Errs = append(malformed.Errs, errors.Unwrap(err))
			continue
		}
		letters = append(letters, d)
	}
	if len(malformed.Letters) > 0 {
		return letters, &malformed
	}
	return letters, nil
}

// Replay reads the dead letters of topic (the original topic or its ".dlq"
// name) and sends those filter selects (every one when filter is nil) back to
// their original topics: see ReplayLetters. It returns how many it sent.
func Replay(ctx context.Context, cfg Config, topic string, filter func(DeadLetter) bool) (int, error) {
	letters, err := ReadDeadLetters(ctx, cfg, topic)
	if err != nil {
		return 0, err
	}
	if filter != nil {
		letters = slices.DeleteFunc(letters, func(d DeadLetter) bool { return !filter(d) })
	}
	return ReplayLetters(ctx, cfg, letters)
}

// ReplayLetters sends each dead letter back to its original topic (Topic)
// with the original key, value and headers byte for byte, then a
// HeaderReplayedAt header, through an idempotent producer (acks=all), and
// waits until the broker acknowledged every one. It returns how many were
// acknowledged; on error, those that were are on their topics.
//
// Each record goes to its key's partition as the Waybill producer places it
// (murmur2_random, as Java's clients): the original partition, unless the
// topic's partition count changed since. Letters are sent in the order given
// (ReadDeadLetters': partition and offset of the dead-letter topic, so one
// key's events keep their order).
//
// Letters with the same ce_id (an event dead-lettered again after a replay)
// are sent once, the last of them; a consumer would skip the others as
// duplicates anyway.
func ReplayLetters(ctx context.Context, cfg Config, letters []DeadLetter) (int, error) {
	if len(letters) == 0 {
		return 0, nil
	}
	for _, d := range letters {
		if d.Topic == "" {
			return 0, fmt.Errorf("kafka: replay: the dead letter at %s partition %d offset %d names no original topic", d.DLQTopic, d.DLQPartition, d.DLQOffset)
		}
	}
	last := map[string]int{}
	for i, d := range letters {
		if id := d.ID(); id != "" {
			last[id] = i
		}
	}
	send := make([]DeadLetter, 0, len(letters))
	for i, d := range letters {
		if id := d.ID(); id == "" || last[id] == i {
			send = append(send, d)
		}
	}

	// A topic that is gone would hold the records until the context ends:
	// say so at once.
	c, err := newClients(cfg, "dlq-replay")
	if err != nil {
		return 0, err
	}
	checked := map[string]bool{}
	for _, d := range send {
		if checked[d.Topic] {
			continue
		}
		checked[d.Topic] = true
		if _, err := c.partitions(ctx, d.Topic); err != nil {
			c.close()
			if errors.Is(err, errUnknownTopic) {
				return 0, fmt.Errorf("kafka: replay: the original topic %s does not exist", d.Topic)
			}
			return 0, err
		}
	}
	c.close()

	logs := newLogTail()
	defer logs.stop()
	m := cfg.ConfigMap(map[string]any{
		"client.id":                "waybill-dlq-replay",
		"enable.metrics.push":      false,
		"partitioner":              "murmur2_random",
		"reconnect.backoff.max.ms": 1000,
	})
	// The guarantees replay relies on are not the user's to turn off; a
	// transactional.id would make every send wait for a transaction.
	delete(m, "transactional.id")
	m["enable.idempotence"] = true
	m["acks"] = "all"
	m["go.logs.channel.enable"] = true
	m["go.logs.channel"] = logs.ch
	p, err := ck.NewProducer(&m)
	if err != nil {
		return 0, fmt.Errorf("kafka: replay: producer: %s", cfg.Redact(err.Error()))
	}
	defer func() {
		_ = p.Purge(ck.PurgeQueue | ck.PurgeInFlight)
		p.Close()
	}()

	now := []byte(time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	reports := make(chan ck.Event, len(send))
	for _, d := range send {
		topic := d.Topic
		hs := make([]ck.Header, 0, len(d.Message.Headers)+1)
		for _, h := range d.Message.Headers {
			hs = append(hs, ck.Header{Key: h.Key, Value: h.Value})
		}
		hs = append(hs, ck.Header{Key: HeaderReplayedAt, Value: now})
		msg := &ck.Message{
			TopicPartition: ck.TopicPartition{Topic: &topic, Partition: ck.PartitionAny},
			Key:            d.Message.Key,
			Value:          d.Message.Value,
			Headers:        hs,
		}
		for {
			err := p.Produce(msg, reports)
			if err == nil {
				break
			}
			var kerr ck.Error
			if !errors.As(err, &kerr) || kerr.Code() != ck.ErrQueueFull {
				return 0, fmt.Errorf("kafka: replay to %s: %s", topic, cfg.Redact(err.Error()))
			}
			// The local queue is full: let deliveries drain it.
			p.Flush(100)
		}
	}
	n := 0
	for n < len(send) {
		select {
		case e := <-reports:
			msg, ok := e.(*ck.Message)
			if !ok {
				continue
			}
			if err := msg.TopicPartition.Error; err != nil {
				return n, fmt.Errorf("kafka: replay to %s: %s", *msg.TopicPartition.Topic, cfg.Redact(err.Error()))
			}
			n++
		case <-ctx.Done():
			return n, fmt.Errorf("kafka: replay: %d of %d acknowledged: %w%s", n, len(send), context.Cause(ctx), logs.why(cfg))
		}
	}
	if err := p.GetFatalError(); err != nil {
		return n, fmt.Errorf("kafka: replay: %s", cfg.Redact(err.Error()))
	}
	return n, nil
}

// clients are the admin client and, when needed, the consumer that
// ReadDeadLetters and Rewind use, with librdkafka's log lines kept to explain
// a timeout rather than written to standard error.
type clients struct {
	cfg   Config
	role  string
	admin *ck.AdminClient
	cons  *ck.Consumer
	logs  *logTail
}

func newClients(cfg Config, role string) (*clients, error) {
	c := &clients{cfg: cfg, role: role, logs: newLogTail()}
	a, err := ck.NewAdminClient(c.configMap(nil))
	if err != nil {
		c.logs.stop()
		return nil, fmt.Errorf("kafka: admin client: %s", cfg.Redact(err.Error()))
	}
	c.admin = a
	return c, nil
}

func (c *clients) configMap(extra map[string]any) *ck.ConfigMap {
	defaults := map[string]any{
		"client.id":                "waybill-" + c.role,
		"enable.metrics.push":      false,
		"reconnect.backoff.max.ms": 1000,
	}
	m := c.cfg.ConfigMap(defaults)
	for k, v := range extra {
		m[k] = v
	}
	// Looking a topic up must never create it.
	m["allow.auto.create.topics"] = false
	m["go.logs.channel.enable"] = true
	m["go.logs.channel"] = c.logs.ch
	return &m
}

func (c *clients) close() {
	if c.cons != nil {
		_ = c.cons.Close()
	}
	if c.admin != nil {
		c.admin.Close()
	}
	c.logs.stop()
}

// errUnknownTopic: the topic does not exist.
var errUnknownTopic = errors.New("unknown topic")

// wrap explains err, the error of a call to the brokers: a context that ended
// says the last thing librdkafka logged (why it could not connect).
func (c *clients) wrap(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("kafka: %s: no answer from %s: %w%s", what, c.cfg.Brokers(), err, c.logs.why(c.cfg))
	}
	var kerr ck.Error
	if errors.As(err, &kerr) {
		switch kerr.Code() {
		case ck.ErrTransport, ck.ErrAllBrokersDown, ck.ErrTimedOut, ck.ErrTimedOutQueue:
			return fmt.Errorf("kafka: %s: cannot reach %s: %s%s", what, c.cfg.Brokers(), c.cfg.Redact(err.Error()), c.logs.why(c.cfg))
		}
	}
	return fmt.Errorf("kafka: %s: %s", what, c.cfg.Redact(err.Error()))
}

// partitions returns the partitions of topic, or errUnknownTopic.
func (c *clients) partitions(ctx context.Context, topic string) ([]int32, error) {
	ms := 10_000
	if dl, ok := ctx.Deadline(); ok {
		ms = max(int(time.Until(dl).Milliseconds()), 1)
	}
	// GetMetadata takes no context: give it the context's deadline, and
	// stop waiting for it (it then ends on its own) when the context ends.
	type result struct {
		md  *ck.Metadata
		err error
	}
	ch := make(chan result, 1)
	go func() {
		md, err := c.admin.GetMetadata(&topic, false, ms)
		ch <- result{md, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return nil, c.wrap("metadata of "+topic, context.Cause(ctx))
	}
	if r.err != nil {
		var kerr ck.Error
		if errors.As(r.err, &kerr) && kerr.Code() == ck.ErrTimedOut {
			return nil, c.wrap("metadata of "+topic, context.DeadlineExceeded)
		}
		return nil, c.wrap("metadata of "+topic, r.err)
	}
	tm, ok := r.md.Topics[topic]
	if !ok {
		return nil, fmt.Errorf("kafka: metadata of %s: %w", topic, errUnknownTopic)
	}
	switch tm.Error.Code() {
	case ck.ErrNoError:
	case ck.ErrUnknownTopicOrPart, ck.ErrUnknownTopic:
		return nil, fmt.Errorf("kafka: %s: %w", topic, errUnknownTopic)
	default:
		return nil, c.wrap("metadata of "+topic, tm.Error)
	}
	if len(tm.Partitions) == 0 {
		return nil, fmt.Errorf("kafka: %s: %w", topic, errUnknownTopic)
	}
	parts := make([]int32, 0, len(tm.Partitions))
	for _, p := range tm.Partitions {
		parts = append(parts, p.ID)
	}
	slices.Sort(parts)
	return parts, nil
}

// listOffsets returns an offset of each partition of topic (read_committed:
// the end is the last stable offset).
func (c *clients) listOffsets(ctx context.Context, topic string, parts []int32, spec ck.OffsetSpec) (map[int32]int64, error) {
	req := make(map[ck.TopicPartition]ck.OffsetSpec, len(parts))
	for _, p := range parts {
		req[ck.TopicPartition{Topic: &topic, Partition: p}] = spec
	}
	res, err := c.admin.ListOffsets(ctx, req, ck.SetAdminIsolationLevel(ck.IsolationLevelReadCommitted))
	if err != nil {
		return nil, c.wrap("offsets of "+topic, err)
	}
	out := make(map[int32]int64, len(parts))
	for tp, info := range res.ResultInfos {
		if info.Error.Code() != ck.ErrNoError {
			return nil, c.wrap(fmt.Sprintf("offsets of %s partition %d", topic, tp.Partition), info.Error)
		}
		out[tp.Partition] = int64(info.Offset)
	}
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("kafka: offsets of %s: no answer for partition %d", topic, p)
		}
	}
	return out, nil
}

// read consumes the assigned partitions up to end (exclusive) and returns
// the records in order of partition and offset.
func (c *clients) read(ctx context.Context, assign []ck.TopicPartition, end map[int32]int64) ([]*ck.Message, error) {
	cons, err := ck.NewConsumer(c.configMap(map[string]any{
		// The Go client requires a group; it is never joined (the
		// partitions are assigned) and nothing is committed.
		"group.id":                 "waybill-" + c.role + "-reader",
		"enable.auto.commit":       false,
		"enable.auto.offset.store": false,
		"isolation.level":          "read_committed",
		"auto.offset.reset":        "earliest",
	}))
	if err != nil {
		return nil, fmt.Errorf("kafka: consumer: %s", c.cfg.Redact(err.Error()))
	}
	c.cons = cons
	if err := cons.Assign(assign); err != nil {
		return nil, c.wrap("assign", err)
	}
	pending := map[int32]bool{}
	for _, tp := range assign {
		pending[tp.Partition] = true
	}
	var out []*ck.Message
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, c.wrap(fmt.Sprintf("reading %s (%d records so far)", *assign[0].Topic, len(out)), context.Cause(ctx))
		}
		switch e := cons.Poll(100).(type) {
		case *ck.Message:
			if e.TopicPartition.Error != nil {
				return nil, c.wrap("reading "+*assign[0].Topic, e.TopicPartition.Error)
			}
			p, off := e.TopicPartition.Partition, int64(e.TopicPartition.Offset)
			if off < end[p] {
				out = append(out, e)
			}
			if off+1 >= end[p] {
				delete(pending, p)
			}
			continue
		case ck.Error:
			if e.IsFatal() {
				return nil, c.wrap("reading "+*assign[0].Topic, e)
			}
		}
		// Transaction markers and aborted records are never delivered:
		// the position says when the consumer moved past them.
		pos, err := cons.Position(assign)
		if err == nil {
			for _, tp := range pos {
				if tp.Offset >= 0 && int64(tp.Offset) >= end[tp.Partition] {
					delete(pending, tp.Partition)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b *ck.Message) int {
		return cmp.Or(cmp.Compare(a.TopicPartition.Partition, b.TopicPartition.Partition),
			cmp.Compare(a.TopicPartition.Offset, b.TopicPartition.Offset))
	})
	return out, nil
}

// logTail drains librdkafka's log lines and keeps the last warning or error,
// which says why a broker cannot be reached.
type logTail struct {
	ch   chan ck.LogEvent
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	last string
}

func newLogTail() *logTail {
	l := &logTail{ch: make(chan ck.LogEvent, 64), done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			select {
			case e := <-l.ch:
				if e.Level <= 4 {
					l.mu.Lock()
					l.last = e.Message
					l.mu.Unlock()
				}
			case <-l.done:
				return
			}
		}
	}()
	return l
}

// stop ends the draining; call it after the clients are closed.
func (l *logTail) stop() {
	close(l.done)
	l.wg.Wait()
}

// why returns ": " and the last warning librdkafka logged, redacted, or "".
func (l *logTail) why(cfg Config) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == "" {
		return ""
	}
	return " (" + cfg.Redact(strings.Join(strings.Fields(l.last), " ")) + ")"
}
