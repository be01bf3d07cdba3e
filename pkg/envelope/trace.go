package envelope

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
)

// TraceParent is a W3C Trace Context traceparent
// (https://www.w3.org/TR/trace-context/#traceparent-header): the trace an
// event belongs to, the span that produced it, and the trace flags. Its zero
// value means "no trace".
type TraceParent struct {
	TraceID [16]byte
	SpanID  [8]byte // the parent-id field: the span of the producer
	Flags   byte    // bit 0 is "sampled"
}

// TraceParentLen is the length of a version-00 traceparent.
const TraceParentLen = 55

// NewTrace starts a new trace: a random trace ID and span ID, and the sampled
// flag set.
func NewTrace() TraceParent {
	var t TraceParent
	for t.TraceID == ([16]byte{}) {
		binary.LittleEndian.PutUint64(t.TraceID[0:8], rand.Uint64())
		binary.LittleEndian.PutUint64(t.TraceID[8:16], rand.Uint64())
	}
	t.SpanID = newSpanID()
	t.Flags = 0x01
	return t
}

// Child continues the trace: the same trace ID and flags with a new span ID,
// for the event a consumer produces in reaction to one it received. On the
// zero TraceParent (the received event carried none) it starts a new trace,
// so `out.TraceParent = in.TraceParent.Child()` is always right.
func (t TraceParent) Child() (c TraceParent) {
	if t.zero() {
		return NewTrace()
	}
	// Field by field, not t with a new SpanID: copying the 25-byte struct
	// whole after storing into it stalls on store forwarding.
	c.TraceID, c.SpanID, c.Flags = t.TraceID, newSpanID(), t.Flags
	return c
}

// IsZero reports whether t is the zero TraceParent (no trace).
func (t TraceParent) IsZero() bool {
	return t.TraceID == [16]byte{} && t.SpanID == [8]byte{} && t.Flags == 0
}

// String returns the version-00 header value,
// "00-<32 hex trace ID>-<16 hex span ID>-<2 hex flags>".
func (t TraceParent) String() string { return string(t.appendTo(make([]byte, 0, TraceParentLen))) }

func (t *TraceParent) appendTo(dst []byte) []byte {
	l := len(dst)
	dst = slices.Grow(dst, TraceParentLen)[:l+TraceParentLen]
	b := dst[l:]
	b[0], b[1], b[2] = '0', '0', '-'
	hexTo(b[3:35], t.TraceID[:])
	b[35] = '-'
	hexTo(b[36:52], t.SpanID[:])
	b[52] = '-'
	b[53], b[54] = hexTable[2*int(t.Flags)], hexTable[2*int(t.Flags)+1]
	return dst
}

// zero is IsZero without copying t: the inlined value receiver copies the
// 25 bytes with two overlapping 16-byte moves, and the loads that follow
// stall on store forwarding.
func (t *TraceParent) zero() bool {
	return t.TraceID == [16]byte{} && t.SpanID == [8]byte{} && t.Flags == 0
}

// valid reports whether t is zero or validates: the fast path of validate.
func (t *TraceParent) valid() bool {
	if t.TraceID == [16]byte{} {
		return t.SpanID == [8]byte{} && t.Flags == 0 // zero, or no trace ID
	}
	return t.SpanID != [8]byte{}
}

func (t TraceParent) validate() error {
	switch {
	case t.TraceID == [16]byte{}:
		return errors.New("has an all-zero trace ID")
	case t.SpanID == [8]byte{}:
		return errors.New("has an all-zero parent ID")
	}
	return nil
}

// ParseTraceParent parses a traceparent header value. Version 00 must be
// exactly "00-<32 hex>-<16 hex>-<2 hex>" in lowercase hex; a later version
// (not ff) may carry more fields after a '-', which are ignored, as the W3C
// specification asks. The trace ID and parent ID must not be all zeros. The
// error is an *Error of kind ErrMalformedHeader.
func ParseTraceParent(s string) (TraceParent, error) {
	t, reason := parseTraceParent([]byte(s))
	if reason != "" {
		return TraceParent{}, malformed(HeaderTraceParent, []byte(s), "%s", reason)
	}
	return t, nil
}

func parseTraceParent(b []byte) (TraceParent, string) {
	var t TraceParent
	if len(b) < TraceParentLen {
		return t, "is not 00-<32 hex>-<16 hex>-<2 hex> (too short)"
	}
	if b[2] != '-' || b[35] != '-' || b[52] != '-' {
		return t, "is not 00-<32 hex>-<16 hex>-<2 hex> (misplaced '-')"
	}
	var v [1]byte
	if !lowerHex(v[:], b[0:2]) {
		return t, "has a version that is not 2 lowercase hex digits"
	}
	switch {
	case v[0] == 0xff:
		return t, "has the invalid version ff"
	case v[0] == 0 && len(b) != TraceParentLen:
		return t, "is not 00-<32 hex>-<16 hex>-<2 hex> (too long for version 00)"
	case len(b) > TraceParentLen && b[TraceParentLen] != '-':
		return t, "has a later version but no '-' after the flags"
	}
	if !lowerHex(t.TraceID[:], b[3:35]) {
		return t, "has a trace ID that is not 32 lowercase hex digits"
	}
	if !lowerHex(t.SpanID[:], b[36:52]) {
		return t, "has a parent ID that is not 16 lowercase hex digits"
	}
	var f [1]byte
	if !lowerHex(f[:], b[53:55]) {
		return t, "has flags that are not 2 lowercase hex digits"
	}
	t.Flags = f[0]
	if err := t.validate(); err != nil {
		return TraceParent{}, err.Error()
	}
	return t, ""
}

// lowerHex decodes src (lowercase hex only, len(src) == 2*len(dst)) into dst.
func lowerHex(dst, src []byte) bool {
	bad := byte(0)
	for i := range dst {
		hi, lo := hexValue[src[2*i]], hexValue[src[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad&0xf0 == 0
}

// hexValue maps a lowercase hex digit to its value, every other byte to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// newSpanID returns a random, non-zero span ID from math/rand/v2's
// per-goroutine ChaCha8 source: trace and span IDs must be random, not
// secret, and this is fast and lock-free. One 8-byte store: filling the ID
// byte by byte was most of Child's cost.
func newSpanID() [8]byte {
	for {
		if x := rand.Uint64(); x != 0 {
			var s [8]byte
			binary.LittleEndian.PutUint64(s[:], x)
			return s
		}
	}
}
