package txn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/serde"
)

// pollMs is how long one Poll waits while no batch is open: the longest a
// shutdown waits to be noticed.
const pollMs = 100

// maxOpTries bounds the retries of one call of the transaction API after
// retriable errors; then Run gives up with an error.
const maxOpTries = 20

type tpKey struct {
	topic string
	part  int32
}

// run is the state of one Run. Everything but the producer's event
// goroutine runs on Run's goroutine: the rebalance callback is called from
// Poll, and Poll is never called while a transaction is open.
type run struct {
	p        *Processor
	cons     *ck.Consumer
	prod     *ck.Producer
	handlers map[string]*handler
	decoder  envelope.Decoder
	hctx     context.Context // handlers' parent: not cancelled by shutdown

	assigned map[tpKey]bool
	batch    []*ck.Message
	tallyMu  sync.Mutex // workers count into tally
	tally    *tally

	deliveryErrors atomic.Int64
	// unproducible holds the records whose output librdkafka refused to
	// queue (too large, ...): the transaction was aborted, and when the
	// record comes again it is dead-lettered instead of handled.
	unproducible map[recKey]string
	// committed is the offset each partition's last transaction committed.
	committed map[tpKey]int64
	batchEnd  map[tpKey]int64 // the offsets the batch's transaction commits
	aborts    int             // transactions aborted since the last commit
	// recreated counts the producers replaced since the last commit.
	recreated  int
	prodEvents chan struct{} // closed when the producer's events are drained
	prodLogs   <-chan struct{}
}

type recKey struct {
	tpKey
	offset int64
}

// Run joins the group and processes batches of events in transactions until
// ctx ends; then it finishes the batch it holds (its transaction commits),
// leaves the group and closes the clients. It returns nil after a clean
// shutdown and an error when the clients could not start, a call of the
// transaction API kept failing, or the producer met a fatal error it could
// not recover from (wrapping ErrFatal; ErrFenced too when a newer instance
// with the same TransactionalID fenced it). Run may be called once.
func (p *Processor) Run(ctx context.Context) (err error) {
	p.mu.Lock()
	if p.running {
		p.mu.Unlock()
		return errors.New("txn: Run called twice")
	}
	p.running = true
	handlers := p.handlers
	p.mu.Unlock()

	r := &run{p: p, handlers: handlers, assigned: map[tpKey]bool{}, tally: newTally(), unproducible: map[recKey]string{},
		committed: map[tpKey]int64{}, batchEnd: map[tpKey]int64{},
		hctx: context.WithoutCancel(ctx)}

	err = r.newProducer(ctx)
	defer r.closeProducer()
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		return err
	}

	if r.cons, err = ck.NewConsumer(p.consumerConfig()); err != nil {
		return fmt.Errorf("txn: consumer: %s", p.cfg.Kafka.Redact(err.Error()))
	}
	consLogs := kafka.ForwardLogs(r.cons.Logs(), p.log, p.cfg.Kafka, "txn: consumer")
	defer func() {
		if cerr := r.cons.Close(); cerr != nil {
			p.log.Warn("txn: consumer close", "error", p.cfg.Kafka.Redact(cerr.Error()))
		}
		<-consLogs
	}()
	if err := r.cons.SubscribeTopics(p.cfg.Topics, r.rebalance); err != nil {
		return fmt.Errorf("txn: subscribing to %v: %s", p.cfg.Topics, p.cfg.Kafka.Redact(err.Error()))
	}

	for ctx.Err() == nil {
		if err := r.collect(ctx); err != nil {
			return err
		}
		if len(r.batch) == 0 {
			continue
		}
		if err := r.transact(); err != nil {
			return err
		}
	}
	return nil
}

