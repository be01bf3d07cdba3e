package consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/dedup"
)

// pollMs is how long one Poll waits for an event: the longest a shutdown
// waits to be noticed.
const pollMs = 100

// storeEvery is how often finished offsets are handed to librdkafka while
// records keep arriving (one StoreOffsets call for all partitions).
const storeEvery = 10 * time.Millisecond

type tpKey struct {
	topic string
	part  int32
}

// run is the state of one Run.
type run struct {
	c         *Consumer
	cons      *ck.Consumer
	dlqMu     sync.Mutex
	dlq       *deadLetterProducer
	dlqClosed bool
	dedup     dedup.Store
	ownDedup  bool
	decoder   envelope.Decoder
	handlers  map[string]*handler

	hctx    context.Context // parent of the partitions' contexts
	hcancel context.CancelFunc

	parts    map[tpKey]*partition // assigned; touched by the poll goroutine only
	workers  []*worker
	wg       sync.WaitGroup // the workers
	inflight atomic.Int64   // dispatched, not yet ended or dropped
	paused   bool
	// progress is signalled (without blocking) when an event ends.
	progress  chan struct{}
	fullSince time.Time
	timer     *time.Timer
	closing   bool

	typeMetrics sync.Map // typeKey -> *typeMetrics

	lastStore time.Time
	// commitEvery is how often store commits when auto-commit is off (0:
	// librdkafka commits).
	commitEvery time.Duration
	lastCommit  time.Time
	storeBuf    []ck.TopicPartition
	fatal       error
}

// Run joins the group and handles events until ctx ends, then shuts down
// gracefully: it stops fetching, handles the events already read (at most
// ShutdownTimeout, then cancels the handlers' contexts), stores and commits
// the offsets of the finished events, and leaves the group. It returns nil
// after a clean shutdown, and an error when the consumer could not start,
// hit a fatal error, or handlers outlived ShutdownTimeout. Run may be
// called once.
func (c *Consumer) Run(ctx context.Context) (err error) {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("consumer: Run called twice")
	}
	c.running = true
	handlers := c.handlers
	c.mu.Unlock()

	r := &run{c: c, handlers: handlers, parts: map[tpKey]*partition{}, dedup: c.cfg.Dedup,
		progress: make(chan struct{}, 1)}
	if r.dedup == nil {
		r.dedup = dedup.NewMemory(100_000)
		r.ownDedup = true
	}
	defer func() {
		if r.ownDedup {
			_ = r.dedup.Close()
		}
	}()
	r.hctx, r.hcancel = context.WithCancel(context.WithoutCancel(ctx))
	defer r.hcancel()

	if r.dlq, err = c.newDeadLetterProducer(); err != nil {
		return err
	}
	defer func() {
		r.dlqMu.Lock()
		r.dlqClosed = true // no replacement from now on
		p := r.dlq
		r.dlqMu.Unlock()
		r.closeProducer(p)
	}()

	if c.cfg.Kafka.Properties["enable.auto.commit"] == "false" {
		r.commitEvery = 5 * time.Second
		if ms, err := strconv.Atoi(c.cfg.Kafka.Properties["auto.commit.interval.ms"]); err == nil && ms > 0 {
			r.commitEvery = time.Duration(ms) * time.Millisecond
		}
	}
	if r.cons, err = ck.NewConsumer(c.consumerConfig()); err != nil {
		return fmt.Errorf("consumer: %s", c.cfg.Kafka.Redact(err.Error()))
	}
	logsDone := kafka.ForwardLogs(r.cons.Logs(), c.log, c.cfg.Kafka, "consumer")
	defer func() { <-logsDone }()
	if err := r.cons.SubscribeTopics(c.cfg.Topics, r.rebalance); err != nil {
		_ = r.cons.Close()
		return fmt.Errorf("consumer: subscribing to %v: %s", c.cfg.Topics, c.cfg.Kafka.Redact(err.Error()))
	}

	r.workers = make([]*worker, c.cfg.Workers)
	drain, quit := make(chan struct{}), make(chan struct{})
	for i := range r.workers {
		w := &worker{wake: make(chan struct{}, 1)}
		r.workers[i] = w
		r.wg.Go(func() { w.run(r, drain, quit) })
	}

	r.loop(ctx)
	return r.shutdown(drain, quit)
}

