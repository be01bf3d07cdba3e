package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// Update implements schemalog.Log; see the package documentation for how
// it keeps a single writer. A write that loses the lease to another
// instance is retried, with back-off, until ctx (or Config.Timeout) ends;
// then, or when Kafka refuses for good, the error wraps
// schemalog.ErrUnavailable (and context.DeadlineExceeded on a deadline),
// and none of the records is visible, with two exceptions the error names:
// a deadline during the commit ("outcome unknown": the records appear if
// Kafka committed them), and a deadline after the commit, before this
// instance read the records back ("not read back").
//
// Updates of one Log run one at a time. compute must not call Update, and
// the caller must not hold across Update a lock that apply takes: Update
// waits for apply.
func (l *Log) Update(ctx context.Context, compute func() ([]schemalog.Record, error)) error {
	l.mu.Lock()
	r, closed := l.reader, l.closed
	l.mu.Unlock()
	switch {
	case closed:
		return schemalog.ErrClosed
	case r == nil:
		return errors.New("kafkalog: Update before Start")
	}
	ctx, cancel := l.bound(ctx)
	defer cancel()

	l.wmu.Lock()
	defer l.wmu.Unlock()
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			l.logger.Debug("kafkalog: write retried", "attempt", attempt, "error", last)
			select {
			case <-time.After(backoff(attempt)):
			case <-ctx.Done():
				return l.unavailable(ctx, "update", last)
			}
		}
		if err := ctx.Err(); err != nil {
			if last == nil {
				last = err
			}
			return l.unavailable(ctx, "update", last)
		}
		retry, err := l.attempt(ctx, r, compute)
		if !retry {
			return err
		}
		last = err
	}
}

// attempt is one round of Update: own the lease, catch up, compute, commit,
// read back. It reports whether a failure is worth another round.
func (l *Log) attempt(ctx context.Context, r *reader, compute func() ([]schemalog.Record, error)) (retry bool, err error) {
	start := time.Now()
	var initDone, caughtUp, committed time.Duration
	if l.p != nil && l.p.p.GetFatalError() != nil {
		l.dropProducer() // fenced while idle
	}
	var end int64
	if l.p != nil {
		if end, err = r.end(ctx); err != nil {
			return l.failure(ctx, "find the end", err)
		}
		if end > l.leaseEnd {
			// Someone wrote since this instance's last commit: another
			// instance took the lease. Take it back now rather than
			// learn it from a failed commit.
			l.dropProducer()
		}
	}
	if l.p == nil {
		p, err := l.newProducer()
		if err != nil {
			return false, l.unavailable(ctx, "update", err)
		}
		// Fences every other instance: from here on, a commit of theirs
		// fails, and a transaction they had open is aborted.
		if err := resumable(ctx, p.p.InitTransactions); err != nil {
			l.closing.Go(p.close)
			return l.failure(ctx, "init transactions", err)
		}
		l.p = p
		if end, err = r.end(ctx); err != nil {
			return l.failure(ctx, "find the end", err)
		}
		l.leaseEnd, l.ownMarker = end, -1
		initDone = time.Since(start)
	}
	target := end
	if end == l.leaseEnd && l.ownMarker == end-1 {
		// All that follows this instance's last write is its commit
		// marker, which the consumer does not deliver: no need to wait
		// until it notices it moved past it.
		target = l.ownMarker
	}
	if err := r.wait(ctx, target); err != nil {
		return l.failure(ctx, "catch up", err)
	}
	caughtUp = time.Since(start)

	recs, err := compute()
	if err != nil {
		return false, err
	}
	if len(recs) == 0 {
		return false, nil
	}
	for _, rec := range recs {
		if len(rec.Key) == 0 {
			return false, errors.New("kafkalog: a record without key")
		}
	}

	if err := l.p.p.BeginTransaction(); err != nil {
		l.dropProducer()
		return l.failure(ctx, "begin transaction", err)
	}
	last, err := l.p.produce(ctx, l.cfg.Topic, recs)
	if err != nil {
		l.abort(ctx, err)
		return l.failure(ctx, "write", err)
	}
	if err := resumable(ctx, l.p.p.CommitTransaction); err != nil {
		l.abort(ctx, err)
		if ctx.Err() != nil && isTimeout(err) {
			// The commit may have reached the coordinator: if it did,
			// the records appear (an Update that is run again computes
			// on them and finds nothing left to do).
			return l.failure(ctx, "commit (outcome unknown)", err)
		}
		return l.failure(ctx, "commit", err)
	}
	// Committed: never compute again from here on. The commit marker
	// follows the last record, so the end is now last+2 unless someone
	// else wrote.
	l.leaseEnd, l.ownMarker = last+2, last+1
	committed = time.Since(start)
	if err := r.wait(ctx, last+1); err != nil {
		return false, l.unavailable(ctx, "update", fmt.Errorf("written up to offset %d, not read back: %w", last, err))
	}
	l.logger.Debug("kafkalog: written", "records", len(recs), "last_offset", last,
		"init", initDone, "caught_up", caughtUp, "committed", committed, "read_back", time.Since(start))
	return false, nil
}

