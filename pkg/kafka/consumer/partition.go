package consumer

import (
	"context"
	"sync"
)

// partition tracks one assigned partition's events from dispatch to done,
// so that the offset stored is always the lowest unfinished one: events
// finish out of order (different keys run in parallel), offsets are
// committed in order.
type partition struct {
	topic string
	id    int32

	// ctx is the handlers' context for this partition's events: cancelled
	// when a revoke or shutdown stops waiting for them.
	ctx    context.Context
	cancel context.CancelFunc
	// stop is closed when the partition is revoked or the consumer stops:
	// queued events are dropped and back-offs abandoned (the events stay
	// unfinished, so their offsets are not committed).
	stop     chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	pending []*entry // dispatched, unfinished at the front; pending[head:] live
	head    int
	next    int64 // the offset to store: after the last of the finished prefix; -1 none
	dirty   bool  // next changed since it was last taken
	running int   // events whose processing has begun and not ended
}

// entry is one dispatched record.
type entry struct {
	offset int64
	done   bool
}

func newPartition(parent context.Context, topic string, id int32) *partition {
	ctx, cancel := context.WithCancel(parent)
	return &partition{topic: topic, id: id, ctx: ctx, cancel: cancel, stop: make(chan struct{}), next: -1}
}

// add records a dispatched record; records arrive in offset order.
func (p *partition) add(offset int64) *entry {
	e := &entry{offset: offset}
	p.mu.Lock()
	if p.head > 1024 && p.head*2 > len(p.pending) {
		n := copy(p.pending, p.pending[p.head:])
		clear(p.pending[n:])
		p.pending = p.pending[:n]
		p.head = 0
	}
	p.pending = append(p.pending, e)
	p.mu.Unlock()
	return e
}

// begin reports whether an event may start: not when the partition was
// stopped. When it may, it counts as running until end.
func (p *partition) begin() bool {
	select {
	case <-p.stop:
		return false
	default:
	}
	p.mu.Lock()
	p.running++
	p.mu.Unlock()
	return true
}

// end ends an event begun with begin; finished says whether it is done (its
// offset may be committed) or abandoned.
func (p *partition) end(e *entry, finished bool) {
	p.mu.Lock()
	p.running--
	if finished {
		e.done = true
		for p.head < len(p.pending) && p.pending[p.head].done {
			p.next = p.pending[p.head].offset + 1
			p.pending[p.head] = nil
			p.head++
			p.dirty = true
		}
	}
	p.mu.Unlock()
}

// take returns the offset to store when it changed since the last take.
func (p *partition) take() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dirty {
		return 0, false
	}
	p.dirty = false
	return p.next, true
}

// committable returns the offset to commit, if any event finished.
func (p *partition) committable() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next, p.next >= 0
}

// busy returns how many events are running.
func (p *partition) busy() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

// halt stops the partition: queued events are dropped, back-offs abandoned.
func (p *partition) halt() {
	p.stopOnce.Do(func() { close(p.stop) })
}
