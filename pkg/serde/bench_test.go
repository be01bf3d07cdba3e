package serde_test

import (
	"context"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/serde"
)

// The serialize path against the bare encode it wraps: the difference is the
// cached schema ID and the 5-byte header.
func BenchmarkEncode(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.Run("AppendAvro", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = p2.AppendAvro(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendAvro/events.Event", func(b *testing.B) {
		// Through the interface, as the serde calls it.
		var ev events.Event = p2
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = ev.AppendAvro(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Writer.Append", func(b *testing.B) {
		s := serde.New(newEnv(b).client)
		w, err := serde.NewWriter(context.Background(), s, p2)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if buf, err = w.Append(buf[:0], p2); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendSerialize", func(b *testing.B) {
		s := serde.New(newEnv(b).client)
		ctx := context.Background()
		if _, _, err := s.Serialize(ctx, p2); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			var err error
			if buf, _, err = s.AppendSerialize(ctx, buf[:0], p2); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Decoding v1 bytes into the v2 type through the cached transcoding plan,
// against decoding v2 bytes into v2 (the event's own decoder, and hamba's
// generic decoder on the same schema, which is what the test type's
// UnmarshalAvro is).
func BenchmarkDecode(b *testing.B) {
	e := newEnv(b)
	s := serde.New(e.client)
	ctx := context.Background()
	v1, _, err := s.Serialize(ctx, p1)
	if err != nil {
		b.Fatal(err)
	}
	v2, _, err := s.Serialize(ctx, p2)
	if err != nil {
		b.Fatal(err)
	}
	var into ParcelV2
	for _, v := range [][]byte{v1, v2} {
		if err := s.Deserialize(ctx, v, &into); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("UnmarshalAvro/v2-as-v2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := into.UnmarshalAvro(v2[5:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Deserialize/v1-as-v1", func(b *testing.B) {
		var p ParcelV1
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Deserialize(ctx, v1, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Deserialize/v2-as-v2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Deserialize(ctx, v2, &into); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Deserialize/v1-as-v2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Deserialize(ctx, v1, &into); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hamba/v1-as-v1", func(b *testing.B) {
		var p ParcelV1
		b.ReportAllocs()
		for b.Loop() {
			if err := avro.Unmarshal(schemaV1, v1[5:], &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
