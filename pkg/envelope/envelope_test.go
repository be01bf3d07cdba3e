package envelope

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

var testTime = time.Date(2026, 11, 22, 9, 30, 15, 123456000, time.UTC)

func testEnvelope() Envelope {
	return Envelope{
		ID:           "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		Source:       "order-service",
		Type:         "waybill.orders.OrderCreated",
		Time:         testTime,
		Subject:      "ord-42",
		EventVersion: 2,
		TraceParent:  mustTrace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
		SchemaID:     7,
		Body:         []byte{0x02, 'h', 'i'},
	}
}

func mustTrace(s string) TraceParent {
	t, err := ParseTraceParent(s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestEncodeHeaders(t *testing.T) {
	m, err := Encode(testEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, h := range m.Headers {
		got[h.Key] = string(h.Value)
		order = append(order, h.Key)
	}
	want := map[string]string{
		"ce_specversion":        "1.0",
		"ce_id":                 "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		"ce_source":             "order-service",
		"ce_type":               "waybill.orders.OrderCreated",
		"ce_time":               "2026-11-22T09:30:15.123456Z",
		"ce_subject":            "ord-42",
		"content-type":          "application/avro",
		"waybill_envelope":      "1",
		"waybill_event_version": "2",
		"traceparent":           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("headers (-want +got):\n%s", d)
	}
	if d := cmp.Diff(headerNames[:], order); d != "" {
		t.Errorf("header order (-want +got):\n%s", d)
	}
	if string(m.Key) != "ord-42" {
		t.Errorf("key %q", m.Key)
	}
	if want := []byte{0, 0, 0, 0, 7, 0x02, 'h', 'i'}; !bytes.Equal(m.Value, want) {
		t.Errorf("value % x, want % x", m.Value, want)
	}
	// Shared buffer: appending to one part must not clobber the next.
	_ = append(m.Key, "XXXXXXXX"...)
	if m.Value[0] != 0 || string(m.Headers[0].Value) != "1.0" {
		t.Error("parts of the message share capacity")
	}
}

func TestEncodeInto(t *testing.T) {
	var m Message
	e := testEnvelope()
	for _, subject := range []string{"a-much-longer-entity-id-than-before", "ord-1"} {
		e.Subject = subject
		if err := EncodeInto(&m, e); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(m)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(e, got); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	}
	e.Source = ""
	if err := EncodeInto(&m, e); !errors.Is(err, ErrMissingHeader) || m.Value != nil || m.Headers != nil {
		t.Errorf("error %v left %+v", err, m)
	}
}

func TestRoundTrip(t *testing.T) {
	e := testEnvelope()
	m, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(m)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(e, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestEncodeDefaults(t *testing.T) {
	e := testEnvelope()
	e.ID, e.Time, e.TraceParent = "", time.Time{}, TraceParent{}
	before := time.Now().Add(-time.Second)
	var prev string
	for i := range 100 {
		m, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(m)
		if err != nil {
			t.Fatal(err)
		}
		id, err := uuid.Parse(got.ID)
		if err != nil || id.Version() != 7 {
			t.Fatalf("ce_id %q is not a UUIDv7 (%v)", got.ID, err)
		}
		if i > 0 && got.ID <= prev {
			t.Fatalf("IDs not time-ordered: %s then %s", prev, got.ID)
		}
		prev = got.ID
		if got.Time.Before(before) || got.Time.Location() != time.UTC {
			t.Errorf("time %v", got.Time)
		}
		if got.TraceParent.IsZero() || got.TraceParent.Flags != 1 {
			t.Errorf("traceparent %v", got.TraceParent)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mod    func(*Envelope)
		kind   Kind
		header string
	}{
		{"no source", func(e *Envelope) { e.Source = "" }, ErrMissingHeader, HeaderSource},
		{"no type", func(e *Envelope) { e.Type = "" }, ErrMissingHeader, HeaderType},
		{"no subject", func(e *Envelope) { e.Subject = "" }, ErrMissingHeader, HeaderSubject},
		{"bad type", func(e *Envelope) { e.Type = "orders..Created" }, ErrMalformedHeader, HeaderType},
		{"bad id", func(e *Envelope) { e.ID = "\xff" }, ErrMalformedHeader, HeaderID},
		{"version 0", func(e *Envelope) { e.EventVersion = 0 }, ErrMalformedHeader, HeaderEventVersion},
		{"year 10000", func(e *Envelope) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, ErrMalformedHeader, HeaderTime},
		{"zero span", func(e *Envelope) { e.TraceParent.SpanID = [8]byte{} }, ErrMalformedHeader, HeaderTraceParent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEnvelope()
			tc.mod(&e)
			_, err := Encode(e)
			checkErr(t, err, tc.kind, tc.header)
		})
	}
}

func checkErr(t *testing.T, err error, kind Kind, header string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want kind %s", err, kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%T is not an *Error", err)
	}
	if e.Header != header {
		t.Errorf("header %q, want %q", e.Header, header)
	}
	if code, reason := Reason(err); code != string(kind) || reason == "" || !strings.HasPrefix(err.Error(), "envelope: ") {
		t.Errorf("Reason = %q, %q", code, reason)
	}
	for _, k := range Kinds {
		if k != kind && errors.Is(err, k) {
			t.Errorf("error also matches %s", k)
		}
	}
}

// set replaces (or with value nil removes) header key in a copy of m.
func set(m Message, key string, value []byte) Message {
	var hs []Header
	for _, h := range m.Headers {
		if h.Key != key {
			hs = append(hs, h)
		} else if value != nil {
			hs = append(hs, Header{key, value})
		}
	}
	m.Headers = hs
	return m
}

func TestDecodeErrors(t *testing.T) {
	good, err := Encode(testEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	withValue := func(v []byte) Message { m := good; m.Value = v; return m }
	hdr := func(k, v string) Message { return set(good, k, []byte(v)) }
	tp := func(v string) Message { return hdr(HeaderTraceParent, v) }
	for _, tc := range []struct {
		name   string
		m      Message
		kind   Kind
		header string
		reason string // a substring of the reason
	}{
		{"empty value", withValue(nil), ErrNoMagicByte, "", "no magic byte"},
		{"json value", withValue([]byte(`{"a":1}`)), ErrUnknownMagicByte, "", "0x7b"},
		{"magic 1", withValue([]byte{1, 0, 0, 0, 1}), ErrUnknownMagicByte, "", "0x01"},
		{"short value", withValue([]byte{0, 0, 1}), ErrShortValue, "", "3 bytes"},
		{"no envelope header", set(good, HeaderEnvelope, nil), ErrMissingHeader, HeaderEnvelope, "waybill_envelope is missing"},
		{"envelope 2", hdr(HeaderEnvelope, "2"), ErrUnknownEnvelopeVersion, HeaderEnvelope, `"2"`},
		{"envelope empty", hdr(HeaderEnvelope, ""), ErrUnknownEnvelopeVersion, HeaderEnvelope, `""`},
		{"envelope before magic", func() Message { m := hdr(HeaderEnvelope, "2"); m.Value = nil; return m }(), ErrUnknownEnvelopeVersion, HeaderEnvelope, ""},
		{"no ce_id", set(good, HeaderID, nil), ErrMissingHeader, HeaderID, "ce_id"},
		{"no ce_specversion", set(good, HeaderSpecVersion, nil), ErrMissingHeader, HeaderSpecVersion, ""},
		{"no ce_source", set(good, HeaderSource, nil), ErrMissingHeader, HeaderSource, ""},
		{"no ce_type", set(good, HeaderType, nil), ErrMissingHeader, HeaderType, ""},
		{"no ce_time", set(good, HeaderTime, nil), ErrMissingHeader, HeaderTime, ""},
		{"no ce_subject", set(good, HeaderSubject, nil), ErrMissingHeader, HeaderSubject, ""},
		{"no content-type", set(good, HeaderContentType, nil), ErrMissingHeader, HeaderContentType, ""},
		{"no event version", set(good, HeaderEventVersion, nil), ErrMissingHeader, HeaderEventVersion, ""},
		{"duplicate ce_id", func() Message {
			m := good
			m.Headers = append(append([]Header(nil), good.Headers...), Header{HeaderID, []byte("x")})
			return m
		}(), ErrMalformedHeader, HeaderID, "more than once"},
		{"specversion 0.3", hdr(HeaderSpecVersion, "0.3"), ErrMalformedHeader, HeaderSpecVersion, "1.0"},
		{"empty id", hdr(HeaderID, ""), ErrMalformedHeader, HeaderID, "empty"},
		{"id not utf8", hdr(HeaderID, "\xff\xfe"), ErrMalformedHeader, HeaderID, "UTF-8"},
		{"empty source", hdr(HeaderSource, ""), ErrMalformedHeader, HeaderSource, "empty"},
		{"type not a name", hdr(HeaderType, "waybill.orders.1Created"), ErrMalformedHeader, HeaderType, "Avro name"},
		{"time not rfc3339", hdr(HeaderTime, "yesterday"), ErrMalformedHeader, HeaderTime, `"yesterday" is not an RFC 3339`},
		{"time no zone", hdr(HeaderTime, "2026-11-22T09:30:15"), ErrMalformedHeader, HeaderTime, "RFC 3339"},
		{"time bad month", hdr(HeaderTime, "2026-13-22T09:30:15Z"), ErrMalformedHeader, HeaderTime, "RFC 3339"},
		{"time before year 0 in UTC", hdr(HeaderTime, "0000-01-01T00:00:00+01:00"), ErrMalformedHeader, HeaderTime, "0000-9999"},
		{"content-type json", hdr(HeaderContentType, "application/json"), ErrMalformedHeader, HeaderContentType, "application/avro"},
		{"event version 0", hdr(HeaderEventVersion, "0"), ErrMalformedHeader, HeaderEventVersion, "not a version"},
		{"event version -1", hdr(HeaderEventVersion, "-1"), ErrMalformedHeader, HeaderEventVersion, ""},
		{"event version v2", hdr(HeaderEventVersion, "v2"), ErrMalformedHeader, HeaderEventVersion, ""},
		{"event version huge", hdr(HeaderEventVersion, "99999999999999999999"), ErrMalformedHeader, HeaderEventVersion, ""},
		{"traceparent short", tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"), ErrMalformedHeader, HeaderTraceParent, "too short"},
		{"traceparent upper", tp("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), ErrMalformedHeader, HeaderTraceParent, "trace ID"},
		{"traceparent zero trace", tp("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), ErrMalformedHeader, HeaderTraceParent, "all-zero trace ID"},
		{"traceparent zero span", tp("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"), ErrMalformedHeader, HeaderTraceParent, "all-zero parent ID"},
		{"traceparent ff", tp("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ErrMalformedHeader, HeaderTraceParent, "ff"},
		{"traceparent 00 long", tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"), ErrMalformedHeader, HeaderTraceParent, "too long"},
		{"traceparent dashes", tp("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ErrMalformedHeader, HeaderTraceParent, "'-'"},
		{"traceparent flags", tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"), ErrMalformedHeader, HeaderTraceParent, "flags"},
		{"key mismatch", func() Message { m := good; m.Key = []byte("ord-43"); return m }(), ErrKeyMismatch, HeaderSubject, `"ord-43"`},
		{"no key", func() Message { m := good; m.Key = nil; return m }(), ErrKeyMismatch, HeaderSubject, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.m)
			checkErr(t, err, tc.kind, tc.header)
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("reason %q does not contain %q", err, tc.reason)
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	good, err := Encode(testEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    Message
		mod  func(*Envelope)
	}{
		{"no traceparent", set(good, HeaderTraceParent, nil), func(e *Envelope) { e.TraceParent = TraceParent{} }},
		{"later traceparent version", set(good, HeaderTraceParent, []byte("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")), nil},
		{"time with offset", set(good, HeaderTime, []byte("2026-11-22T10:30:15.123456+01:00")), nil},
		{"content-type with parameter", set(good, HeaderContentType, []byte("Application/Avro; v=1")), nil},
		{"unknown headers", func() Message {
			m := good
			m.Headers = append([]Header{{"ce_extension", []byte("x")}, {"other", nil}}, good.Headers...)
			return m
		}(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			want := testEnvelope()
			if tc.mod != nil {
				tc.mod(&want)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestKnownTypes(t *testing.T) {
	m, err := Encode(testEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	d := Decoder{KnownType: KnownTypes("waybill.orders.OrderCreated")}
	if _, err := d.Decode(m); err != nil {
		t.Fatal(err)
	}
	d = Decoder{KnownType: KnownTypes("waybill.orders.OrderCancelled")}
	_, err = d.Decode(m)
	checkErr(t, err, ErrUnknownEventType, HeaderType)
}

func TestSerdeErrors(t *testing.T) {
	cause := errors.New("registry says 40403")
	err := error(UnknownSchemaID(99, cause))
	checkErr(t, err, ErrUnknownSchemaID, "")
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "schema ID 99") {
		t.Errorf("%v", err)
	}
	cause = errors.New("short buffer")
	err = UndecodableBody("waybill.orders.OrderCreated", 7, cause)
	checkErr(t, err, ErrUndecodableBody, "")
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), `"waybill.orders.OrderCreated"`) {
		t.Errorf("%v", err)
	}
	if code, reason := Reason(errors.New("boom")); code != "unknown" || reason != "boom" {
		t.Errorf("Reason of a plain error: %q %q", code, reason)
	}
}

func TestWire(t *testing.T) {
	v := AppendWire(nil, 0x01020304, []byte("body"))
	if want := []byte{0, 1, 2, 3, 4, 'b', 'o', 'd', 'y'}; !bytes.Equal(v, want) {
		t.Fatalf("% x", v)
	}
	id, body, err := ParseWire(v)
	if err != nil || id != 0x01020304 || string(body) != "body" {
		t.Fatalf("%d %q %v", id, body, err)
	}
	id, body, err = ParseWire([]byte{0, 0xff, 0xff, 0xff, 0xff})
	if err != nil || id != 0xffffffff || len(body) != 0 {
		t.Fatalf("%d %q %v", id, body, err)
	}
}

func TestTraceParent(t *testing.T) {
	const s = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	p := mustTrace(s)
	if p.String() != s {
		t.Errorf("String = %s", p)
	}
	c := p.Child()
	if c.TraceID != p.TraceID || c.Flags != p.Flags || c.SpanID == p.SpanID {
		t.Errorf("Child %v of %v", c, p)
	}
	n := TraceParent{}.Child()
	if n.IsZero() || n.TraceID == p.TraceID {
		t.Errorf("Child of zero: %v", n)
	}
	if _, err := ParseTraceParent(n.String()); err != nil {
		t.Error(err)
	}
	if _, err := ParseTraceParent(""); !errors.Is(err, ErrMalformedHeader) {
		t.Errorf("empty: %v", err)
	}
}

func TestEncodeAllocs(t *testing.T) {
	e := testEnvelope()
	e.ID = ""
	if n := testing.AllocsPerRun(100, func() { _, _ = Encode(e) }); n > 2 {
		t.Errorf("Encode: %v allocations, want at most 2 (buffer, headers)", n)
	}
	var m Message
	if n := testing.AllocsPerRun(100, func() { _ = EncodeInto(&m, e) }); n != 0 {
		t.Errorf("EncodeInto a reused Message, making the ID: %v allocations", n)
	}
	g := e
	g.Time, g.TraceParent = time.Time{}, TraceParent{}
	if n := testing.AllocsPerRun(100, func() { _ = EncodeInto(&m, g) }); n != 0 {
		t.Errorf("EncodeInto a reused Message, making the ID, time and trace: %v allocations", n)
	}
	e.ID = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	if n := testing.AllocsPerRun(100, func() { _ = EncodeInto(&m, e) }); n != 0 {
		t.Errorf("EncodeInto a reused Message: %v allocations", n)
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendWire(buf[:0], 7, e.Body) }); n != 0 {
		t.Errorf("AppendWire into a large buffer: %v allocations", n)
	}
}

func TestDeadLetter(t *testing.T) {
	m, err := Encode(testEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	m.Value = []byte("{}")
	_, err = Decode(m)
	dl := DeadLetter(m, err)
	if !bytes.Equal(dl.Key, m.Key) || !bytes.Equal(dl.Value, m.Value) || len(dl.Headers) != len(m.Headers)+2 {
		t.Fatalf("%+v", dl)
	}
	code, _ := dl.Header(HeaderDeadLetterCode)
	reason, _ := dl.Header(HeaderDeadLetterReason)
	if string(code) != "unknown-magic-byte" || string(reason) != "unknown magic byte 0x7b (want 0x00)" {
		t.Errorf("%s: %s", code, reason)
	}
	if len(m.Headers) != numHeaders {
		t.Error("DeadLetter modified m")
	}
}
