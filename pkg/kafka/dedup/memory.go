package dedup

import (
	"context"
	"errors"
	"sync"
)

// NewMemory returns a Store that keeps the last capacity recorded IDs in
// memory. When a new ID is recorded and capacity IDs are already kept, the
// oldest recorded one is forgotten (first in, first out; a duplicate does not
// refresh an ID), so a redelivery that arrives after capacity newer events
// were handled runs its handler again. Size capacity to cover the window in
// which redeliveries happen (what a consumer group may re-read after a crash
// or rebalance: about the uncommitted events of the partitions it owns).
// Memory is forgotten on restart; use OpenBolt to remember across restarts.
//
// Each operation costs O(1): a map plus a ring of the recorded IDs in the
// order they were recorded. It panics if capacity < 1.
func NewMemory(capacity int) Store {
	if capacity < 1 {
		panic("dedup: NewMemory: capacity must be at least 1")
	}
	return &memory{
		seen:     make(map[string]struct{}, min(capacity, 1<<16)),
		inflight: make(map[string]chan struct{}),
		ring:     make([]string, 0, min(capacity, 1<<16)),
		capacity: capacity,
	}
}

// memory is the Store returned by NewMemory.
type memory struct {
	mu       sync.Mutex
	seen     map[string]struct{}      // recorded IDs; exactly those in ring
	inflight map[string]chan struct{} // IDs whose fn is running now -> closed when it returns (nil until someone waits)
	ring     []string                 // recorded IDs, oldest at next once full
	next     int                      // where the next ID goes once ring is full
	capacity int
	closed   bool
}

// errEmptyID is returned by Do for the ID "": a missing ID cannot tell two
// events apart, and bbolt has no empty keys.
var errEmptyID = errors.New("dedup: empty event ID")

// Do implements Store. A call that finds id in flight waits for the running
// fn, then looks again: id is then either recorded (a duplicate) or not (fn
// failed, and this call runs fn).
func (m *memory) Do(ctx context.Context, id string, fn func(ctx context.Context) error) (bool, error) {
	if id == "" {
		return false, errEmptyID
	}
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return false, ErrClosed
		}
		if _, ok := m.seen[id]; ok {
			m.mu.Unlock()
			return true, nil
		}
		done, running := m.inflight[id]
		if !running {
			m.inflight[id] = nil // no waiter yet: no channel to allocate
			m.mu.Unlock()
			return false, m.run(ctx, id, fn)
		}
		if done == nil {
			done = make(chan struct{})
			m.inflight[id] = done
		}
		m.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// run runs fn for id, records id if fn succeeds and releases the waiters
// even if fn panics.
func (m *memory) run(ctx context.Context, id string, fn func(ctx context.Context) error) (err error) {
	ok := false
	defer func() {
		m.mu.Lock()
		done := m.inflight[id]
		delete(m.inflight, id)
		if ok && !m.closed {
			m.record(id)
		}
		m.mu.Unlock()
		if done != nil {
			close(done)
		}
	}()
	err = fn(ctx)
	ok = err == nil
	return err
}

// record adds id as the newest recorded ID, forgetting the oldest when full.
// m.mu is held.
func (m *memory) record(id string) {
	if len(m.ring) < m.capacity {
		m.ring = append(m.ring, id)
	} else {
		delete(m.seen, m.ring[m.next])
		m.ring[m.next] = id
		m.next++
		if m.next == m.capacity {
			m.next = 0
		}
	}
	m.seen[id] = struct{}{}
}

// Close forgets all IDs; later calls to Do return ErrClosed. A fn running
// during Close finishes, but its ID is not recorded.
func (m *memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.seen = nil
	m.ring = nil
	return nil
}
