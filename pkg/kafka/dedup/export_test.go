package dedup

import "time"

// SetNow makes Bolt read the time from f until restore is called.
func SetNow(f func() time.Time) (restore func()) {
	old := now
	now = f
	return func() { now = old }
}

// SetPruneChunk sets how many IDs Prune removes per transaction until
// restore is called.
func SetPruneChunk(n int) (restore func()) {
	old := pruneChunk
	pruneChunk = n
	return func() { pruneChunk = old }
}