// loop polls until ctx ends or a fatal error.
func (r *run) loop(ctx context.Context) {
	for ctx.Err() == nil && r.fatal == nil {
		if r.throttle() {
			continue
		}
		switch e := r.cons.Poll(pollMs).(type) {
		case *ck.Message:
			r.dispatch(e)
			if time.Since(r.lastStore) >= storeEvery {
				r.store()
			}
		case nil:
			r.store()
		case ck.Error:
			if e.IsFatal() {
				r.fatal = fmt.Errorf("consumer: fatal: %s", r.c.cfg.Kafka.Redact(e.Error()))
				break
			}
			r.warnKafka(e)
		case *ck.Stats:
			err := r.c.metrics.observeLag(e.String(), r.c.cfg.Group, func(topic string, part int32) bool {
				return r.parts[tpKey{topic, part}] != nil
			})
			if err != nil {
				r.c.log.Debug(err.Error())
			}
		case ck.OffsetsCommitted:
			if e.Error != nil && !isNoOffset(e.Error) {
				r.c.log.Warn("consumer: commit", "error", r.c.cfg.Kafka.Redact(e.Error.Error()))
			}
		}
	}
}

func (r *run) warnKafka(e ck.Error) {
	if n, ok := r.c.warns.allow(e.Code()); ok {
		r.c.log.Warn("consumer: kafka", "error", r.c.cfg.Kafka.Redact(e.Error()), "code", e.Code().String(), "repeats", n)
	}
}

// dispatch hands m to the worker of its key.
func (r *run) dispatch(m *ck.Message) {
	if m.TopicPartition.Error != nil {
		r.c.log.Warn("consumer: fetch", "error", r.c.cfg.Kafka.Redact(m.TopicPartition.Error.Error()))
		return
	}
	p := r.parts[tpKey{*m.TopicPartition.Topic, m.TopicPartition.Partition}]
	if p == nil {
		return // not assigned (any more): the owner reads it
	}
	e := p.add(int64(m.TopicPartition.Offset))
	r.inflight.Add(1)
	var h uint32
	if m.Key == nil {
		h = uint32(m.TopicPartition.Partition)
	} else {
		h = 2166136261 // FNV-1a
		for _, b := range m.Key {
			h ^= uint32(b)
			h *= 16777619
		}
	}
	r.workers[h%uint32(len(r.workers))].push(job{p: p, e: e, m: m})
}

// pauseAfter is how long the poll loop waits for handlers to make room
// before it pauses the partitions: a short wait costs nothing, a pause drops
// what librdkafka prefetched, but a loop that stops polling for long would
// delay rebalances and overrun max.poll.interval.ms.
const pauseAfter = time.Second

// throttle reports whether the loop should not poll now because MaxInFlight
// events are unfinished; it then has waited a little for one to finish.
// After pauseAfter it pauses the partitions instead and lets the loop poll
// (for rebalances and statistics), and resumes them when half of MaxInFlight
// is free.
func (r *run) throttle() bool {
	n, limit := r.inflight.Load(), int64(r.c.cfg.MaxInFlight)
	if n < limit {
		r.fullSince = time.Time{}
		if r.paused && n <= limit/2 {
			r.paused = false
			if err := r.cons.Resume(r.assigned()); err != nil {
				r.c.log.Warn("consumer: resume", "error", err)
			}
		}
		return false
	}
	if r.paused {
		return false
	}
	now := time.Now()
	if r.fullSince.IsZero() {
		r.fullSince = now
	}
	if now.Sub(r.fullSince) >= pauseAfter {
		r.paused = true
		if err := r.cons.Pause(r.assigned()); err != nil {
			r.c.log.Warn("consumer: pause", "error", err)
		}
		return false
	}
	if r.timer == nil {
		r.timer = time.NewTimer(10 * time.Millisecond)
	} else {
		r.timer.Reset(10 * time.Millisecond)
	}
	select {
	case <-r.progress:
	case <-r.timer.C:
	}
	r.timer.Stop()
	r.store()
	return true
}

func (r *run) assigned() []ck.TopicPartition {
	tps := make([]ck.TopicPartition, 0, len(r.parts))
	for _, p := range r.parts {
		tps = append(tps, ck.TopicPartition{Topic: &p.topic, Partition: p.id})
	}
	return tps
}

