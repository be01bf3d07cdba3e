// Package dedup remembers which events a consumer has handled, by event ID
// (the envelope's ce_id), so that a handler's side effect runs once per event
// even when Kafka delivers the event again (a redelivery after a crash or a
// rebalance, a producer retry, a replay).
//
// Two stores: NewMemory, bounded and in memory (the default; it forgets on
// restart), and OpenBolt, durable in a bbolt file. Bolt runs the handler
// inside the write transaction that records the ID, and hands that
// transaction to the handler (Tx), so a handler that keeps its state in the
// same file changes it and marks the event done atomically: after a crash,
// either both happened or neither did.
//
// Effects outside a Bolt file (a row in another database, a call to a
// service, a message sent) are not covered: a crash after the effect and
// before the ID is recorded runs the effect again on redelivery, and so does
// a redelivery after Memory forgot the ID (its capacity, a restart) or after
// Bolt pruned it (its retention). Such handlers should still be idempotent;
// the store only spares them most repeats.
package dedup

import (
	"context"
	"errors"
)

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("dedup: store closed")

// Store records handled event IDs.
type Store interface {
	// Do runs fn unless id was recorded before, and records id when fn
	// returns nil. It reports whether id was a duplicate (fn not run). An
	// error from fn is returned as is and id stays unrecorded, so a retry
	// runs fn again. Concurrent calls with the same id run fn at most once
	// at a time; the second sees the first's outcome.
	Do(ctx context.Context, id string, fn func(ctx context.Context) error) (duplicate bool, err error)
	// Close releases the store.
	Close() error
}
