package kitchenevents_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hamba/avro/v2"

	"github.com/waybill/waybill/codegen/internal/kitchen/commonevents"
	"github.com/waybill/waybill/codegen/internal/kitchen/kitchenevents"
)

var opts = []cmp.Option{
	cmp.Comparer(func(a, b *big.Rat) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Cmp(b) == 0
	}),
	cmpopts.EquateEmpty(),
}

func ptr[T any](v T) *T { return &v }

func everything() *kitchenevents.EverythingV2 {
	pt := &commonevents.PointV1{X: 1.5, Y: -2, Tag: commonevents.Tag{'a', 'b'}}
	return &kitchenevents.EverythingV2{
		ID: "e-1", Flag: true, Count: -7, Big: 1 << 40, Ratio: 0.25, Score: -1e9,
		Blob:      []byte{0, 1, 2, 255},
		UUID:      "0190f4a4-6c3b-7b7e-8f00-000000000001",
		Day:       time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC),
		AtMillis:  time.UnixMilli(1741946531123).UTC(),
		AtMicros:  time.UnixMicro(1741946531123456).UTC(),
		TimeOfDay: 13*time.Hour + 5*time.Millisecond,
		Price:     big.NewRat(-12345, 100),
		Amount:    big.NewRat(987654321, 10000),
		Hash:      kitchenevents.Hash{1, 2, 3, 4},
		Kind:      kitchenevents.KindV2Huge,
		Tags:      []string{"a", "b"},
		Attrs:     map[string]int64{"one": 1, "two": 2},
		Where:     pt,
		Choice:    kitchenevents.EverythingV2Choice{Point: pt},
		Pick: kitchenevents.EverythingV2Pick{Inner: &kitchenevents.Inner{
			Name: "outer", Next: ptr("inner"),
		}},
		Mixed: []kitchenevents.EverythingV2MixedItem{
			{String: ptr("s")}, {Hash: &kitchenevents.Hash{9, 9, 9, 9}},
		},
		MaybeItems: []kitchenevents.Inner{{Name: "x"}},
		MaybeMap:   &map[string]string{"k": "v"},
		MaybeDay:   ptr(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)),
		MaybePrice: big.NewRat(1, 4),
		MaybeKind:  ptr(kitchenevents.KindV2Small),
		Note:       ptr("hello"),
	}
}

// TestRoundTrip encodes a value using every type mapping and decodes it back,
// and checks hamba reads the bytes as the schema says.
func TestRoundTrip(t *testing.T) {
	v := everything()
	data, err := v.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	var back kitchenevents.EverythingV2
	if err := back.UnmarshalAvro(data); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v, &back, opts...); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	var generic map[string]any
	if err := avro.Unmarshal(v.Schema(), data, &generic); err != nil {
		t.Fatalf("hamba cannot read the generated encoding: %v", err)
	}
	if generic["id"] != "e-1" || generic["note"] != "hello" {
		t.Errorf("hamba read %v", generic)
	}
	// Truncated data is an error, never a panic.
	for i := range data {
		var x kitchenevents.EverythingV2
		if err := x.UnmarshalAvro(data[:i]); err == nil {
			t.Fatalf("%d of %d bytes decoded without error", i, len(data))
		}
	}
}

// TestUnionNeedsABranch: a union without null must have a branch set.
func TestUnionNeedsABranch(t *testing.T) {
	v := everything()
	v.Pick = kitchenevents.EverythingV2Pick{}
	if _, err := v.AppendAvro(nil); err == nil {
		t.Fatal("no error for an empty union without null")
	}
	v = everything()
	v.Kind = "NOPE"
	if _, err := v.AppendAvro(nil); err == nil {
		t.Fatal("no error for an enum value that is not a symbol")
	}
}

// TestConvert converts down (the new enum symbol becomes the reader's
// default, the new field is dropped) and up again (the field takes its default).
func TestConvert(t *testing.T) {
	v := everything()
	v1, err := kitchenevents.EverythingV2ToV1(v)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Kind != kitchenevents.KindV1Unknown || v1.ID != "e-1" || *v1.Pick.Inner.Next != "inner" {
		t.Errorf("v1 = %+v", v1)
	}
	v2, err := kitchenevents.EverythingV1ToV2(v1)
	if err != nil {
		t.Fatal(err)
	}
	if v2.Note != nil || v2.Price.Cmp(v.Price) != 0 || *v2.Mixed[0].String != "s" {
		t.Errorf("v2 = %+v", v2)
	}
}

// TestRecursive round-trips a recursive record.
func TestRecursive(t *testing.T) {
	v := &kitchenevents.TreeV1{ID: "root", Children: []kitchenevents.TreeV1{
		{ID: "a", Parent: &kitchenevents.TreeV1{ID: "root"}},
		{ID: "b", Children: []kitchenevents.TreeV1{{ID: "c"}}},
	}}
	data, err := v.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	var back kitchenevents.TreeV1
	if err := back.UnmarshalAvro(data); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v, &back, opts...); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var generic any
	if err := avro.Unmarshal(v.Schema(), data, &generic); err != nil {
		t.Fatalf("hamba: %v", err)
	}
}

// TestUnmarshalAvroVersion: the generated resolution reads what the
// conversions through hamba's resolution produce, unions included.
func TestUnmarshalAvroVersion(t *testing.T) {
	v := everything()
	data, err := v.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got kitchenevents.EverythingV1
	if err := got.UnmarshalAvroVersion(2, data); err != nil {
		t.Fatal(err)
	}
	want, err := kitchenevents.EverythingV2ToV1(v)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, &got, opts...); diff != "" {
		t.Errorf("v2 read as v1 (-hamba +generated):\n%s", diff)
	}
	data1, _ := want.AppendAvro(nil)
	var up kitchenevents.EverythingV2
	if err := up.UnmarshalAvroVersion(1, data1); err != nil {
		t.Fatal(err)
	}
	wantUp, err := kitchenevents.EverythingV1ToV2(want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantUp, &up, opts...); diff != "" {
		t.Errorf("v1 read as v2 (-hamba +generated):\n%s", diff)
	}
	if err := up.UnmarshalAvroVersion(7, data1); err == nil {
		t.Error("no error for an unknown version")
	}
}