// store hands librdkafka the offsets that moved; its auto-commit commits
// them. With enable.auto.commit=false, store commits them itself every
// auto.commit.interval.ms (5 s unless set).
func (r *run) store() {
	r.lastStore = time.Now()
	if r.commitEvery > 0 && r.lastStore.Sub(r.lastCommit) >= r.commitEvery {
		defer r.commit()
	}
	offs := r.storeBuf[:0]
	for _, p := range r.parts {
		if off, ok := p.take(); ok {
			offs = append(offs, ck.TopicPartition{Topic: &p.topic, Partition: p.id, Offset: ck.Offset(off)})
		}
	}
	r.storeBuf = offs
	if len(offs) == 0 {
		return
	}
	if _, err := r.cons.StoreOffsets(offs); err != nil {
		r.c.log.Debug("consumer: storing offsets", "error", r.c.cfg.Kafka.Redact(err.Error()))
	}
}

// commit commits the stored offsets (only when auto-commit is off).
func (r *run) commit() {
	r.lastCommit = time.Now()
	if _, err := r.cons.Commit(); err != nil && !isNoOffset(err) {
		r.c.log.Warn("consumer: commit", "error", r.c.cfg.Kafka.Redact(err.Error()))
	}
}

// rebalance is the rebalance callback (cooperative: incremental).
func (r *run) rebalance(cons *ck.Consumer, ev ck.Event) error {
	switch e := ev.(type) {
	case ck.AssignedPartitions:
		for _, tp := range e.Partitions {
			k := tpKey{*tp.Topic, tp.Partition}
			r.parts[k] = newPartition(r.hctx, k.topic, k.part)
		}
		if err := cons.IncrementalAssign(e.Partitions); err != nil {
			return fmt.Errorf("consumer: assign: %s", r.c.cfg.Kafka.Redact(err.Error()))
		}
		if r.paused {
			_ = cons.Pause(e.Partitions)
		}
		r.c.log.Debug("consumer: assigned", "partitions", len(e.Partitions))
	case ck.RevokedPartitions:
		r.revoke(cons, e.Partitions, cons.AssignmentLost())
		if err := cons.IncrementalUnassign(e.Partitions); err != nil {
			return fmt.Errorf("consumer: unassign: %s", r.c.cfg.Kafka.Redact(err.Error()))
		}
		r.c.log.Debug("consumer: revoked", "partitions", len(e.Partitions))
	}
	return nil
}

// revoke stops the partitions, waits for their running handlers (at most
// ShutdownTimeout) and, unless the assignment was lost (another member may
// own them already), commits what is done.
func (r *run) revoke(cons *ck.Consumer, tps []ck.TopicPartition, lost bool) {
	var ps []*partition
	for _, tp := range tps {
		k := tpKey{*tp.Topic, tp.Partition}
		if p := r.parts[k]; p != nil {
			p.halt()
			ps = append(ps, p)
			delete(r.parts, k)
			r.c.metrics.lag.DeleteLabelValues(k.topic, strconv.Itoa(int(k.part)), r.c.cfg.Group)
		}
	}
	if lost {
		for _, p := range ps {
			p.cancel()
		}
		return
	}
	if !r.closing {
		r.await(ps)
	}
	var offs []ck.TopicPartition
	for _, p := range ps {
		if off, ok := p.committable(); ok {
			offs = append(offs, ck.TopicPartition{Topic: &p.topic, Partition: p.id, Offset: ck.Offset(off)})
		}
	}
	if len(offs) > 0 && !r.closing {
		if _, err := cons.StoreOffsets(offs); err != nil {
			r.c.log.Debug("consumer: storing offsets", "error", r.c.cfg.Kafka.Redact(err.Error()))
		}
		if _, err := cons.CommitOffsets(offs); err != nil {
			r.c.log.Warn("consumer: commit on revoke", "error", r.c.cfg.Kafka.Redact(err.Error()))
		}
	}
}

// await waits for the running handlers of ps, at most ShutdownTimeout, and
// reports whether they finished in time. If not, it cancels their contexts
// and gives them a second to return; what they were handling stays
// unfinished.
func (r *run) await(ps []*partition) bool {
	idle := func() bool {
		for _, p := range ps {
			if p.busy() > 0 {
				return false
			}
		}
		return true
	}
	if waitFor(idle, r.c.cfg.ShutdownTimeout) {
		return true
	}
	for _, p := range ps {
		p.cancel()
	}
	waitFor(idle, time.Second)
	return false
}

