package serde_test

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/commonevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

// orderCreatedV3Text is a newer producer's OrderCreated: v2 plus an optional
// coupon, which the v2 consumer's generated code does not know.
var orderCreatedV3Text = strings.Replace(orderevents.OrderCreatedV2SchemaText,
	`"fields": [`, `"fields": [
    {"name": "coupon", "type": ["null", "string"], "default": null},`, 1)

// A v2 consumer reads a v3 it has no generated code for, at a FORWARD level:
// the nullable decimal total must come through exactly (hamba v2.31's
// reflective resolved decode made it 0).
func TestUnknownWriterKeepsNullableDecimal(t *testing.T) {
	if orderCreatedV3Text == orderevents.OrderCreatedV2SchemaText {
		t.Fatal("v3 schema not derived")
	}
	e := newEnv(t)
	ctx := context.Background()
	addr := []registry.Reference{{Name: "waybill.common.Address", Subject: commonevents.AddressV1Subject, Version: 1}}
	if _, err := e.client.Register(ctx, commonevents.AddressV1Subject, commonevents.AddressV1SchemaText, nil); err != nil {
		t.Fatal(err)
	}
	subj := orderevents.OrderCreatedV2Subject
	if err := e.client.SetCompatibility(ctx, subj, compat.Forward); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Register(ctx, subj, orderevents.OrderCreatedV2SchemaText, addr); err != nil {
		t.Fatal(err)
	}
	v3ID, err := e.client.Register(ctx, subj, orderCreatedV3Text, addr)
	if err != nil {
		t.Fatal(err)
	}
	eur := "EUR"
	want := orderevents.OrderCreatedV2{
		OrderID: "ord-1", CustomerID: "cus-1",
		LineItems: []orderevents.LineItem{{SKU: "SKU-MUG", Quantity: 2}},
		CreatedAt: time.UnixMilli(1741946531000).UTC(),
		ShippingAddress: &commonevents.AddressV1{
			Line1: "Keizersgracht 123", City: "Amsterdam", PostalCode: "1015 CJ", CountryCode: "NL",
		},
		Total:    big.NewRat(8450, 100),
		Currency: &eur,
	}
	// v3's encoding: its first field, the coupon (branch 1, "SAVE10"), then
	// v2's fields.
	body := appendString(appendLong(nil, 1), "SAVE10")
	if body, err = want.AppendAvro(body); err != nil {
		t.Fatal(err)
	}
	value := envelope.AppendWire(nil, uint32(v3ID), body)

	s := serde.New(e.client)
	for i := range 2 { // compiled, then cached
		var got orderevents.OrderCreatedV2
		if err := s.Deserialize(ctx, value, &got); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if got.Total == nil || got.Total.Cmp(big.NewRat(169, 2)) != 0 {
			t.Fatalf("read %d: total %v, want 84.50", i, got.Total)
		}
		if got.OrderID != want.OrderID || got.Currency == nil || *got.Currency != "EUR" ||
			len(got.LineItems) != 1 || got.LineItems[0] != want.LineItems[0] ||
			!got.CreatedAt.Equal(want.CreatedAt) || got.ShippingAddress == nil || *got.ShippingAddress != *want.ShippingAddress {
			t.Fatalf("read %d: %+v, want %+v", i, got, want)
		}
	}

	// A null total stays null.
	want.Total, want.Currency = nil, nil
	body, _ = want.AppendAvro(appendLong(nil, 0))
	var got orderevents.OrderCreatedV2
	if err := s.Deserialize(ctx, envelope.AppendWire(nil, uint32(v3ID), body), &got); err != nil || got.Total != nil || got.Currency != nil {
		t.Fatalf("null total: %+v, %v", got, err)
	}
}
