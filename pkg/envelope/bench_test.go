package envelope

import (
	"testing"

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
