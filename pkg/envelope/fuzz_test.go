package envelope

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzHeaders decodes the fuzzer's header bytes: repeated [key length][key]
// [value length][value]; a truncated tail is dropped.
func fuzzHeaders(b []byte) []Header {
	var hs []Header
	for len(b) > 0 {
		n := int(b[0])
		if len(b) < 1+n+1 {
			break
		}
		k := string(b[1 : 1+n])
		b = b[1+n:]
		m := int(b[0])
		if len(b) < 1+m {
			break
		}
		hs = append(hs, Header{k, b[1 : 1+m]})
		b = b[1+m:]
	}
	return hs
}

func fuzzEncodeHeaders(hs []Header) []byte {
	var b []byte
	for _, h := range hs {
		b = append(b, byte(len(h.Key)))
		b = append(b, h.Key...)
		b = append(b, byte(len(h.Value)))
		b = append(b, h.Value...)
	}
	return b
}

// FuzzDecode: any key, value and headers decode to an Envelope or to an
// *Error of a known Kind with a reason, never a panic; what decodes
// re-encodes to a message that decodes to the same Envelope.
func FuzzDecode(f *testing.F) {
	good, err := Encode(testEnvelope())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good.Key, good.Value, fuzzEncodeHeaders(good.Headers))
	f.Add(good.Key, []byte{}, fuzzEncodeHeaders(good.Headers))
	f.Add(good.Key, []byte{0, 1}, fuzzEncodeHeaders(good.Headers))
	f.Add([]byte("x"), []byte("{}"), []byte{})
	f.Add(good.Key, good.Value, fuzzEncodeHeaders(set(good, HeaderTraceParent, nil).Headers))
	f.Add(good.Key, good.Value, fuzzEncodeHeaders(set(good, HeaderTime, []byte("2026-11-22T10:30:15+01:00")).Headers))
	f.Add(good.Key, good.Value, fuzzEncodeHeaders(set(good, HeaderTraceParent, []byte("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")).Headers))
	f.Add(good.Key, good.Value, fuzzEncodeHeaders(set(good, HeaderTime, []byte("0000-01-01T00:00:00+01:00")).Headers))
	d := Decoder{KnownType: KnownTypes("waybill.orders.OrderCreated")}
	f.Fuzz(func(t *testing.T, key, value, headers []byte) {
		m := Message{Key: key, Value: value, Headers: fuzzHeaders(headers)}
		e, err := d.Decode(m)
		if err != nil {
			var ee *Error
			if !errors.As(err, &ee) {
				t.Fatalf("%T %v is not an *Error", err, err)
			}
			known := false
			for _, k := range Kinds {
				known = known || ee.Kind == k
			}
			if !known || ee.Reason == "" || !errors.Is(err, ee.Kind) {
				t.Fatalf("error %#v", ee)
			}
			return
		}
		m2, err := Encode(e)
		if err != nil {
			t.Fatalf("decoded %+v does not re-encode: %v", e, err)
		}
		e2, err := d.Decode(m2)
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", e, err)
		}
		if e.TraceParent.IsZero() {
			e2.TraceParent = TraceParent{} // Encode started a trace
		}
		if diff := cmp.Diff(e, e2); diff != "" {
			t.Fatalf("re-encode round trip (-first +second):\n%s", diff)
		}
	})
}
