package envelope

import (
	"slices"
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
// to 9999 (inRFC3339Range), at a fraction of its cost: the date comes from
// the days since the epoch by Hinnant's civil_from_days, the digits from a
// table, and there is no layout to interpret.
func appendRFC3339Nano(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	days := sec / 86400
	sod := sec - days*86400
	if sod < 0 {
		days--
		sod += 86400
	}
	// civil_from_days (https://howardhinnant.github.io/date_algorithms.html).
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100) // [0, 365]
	mp := (5*doy + 2) / 153                  // [0, 11], March first
	d := doy - (153*mp+2)/5 + 1              // [1, 31]
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	hh, mm, ss := sod/3600, sod/60%60, sod%60

	// Written in place, in dst's spare capacity: no copy from a temporary.
	l := len(dst)
	dst = slices.Grow(dst, len("2006-01-02T15:04:05.999999999Z"))[:l+len("2006-01-02T15:04:05.999999999Z")]
	b := dst[l:]
	put2 := func(i int, v int64) { b[i], b[i+1] = digits2[2*v], digits2[2*v+1] }
	put2(0, y/100)
	put2(2, y%100)
	b[4] = '-'
	put2(5, m)
	b[7] = '-'
	put2(8, d)
	b[10] = 'T'
	put2(11, hh)
	b[13] = ':'
	put2(14, mm)
	b[16] = ':'
	put2(17, ss)
	n := 19
	if ns := t.Nanosecond(); ns != 0 {
		b[19] = '.'
		for i := 27; i >= 21; i -= 2 {
			q := ns / 100
			r := ns - q*100
			b[i], b[i+1] = digits2[2*r], digits2[2*r+1]
			ns = q
		}
		b[20] = byte('0' + ns)
		n = 29
		for b[n-1] == '0' {
			n--
		}
	}
	b[n] = 'Z'
	return dst[:l+n+1]
}
