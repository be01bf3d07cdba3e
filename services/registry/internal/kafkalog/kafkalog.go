// Package kafkalog is the Schema Registry's storage on Kafka: a
// schemalog.Log over a one-partition compacted topic (`_schemas`) holding
// records in the formats Confluent's registry writes (see
// ../shared/reference/schema-registry-api.md, "Storage"). Keys and values
// pass through byte for byte.
//
// Every instance replays the topic from the beginning into memory with a
// read_committed consumer and then tails it. Writes go through Kafka
// transactions, used as a fencing lease: all instances share one
// transactional.id, so an instance that starts writing (InitTransactions)
// fences every other one and aborts whatever transaction it had open. An
// Update therefore runs as
//
//  1. own the lease: InitTransactions, unless this instance's producer
//     already holds it from an earlier Update;
//  2. catch up: read the topic's last stable offset and wait until the
//     local consumer has applied every record below it;
//  3. compute the records, produce them in one transaction and commit;
//  4. wait until the local consumer has applied them (read your writes).
//
// A commit succeeds only if no other instance called InitTransactions
// since this one did. Any other instance's commit needed such a call, so
// it either came before this instance's InitTransactions (and its records
// are below the offset caught up to in step 2) or it fenced this instance,
// and this commit fails: then nothing of it is visible to read_committed
// consumers, and Update starts over from step 1 and calls compute again on
// the newer state. Committed records are never produced twice: step 4
// follows a successful commit only, never a new compute.
//
// An instance keeps its producer, and so the lease, between Updates: one
// busy instance writes without InitTransactions. When the end of the log
// moved past its own last commit, another instance has taken the lease,
// and it takes it back at once rather than learn it from a failed commit.
//
// Aborted records (a write that lost the lease) stay in the topic, hidden
// from read_committed consumers only: a reader of the topic that reads
// uncommitted records, as Confluent's registry does by default, would see
// them.
package kafkalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// Config configures a Log. Only Brokers is required.
type Config struct {
	// Brokers are the Kafka bootstrap servers, "host:port".
	Brokers []string

	// Topic is the log's topic; "" means "_schemas". It is created with one
	// partition and cleanup.policy=compact when it does not exist; an
	// existing topic must have exactly that shape.
	Topic string

	// ReplicationFactor is used when the topic is created; 0 means the
	// broker's default.
	ReplicationFactor int

	// InstanceID names this instance in client IDs (broker logs, quotas);
	// "" means the host name and a random suffix.
	InstanceID string

	// TransactionalID is the transactional.id every instance writing the
	// topic shares: it is what makes one writer fence the others, so all
	// instances must agree on it. "" means "waybill-registry-" + Topic.
	TransactionalID string

	// Timeout bounds a Start or Update whose context has no deadline;
	// 0 means 30 seconds.
	Timeout time.Duration

	// TransactionTimeout is the producer's transaction.timeout.ms: how long
	// the broker keeps the transaction of an instance that died while
	// writing before aborting it (a new writer aborts it at once). 0 means
	// 60 seconds.
	TransactionTimeout time.Duration

	// ClientConfig holds extra librdkafka settings (security.protocol,
	// sasl.*, ssl.*) applied to every client.
	ClientConfig map[string]string

	// Logger receives librdkafka's logs and client errors; nil discards
	// them.
	Logger *slog.Logger
}

// Log is a schemalog.Log on a Kafka topic. Use New, then Start, then
// Update from any number of goroutines, then Close.
type Log struct {
	cfg    Config
	logger *slog.Logger
	logs   chan kafka.LogEvent // librdkafka's logs, of every client of the Log

	ctx    context.Context // canceled by Close
	cancel context.CancelCauseFunc

	smu     sync.Mutex // held by Start, so Close waits for it
	mu      sync.Mutex // guards what follows
	reader  *reader    // nil until Start succeeded
	closed  bool
	started bool

	wmu       sync.Mutex // serializes Update; guards p and leaseEnd
	p         *producer  // the transactional producer, nil until needed
	leaseEnd  int64      // the end of the log after p's last commit or init
	ownMarker int64      // the offset of p's last commit marker, or -1

	closing sync.WaitGroup // producers being closed
	bg      sync.WaitGroup // forwardLogs
}

var _ schemalog.Log = (*Log)(nil)

// Defaults of Config.
const (
	DefaultTopic              = "_schemas"
	DefaultTimeout            = 30 * time.Second
	DefaultTransactionTimeout = 60 * time.Second
)