// failure classifies a failed step: retried while ctx lasts, unless Kafka
// refused for good (authorization, size, configuration).
func (l *Log) failure(ctx context.Context, step string, err error) (retry bool, _ error) {
	err = fmt.Errorf("%s: %w", step, err)
	if ctx.Err() != nil || permanent(err) {
		return false, l.unavailable(ctx, "update", err)
	}
	return true, err
}

func permanent(err error) bool {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return false
	}
	switch ke.Code() {
	case kafka.ErrTopicAuthorizationFailed,
		kafka.ErrClusterAuthorizationFailed,
		kafka.ErrTransactionalIDAuthorizationFailed,
		kafka.ErrMsgSizeTooLarge,
		kafka.ErrInvalidTransactionTimeout,
		kafka.ErrUnsupportedVersion,
		kafka.ErrInvalidArg:
		return true
	}
	return false
}

func isTimeout(err error) bool {
	var ke kafka.Error
	return errors.As(err, &ke) && ke.IsTimeout()
}

// fenced reports whether err says another producer with the transactional
// ID took over: the normal way the write lease moves between instances.
func fenced(err error) bool {
	var ke kafka.Error
	return errors.As(err, &ke) && (ke.Code() == kafka.ErrFenced || ke.Code() == kafka.ErrProducerFenced)
}

// abort ends the open transaction after err, or drops the producer when it
// cannot: a fenced producer is unusable, and the next InitTransactions
// (this instance's or another's) aborts what is left open.
func (l *Log) abort(ctx context.Context, err error) {
	var ke kafka.Error
	if errors.As(err, &ke) && ke.IsFatal() {
		l.dropProducer()
		return
	}
	if err := resumable(ctx, l.p.p.AbortTransaction); err != nil {
		l.dropProducer()
	}
}

// callSlice bounds one blocking call into librdkafka: such a call takes a
// timeout but does not notice a canceled context.
const callSlice = 250 * time.Millisecond

// resumable runs one of the transactional calls, which librdkafka lets one
// resume after a timeout, in slices of callSlice, so that it notices ctx
// canceled by Close.
func resumable(ctx context.Context, call func(context.Context) error) error {
	for {
		sctx, cancel := context.WithTimeout(ctx, callSlice)
		err := call(sctx)
		cancel()
		var ke kafka.Error
		if err == nil || ctx.Err() != nil || !errors.As(err, &ke) || ke.Code() != kafka.ErrTimedOut || !ke.IsRetriable() {
			return err
		}
	}
}

// dropProducer closes the producer in the background: closing takes a
// while, and a new producer's InitTransactions fences this one anyway.
func (l *Log) dropProducer() {
	l.closing.Go(l.p.close)
	l.p = nil
}

// backoff is the pause before attempt n (n >= 1) of a write: doubling from
// 20ms up to 1s, jittered so that two instances taking the lease from each
// other fall out of step.
func backoff(n int) time.Duration {
	d := 20 * time.Millisecond << min(n-1, 6)
	d = min(d, time.Second)
	return d/2 + rand.N(d/2+1)
}

// producer is a transactional producer and the goroutine draining its
// events.
type producer struct {
	p    *kafka.Producer
	done chan struct{}
}

func (l *Log) newProducer() (*producer, error) {
	cfg := l.clientConfig("writer")
	for k, v := range map[string]any{
		"transactional.id":       l.cfg.TransactionalID,
		"transaction.timeout.ms": int(l.cfg.TransactionTimeout / time.Millisecond),
		"enable.idempotence":     true,
		"acks":                   "all",
		"linger.ms":              0, // one write is a handful of records: send now
	} {
		(*cfg)[k] = v
	}
	p, err := kafka.NewProducer(cfg)
	if err != nil {
		return nil, fmt.Errorf("kafkalog: producer: %w", err)
	}
	pr := &producer{p: p, done: make(chan struct{})}
	go func() {
		defer close(pr.done)
		for e := range p.Events() {
			if err, ok := e.(kafka.Error); ok {
				if fenced(err) {
					l.logger.Info("kafkalog: another instance took the write lease", "error", err)
					continue
				}
				l.logger.Warn("kafkalog: producer", "error", err)
			}
		}
	}()
	return pr, nil
}

// produce sends recs in the open transaction and returns the offset of the
// last one once all are acknowledged.
func (p *producer) produce(ctx context.Context, topic string, recs []schemalog.Record) (int64, error) {
	dr := make(chan kafka.Event, len(recs))
	for _, rec := range recs {
		err := p.p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0},
			Key:            rec.Key,
			Value:          rec.Value, // nil: a tombstone
		}, dr)
		if err != nil {
			return 0, err
		}
	}
	last := int64(-1)
	for range recs {
		select {
		case e := <-dr:
			m, ok := e.(*kafka.Message)
			if !ok {
				return 0, fmt.Errorf("kafkalog: unexpected delivery event %v", e)
			}
			if m.TopicPartition.Error != nil {
				return 0, m.TopicPartition.Error
			}
			last = max(last, int64(m.TopicPartition.Offset))
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
	}
	return last, nil
}

// close drops what is queued and closes the producer. A transaction left
// open is aborted by the next InitTransactions or by the broker's timeout.
func (p *producer) close() {
	_ = p.p.Purge(kafka.PurgeQueue | kafka.PurgeInFlight | kafka.PurgeNonBlocking)
	p.p.Close()
	<-p.done
}
