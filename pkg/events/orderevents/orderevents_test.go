package orderevents_test

import (
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"

	"github.com/waybill/waybill/pkg/events/commonevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
)

func ptr[T any](v T) *T { return &v }

// order is an OrderCreatedV2 with its line items, as the benchmarks use it.
func order() *orderevents.OrderCreatedV2 {
	return &orderevents.OrderCreatedV2{
		OrderID:    "ord-20250314-0002",
		CustomerID: "cus-48213",
		LineItems: []orderevents.LineItem{
			{SKU: "SKU-TSHIRT-M-BLU", Quantity: 2},
			{SKU: "SKU-MUG-350", Quantity: 1},
			{SKU: "SKU-SOCKS-L-GRY", Quantity: 3},
		},
		CreatedAt: time.UnixMilli(1741946531000).UTC(),
		ShippingAddress: &commonevents.AddressV1{
			Line1: "Keizersgracht 123", Line2: ptr("3rd floor"), City: "Amsterdam",
			PostalCode: "1015 CJ", CountryCode: "NL",
		},
		Total:    big.NewRat(8450, 100),
		Currency: ptr("EUR"),
	}
}

var ratEqual = cmp.Comparer(func(a, b *big.Rat) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cmp(b) == 0
})

// TestEncodeAllocs: encoding into a reused buffer does not allocate.
func TestEncodeAllocs(t *testing.T) {
	v := order()
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = v.AppendAvro(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("AppendAvro allocates %v times per encode, want at most 1", allocs)
	}
}

// TestConvert upcasts a version 1 order (the new fields are null) and
// downcasts a version 2 one (they are dropped).
func TestConvert(t *testing.T) {
	v2 := order()
	v1, err := orderevents.OrderCreatedV2ToV1(v2)
	if err != nil {
		t.Fatal(err)
	}
	want1 := &orderevents.OrderCreatedV1{OrderID: v2.OrderID, CustomerID: v2.CustomerID, LineItems: v2.LineItems, CreatedAt: v2.CreatedAt}
	if diff := cmp.Diff(want1, v1); diff != "" {
		t.Errorf("v2 to v1 (-want +got):\n%s", diff)
	}
	up, err := orderevents.OrderCreatedV1ToV2(v1)
	if err != nil {
		t.Fatal(err)
	}
	want2 := *v2
	want2.ShippingAddress, want2.Total, want2.Currency = nil, nil, nil
	if diff := cmp.Diff(&want2, up, ratEqual); diff != "" {
		t.Errorf("v1 to v2 (-want +got):\n%s", diff)
	}
}

func BenchmarkOrderCreatedV2(b *testing.B) {
	v := order()
	schema := v.Schema()
	data, err := v.AppendAvro(nil)
	if err != nil {
		b.Fatal(err)
	}
	codec, err := goavro.NewCodec(schema.String())
	if err != nil {
		b.Fatal(err)
	}
	native, _, err := codec.NativeFromBinary(data)
	if err != nil {
		b.Fatal(err)
	}
	jsonData, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("encode/generated", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = v.AppendAvro(buf[:0])
		}
	})
	b.Run("encode/hamba", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := avro.Marshal(schema, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/goavro", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			if buf, err = codec.BinaryFromNative(buf[:0], native); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out orderevents.OrderCreatedV2
			if err := out.UnmarshalAvro(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/hamba", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out orderevents.OrderCreatedV2
			if err := avro.Unmarshal(schema, data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/goavro", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := codec.NativeFromBinary(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out orderevents.OrderCreatedV2
			if err := json.Unmarshal(jsonData, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	v1, err := orderevents.OrderCreatedV2ToV1(v)
	if err != nil {
		b.Fatal(err)
	}
	v1Data, err := v1.AppendAvro(nil)
	if err != nil {
		b.Fatal(err)
	}
	resolved, err := avro.NewSchemaCompatibility().Resolve(schema, v1.Schema())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode-v1-as-v2/generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out orderevents.OrderCreatedV2
			if err := out.UnmarshalAvroVersion(1, v1Data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode-v1-as-v2/hamba", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out orderevents.OrderCreatedV2
			if err := avro.Unmarshal(resolved, v1Data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode-v1-as-v1/generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out orderevents.OrderCreatedV1
			if err := out.UnmarshalAvro(v1Data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