// New returns a Log for cfg. It does not contact Kafka: Start does.
func New(cfg Config) (*Log, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafkalog: no brokers")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.TransactionalID == "" {
		cfg.TransactionalID = "waybill-registry-" + cfg.Topic
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = defaultInstanceID()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = DefaultTransactionTimeout
	}
	if cfg.ReplicationFactor < 0 {
		return nil, fmt.Errorf("kafkalog: replication factor %d", cfg.ReplicationFactor)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Log{
		cfg:    cfg,
		logger: logger.With("topic", cfg.Topic),
		logs:   make(chan kafka.LogEvent, 1024),
	}
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
	l.bg.Go(l.forwardLogs)
	return l, nil
}

// Start implements schemalog.Log: it creates the topic if it does not exist,
// then replays it from the beginning. apply sees committed records only.
// Kafka unreachable, or the replay not done within ctx (or Config.Timeout),
// is an error wrapping schemalog.ErrUnavailable; a topic with more than one
// partition or a cleanup.policy other than compact is another error.
func (l *Log) Start(ctx context.Context, apply func(schemalog.Record)) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	ctx, cancel := l.bound(ctx)
	defer cancel()

	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return schemalog.ErrClosed
	case l.started:
		l.mu.Unlock()
		return errors.New("kafkalog: Start called twice")
	}
	l.started = true
	l.mu.Unlock()

	r, err := l.startReader(ctx, apply)
	if err == nil {
		var end int64
		if end, err = r.end(ctx); err == nil {
			err = r.wait(ctx, end)
		}
		if err != nil {
			r.close()
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.started = false // Start may be called again
		if te := (*topicError)(nil); errors.As(err, &te) {
			return err
		}
		return l.unavailable(ctx, "start", err)
	}
	l.reader = r
	return nil
}

// Close implements schemalog.Log. An Update in progress returns
// schemalog.ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()

	l.cancel(schemalog.ErrClosed)
	l.smu.Lock() // a Start in progress returns, canceled
	l.mu.Lock()
	r := l.reader
	l.mu.Unlock()
	l.smu.Unlock()
	l.wmu.Lock()
	if l.p != nil {
		l.dropProducer()
	}
	l.wmu.Unlock()
	if r != nil {
		r.close()
	}
	l.closing.Wait()
	close(l.logs) // every client is closed: nothing sends anymore
	l.bg.Wait()
	return nil
}

// bound derives the context of one Start or Update: ctx, with
// Config.Timeout when ctx has no deadline, canceled by Close.
func (l *Log) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	cancelTimeout := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancelTimeout = context.WithTimeout(ctx, l.cfg.Timeout)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(l.ctx, func() { cancel(schemalog.ErrClosed) })
	return ctx, func() {
		stop()
		cancel(nil)
		cancelTimeout()
	}
}

// unavailable wraps a failure of op: schemalog.ErrClosed if the Log was
// closed meanwhile, else schemalog.ErrUnavailable with the context's error
// (context.DeadlineExceeded) when ctx is done.
func (l *Log) unavailable(ctx context.Context, op string, err error) error {
	if errors.Is(context.Cause(ctx), schemalog.ErrClosed) {
		return schemalog.ErrClosed
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("kafkalog: %s %s: %w: %w (last error: %w)", op, l.cfg.Topic, schemalog.ErrUnavailable, ctx.Err(), err)
	}
	return fmt.Errorf("kafkalog: %s %s: %w: %w", op, l.cfg.Topic, schemalog.ErrUnavailable, err)
}

// clientConfig returns the settings every client shares.
func (l *Log) clientConfig(role string) *kafka.ConfigMap {
	m := kafka.ConfigMap{}
	for k, v := range l.cfg.ClientConfig {
		m[k] = v
	}
	m["bootstrap.servers"] = strings.Join(l.cfg.Brokers, ",")
	m["client.id"] = "waybill-registry-" + role + "-" + l.cfg.InstanceID
	m["go.logs.channel.enable"] = true
	m["go.logs.channel"] = l.logs
	m["enable.metrics.push"] = false
	// Come back quickly after a broker outage: the default backs off to
	// ten seconds, longer than a registry request waits.
	m["reconnect.backoff.max.ms"] = 1000
	return &m
}

// forwardLogs turns librdkafka's log lines into slog records.
func (l *Log) forwardLogs() {
	for e := range l.logs {
		level := slog.LevelDebug
		switch {
		case e.Level <= 3:
			level = slog.LevelError
		case e.Level == 4:
			level = slog.LevelWarn
		case e.Level <= 6:
			level = slog.LevelInfo
		}
		if strings.Contains(e.Message, "fence") {
			// Fencing is how the write lease moves: not an error.
			level = min(level, slog.LevelInfo)
		}
		l.logger.Log(context.Background(), level, e.Message, "client", e.Name, "tag", e.Tag)
	}
}

func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "registry"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}
