package avrobin_test

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/waybill/waybill/codegen/avrobin"
)

func TestDecimal(t *testing.T) {
	for _, tc := range []struct {
		r     *big.Rat
		scale int
		want  []byte
	}{
		{big.NewRat(0, 1), 2, []byte{0}},
		{big.NewRat(1, 100), 2, []byte{1}},
		{big.NewRat(-1, 100), 2, []byte{0xff}},
		{big.NewRat(128, 100), 2, []byte{0, 0x80}},
		{big.NewRat(-128, 100), 2, []byte{0x80}}, // shortest, as Java's BigInteger.toByteArray
		{big.NewRat(-129, 100), 2, []byte{0xff, 0x7f}},
		{big.NewRat(845, 10), 2, []byte{0x21, 0x02}},
	} {
		got, err := avrobin.AppendDecimal(nil, tc.r, 20, tc.scale)
		if err != nil {
			t.Fatal(err)
		}
		want := avrobin.AppendBytes(nil, tc.want)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got %x, want %x", tc.r, got, want)
		}
		r := avrobin.NewReader(got)
		if back := r.Decimal(tc.scale); r.Done() != nil || back.Cmp(tc.r) != 0 {
			t.Errorf("%s read back as %v (%v)", tc.r, back, r.Done())
		}
		// The big.Int path agrees with the int64 one.
		n := new(big.Int).Mul(tc.r.Num(), big.NewInt(100))
		n.Div(n, tc.r.Denom())
		if tb := avrobin.TwosComplement(n); !bytes.Equal(tb, tc.want) {
			t.Errorf("%s: TwosComplement %x, want %x", tc.r, tb, tc.want)
		}
	}
	if _, err := avrobin.AppendDecimal(nil, big.NewRat(123456, 1), 5, 2); err == nil {
		t.Error("no error beyond the precision")
	}
	huge, _ := new(big.Rat).SetString("123456789012345678901234.5")
	got, err := avrobin.AppendDecimal(nil, huge, 30, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := avrobin.NewReader(got)
	if back := r.Decimal(2); back.Cmp(huge) != 0 {
		t.Errorf("huge read back as %v", back)
	}
}

func TestLong(t *testing.T) {
	for _, v := range []int64{0, -1, 1, 63, -64, 64, 1 << 40, -1 << 63, 1<<63 - 1} {
		b := avrobin.AppendLong(nil, v)
		r := avrobin.NewReader(b)
		if got := r.Long(); got != v || r.Done() != nil {
			t.Errorf("%d read back as %d (%v)", v, got, r.Done())
		}
	}
	r := avrobin.NewReader([]byte{0x80})
	r.Long()
	if r.Err() == nil {
		t.Error("truncated varint read")
	}
}
