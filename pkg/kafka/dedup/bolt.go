package dedup

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DefaultRetention is how long a Bolt store keeps an ID unless WithRetention
// says otherwise: a week, longer than a redelivery is expected to come (a
// consumer restarted after a long outage, a group rewound to replay a few
// days). The file needs about 330 bytes an ID (measured with 100,000
// UUIDs, both indexes and free pages included), so a week at 100 events a
// second is about 20 GB: at higher rates, choose a shorter retention. bbolt
// files do not shrink; pruned space is reused.
const DefaultRetention = 7 * 24 * time.Hour

// Buckets of the IDs a Bolt store records (names documented on Bolt.DB).
var (
	idsBucket  = []byte("waybill.dedup.ids")  // id -> time recorded (unix ns, big endian)
	timeBucket = []byte("waybill.dedup.time") // time recorded (unix ns, big endian) + id -> empty: the index Prune walks
)

// now is time.Now; tests move it.
var now = time.Now

// pruneChunk is how many IDs Prune removes in one write transaction, so that
// pruning a large backlog holds the writer lock (and stalls Do) only briefly
// at a time. Tests lower it.
var pruneChunk = 10_000

// Bolt is a Store that records IDs in a bbolt file, so that they survive a
// restart. Do runs fn inside the bbolt write transaction that records the
// ID; fn gets the transaction from Tx(ctx) and keeps its own state in its own
// buckets of the same file (DB), so that the state change and the record
// commit together or not at all: after a crash, an event either had its
// effect and is a duplicate, or had no effect and runs again.
//
// bbolt allows one write transaction at a time, so Do calls (and their fn)
// run one after another, each followed by an fsync: keep fn short, and do
// not wait inside fn for anything slow. WithBatch shares transactions and
// fsyncs between concurrent calls.
//
// IDs are kept for the retention (DefaultRetention, or WithRetention),
// measured from when they were recorded by the wall clock.
type Bolt struct {
	db        *bbolt.DB
	cfg       boltConfig
	stop      chan struct{} // closed by Close to stop the pruning goroutine
	pruned    chan struct{} // closed when the pruning goroutine has ended
	group     group         // shares transactions between Do calls (WithBatch)
	closeOnce sync.Once
	closeErr  error
}

// BoltOpt configures OpenBolt.
type BoltOpt interface{ apply(*boltConfig) }

type boltOpt func(*boltConfig)

func (o boltOpt) apply(c *boltConfig) { o(c) }

type boltConfig struct {
	retention     time.Duration
	pruneInterval time.Duration
	batch         bool
	options       *bbolt.Options
	logger        *slog.Logger
}

// WithRetention sets how long IDs are kept after they are recorded
// (default DefaultRetention). An event redelivered after its ID was pruned
// runs again. OpenBolt prunes older IDs before it returns, and a goroutine
// (stopped by Close) prunes again every retention/4, at most every hour. A
// retention <= 0 keeps IDs forever and prunes nothing: call Prune yourself.
func WithRetention(d time.Duration) BoltOpt {
	return boltOpt(func(c *boltConfig) { c.retention = d })
}

// WithBatch makes concurrent Do calls share write transactions, and so
// fsyncs (group commit): while one transaction commits, the calls that
// arrive queue up, and the next transaction runs all their fns, one after
// another, and records all their IDs. A call that finds no commit in
// progress commits at once, so a single caller waits no longer than without
// WithBatch; with a consumer's 8 workers, throughput is several times higher
// (see the package benchmarks).
//
// The price: when one fn in a shared transaction fails (returns an error or
// panics), the transaction rolls back, the failed call returns its error (or
// panics again, in its own goroutine), and the fns of the other calls run
// again in a new transaction. A fn may therefore run more than once for one
// recorded ID. That is harmless when fn's effects are all written through
// Tx(ctx), since a rolled-back run left nothing behind, and wrong when fn does
// anything outside the transaction (sends a message, calls a service). Use
// WithBatch only for handlers of the first kind.
//
// bbolt's own DB.Batch is not used: it waits up to DB.MaxBatchDelay (10 ms)
// for a batch to fill, which costs a single caller 10 ms a call and 8
// concurrent callers more than it saves.
func WithBatch() BoltOpt {
	return boltOpt(func(c *boltConfig) { c.batch = true })
}

