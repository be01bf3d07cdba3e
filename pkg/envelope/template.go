package envelope

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// A Template is the envelope of one producer's events of one type and
// version: everything but the per-event Fields, checked and formatted once by
// NewTemplate. Its EncodeInto encodes the event's Avro body straight into the
// message buffer after the wire header, so a producer writes the body bytes
// once, and formats only the key, ce_id, ce_time, ce_subject and traceparent
// per event; the six other header values (ce_specversion, ce_source,
// ce_type, content-type, waybill_envelope, waybill_event_version) are the
// Template's own bytes, shared by every message it encodes.
//
// For the same fields and body its messages are exactly those of EncodeInto.
// A Template is immutable and safe for concurrent use.
type Template struct {
	headers   [numHeaders]Header // the static values; nil for the per-event ones
	wire      [WireHeaderLen]byte
	eventType string
}

// Fields are the envelope fields that change from event to event. Zero
// values are filled in as Encode fills them in an Envelope.
type Fields struct {
	// Subject is the entity ID, the message key and ce_subject. Required.
	Subject string
	// ID is the event ID (ce_id); a new UUIDv7 when empty.
	ID string
	// Time is when the event happened (ce_time); the current time when zero.
	Time time.Time
	// TraceParent is written as given: set it to the incoming trace's
	// Child(). A new trace when zero.
	TraceParent TraceParent
}

// AvroAppender appends an event's Avro binary body to dst and returns the
// extended slice, in the manner of strconv.AppendInt. Every generated event
// type (events.Event) is one.
type AvroAppender interface {
	AppendAvro(dst []byte) ([]byte, error)
}

// NewTemplate returns the Template of the events of type eventType (a full
// Avro name, ce_type) and version eventVersion (waybill_event_version, 1 or
// more) that source (ce_source) writes with the registry's schema schemaID.
// The error is the *Error EncodeInto would return for these fields.
func NewTemplate(source, eventType string, eventVersion int, schemaID uint32) (*Template, error) {
	// Envelope.check, with a placeholder for the per-event fields, so the
	// errors are exactly EncodeInto's.
	e := Envelope{Source: source, Type: eventType, Subject: "-", EventVersion: eventVersion}
	if err := e.check(); err != nil {
		return nil, err
	}
	t := &Template{eventType: eventType}
	AppendWire(t.wire[:0], schemaID, nil)
	var static [numHeaders]string
	static[iSpecVersion] = SpecVersion
	static[iSource] = source
	static[iType] = eventType
	static[iContentType] = ContentType
	static[iEnvelope] = Version
	static[iEventVersion] = string(appendUint(nil, uint32(eventVersion)))
	n := 0
	for _, v := range static {
		n += len(v)
	}
	buf := make([]byte, 0, n) // one allocation for the six values
	for i, v := range static {
		t.headers[i].Key = headerNames[i]
		if v != "" {
			start := len(buf)
			buf = append(buf, v...)
			t.headers[i].Value = buf[start:len(buf):len(buf)]
		}
	}
	return t, nil
}

