// Package envelope is Waybill's event envelope, version 1 (DESIGN.md, "The
// envelope"): how one event travels as one Kafka record.
//
//   - Key: the entity ID (the catalog's key field), UTF-8, so one entity's
//     events share a partition and keep their order.
//   - Value: the Confluent wire format, byte 0x00, the 4-byte big-endian
//     schema ID, then the Avro binary body; any Confluent-compatible tool
//     decodes it.
//   - Headers: the CloudEvents Kafka binding in binary mode (ce_specversion,
//     ce_id, ce_source, ce_type, ce_time, ce_subject, content-type), plus
//     waybill_envelope, waybill_event_version and the W3C traceparent.
//
// Encode turns an Envelope into a Message, Decode the reverse; AppendWire
// and ParseWire are the value framing alone, for the serde's hot path. A
// producer's hot path is a Template: made once per event type and version
// with the cached schema ID, it encodes each event's body straight into the
// message and formats only the fields that change (key, ce_id, ce_time,
// ce_subject, traceparent), with the same result as EncodeInto.
// Message and Header map one to one onto confluent-kafka-go's kafka.Message
// fields and kafka.Header without this package importing it. Every failure
// is an *Error whose Kind is a sentinel for errors.Is and whose Reason is
// the line to put on the dead-letter topic, but for an event's own encoding
// error, which Template.EncodeInto returns wrapped.
package envelope