// newProducer makes the transactional producer, serves its events and logs,
// and calls InitTransactions (which aborts what a previous producer with the
// same transactional.id left open, and fences it). It gives up when ctx
// ends.
func (r *run) newProducer(ctx context.Context) error {
	prod, err := ck.NewProducer(r.p.producerConfig())
	if err != nil {
		return fmt.Errorf("txn: producer: %s", r.p.cfg.Kafka.Redact(err.Error()))
	}
	r.prod = prod
	r.prodLogs = kafka.ForwardLogs(prod.Logs(), r.p.log, r.p.cfg.Kafka, "txn: producer")
	r.prodEvents = make(chan struct{})
	go r.serveEvents(prod, r.prodEvents)
	// Tries of a second each, so that a Run stopped while the cluster
	// cannot be reached returns soon; retried until ctx ends, as a
	// consumer waits for its cluster.
	wait := 50 * time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(context.Background(), min(time.Second, r.p.cfg.OpTimeout))
		err := prod.InitTransactions(tctx)
		cancel()
		var ke ck.Error
		if err == nil || !errors.As(err, &ke) || !ke.IsRetriable() || ke.IsFatal() || ctx.Err() != nil {
			if err != nil {
				return r.failed("init transactions", err)
			}
			return nil
		}
		r.p.metrics.retries.WithLabelValues(r.p.cfg.Group, "init").Inc()
		r.p.log.Info("txn: retrying", "op", "init", "error", r.p.cfg.Kafka.Redact(err.Error()))
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

// closeProducer closes the producer and waits for its goroutines.
func (r *run) closeProducer() {
	if r.prod == nil {
		return
	}
	r.prod.Close()
	<-r.prodEvents
	<-r.prodLogs
	r.prod = nil
}

// serveEvents drains the producer's events: delivery reports (a failed
// delivery makes the transaction abortable, which CommitTransaction
// reports) and client errors.
func (r *run) serveEvents(prod *ck.Producer, done chan struct{}) {
	defer close(done)
	for ev := range prod.Events() {
		switch e := ev.(type) {
		case *ck.Message:
			if e.TopicPartition.Error != nil {
				r.deliveryErrors.Add(1)
				r.p.log.Debug("txn: delivery failed", "error", r.p.cfg.Kafka.Redact(e.TopicPartition.Error.Error()))
			}
		case ck.Error:
			if e.IsFatal() {
				r.p.log.Error("txn: producer: fatal", "error", r.p.cfg.Kafka.Redact(e.Error()))
			} else {
				r.p.log.Warn("txn: producer", "error", r.p.cfg.Kafka.Redact(e.Error()), "code", e.Code().String())
			}
		}
	}
}

// collect polls a batch: up to MaxBatch records, for at most BatchWait after
// the first. It returns with what it has when ctx ends.
func (r *run) collect(ctx context.Context) error {
	clear(r.batch)
	r.batch = r.batch[:0]
	var deadline time.Time
	for len(r.batch) < r.p.cfg.MaxBatch && ctx.Err() == nil {
		ms := pollMs
		if len(r.batch) > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		switch e := r.cons.Poll(ms).(type) {
		case *ck.Message:
			if e.TopicPartition.Error != nil {
				r.p.log.Warn("txn: fetch", "error", r.p.cfg.Kafka.Redact(e.TopicPartition.Error.Error()))
				continue
			}
			if !r.assigned[tpKey{*e.TopicPartition.Topic, e.TopicPartition.Partition}] {
				continue
			}
			if len(r.batch) == 0 {
				deadline = time.Now().Add(r.p.cfg.BatchWait)
			}
			r.batch = append(r.batch, e)
		case *ck.Stats:
			r.observeLag(e.String())
		case ck.Error:
			if e.IsFatal() {
				return fmt.Errorf("txn: consumer: %w: %s", ErrFatal, r.p.cfg.Kafka.Redact(e.Error()))
			}
			r.p.log.Warn("txn: consumer", "error", r.p.cfg.Kafka.Redact(e.Error()), "code", e.Code().String())
		}
	}
	return nil
}

// rebalance is the rebalance callback (cooperative: incremental). It runs
// inside Poll, so no transaction is open: a revoked partition's records
// still in the batch being collected are dropped (they are not processed,
// their offsets not committed; the new owner reads them).
func (r *run) rebalance(cons *ck.Consumer, ev ck.Event) error {
	switch e := ev.(type) {
	case ck.AssignedPartitions:
		for _, tp := range e.Partitions {
			r.assigned[tpKey{*tp.Topic, tp.Partition}] = true
		}
		if err := cons.IncrementalAssign(e.Partitions); err != nil {
			return fmt.Errorf("txn: assign: %s", r.p.cfg.Kafka.Redact(err.Error()))
		}
		r.p.log.Debug("txn: assigned", "partitions", len(e.Partitions))
	case ck.RevokedPartitions:
		for _, tp := range e.Partitions {
			k := tpKey{*tp.Topic, tp.Partition}
			delete(r.assigned, k)
			delete(r.committed, k)
			r.p.metrics.lag.DeleteLabelValues(k.topic, strconv.Itoa(int(k.part)), r.p.cfg.Group)
		}
		for k := range r.unproducible {
			if !r.assigned[k.tpKey] {
				delete(r.unproducible, k)
			}
		}
		kept := r.batch[:0]
		for _, m := range r.batch {
			if r.assigned[tpKey{*m.TopicPartition.Topic, m.TopicPartition.Partition}] {
				kept = append(kept, m)
			}
		}
		clear(r.batch[len(kept):])
		r.batch = kept
		if err := cons.IncrementalUnassign(e.Partitions); err != nil {
			return fmt.Errorf("txn: unassign: %s", r.p.cfg.Kafka.Redact(err.Error()))
		}
		r.p.log.Debug("txn: revoked", "partitions", len(e.Partitions), "lost", cons.AssignmentLost())
	}
	return nil
}

// transact processes the batch in one transaction: begin, handle every
// record (its output events and dead letters produced in the transaction),
// send the offsets after the batch to the transaction, commit. When the
// transaction must be aborted it aborts it and rewinds the consumer to the
// batch's first offsets (those committed before), so the batch is read and
// handled again. It returns an error only when Run must stop.
func (r *run) transact() error {
	start := time.Now()
	r.tally.reset()
	if err := r.prod.BeginTransaction(); err != nil {
		return r.recoverFatal(r.failed("begin transaction", err))
	}
	reason, err := r.processBatch()
	if err == nil {
		reason = "send_offsets"
		err = r.sendOffsets()
	}
	if err == nil {
		reason = "commit"
		err = r.retry("commit", r.prod.CommitTransaction)
	}
	if err == nil {
		r.aborts, r.recreated = 0, 0
		r.p.metrics.commits.WithLabelValues(r.p.cfg.Group).Inc()
		r.p.metrics.txnDuration.WithLabelValues(r.p.cfg.Group).Observe(time.Since(start).Seconds())
		r.p.metrics.add(r.tally)
		clear(r.batchEnd)
		for _, m := range r.batch {
			r.batchEnd[tpKey{*m.TopicPartition.Topic, m.TopicPartition.Partition}] = int64(m.TopicPartition.Offset) + 1
		}
		maps.Copy(r.committed, r.batchEnd)
		r.lagAfterCommit()
		if len(r.unproducible) > 0 {
			// Dead-lettered for good (kept until now: an abort
			// brings them back).
			for _, m := range r.batch {
				delete(r.unproducible, recKey{tpKey{*m.TopicPartition.Topic, m.TopicPartition.Partition}, int64(m.TopicPartition.Offset)})
			}
		}
		return nil
	}
	if fatal(err) || r.prod.GetFatalError() != nil {
		return r.recoverFatal(r.failed(reason, err))
	}
	var ke ck.Error
	abortable := reason == "produce" || reason == "registry" || errors.As(err, &ke) && ke.TxnRequiresAbort()
	if !abortable {
		// Neither abortable nor fatal (retries ran out): stop.
		r.abortQuietly()
		return fmt.Errorf("txn: %s: %s", reason, r.p.cfg.Kafka.Redact(err.Error()))
	}
	r.p.log.Warn("txn: aborting the transaction; its records are processed again", "reason", reason,
		"error", r.p.cfg.Kafka.Redact(err.Error()), "records", len(r.batch))
	if aerr := r.retry("abort", r.prod.AbortTransaction); aerr != nil {
		return r.recoverFatal(r.failed("abort transaction", aerr))
	}
	r.p.metrics.aborts.WithLabelValues(r.p.cfg.Group, reason).Inc()
	r.rewind()
	r.aborts++
	switch {
	case reason == "registry":
		time.Sleep(r.p.cfg.Retry.Max)
	case r.aborts > 1:
		// Aborts in a row (a broker refusing the group's offsets, ...):
		// back off as for a handler's retries, so the loop does not
		// spin.
		r.backoff(r.aborts - 2)
	}
	return nil
}

// count updates the batch's tally from a worker.
func (r *run) count(f func(*tally)) {
	r.tallyMu.Lock()
	f(r.tally)
	r.tallyMu.Unlock()
}

// abortQuietly aborts the open transaction before Run gives up, if it can.
func (r *run) abortQuietly() {
	ctx, cancel := context.WithTimeout(context.Background(), r.p.cfg.OpTimeout)
	defer cancel()
	if err := r.prod.AbortTransaction(ctx); err != nil {
		r.p.log.Warn("txn: abort", "error", r.p.cfg.Kafka.Redact(err.Error()))
	}
}

// rewind seeks every partition of the batch still assigned back to its
// first record in the batch: the offset committed by the last transaction.
// Records librdkafka fetched past it are discarded by the seek.
func (r *run) rewind() {
	first := map[tpKey]int64{}
	var tps []ck.TopicPartition
	for _, m := range r.batch {
		k := tpKey{*m.TopicPartition.Topic, m.TopicPartition.Partition}
		if _, ok := first[k]; ok || !r.assigned[k] {
			continue
		}
		first[k] = int64(m.TopicPartition.Offset)
		tps = append(tps, ck.TopicPartition{Topic: m.TopicPartition.Topic, Partition: k.part, Offset: m.TopicPartition.Offset})
	}
	for _, tp := range tps {
		if err := r.cons.Seek(tp, 0); err != nil {
			r.p.log.Warn("txn: rewinding", "topic", *tp.Topic, "partition", tp.Partition,
				"error", r.p.cfg.Kafka.Redact(err.Error()))
		}
	}
}

// processBatch handles the batch's records in order and produces what they
// yield. It returns the abort reason and the error when the transaction
// cannot commit.
func (r *run) processBatch() (string, error) {
	results := r.handleBatch()
	for _, res := range results {
		if res.err != nil {
			// Records after it may not have been handled: the
			// transaction is aborted.
			return "registry", res.err
		}
	}
	for j, m := range r.batch {
		msgs := results[j].msgs
		for i := range msgs {
			if err := r.produce(&msgs[i]); err != nil {
				var ke ck.Error
				if errors.As(err, &ke) && !ke.IsFatal() && !ke.TxnRequiresAbort() &&
					ke.Code() != ck.ErrState && ke.Code() != ck.ErrFatal && ke.Code() != ck.ErrQueueFull {
					// The record's output, not the transaction, is
					// at fault: dead-letter the record next time.
					k := recKey{tpKey{*m.TopicPartition.Topic, m.TopicPartition.Partition}, int64(m.TopicPartition.Offset)}
					r.unproducible[k] = fmt.Sprintf("txn: producing the handler's %s event to %s: %s",
						msgs[i].typ, msgs[i].topic, r.p.cfg.Kafka.Redact(err.Error()))
				}
				return "produce", err
			}
			r.tally.produced[[2]string{msgs[i].topic, msgs[i].typ}]++
		}
	}
	return "", nil
}

// result is what process made of one record.
type result struct {
	msgs []outMsg
	err  error
}

// handleBatch runs process on every record of the batch, on up to Workers
// goroutines: the records of one key (hashed) on one goroutine, in offset
// order; different keys in parallel. It stops early after a registry
// failure (the transaction is aborted anyway). The records' output is
// produced afterwards, in the batch's order, by processBatch.
func (r *run) handleBatch() []result {
	results := make([]result, len(r.batch))
	workers := min(r.p.cfg.Workers, len(r.batch))
	if workers <= 1 {
		for i, m := range r.batch {
			if results[i].msgs, results[i].err = r.process(m); results[i].err != nil {
				break
			}
		}
		return results
	}
	queues := make([][]int, workers)
	for i, m := range r.batch {
		h := uint32(2166136261) // FNV-1a of the key (the partition's number when there is none)
		if m.Key == nil {
			h = uint32(m.TopicPartition.Partition)
		}
		for _, b := range m.Key {
			h ^= uint32(b)
			h *= 16777619
		}
		w := h % uint32(workers)
		queues[w] = append(queues[w], i)
	}
	var failed atomic.Bool
	var wg sync.WaitGroup
	for _, q := range queues {
		if len(q) == 0 {
			continue
		}
		wg.Go(func() {
			for _, i := range q {
				if failed.Load() {
					return
				}
				if results[i].msgs, results[i].err = r.process(r.batch[i]); results[i].err != nil {
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return results
}

// produce queues one record in the transaction, waiting for room in
// librdkafka's queue (at most OpTimeout).
func (r *run) produce(o *outMsg) error {
	m := &ck.Message{
		TopicPartition: ck.TopicPartition{Topic: &o.topic, Partition: ck.PartitionAny},
		Key:            o.msg.Key, Value: o.msg.Value, Headers: ckHeaders(o.msg.Headers),
	}
	deadline := time.Now().Add(r.p.cfg.OpTimeout)
	for {
		err := r.prod.Produce(m, nil)
		var ke ck.Error
		if err == nil || !errors.As(err, &ke) || ke.Code() != ck.ErrQueueFull || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// sendOffsets sends the offsets after each partition's last record of the
// batch to the transaction.
func (r *run) sendOffsets() error {
	next := map[tpKey]int{}
	var offs []ck.TopicPartition
	for _, m := range r.batch {
		k := tpKey{*m.TopicPartition.Topic, m.TopicPartition.Partition}
		tp := ck.TopicPartition{Topic: m.TopicPartition.Topic, Partition: k.part, Offset: m.TopicPartition.Offset + 1}
		if i, ok := next[k]; ok {
			offs[i] = tp
			continue
		}
		next[k] = len(offs)
		offs = append(offs, tp)
	}
	md, err := r.cons.GetConsumerGroupMetadata()
	if err != nil {
		return err
	}
	return r.retry("send_offsets", func(ctx context.Context) error {
		return r.prod.SendOffsetsToTransaction(ctx, offs, md)
	})
}

// retry calls op (with OpTimeout) until it succeeds or fails with an error
// that is not retriable, at most maxOpTries times, backing off between
// tries, as librdkafka documents for the transaction API.
func (r *run) retry(op string, call func(context.Context) error) error {
	return r.retryUntil(context.Background(), op, call)
}

// retryUntil is retry that gives up when stop ends.
func (r *run) retryUntil(stop context.Context, op string, call func(context.Context) error) error {
	wait := 50 * time.Millisecond
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), r.p.cfg.OpTimeout)
		err := call(ctx)
		cancel()
		var ke ck.Error
		if err == nil || !errors.As(err, &ke) || !ke.IsRetriable() || ke.IsFatal() || ke.TxnRequiresAbort() ||
			try >= maxOpTries || stop.Err() != nil {
			return err
		}
		r.p.metrics.retries.WithLabelValues(r.p.cfg.Group, op).Inc()
		r.p.log.Info("txn: retrying", "op", op, "try", try, "error", r.p.cfg.Kafka.Redact(err.Error()))
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

// maxRecreate bounds the producers Run makes after fatal errors without a
// commit in between.
const maxRecreate = 3

// recoverFatal handles the error failed made of a failure: an error that is not
// fatal, a fencing, or a fatal error that came back after maxRecreate new
// producers is returned (Run stops). Another fatal error (librdkafka asks for
// a new producer: a producer ID or epoch the coordinator no longer accepts,
// a transaction state it refuses...) is recovered from: the producer is
// replaced by a new one with the same transactional.id, whose
// InitTransactions aborts the open transaction, and the consumer is
// rewound to the batch's first offsets, as after an abort.
func (r *run) recoverFatal(err error) error {
	if !errors.Is(err, ErrFatal) || errors.Is(err, ErrFenced) || r.recreated >= maxRecreate {
		return err
	}
	r.recreated++
	r.p.log.Error("txn: fatal producer error; replacing the producer", "error", err, "time", r.recreated)
	r.p.metrics.recreated.WithLabelValues(r.p.cfg.Group).Inc()
	r.closeProducer()
	if nerr := r.newProducer(context.Background()); nerr != nil {
		return nerr
	}
	r.rewind()
	return nil
}

// fatal reports whether err is librdkafka's fatal error.
func fatal(err error) bool {
	var ke ck.Error
	return errors.As(err, &ke) && (ke.IsFatal() || ke.Code() == ck.ErrFatal)
}

// failed is the error Run returns after op failed with err: wrapping
// ErrFatal (and ErrFenced) when the producer met a fatal error.
func (r *run) failed(op string, err error) error {
	fe := r.prod.GetFatalError()
	if fe == nil && fatal(err) {
		fe = err
	}
	if fe == nil {
		return fmt.Errorf("txn: %s: %s", op, r.p.cfg.Kafka.Redact(err.Error()))
	}
	var ke ck.Error
	if errors.As(fe, &ke) {
		switch ke.Code() {
		case ck.ErrProducerFenced, ck.ErrInvalidProducerEpoch, ck.ErrFenced:
			return fmt.Errorf("txn: %s: %w (%w): %s", op, ErrFenced, ErrFatal, r.p.cfg.Kafka.Redact(fe.Error()))
		}
	}
	return fmt.Errorf("txn: %s: %w: %s", op, ErrFatal, r.p.cfg.Kafka.Redact(fe.Error()))
}

// process decodes and handles one record. It returns the records to
// produce in the transaction: the handler's events, or the dead letter. An
// error means the registry could not be reached: the transaction is
// aborted and the batch read again.
func (r *run) process(m *ck.Message) ([]outMsg, error) {
	topic := *m.TopicPartition.Topic
	group := r.p.cfg.Group
	em := envelope.Message{Key: m.Key, Value: m.Value, Headers: envelopeHeaders(m.Headers)}
	env, err := r.decoder.Decode(em)
	if err != nil {
		r.count(func(t *tally) { t.consumed[[3]string{topic, unknownType, group}]++ })
		return r.deadLetter(m, unknownType, err, 0), nil
	}
	r.count(func(t *tally) { t.consumed[[3]string{topic, env.Type, group}]++ })
	h := r.handlers[env.Type]
	if h == nil {
		r.count(func(t *tally) { t.skipped[[3]string{topic, env.Type, group}]++ })
		return nil, nil
	}
	k := recKey{tpKey{topic, m.TopicPartition.Partition}, int64(m.TopicPartition.Offset)}
	if reason, ok := r.unproducible[k]; ok {
		return r.deadLetter(m, env.Type, &handlerError{code: kafka.CodeHandler, err: errors.New(reason)}, 1), nil
	}
	ev, err := r.decode(h, env, m.Value)
	if err != nil {
		var ee *envelope.Error
		if !errors.As(err, &ee) {
			return nil, err
		}
		return r.deadLetter(m, env.Type, err, 0), nil
	}
	meta := consumer.Meta{
		ID: env.ID, Source: env.Source, Type: env.Type, Time: env.Time, Subject: env.Subject,
		EventVersion: env.EventVersion, TraceParent: env.TraceParent, SchemaID: env.SchemaID,
		Topic: topic, Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset),
		Timestamp: m.Timestamp, Group: group,
	}
	ctx := kafka.ContextWithTrace(r.hctx, env.TraceParent)
	pol := r.p.cfg.Retry
	for attempt := 1; ; attempt++ {
		meta.Attempt = attempt
		out := &Out{p: r.p, trace: env.TraceParent}
		start := time.Now()
		herr := call(ctx, h, meta, ev, out)
		r.p.metrics.duration.WithLabelValues(topic, env.Type, group).Observe(time.Since(start).Seconds())
		if herr == nil {
			return out.msgs, nil
		}
		if out.registryErr != nil {
			if attempt < pol.Attempts {
				r.backoff(attempt - 1)
				continue
			}
			return nil, fmt.Errorf("txn: serializing an output waits for the registry: %w", out.registryErr)
		}
		if consumer.IsRetryable(herr) && attempt < pol.Attempts {
			r.p.log.Debug("txn: retrying", "topic", topic, "partition", meta.Partition, "offset", meta.Offset,
				"attempt", attempt+1, "error", herr)
			r.backoff(attempt - 1)
			r.p.metrics.retried.WithLabelValues(topic, env.Type, group).Inc()
			continue
		}
		code := kafka.CodeHandler
		if consumer.IsRetryable(herr) {
			code = kafka.CodeRetriesExhausted
		}
		return r.deadLetter(m, env.Type, &handlerError{code: code, err: herr}, attempt), nil
	}
}

// decode decodes the value into the handler's type. A failure of the
// event's own is an *envelope.Error (dead-lettered); the registry's
// trouble is retried with back-off and then returned as it is.
func (r *run) decode(h *handler, env envelope.Envelope, value []byte) (events.Event, error) {
	for try := 0; ; try++ {
		ev, err := h.decode(r.hctx, r.p.serde, value)
		if err == nil {
			return ev, nil
		}
		if !serde.Transient(err) {
			var ee *envelope.Error
			if !errors.As(err, &ee) {
				err = envelope.UndecodableBody(env.Type, env.SchemaID, err)
			}
			return nil, err
		}
		if try+1 >= r.p.cfg.Retry.Attempts {
			return nil, fmt.Errorf("txn: decoding waits for the registry: %w", err)
		}
		r.p.log.Warn("txn: decoding waits for the registry", "error", err, "schema_id", env.SchemaID)
		r.backoff(try)
	}
}

// backoff sleeps before retry number try+1 (from 0).
func (r *run) backoff(try int) {
	time.Sleep(r.p.cfg.Retry.Delay(try))
}

// call runs the handler, turning a panic into a (permanent) error.
func call(ctx context.Context, h *handler, m consumer.Meta, ev events.Event, out *Out) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("txn: handler panicked: %v", p)
		}
	}()
	return h.handle(ctx, m, ev, out)
}

// handlerError is a handler's error on the dead-letter topic.
type handlerError struct {
	code string
	err  error
}

func (e *handlerError) Error() string { return e.err.Error() }
func (e *handlerError) Unwrap() error { return e.err }

// deadLetter returns the dead letter of m, failed with cause after
// attempts handler runs: to kafka.DeadLetterTopic(topic), with m's key, value
// and headers byte for byte and the kafka.HeaderDeadLetter* headers. It is
// produced in the transaction, so it is written exactly when the offset
// moves past m.
func (r *run) deadLetter(m *ck.Message, eventType string, cause error, attempts int) []outMsg {
	topic := *m.TopicPartition.Topic
	code, reason := envelope.Reason(cause)
	var he *handlerError
	if errors.As(cause, &he) {
		code, reason = he.code, he.err.Error()
	}
	hs := make([]envelope.Header, 0, len(m.Headers)+9)
	for _, h := range m.Headers {
		hs = append(hs, envelope.Header{Key: h.Key, Value: h.Value})
	}
	hs = kafka.DeadLetter{Code: code, Reason: reason, Topic: topic, Partition: m.TopicPartition.Partition,
		Offset: int64(m.TopicPartition.Offset), Timestamp: m.Timestamp, Group: r.p.cfg.Group, Attempts: attempts,
		DeadLetteredAt: time.Now()}.AppendHeaders(hs)
	r.count(func(t *tally) { t.deadLettered[[4]string{topic, eventType, r.p.cfg.Group, code}]++ })
	r.p.log.Info("txn: dead letter", "topic", topic, "partition", m.TopicPartition.Partition,
		"offset", int64(m.TopicPartition.Offset), "code", code, "reason", reason)
	return []outMsg{{topic: kafka.DeadLetterTopic(topic), typ: eventType,
		msg: envelope.Message{Key: m.Key, Value: m.Value, Headers: hs}}}
}

func envelopeHeaders(hs []ck.Header) []envelope.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]envelope.Header, len(hs))
	for i, h := range hs {
		out[i] = envelope.Header{Key: h.Key, Value: h.Value}
	}
	return out
}