// EncodeInto encodes one event into m: the key and headers of envelope v1
// from t and f, and the value: the wire header with t's schema ID followed
// by the Avro body that body.AppendAvro appends in place. It reuses m's
// memory as the function EncodeInto does, and allocates nothing once m's
// buffer has grown to the event's size. For the same fields and body bytes
// the message is exactly EncodeInto's, errors included; an error from
// body.AppendAvro is returned wrapped. On error m is left empty.
//
// The values of the headers ce_specversion, ce_source, ce_type,
// content-type, waybill_envelope and waybill_event_version are t's own
// memory, shared by every message t encodes: do not modify them in place
// (confluent-kafka-go's Produce copies header values, so handing them to it
// is safe). A new ID and the current time come from one clock read: the
// monotonic clock plus its offset to the wall clock, measured at most a
// millisecond before, which costs half of time.Now's two reads; a step of
// the wall clock shows within that millisecond.
func (t *Template) EncodeInto(m *Message, f Fields, body AvroAppender) error {
	// The cheap checks now, UTF-8 once the strings are copied; any failure
	// goes to check, which finds the first error in EncodeInto's order.
	if f.Subject == "" || !f.Time.IsZero() && !inRFC3339Range(f.Time) || !f.TraceParent.valid() {
		return t.fail(m, m.buf, f.check())
	}
	var ns int64
	if f.ID == "" || f.Time.IsZero() {
		ns = unixNano() // one clock read for both
	}
	if f.TraceParent.zero() {
		f.TraceParent = NewTrace()
	}
	idLen := len(f.ID)
	if idLen == 0 {
		idLen = 36
	}
	// Key, ID, time and traceparent first, so the body, whose length is
	// not known, goes last and is appended in place.
	fixed := len(f.Subject) + idLen + len("2006-01-02T15:04:05.999999999Z") + TraceParentLen + WireHeaderLen
	buf := m.buf[:0]
	if cap(buf) < fixed {
		buf = make([]byte, 0, fixed+512) // room for a typical body; AppendAvro grows it if not
	}
	buf = append(buf, f.Subject...)
	endKey := len(buf)
	if f.ID == "" {
		buf = appendNewUUID(buf, ns)
	} else {
		buf = append(buf, f.ID...)
	}
	endID := len(buf)
	if !validText(buf[:endKey]) || f.ID != "" && !validText(buf[endKey:endID]) {
		return t.fail(m, buf, f.check())
	}
	if f.Time.IsZero() {
		sec, nsec := ns/1e9, ns%1e9
		if nsec < 0 {
			sec, nsec = sec-1, nsec+1e9
		}
		buf = appendRFC3339Now(buf, sec, int(nsec))
	} else {
		buf = appendRFC3339Nano(buf, f.Time)
	}
	endTime := len(buf)
	buf = f.TraceParent.appendTo(buf)
	endTrace := len(buf)
	buf = append(buf, t.wire[:]...)
	buf, err := body.AppendAvro(buf)
	if err != nil {
		return t.fail(m, buf, fmt.Errorf("envelope: encoding the %s body: %w", t.eventType, err))
	}
	hs := m.Headers
	if cap(hs) < numHeaders {
		hs = make([]Header, numHeaders)
	}
	hs = hs[:numHeaders]
	copy(hs, t.headers[:])
	hs[iID].Value = buf[endKey:endID:endID]
	hs[iTime].Value = buf[endID:endTime:endTime]
	hs[iSubject].Value = buf[:endKey:endKey]
	hs[iTraceParent].Value = buf[endTime:endTrace:endTrace]
	*m = Message{Key: buf[:endKey:endKey], Value: buf[endTrace:len(buf):len(buf)], Headers: hs, buf: buf}
	return nil
}

// fail leaves m empty but for its buffer, for the next message, and
// returns err.
func (t *Template) fail(m *Message, buf []byte, err error) error {
	*m = Message{buf: buf}
	return err
}

// validText reports whether b is valid UTF-8, ASCII 8 bytes at a time.
func validText(b []byte) bool {
	var or uint64
	if len(b) >= 8 {
		for i := 0; i+8 <= len(b); i += 8 {
			or |= binary.LittleEndian.Uint64(b[i:])
		}
		or |= binary.LittleEndian.Uint64(b[len(b)-8:]) // the tail, overlapping
	} else {
		for _, c := range b {
			or |= uint64(c)
		}
	}
	return or&0x8080_8080_8080_8080 == 0 || utf8.Valid(b)
}

// check is Envelope.check for the per-event fields, in the same order, so
// the first error is the same.
func (f *Fields) check() error {
	if f.Subject == "" {
		return &Error{Kind: ErrMissingHeader, Header: HeaderSubject, Reason: "required header " + HeaderSubject + " is empty"}
	}
	if !utf8.ValidString(f.ID) {
		return checkString(HeaderID, []byte(f.ID), true)
	}
	if !utf8.ValidString(f.Subject) {
		return checkString(HeaderSubject, []byte(f.Subject), false)
	}
	if !f.Time.IsZero() && !inRFC3339Range(f.Time) {
		return malformed(HeaderTime, []byte(f.Time.String()), "is outside the years RFC 3339 can write")
	}
	if !f.TraceParent.IsZero() {
		if err := f.TraceParent.validate(); err != nil {
			return malformed(HeaderTraceParent, []byte(f.TraceParent.String()), "%s", err.Error())
		}
	}
	return nil
}