// waitFor polls cond until it holds or d passed.
func waitFor(cond func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// shutdown stops the workers, stores and commits what finished, and closes
// the consumer (which leaves the group).
func (r *run) shutdown(drain, quit chan struct{}) error {
	// The workers finish what was dispatched to them (fetching has
	// stopped), so the commit covers every event read, unless that takes
	// longer than ShutdownTimeout.
	close(drain)
	workersDone := make(chan struct{})
	go func() { r.wg.Wait(); close(workersDone) }()
	var err error
	select {
	case <-workersDone:
	case <-time.After(r.c.cfg.ShutdownTimeout):
		// Stop: back-offs end, queued events are dropped, running
		// handlers' contexts are cancelled; their events stay
		// unfinished.
		for _, p := range r.parts {
			p.halt()
			p.cancel()
		}
		close(quit)
		select {
		case <-workersDone:
		case <-time.After(time.Second):
		}
		err = fmt.Errorf("consumer: shutdown: handlers still running after %v were cancelled; their events stay uncommitted", r.c.cfg.ShutdownTimeout)
	}
	for _, p := range r.parts {
		p.halt()
	}
	r.store()
	if _, cerr := r.cons.Commit(); cerr != nil && !isNoOffset(cerr) {
		r.c.log.Warn("consumer: commit on shutdown", "error", r.c.cfg.Kafka.Redact(cerr.Error()))
	}
	r.closing = true
	if cerr := r.cons.Close(); cerr != nil {
		r.c.log.Warn("consumer: close", "error", r.c.cfg.Kafka.Redact(cerr.Error()))
	}
	if r.fatal != nil {
		return r.fatal
	}
	return err
}

func isNoOffset(err error) bool {
	var ke ck.Error
	return errors.As(err, &ke) && ke.Code() == ck.ErrNoOffset
}

// consumerConfig is the librdkafka configuration: the defaults under the
// user's properties, and the properties the guarantees need over them.
func (c *Consumer) consumerConfig() *ck.ConfigMap {
	defaults := map[string]any{
		"enable.auto.commit":     true,
		"auto.offset.reset":      "earliest",
		"statistics.interval.ms": 5000,
	}
	if c.cfg.Kafka.Properties["group.protocol"] != "consumer" {
		// KIP-848 groups assign on the broker and refuse this property.
		defaults["partition.assignment.strategy"] = "cooperative-sticky"
	}
	m := c.cfg.Kafka.ConfigMap(defaults)
	m["group.id"] = c.cfg.Group
	m["enable.auto.offset.store"] = false
	m["go.logs.channel.enable"] = true
	if c.cfg.ReadCommitted {
		m["isolation.level"] = "read_committed"
	}
	return &m
}

// job is one record for a worker.
type job struct {
	p *partition
	e *entry
	m *ck.Message
}

// worker handles the records of the keys that hash to it, in order.
type worker struct {
	mu    sync.Mutex
	queue []job
	spare []job
	wake  chan struct{}
}

func (w *worker) push(j job) {
	w.mu.Lock()
	w.queue = append(w.queue, j)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run handles the worker's queue until drain is closed and the queue is
// empty, or quit is closed (then what is queued is dropped).
func (w *worker) run(r *run, drain, quit chan struct{}) {
	for {
		w.mu.Lock()
		batch := w.queue
		w.queue, w.spare = w.spare[:0], nil
		w.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-w.wake:
				continue
			case <-drain:
				// Nothing is dispatched once drain is closed; a push
				// may have come just before it.
				w.mu.Lock()
				empty := len(w.queue) == 0
				w.mu.Unlock()
				if empty {
					return
				}
			case <-quit:
				return
			}
		}
		for i, j := range batch {
			select {
			case <-quit:
				r.inflight.Add(-int64(len(batch) - i))
				return
			default:
			}
			if j.p.begin() {
				j.p.end(j.e, r.process(j))
			}
			r.inflight.Add(-1)
			select {
			case r.progress <- struct{}{}:
			default:
			}
			batch[i] = job{}
		}
		w.mu.Lock()
		w.spare = batch[:0]
		w.mu.Unlock()
	}
}