// WithBoltOptions passes options to bbolt.Open, replacing the default
// &bbolt.Options{Timeout: 5 * time.Second}: a file locked by another process
// makes OpenBolt fail after Timeout rather than wait forever (nil means
// bbolt's defaults, which wait forever). Setting NoSync gives up the
// durability Bolt exists for.
func WithBoltOptions(o *bbolt.Options) BoltOpt {
	return boltOpt(func(c *boltConfig) { c.options = o })
}

// WithLogger sets where the pruning goroutine reports failures (nil or
// unset: slog.Default()).
func WithLogger(l *slog.Logger) BoltOpt {
	return boltOpt(func(c *boltConfig) { c.logger = l })
}

// OpenBolt opens or creates the bbolt file at path (mode 0600) as a Store,
// and removes IDs older than the retention before it returns.
func OpenBolt(path string, opts ...BoltOpt) (*Bolt, error) {
	cfg := boltConfig{
		retention: DefaultRetention,
		options:   &bbolt.Options{Timeout: 5 * time.Second},
		logger:    slog.Default(),
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.retention > 0 {
		cfg.pruneInterval = min(cfg.retention/4, time.Hour)
	}
	db, err := bbolt.Open(path, 0o600, cfg.options)
	if err != nil {
		return nil, fmt.Errorf("dedup: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{idsBucket, timeBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("dedup: open %s: %w", path, err)
	}
	b := &Bolt{db: db, cfg: cfg}
	if cfg.retention > 0 {
		if _, err := b.Prune(cfg.retention); err != nil {
			db.Close()
			return nil, err
		}
		b.stop, b.pruned = make(chan struct{}), make(chan struct{})
		go b.pruneLoop()
	}
	return b, nil
}

// pruneLoop prunes every cfg.pruneInterval until Close.
func (b *Bolt) pruneLoop() {
	defer close(b.pruned)
	t := time.NewTicker(b.cfg.pruneInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			if _, err := b.Prune(b.cfg.retention); err != nil && !errors.Is(err, ErrClosed) {
				b.cfg.logger.Warn("dedup: prune failed", "path", b.db.Path(), "err", err)
			}
		}
	}
}

// errDuplicate rolls back the transaction of a duplicate: it changed nothing,
// and a rollback costs no fsync.
var errDuplicate = errors.New("dedup: duplicate")

// Do implements Store. fn runs inside the bbolt write transaction that
// records id; Tx(ctx) returns it. Inside fn, read and write through that
// transaction only, and do not keep it after fn returns. fn must not start
// another write transaction on DB (DB().Update, DB().Batch, DB().Begin(true))
// nor call Do on the same Bolt: bbolt allows one writer at a time, so either
// waits forever for the transaction fn runs in.
//
// If fn returns an error or panics, the transaction rolls back: neither fn's
// writes nor the ID are kept. An error committing the transaction (a failed
// fsync, a full disk) is returned too: then fn ran, but neither its writes nor
// the ID were kept, and a retry runs fn again.
//
// Waiting for the writer lock does not end when ctx does.
func (b *Bolt) Do(ctx context.Context, id string, fn func(ctx context.Context) error) (bool, error) {
	if id == "" {
		return false, errEmptyID
	}
	key := []byte(id)
	if len(key)+8 > bbolt.MaxKeySize {
		return false, fmt.Errorf("dedup: event ID of %d bytes is too long (bbolt keys are at most %d)", len(key), bbolt.MaxKeySize-8)
	}
	var (
		began, dup bool
		fnErr      error
	)
	run := func(tx *bbolt.Tx) error {
		// With WithBatch, run may run again after another call's
		// failure rolled the transaction back: every outcome is set
		// afresh.
		began, dup, fnErr = true, false, nil
		ids := tx.Bucket(idsBucket)
		if ids.Get(key) != nil {
			dup = true
			if b.cfg.batch {
				return nil // other calls share the transaction
			}
			return errDuplicate
		}
		h := &txHolder{}
		h.tx.Store(tx)
		defer h.tx.Store(nil)
		if fnErr = fn(context.WithValue(ctx, txKey{}, h)); fnErr != nil {
			return fnErr
		}
		var tk [8]byte
		binary.BigEndian.PutUint64(tk[:], uint64(now().UnixNano()))
		if err := ids.Put(key, tk[:]); err != nil {
			return fmt.Errorf("dedup: record %q: %w", id, err)
		}
		if err := tx.Bucket(timeBucket).Put(append(tk[:], key...), []byte{}); err != nil {
			return fmt.Errorf("dedup: record %q: %w", id, err)
		}
		return nil
	}
	var err error
	if b.cfg.batch {
		err = b.group.do(b.db, run)
	} else {
		err = b.db.Update(run)
	}
	switch {
	case err == nil:
		return dup, nil
	case errors.Is(err, errDuplicate):
		return true, nil
	case fnErr != nil && errors.Is(err, fnErr): // as is
		return false, err
	case !began && errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		return false, ErrClosed
	default:
		return false, fmt.Errorf("dedup: record %q: %w", id, err)
	}
}

// txKey is the context key of a Do transaction.
type txKey struct{}

// txHolder holds the transaction of one run of fn; it is cleared when fn
// returns, so that Tx on a context kept past fn returns nil rather than a
// finished transaction.
type txHolder struct{ tx atomic.Pointer[bbolt.Tx] }

// Tx returns the bbolt write transaction of the Bolt.Do call that is running
// fn with ctx (or a context derived from it), and nil anywhere else: outside
// Do, after fn returned, in Memory's fn. Writes through it commit together
// with the record of the event's ID. Do not commit or roll it back, do not
// use it after fn returns, and do not start another write transaction on the
// same DB inside fn: it would wait forever for this one.
func Tx(ctx context.Context) *bbolt.Tx {
	h, _ := ctx.Value(txKey{}).(*txHolder)
	if h == nil {
		return nil
	}
	return h.tx.Load()
}

// DB returns the bbolt database, for a handler's reads (DB().View) and to
// create its buckets before consuming. Write a handler's state inside Do,
// through Tx, so that it commits with the record of the event. Bolt's own
// buckets are named "waybill.dedup.ids" and "waybill.dedup.time"; names
// starting with "waybill.dedup." are reserved. The database
// is closed by Close.
func (b *Bolt) DB() *bbolt.DB { return b.db }

// Prune removes the IDs recorded more than olderThan ago and reports how
// many it removed. It deletes in transactions of at most 10,000 IDs, so Do
// calls proceed between them. An event whose ID was removed runs again if it
// is delivered again.
func (b *Bolt) Prune(olderThan time.Duration) (removed int, err error) {
	if olderThan < 0 {
		return 0, fmt.Errorf("dedup: prune: negative age %v", olderThan)
	}
	var cutoff [8]byte
	binary.BigEndian.PutUint64(cutoff[:], uint64(now().Add(-olderThan).UnixNano()))
	for {
		n := 0
		err := b.db.Update(func(tx *bbolt.Tx) error {
			n = 0
			ids, byTime := tx.Bucket(idsBucket), tx.Bucket(timeBucket)
			var old [][]byte
			c := byTime.Cursor()
			for k, _ := c.First(); k != nil && len(old) < pruneChunk; k, _ = c.Next() {
				if string(k[:8]) >= string(cutoff[:]) {
					break
				}
				old = append(old, bytes.Clone(k))
			}
			for _, k := range old {
				if err := byTime.Delete(k); err != nil {
					return err
				}
				if err := ids.Delete(k[8:]); err != nil {
					return err
				}
			}
			n = len(old)
			return nil
		})
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			return removed, ErrClosed
		}
		if err != nil {
			return removed, fmt.Errorf("dedup: prune: %w", err)
		}
		removed += n
		if n < pruneChunk {
			return removed, nil
		}
	}
}

