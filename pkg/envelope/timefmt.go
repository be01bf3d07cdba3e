package envelope

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
	"time"
)

// The Unix seconds of 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the
// times RFC 3339 can write in UTC are in [minRFC3339, maxRFC3339).
const (
	minRFC3339 = -62167219200
	maxRFC3339 = 253402300800
)

// inRFC3339Range reports whether t falls in the years 0000 to 9999 in UTC
// (without computing the date).
func inRFC3339Range(t time.Time) bool {
	s := t.Unix()
	return s >= minRFC3339 && s < maxRFC3339
}

// digits2 holds the two decimal digits of 0 to 99.
var digits2 = func() (t [200]byte) {
	for i := range 100 {
		t[2*i], t[2*i+1] = byte('0'+i/10), byte('0'+i%10)
	}
	return t
}()

// appendRFC3339Nano appends t in UTC exactly as
// t.UTC().AppendFormat(dst, time.RFC3339Nano) does, for t in the years 0000
// to 9999 (inRFC3339Range), at a fraction of its cost: see appendRFC3339.
func appendRFC3339Nano(dst []byte, t time.Time) []byte {
	return appendRFC3339(dst, t.Unix(), t.Nanosecond())
}

// appendRFC3339 appends the time sec seconds and nsec nanoseconds (0 to
// 999999999) after the Unix epoch as RFC 3339 in UTC with the nanoseconds'
// significant digits, as time.RFC3339Nano writes it. The date comes from the
// days since the epoch by Hinnant's civil_from_days, remembered for the last
// day seen (lastDay), the digits from a table; there is no layout to
// interpret.
func appendRFC3339(dst []byte, sec int64, nsec int) []byte {
	days := sec / 86400
	sod := sec - days*86400
	if sod < 0 {
		days--
		sod += 86400
	}
	y, m, d := civil(days)
	tod := uint32(sod) // [0, 86399]: 32-bit division by constants is cheaper
	hh, mm, ss := tod/3600, tod/60%60, tod%60

	// Written in place, in dst's spare capacity: no copy from a temporary.
	l := len(dst)
	dst = slices.Grow(dst, len("2006-01-02T15:04:05.999999999Z"))[:l+len("2006-01-02T15:04:05.999999999Z")]
	b := dst[l : l+30 : l+30]
	b[0], b[1] = digits2[2*(y/100)], digits2[2*(y/100)+1]
	b[2], b[3] = digits2[2*(y%100)], digits2[2*(y%100)+1]
	b[4] = '-'
	b[5], b[6] = digits2[2*m], digits2[2*m+1]
	b[7] = '-'
	b[8], b[9] = digits2[2*d], digits2[2*d+1]
	b[10] = 'T'
	b[11], b[12] = digits2[2*hh], digits2[2*hh+1]
	b[13] = ':'
	b[14], b[15] = digits2[2*mm], digits2[2*mm+1]
	b[16] = ':'
	b[17], b[18] = digits2[2*ss], digits2[2*ss+1]
	b[19] = '.'
	return dst[:l+putFraction(b, nsec)]
}

// putFraction writes nsec's significant digits and "Z" after the seconds
// and '.' in b[:20] (the '.' stays only if nsec is not zero) and returns the
// length of the whole time.
func putFraction(b []byte, nsec int) int {
	b = b[:30]
	n := 19
	if nsec != 0 {
		ns := uint32(nsec)
		b[20] = byte('0' + ns/100_000_000)
		v := digits8(ns % 100_000_000)
		binary.LittleEndian.PutUint64(b[21:29], v|0x3030_3030_3030_3030)
		// The trailing zero digits are the high zero bytes of v; when all
		// eight are zero, the first digit is not.
		n = 29 - bits.LeadingZeros64(v)/8
	}
	b[n] = 'Z'
	return n + 1
}

