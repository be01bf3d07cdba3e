package envelope

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func BenchmarkAppendWire(b *testing.B) {
	body := make([]byte, 200)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendWire(buf[:0], 7, body)
	}
}

func BenchmarkParseWire(b *testing.B) {
	v := AppendWire(nil, 7, make([]byte, 200))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseWire(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode is the full envelope: a new UUIDv7, the time, a new trace,
// the key, value and ten headers, for a 200-byte body.
func BenchmarkEncode(b *testing.B) {
	e := testEnvelope()
	e.ID, e.TraceParent = "", TraceParent{}
	e.Body = make([]byte, 200)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	e := testEnvelope()
	e.Body = make([]byte, 200)
	m, err := Encode(e)
	if err != nil {
		b.Fatal(err)
	}
	d := Decoder{KnownType: KnownTypes(e.Type)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeFixed is Encode with ID, Time and TraceParent given: the
// framing and headers alone, without UUIDv7, clock and trace generation.
func BenchmarkEncodeFixed(b *testing.B) {
	e := testEnvelope()
	e.Body = make([]byte, 200)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewV7 is google/uuid's UUIDv7 (crypto/rand per call), for
// comparison with BenchmarkNewID.
func BenchmarkNewV7(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := uuid.NewV7(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeInto is BenchmarkEncode into a reused Message.
func BenchmarkEncodeInto(b *testing.B) {
	e := testEnvelope()
	e.ID, e.TraceParent = "", TraceParent{}
	e.Body = make([]byte, 200)
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if err := EncodeInto(&m, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeIntoFixed is EncodeInto with ID, Time and TraceParent given.
func BenchmarkEncodeIntoFixed(b *testing.B) {
	e := testEnvelope()
	e.Body = make([]byte, 200)
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if err := EncodeInto(&m, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewID is this package's UUIDv7 generator with its text form.
func BenchmarkNewID(b *testing.B) {
	buf := make([]byte, 0, 36)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendNewID(buf[:0])
	}
}

func BenchmarkNewIDParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 36)
		for pb.Next() {
			buf = AppendNewID(buf[:0])
		}
	})
}

// BenchmarkTemplateResidue breaks down what Template.EncodeInto costs over
// the bare Avro encode (BenchmarkFullSerialize/template/full minus /bare),
// one sub-benchmark per part, in the order EncodeInto does them:
//
//   - clock/time.Now: time.Now, what EncodeInto (the function) reads, for
//     comparison; clock/template: the Template's clock (one monotonic read);
//   - uuid7: a new UUIDv7 (generator under its mutex, 36-character text);
//   - ce_time: RFC 3339 with nanoseconds from the clock reading, the
//     second's text cached; ce_time/given: a time given in Fields;
//   - child-span: TraceParent.Child (the caller's, passed in Fields);
//   - traceparent: its 55-character text;
//   - check: the per-event checks when all is well (subject and given ID
//     UTF-8, time, trace);
//   - all/empty-body: Template.EncodeInto with an empty body: all of the
//     above, the copies of key and wire header and the ten headers; the sum
//     of the parts plus the framing.
func BenchmarkTemplateResidue(b *testing.B) {
	parent := mustTrace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	buf := make([]byte, 0, 256)
	var sink int64
	b.Run("clock/time.Now", func(b *testing.B) {
		for b.Loop() {
			sink += time.Now().UnixNano()
		}
	})
	b.Run("clock/template", func(b *testing.B) {
		for b.Loop() {
			sink += unixNano()
		}
	})
	ns := unixNano()
	b.Run("uuid7", func(b *testing.B) {
		for b.Loop() {
			buf = appendNewUUID(buf[:0], ns)
		}
	})
	b.Run("ce_time", func(b *testing.B) {
		for b.Loop() {
			buf = appendRFC3339Now(buf[:0], ns/1e9, int(ns%1e9))
		}
	})
	b.Run("ce_time/given", func(b *testing.B) {
		for b.Loop() {
			buf = appendRFC3339(buf[:0], ns/1e9, int(ns%1e9))
		}
	})
	var tp TraceParent
	b.Run("child-span", func(b *testing.B) {
		for b.Loop() {
			tp = parent.Child()
		}
	})
	b.Run("traceparent", func(b *testing.B) {
		for b.Loop() {
			buf = tp.appendTo(buf[:0])
		}
	})
	f := Fields{Subject: "ord-20250314-0002", ID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", TraceParent: tp}
	subject, id := []byte(f.Subject), []byte(f.ID)
	b.Run("check", func(b *testing.B) { // what EncodeInto checks when all is well
		for b.Loop() {
			if f.Subject == "" || !f.Time.IsZero() && !inRFC3339Range(f.Time) || !f.TraceParent.valid() ||
				!validText(subject) || !validText(id) {
				b.Fatal("invalid")
			}
		}
	})
	tmpl, err := NewTemplate("order-service", "waybill.orders.OrderCreated", 2, 42)
	if err != nil {
		b.Fatal(err)
	}
	var m Message
	b.Run("all/empty-body", func(b *testing.B) {
		for b.Loop() {
			f := Fields{Subject: "ord-20250314-0002", TraceParent: parent.Child()}
			if err := tmpl.EncodeInto(&m, f, emptyBody{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	sinkInt = sink
}

var sinkInt int64

type emptyBody struct{}

func (emptyBody) AppendAvro(dst []byte) ([]byte, error) { return dst, nil }