// Close stops pruning and closes the database, after the Do calls in
// progress finish. Later calls to Do and Prune return ErrClosed.
func (b *Bolt) Close() error {
	b.closeOnce.Do(func() {
		if b.stop != nil {
			close(b.stop)
			<-b.pruned
		}
		if err := b.db.Close(); err != nil {
			b.closeErr = fmt.Errorf("dedup: close: %w", err)
		}
	})
	return b.closeErr
}

// group commits the runs of concurrent Do calls in shared write
// transactions (WithBatch). One caller at a time, the leader, commits
// everything queued, its own run among it; calls arriving meanwhile queue
// up, and the leader hands over to the first of them when it is done, so no
// caller commits for others for longer than one transaction.
type group struct {
	mu    sync.Mutex
	queue []*pending
	busy  bool // a leader is committing
}

// pending is one Do call's run, waiting for its outcome.
type pending struct {
	run  func(*bbolt.Tx) error
	done chan outcome // buffered: the leader never waits for the caller
}

// outcome is what a pending call learns: to lead, or how its run ended.
type outcome struct {
	lead     bool
	err      error
	panicked bool
	panicVal any
}

// errRollback rolls back a shared transaction in which a run failed.
var errRollback = errors.New("dedup: rollback")

// do runs run in a write transaction shared with concurrent calls and
// returns its outcome.
func (g *group) do(db *bbolt.DB, run func(*bbolt.Tx) error) error {
	p := &pending{run: run, done: make(chan outcome, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.busy {
		g.mu.Unlock()
		if o := <-p.done; !o.lead {
			return o.result()
		}
		g.mu.Lock()
	} else {
		g.busy = true
	}
	calls := g.queue // p is among them
	g.queue = nil
	g.mu.Unlock()

	commit(db, calls)

	g.mu.Lock()
	if len(g.queue) == 0 {
		g.busy = false
	} else {
		g.queue[0].done <- outcome{lead: true}
	}
	g.mu.Unlock()
	return (<-p.done).result()
}

// commit runs calls in one write transaction and tells each its outcome.
// When a run fails, the transaction rolls back, the failed call learns its
// failure and the others run again in a new transaction.
func commit(db *bbolt.DB, calls []*pending) {
	for len(calls) > 0 {
		failed := -1
		var failure outcome
		err := db.Update(func(tx *bbolt.Tx) error {
			for i, c := range calls {
				if o := safeRun(c.run, tx); o.err != nil || o.panicked {
					failed, failure = i, o
					return errRollback
				}
			}
			return nil
		})
		if failed >= 0 {
			calls[failed].done <- failure
			calls = slices.Delete(calls, failed, failed+1)
			continue
		}
		for _, c := range calls {
			c.done <- outcome{err: err} // nil, or the commit's failure
		}
		return
	}
}

// safeRun runs run, turning a panic into an outcome so that the leader
// survives another call's panic and the caller can panic again.
func safeRun(run func(*bbolt.Tx) error, tx *bbolt.Tx) (o outcome) {
	defer func() {
		if r := recover(); r != nil {
			o = outcome{panicked: true, panicVal: r}
		}
	}()
	return outcome{err: run(tx)}
}

// result returns the error of the run, or panics again with its panic.
func (o outcome) result() error {
	if o.panicked {
		panic(o.panicVal)
	}
	return o.err
}
