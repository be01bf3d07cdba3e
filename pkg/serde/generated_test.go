package serde_test

import (
	"context"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/events/commonevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

// pushSchemas seeds e's registry with the repository's schemas, as
// `waybill registry push` does.
func pushSchemas(t testing.TB, e *env) {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Load(os.DirFS("../../schemas"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := registry.PlanSync(ctx, e.client, cat)
	if err != nil {
		t.Fatal(err)
	}
	results, err := registry.Apply(ctx, e.client, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status != registry.Applied {
			t.Fatalf("%s %s v%d: %s: %v", r.Action.Kind, r.Action.Subject, r.Action.Version, r.Status, r.Err)
		}
	}
	e.count.n.Store(0)
}

var (
	created = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)
	items   = []orderevents.LineItem{{SKU: "SKU-1", Quantity: 2}, {SKU: "SKU-22", Quantity: 1}, {SKU: "SKU-333", Quantity: 12}}
	order1  = &orderevents.OrderCreatedV1{OrderID: "ord-1", CustomerID: "cus-9", LineItems: items, CreatedAt: created}
	order2  = &orderevents.OrderCreatedV2{
		OrderID: "ord-2", CustomerID: "cus-9", LineItems: items, CreatedAt: created,
		ShippingAddress: &commonevents.AddressV1{Line1: "Damrak 1", City: "Amsterdam", PostalCode: "1012 LG", CountryCode: "NL"},
		Total:           big.NewRat(12345, 100),
		Currency:        str("EUR"),
	}
)

// The generated OrderCreated types through the serde on the repository's
// schemas: v1 read as v2 (the new fields null), v2 read as v1, each as
// itself, and Confluent's serde reading Waybill's bytes.
func TestGeneratedOrderCreated(t *testing.T) {
	e := newEnv(t)
	pushSchemas(t, e)
	ctx := context.Background()
	s := serde.New(e.client)
	v1, _, err := s.Serialize(ctx, order1)
	if err != nil {
		t.Fatal(err)
	}
	v2, _, err := s.Serialize(ctx, order2)
	if err != nil {
		t.Fatal(err)
	}
	d := serde.New(e.client)
	ratCmp := cmp.Comparer(func(a, b *big.Rat) bool { return (a == nil) == (b == nil) && (a == nil || a.Cmp(b) == 0) })

	var up orderevents.OrderCreatedV2
	if err := d.Deserialize(ctx, v1, &up); err != nil {
		t.Fatal(err)
	}
	wantUp := &orderevents.OrderCreatedV2{OrderID: order1.OrderID, CustomerID: order1.CustomerID, LineItems: items, CreatedAt: created}
	if diff := cmp.Diff(wantUp, &up, ratCmp); diff != "" {
		t.Errorf("v1 -> v2 (-want +got):\n%s", diff)
	}
	var down orderevents.OrderCreatedV1
	if err := d.Deserialize(ctx, v2, &down); err != nil {
		t.Fatal(err)
	}
	wantDown := &orderevents.OrderCreatedV1{OrderID: order2.OrderID, CustomerID: order2.CustomerID, LineItems: items, CreatedAt: created}
	if diff := cmp.Diff(wantDown, &down); diff != "" {
		t.Errorf("v2 -> v1 (-want +got):\n%s", diff)
	}
	var same orderevents.OrderCreatedV2
	if err := d.Deserialize(ctx, v2, &same); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(order2, &same, ratCmp); diff != "" {
		t.Errorf("v2 -> v2 (-want +got):\n%s", diff)
	}
	// Warm: no more registry traffic, whatever is read.
	n := e.count.n.Load()
	for range 10 {
		for _, v := range [][]byte{v1, v2} {
			if err := d.Deserialize(ctx, v, &same); err != nil {
				t.Fatal(err)
			}
			if err := d.Deserialize(ctx, v, &down); err != nil {
				t.Fatal(err)
			}
		}
	}
	if m := e.count.n.Load(); m != n {
		t.Errorf("warm reads made %d requests", m-n)
	}
}

// The serialize path of the generated OrderCreatedV2 with three line items
// against its bare encode.
func BenchmarkOrderCreatedV2(b *testing.B) {
	e := newEnv(b)
	pushSchemas(b, e)
	ctx := context.Background()
	s := serde.New(e.client)
	w, err := serde.NewWriter(ctx, s, order2)
	if err != nil {
		b.Fatal(err)
	}
	v1, _, err := s.Serialize(ctx, order1)
	if err != nil {
		b.Fatal(err)
	}
	v2, _, err := s.Serialize(ctx, order2)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	b.Run("encode/AppendAvro", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if buf, err = order2.AppendAvro(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/AppendSerialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if buf, _, err = s.AppendSerialize(ctx, buf[:0], order2); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/Writer.Append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if buf, err = w.Append(buf[:0], order2); err != nil {
				b.Fatal(err)
			}
		}
	})
	var into orderevents.OrderCreatedV2
	for _, v := range [][]byte{v1, v2} {
		if err := s.Deserialize(ctx, v, &into); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("decode/UnmarshalAvro-v2-as-v2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := into.UnmarshalAvro(v2[5:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/Deserialize-v2-as-v2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Deserialize(ctx, v2, &into); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/Deserialize-v1-as-v1", func(b *testing.B) {
		var p orderevents.OrderCreatedV1
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Deserialize(ctx, v1, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/Deserialize-v1-as-v2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Deserialize(ctx, v1, &into); err != nil {
				b.Fatal(err)
			}
		}
	})
}
