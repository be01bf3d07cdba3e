package envelope

import (
	"sync/atomic"
	"time"
)

// The Template's clock: the wall-clock time as Unix nanoseconds for one read
// of the monotonic clock instead of time.Now's two reads (wall and
// monotonic), each a vDSO call of some 50 ns on a virtual machine.
//
// Linux slews CLOCK_REALTIME and CLOCK_MONOTONIC alike (NTP's frequency
// corrections apply to both); only a step of the wall clock (settimeofday, a
// leap second) changes the difference between them. So wall = monotonic +
// offset, with the offset measured by a time.Now at most clockRefresh ago,
// is the wall clock up to the few nanoseconds between time.Now's two reads,
// and a step of the wall clock shows within clockRefresh. A producer that
// sends less than one event per clockRefresh pays for both reads, as with
// time.Now.
const clockRefresh = int64(time.Millisecond)

var (
	clockStart = time.Now()
	// clockOffset is the wall clock in Unix nanoseconds minus the
	// monotonic nanoseconds since clockStart, as of clockAnchor.
	clockOffset atomic.Int64
	// clockAnchor is the monotonic nanoseconds since clockStart when
	// clockOffset was measured.
	clockAnchor atomic.Int64
)

func init() { clockOffset.Store(clockStart.UnixNano()) }

// unixNano returns the current wall-clock time in Unix nanoseconds (see
// clockRefresh for how close it is to time.Now). The two atomics need not
// agree: every offset stored is a correct measurement, so a reader that
// pairs an anchor with an older or newer offset is at most one refresh off
// a wall-clock step, and never wrong otherwise.
func unixNano() int64 {
	mono := int64(time.Since(clockStart)) // the monotonic clock alone
	if mono-clockAnchor.Load() < clockRefresh {
		return clockOffset.Load() + mono
	}
	return refreshClock(mono)
}

// maxClockGap bounds the time between time.Now's wall and monotonic reads
// that refreshClock accepts: were the thread descheduled between them, the
// offset would be off by as much until the next refresh.
const maxClockGap = int64(20 * time.Microsecond)

// refreshClock measures the offset again and returns the current time;
// before is a monotonic reading taken just before.
func refreshClock(before int64) int64 {
	for try := 0; ; try++ {
		if try > 0 {
			before = int64(time.Since(clockStart))
		}
		now := time.Now()
		mono := int64(now.Sub(clockStart)) // now's own monotonic reading
		if mono-before > maxClockGap && try < 3 {
			continue
		}
		off := now.UnixNano() - mono
		clockOffset.Store(off)
		clockAnchor.Store(mono)
		return off + mono
	}
}