import (
	"bytes"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Version is the envelope version this package writes and reads, the value
// of the waybill_envelope header.
const Version = "1"

// SpecVersion is the CloudEvents version (ce_specversion).
const SpecVersion = "1.0"

// ContentType is the content type of every value (content-type).
const ContentType = "application/avro"

// The header names, in the order Encode writes them.
const (
	HeaderSpecVersion  = "ce_specversion"
	HeaderID           = "ce_id"
	HeaderSource       = "ce_source"
	HeaderType         = "ce_type"
	HeaderTime         = "ce_time"
	HeaderSubject      = "ce_subject"
	HeaderContentType  = "content-type"
	HeaderEnvelope     = "waybill_envelope"
	HeaderEventVersion = "waybill_event_version"
	HeaderTraceParent  = "traceparent"
)

// Header is one Kafka record header; a []Header converts element by element
// to confluent-kafka-go's []kafka.Header{Key, Value}.
type Header struct {
	Key   string
	Value []byte
}

// Message is a Kafka record as the envelope sees it: key, value and headers,
// in order.
type Message struct {
	Key     []byte
	Value   []byte
	Headers []Header

	buf []byte // the memory behind Key, Value and the header values (EncodeInto)
}

// Header returns the value of the first header named key.
func (m Message) Header(key string) ([]byte, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// Envelope is one event with its metadata, the decoded form of a Message.
type Envelope struct {
	// ID is the event's unique ID (ce_id), the consumer's de-duplication
	// key. Encode makes a UUIDv7 (unique and time-ordered) when it is empty.
	ID string
	// Source is the producing service (ce_source), e.g. "order-service".
	Source string
	// Type is the event type's full Avro name (ce_type), e.g.
	// "waybill.orders.OrderCreated".
	Type string
	// Time is when the event happened (ce_time, RFC 3339 in UTC). Encode
	// uses the current time when it is zero; Decode returns it in UTC.
	Time time.Time
	// Subject is the entity ID (ce_subject), also the message key.
	Subject string
	// EventVersion is the schema's version in the repository
	// (waybill_event_version), 1 or more.
	EventVersion int
	// TraceParent is the W3C trace context. Encode starts a new trace when
	// it is zero; Decode leaves it zero when the header is absent.
	TraceParent TraceParent
	// SchemaID is the registry's ID of the writer's schema.
	SchemaID uint32
	// Body is the Avro binary body. Decode's Body aliases the message value.
	Body []byte
}

// NewID returns a new event ID: a UUIDv7, unique and time-ordered (the IDs
// of one process are strictly increasing, see uuid7.go). The error is always
// nil; it remains for compatibility.
func NewID() (string, error) {
	return string(AppendNewID(make([]byte, 0, 36))), nil
}

// Encode returns the Message for e: key, wire-format value and the headers of
// envelope v1 in a fixed order. It fills in a zero ID, Time or TraceParent
// (see Envelope) and returns an *Error (ErrMissingHeader or
// ErrMalformedHeader) when a field is empty or invalid. The key, value and
// header values share one allocation; with the headers slice that is two
// allocations per message.
func Encode(e Envelope) (Message, error) {
	var m Message
	err := EncodeInto(&m, e)
	return m, err
}

// EncodeInto is Encode into m, reusing the memory of the message m held
// before (its key, value, header values and headers slice), so a producer
// that encodes message after message into one Message allocates nothing
// after the first, even when it makes the ID, time and trace. Use it only once the
// previous message is no longer needed (confluent-kafka-go's Produce copies
// key, value and headers before it returns). On error m is left empty.
func EncodeInto(m *Message, e Envelope) error {
	if err := e.check(); err != nil {
		*m = Message{}
		return err
	}
	var now time.Time
	if e.Time.IsZero() || e.ID == "" {
		now = time.Now() // one clock read for both
	}
	clockTime := e.Time.IsZero()
	if clockTime {
		e.Time = now
	}
	if e.TraceParent.zero() {
		e.TraceParent = NewTrace()
	}
	idLen := len(e.ID)
	if idLen == 0 {
		idLen = 36
	}
	n := len(e.Subject) + WireHeaderLen + len(e.Body) + len(SpecVersion) + idLen +
		len(e.Source) + len(e.Type) + len("2006-01-02T15:04:05.999999999Z") + len(e.Subject) +
		len(ContentType) + len(Version) + 9 + TraceParentLen
	buf := m.buf[:0]
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	var off [12]int // boundaries: key, value, then the 10 header values
	buf = append(buf, e.Subject...)
	off[0] = len(buf)
	buf = AppendWire(buf, e.SchemaID, e.Body)
	off[1] = len(buf)
	buf = append(buf, SpecVersion...)
	off[2] = len(buf)
	if e.ID == "" {
		u := newUUIDv7(now)
		buf = appendUUID(buf, &u)
	} else {
		buf = append(buf, e.ID...)
	}
	off[3] = len(buf)
	buf = append(buf, e.Source...)
	off[4] = len(buf)
	buf = append(buf, e.Type...)
	off[5] = len(buf)
	if clockTime {
		buf = appendRFC3339Now(buf, e.Time.Unix(), e.Time.Nanosecond())
	} else {
		buf = appendRFC3339Nano(buf, e.Time)
	}
	off[6] = len(buf)
	buf = append(buf, e.Subject...)
	off[7] = len(buf)
	buf = append(buf, ContentType...)
	off[8] = len(buf)
	buf = append(buf, Version...)
	off[9] = len(buf)
	buf = appendUint(buf, uint32(e.EventVersion))
	off[10] = len(buf)
	buf = e.TraceParent.appendTo(buf)
	off[11] = len(buf)
	part := func(i int) []byte {
		start := 0
		if i > 0 {
			start = off[i-1]
		}
		return buf[start:off[i]:off[i]]
	}
	hs := m.Headers
	if cap(hs) < numHeaders {
		hs = make([]Header, numHeaders)
	}
	hs = hs[:numHeaders]
	for i := range hs {
		// Field by field: building a Header and copying it stalls (on
		// store forwarding) and was half of this loop's cost.
		start, end := off[i+1], off[i+2]
		hs[i].Key = headerNames[i]
		hs[i].Value = buf[start:end:end]
	}
	*m = Message{Key: part(0), Value: part(1), Headers: hs, buf: buf}
	return nil
}

func (e *Envelope) check() error {
	for _, f := range [...]struct{ header, value string }{
		{HeaderSource, e.Source}, {HeaderType, e.Type}, {HeaderSubject, e.Subject},
	} {
		if f.value == "" {
			return &Error{Kind: ErrMissingHeader, Header: f.header, Reason: "required header " + f.header + " is empty"}
		}
	}
	// No []byte(s) here: the conversion copies the string.
	if !utf8.ValidString(e.ID) {
		return checkString(HeaderID, []byte(e.ID), true)
	}
	if !utf8.ValidString(e.Source) {
		return checkString(HeaderSource, []byte(e.Source), false)
	}
	if !utf8.ValidString(e.Subject) {
		return checkString(HeaderSubject, []byte(e.Subject), false)
	}
	if !knownFullName(e.Type) {
		return malformed(HeaderType, []byte(e.Type), "is not a full Avro name")
	}
	if !e.Time.IsZero() && !inRFC3339Range(e.Time) {
		return malformed(HeaderTime, []byte(e.Time.String()), "is outside the years RFC 3339 can write")
	}
	if e.EventVersion < 1 || e.EventVersion > 999_999_999 {
		return malformed(HeaderEventVersion, []byte(strconv.Itoa(e.EventVersion)), "is not a version (1 to 999999999)")
	}
	if !e.TraceParent.zero() {
		if err := e.TraceParent.validate(); err != nil {
			return malformed(HeaderTraceParent, []byte(e.TraceParent.String()), "%s", err.Error())
		}
	}
	return nil
}

// appendUint appends v in decimal.
func appendUint(dst []byte, v uint32) []byte {
	var b [10]byte
	i := len(b)
	for v >= 100 {
		i -= 2
		q := v / 100
		r := v - q*100
		b[i], b[i+1] = digits2[2*r], digits2[2*r+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		b[i], b[i+1] = digits2[2*v], digits2[2*v+1]
	} else {
		i--
		b[i] = byte('0' + v)
	}
	return append(dst, b[i:]...)
}

// Decoder decodes Messages. Its zero value accepts any event type.
type Decoder struct {
	// KnownType, when set, reports whether an event type (ce_type) is one
	// the consumer knows; Decode returns ErrUnknownEventType for the others.
	KnownType func(eventType string) bool
}

// KnownTypes returns a KnownType function for a fixed set of event types.
func KnownTypes(types ...string) func(string) bool {
	set := make(map[string]struct{}, len(types))
	for _, t := range types {
		set[t] = struct{}{}
	}
	return func(t string) bool { _, ok := set[t]; return ok }
}

// Decode decodes m with the zero Decoder (every event type accepted).
func Decode(m Message) (Envelope, error) { return Decoder{}.Decode(m) }

// Decode checks m against envelope v1 and returns its Envelope; Body aliases
// m.Value. Headers it does not know are ignored; traceparent is optional,
// every other header of envelope v1 required. The checks run in this order,
// and the first failure is returned as an *Error:
//
//  1. waybill_envelope: present (ErrMissingHeader) and "1"
//     (ErrUnknownEnvelopeVersion);
//  2. the value: ErrNoMagicByte, ErrUnknownMagicByte, ErrShortValue;
//  3. the headers, in the order Encode writes them: present once
//     (ErrMissingHeader; a second copy is ErrMalformedHeader) and valid
//     (ErrMalformedHeader: ce_specversion "1.0", content-type
//     "application/avro", ce_id, ce_source and ce_subject non-empty UTF-8,
//     ce_type a full Avro name, ce_time RFC 3339, waybill_event_version a
//     positive integer, traceparent W3C version 00 with non-zero IDs);
//  4. the key equals ce_subject (ErrKeyMismatch);
//  5. ce_type is known (ErrUnknownEventType), when KnownType is set.
func (d Decoder) Decode(m Message) (Envelope, error) {
	var hv [numHeaders][]byte
	var seen [numHeaders]bool
	for _, h := range m.Headers {
		i := headerIndex(h.Key)
		if i < 0 {
			continue
		}
		if seen[i] {
			return Envelope{}, &Error{Kind: ErrMalformedHeader, Header: h.Key, Reason: "header " + h.Key + " appears more than once"}
		}
		seen[i], hv[i] = true, h.Value
	}
	if !seen[iEnvelope] {
		return Envelope{}, missing(HeaderEnvelope)
	}
	if string(hv[iEnvelope]) != Version {
		return Envelope{}, &Error{Kind: ErrUnknownEnvelopeVersion, Header: HeaderEnvelope,
			Reason: "unknown envelope version " + quote(string(hv[iEnvelope])) + " (this consumer reads version " + Version + ")"}
	}
	var e Envelope
	var err error
	if e.SchemaID, e.Body, err = ParseWire(m.Value); err != nil {
		return Envelope{}, err
	}
	for i := range numHeaders {
		if !seen[i] && i != iTraceParent {
			return Envelope{}, missing(headerNames[i])
		}
	}
	if string(hv[iSpecVersion]) != SpecVersion {
		return Envelope{}, malformed(HeaderSpecVersion, hv[iSpecVersion], "is not CloudEvents "+SpecVersion)
	}
	if err := checkString(HeaderID, hv[iID], false); err != nil {
		return Envelope{}, err
	}
	if err := checkString(HeaderSource, hv[iSource], false); err != nil {
		return Envelope{}, err
	}
	if !validFullName(hv[iType]) {
		return Envelope{}, malformed(HeaderType, hv[iType], "is not a full Avro name")
	}
	if e.Time, err = time.Parse(time.RFC3339Nano, string(hv[iTime])); err != nil {
		return Envelope{}, &Error{Kind: ErrMalformedHeader, Header: HeaderTime,
			Reason: HeaderTime + " " + quote(string(hv[iTime])) + " is not an RFC 3339 time", Err: err}
	}
	e.Time = e.Time.UTC()
	if y := e.Time.Year(); y < 0 || y > 9999 {
		return Envelope{}, malformed(HeaderTime, hv[iTime], "is outside the years 0000-9999 in UTC")
	}
	if err := checkString(HeaderSubject, hv[iSubject], false); err != nil {
		return Envelope{}, err
	}
	if !isContentType(hv[iContentType]) {
		return Envelope{}, malformed(HeaderContentType, hv[iContentType], "is not "+ContentType)
	}
	if e.EventVersion, err = parseVersion(hv[iEventVersion]); err != nil {
		return Envelope{}, malformed(HeaderEventVersion, hv[iEventVersion], "is not a version (a positive decimal integer)")
	}
	if seen[iTraceParent] {
		var reason string
		if e.TraceParent, reason = parseTraceParent(hv[iTraceParent]); reason != "" {
			return Envelope{}, malformed(HeaderTraceParent, hv[iTraceParent], "%s", reason)
		}
	}
	if !bytes.Equal(m.Key, hv[iSubject]) {
		return Envelope{}, &Error{Kind: ErrKeyMismatch, Header: HeaderSubject,
			Reason: "message key " + quote(string(m.Key)) + " is not the entity ID in ce_subject " + quote(string(hv[iSubject]))}
	}
	// One allocation for the four strings.
	var sb strings.Builder
	sb.Grow(len(hv[iID]) + len(hv[iSource]) + len(hv[iType]) + len(hv[iSubject]))
	sb.Write(hv[iID])
	sb.Write(hv[iSource])
	sb.Write(hv[iType])
	sb.Write(hv[iSubject])
	all := sb.String()
	a, b, c := len(hv[iID]), len(hv[iID])+len(hv[iSource]), len(hv[iID])+len(hv[iSource])+len(hv[iType])
	e.ID, e.Source, e.Type, e.Subject = all[:a], all[a:b], all[b:c], all[c:]
	if d.KnownType != nil && !d.KnownType(e.Type) {
		return Envelope{}, &Error{Kind: ErrUnknownEventType, Header: HeaderType, Reason: "unknown event type " + quote(e.Type)}
	}
	return e, nil
}

const (
	iSpecVersion = iota
	iID
	iSource
	iType
	iTime
	iSubject
	iContentType
	iEnvelope
	iEventVersion
	iTraceParent
	numHeaders
)

var headerNames = [numHeaders]string{
	HeaderSpecVersion, HeaderID, HeaderSource, HeaderType, HeaderTime, HeaderSubject,
	HeaderContentType, HeaderEnvelope, HeaderEventVersion, HeaderTraceParent,
}

func headerIndex(key string) int {
	switch key {
	case HeaderSpecVersion:
		return iSpecVersion
	case HeaderID:
		return iID
	case HeaderSource:
		return iSource
	case HeaderType:
		return iType
	case HeaderTime:
		return iTime
	case HeaderSubject:
		return iSubject
	case HeaderContentType:
		return iContentType
	case HeaderEnvelope:
		return iEnvelope
	case HeaderEventVersion:
		return iEventVersion
	case HeaderTraceParent:
		return iTraceParent
	}
	return -1
}

// checkString: non-empty (unless empty is allowed) valid UTF-8.
func checkString(header string, v []byte, emptyOK bool) error {
	if len(v) == 0 && !emptyOK {
		return malformed(header, v, "is empty")
	}
	if !utf8.Valid(v) {
		return malformed(header, v, "is not valid UTF-8")
	}
	return nil
}

// validFullName reports whether s is a full Avro name: dot-separated names
// of [A-Za-z_][A-Za-z0-9_]*. It checks the bytes in one branch-free pass,
// then the few dots.
func validFullName(s []byte) bool {
	if len(s) == 0 || nameChar[s[0]] != 'a' || s[len(s)-1] == '.' {
		return false
	}
	var bad byte
	for _, c := range s {
		bad |= nameBad[c]
	}
	if bad != 0 {
		return false
	}
	for i := bytes.IndexByte(s, '.'); i >= 0; {
		s = s[i+1:] // not empty: s does not end in '.'
		if nameChar[s[0]] != 'a' {
			return false
		}
		i = bytes.IndexByte(s, '.')
	}
	return true
}

// fullNames remembers the first event types a producer checked, so the
// producer's next check of each is a string comparison: a slot, chosen by
// the name's length, is filled once and never replaced (no allocation after
// the first few types, no lock); a name that finds its slot taken by another
// is checked in full every time.
var fullNames [16]atomic.Pointer[string]

// knownFullName is validFullName(s), remembered in fullNames.
func knownFullName(s string) bool {
	slot := &fullNames[len(s)%len(fullNames)]
	if p := slot.Load(); p != nil && *p == s {
		return true
	}
	if !validFullName([]byte(s)) {
		return false
	}
	if slot.Load() == nil {
		p := new(string) // not &s, which would move s to the heap on every call
		*p = s
		slot.CompareAndSwap(nil, p)
	}
	return true
}

// nameBad is 1 for the bytes that cannot be in a full Avro name.
var nameBad = func() (t [256]byte) {
	for c := range t {
		if nameChar[c] == 0 {
			t[c] = 1
		}
	}
	return t
}()

// nameChar classifies the bytes of an Avro name: 'a' for a letter or '_',
// '0' for a digit, '.' for the dot, 0 for the rest.
var nameChar = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = 'a', 'a'
	}
	t['_'] = 'a'
	for c := '0'; c <= '9'; c++ {
		t[c] = '0'
	}
	t['.'] = '.'
	return t
}()

// isContentType: "application/avro", any case, parameters allowed.
func isContentType(v []byte) bool {
	if string(v) == ContentType {
		return true
	}
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return bytes.EqualFold(bytes.TrimSpace(v), []byte(ContentType))
}

var errVersion = &Error{Kind: ErrMalformedHeader}

// parseVersion: a positive decimal integer of at most 9 digits, no sign, no
// leading zero.
func parseVersion(v []byte) (int, error) {
	if len(v) == 0 || len(v) > 9 || v[0] == '0' {
		return 0, errVersion
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errVersion
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}