// appendRFC3339Now is appendRFC3339 for a reading of the clock: the text up
// to the seconds ("2006-01-02T15:04:05.") is remembered for the last second
// written (lastSecond), so the events of one second format only their
// fraction. Times that are not the clock's use appendRFC3339, which does not
// disturb it.
func appendRFC3339Now(dst []byte, sec int64, nsec int) []byte {
	l := len(dst)
	s := lastSecond.seq.Load()
	if s&1 == 0 && lastSecond.sec.Load() == sec {
		t0, t1, t2 := lastSecond.text[0].Load(), lastSecond.text[1].Load(), lastSecond.text[2].Load()
		if lastSecond.seq.Load() == s { // no write in between
			dst = slices.Grow(dst, len("2006-01-02T15:04:05.999999999Z"))[:l+len("2006-01-02T15:04:05.999999999Z")]
			b := dst[l : l+30 : l+30]
			binary.LittleEndian.PutUint64(b[0:8], t0)
			binary.LittleEndian.PutUint64(b[8:16], t1)
			binary.LittleEndian.PutUint64(b[16:24], t2) // the '.' and 4 bytes the fraction overwrites
			return dst[:l+putFraction(b, nsec)]
		}
	}
	dst = appendRFC3339(dst, sec, nsec)
	if s&1 == 0 && lastSecond.seq.CompareAndSwap(s, s+1) { // else another goroutine is writing it
		var t [24]byte
		copy(t[:19], dst[l:])
		t[19] = '.'
		lastSecond.sec.Store(sec)
		lastSecond.text[0].Store(binary.LittleEndian.Uint64(t[0:8]))
		lastSecond.text[1].Store(binary.LittleEndian.Uint64(t[8:16]))
		lastSecond.text[2].Store(binary.LittleEndian.Uint64(t[16:24]))
		lastSecond.seq.Store(s + 2)
	}
	return dst
}

// lastSecond is appendRFC3339Now's cache: a sequence lock over atomics
// (https://en.wikipedia.org/wiki/Seqlock), so goroutines share it without a
// mutex or an allocation. A writer makes seq odd while it writes; a reader
// trusts what it read only if seq was even and unchanged around it.
var lastSecond struct {
	seq  atomic.Uint64
	sec  atomic.Int64     // the Unix second text holds; none at first
	text [3]atomic.Uint64 // "2006-01-02T15:04:05." in the first 20 bytes, little-endian
}

func init() { lastSecond.sec.Store(math.MinInt64) }

// digits8 returns the eight decimal digits of x (below 10^8) as the bytes of
// a uint64, the most significant digit in the lowest byte (first in memory
// when stored little-endian), each byte the digit's value 0-9: three rounds
// of dividing every lane in two by multiplication, without a carry between
// lanes, instead of a chain of eight dependent divisions.
func digits8(x uint32) uint64 {
	v := uint64(x/10000) | uint64(x%10000)<<32     // two lanes of 4 digits
	q := (v * 10486 >> 20) & 0x0000_007f_0000_007f // /100 in each 32-bit lane (v < 10^4)
	v = q | (v-q*100)<<16                          // four lanes of 2 digits
	q = (v * 103 >> 10) & 0x000f_000f_000f_000f    // /10 in each 16-bit lane (v < 100)
	return q | (v-q*10)<<8                         // eight lanes of 1 digit
}

// lastDay remembers the date of the last day civil converted, so events of
// the same day skip the divisions: the day number in the high 32 bits, then
// a valid bit and the year, month and day (y<<9 | m<<5 | d). One word, so
// goroutines share it without a lock; a miss just converts and overwrites.
var lastDay atomic.Uint64

const dayValid = 1 << 31

// civil returns the year, month (1-12) and day (1-31) of the day days after
// 1970-01-01, for the years 0000 to 9999.
func civil(days int64) (y, m, d int64) {
	if c := lastDay.Load(); c&dayValid != 0 && int32(c>>32) == int32(days) {
		return int64(c >> 9 & 0x3fff), int64(c >> 5 & 0xf), int64(c & 0x1f)
	}
	y, m, d = civilFromDays(days)
	lastDay.Store(uint64(uint32(int32(days)))<<32 | dayValid | uint64(y)<<9 | uint64(m)<<5 | uint64(d))
	return y, m, d
}

// civilFromDays is Hinnant's civil_from_days
// (https://howardhinnant.github.io/date_algorithms.html).
func civilFromDays(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100) // [0, 365]
	mp := (5*doy + 2) / 153                  // [0, 11], March first
	d = doy - (153*mp+2)/5 + 1               // [1, 31]
	m = mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
