// Package avrobin is the runtime of the code `waybill gen` writes: the
// primitives of Avro's binary encoding
// (https://avro.apache.org/docs/1.11.1/specification/#binary-encoding), appended
// to a caller's buffer or read from a byte slice without reflection. Generated
// encoders call the Append functions field by field; generated decoders read
// through a Reader whose first error sticks, so a decoder checks once at the end.
package avrobin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"time"
)

// BlockLength is how many items an array or map block holds. It is hamba/avro's
// default, so generated encoders write the same bytes as hamba's avro.Marshal.
const BlockLength = 100

// ErrShort is a body that ends in the middle of a value.
var ErrShort = errors.New("avrobin: data ends in the middle of a value")

// AppendLong appends a long (and an int): zig-zag, then a base-128 varint.
func AppendLong(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// AppendInt appends an int.
func AppendInt(b []byte, v int32) []byte { return AppendLong(b, int64(v)) }

// AppendBool appends a boolean as one byte.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendFloat appends a float, little-endian IEEE 754.
func AppendFloat(b []byte, v float32) []byte {
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
}

// AppendDouble appends a double, little-endian IEEE 754.
func AppendDouble(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// AppendString appends a string: its length, then its bytes.
func AppendString(b []byte, s string) []byte {
	b = AppendLong(b, int64(len(s)))
	return append(b, s...)
}

// AppendBytes appends bytes: their length, then the bytes.
func AppendBytes(b []byte, p []byte) []byte {
	b = AppendLong(b, int64(len(p)))
	return append(b, p...)
}

// AppendTimestampMillis appends a timestamp-millis.
func AppendTimestampMillis(b []byte, t time.Time) []byte { return AppendLong(b, t.UnixMilli()) }

// AppendTimestampMicros appends a timestamp-micros.
func AppendTimestampMicros(b []byte, t time.Time) []byte { return AppendLong(b, t.UnixMicro()) }

// AppendDate appends a date: days since the Unix epoch.
func AppendDate(b []byte, t time.Time) []byte {
	return AppendInt(b, int32(t.Unix()/86400)) //nolint:gosec // dates fit an int
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// AppendDecimal appends a bytes decimal: the two's-complement big-endian bytes
// of r's unscaled value at scale, as few as hold it, length first. Like
// hamba/avro, digits beyond the scale are dropped and a value with more than
// precision digits is an error. Values whose unscaled form fits an int64 take
// a path that does not allocate.
func AppendDecimal(b []byte, r *big.Rat, precision, scale int) ([]byte, error) {
	if r == nil {
		return b, errors.New("avrobin: nil decimal")
	}
	if n, ok := unscaled64(r, scale); ok {
		if digits(n) > precision {
			return b, fmt.Errorf("avrobin: %s has more than %d digits", r.FloatString(scale), precision)
		}
		var tmp [8]byte
		binary.BigEndian.PutUint64(tmp[:], uint64(n)) //nolint:gosec // two's complement
		i := 0
		for i < 7 && ((tmp[i] == 0 && tmp[i+1]&0x80 == 0) || (tmp[i] == 0xff && tmp[i+1]&0x80 != 0)) {
			i++
		}
		return AppendBytes(b, tmp[i:]), nil
	}
	i := new(big.Int).Mul(r.Num(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	i.Div(i, r.Denom())
	if len(i.String())-boolInt(i.Sign() < 0) > precision {
		return b, fmt.Errorf("avrobin: %s has more than %d digits", r.FloatString(scale), precision)
	}
	return AppendBytes(b, TwosComplement(i)), nil
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

func digits(n int64) int {
	if n < 0 {
		n = -n
	}
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// unscaled64 returns r*10^scale when it is a whole number that fits an int64.
func unscaled64(r *big.Rat, scale int) (int64, bool) {
	if scale < 0 || scale >= len(pow10) || !r.Num().IsInt64() {
		return 0, false
	}
	num := r.Num().Int64()
	var mul int64
	if r.IsInt() {
		mul = pow10[scale]
	} else {
		d := r.Denom()
		if !d.IsInt64() || pow10[scale]%d.Int64() != 0 {
			return 0, false
		}
		mul = pow10[scale] / d.Int64()
	}
	hi, lo := bits.Mul64(uint64(abs(num)), uint64(mul)) //nolint:gosec // both positive
	if hi != 0 || lo > math.MaxInt64 || num == math.MinInt64 {
		return 0, false
	}
	if num < 0 {
		return -int64(lo), true //nolint:gosec // checked above
	}
	return int64(lo), true //nolint:gosec // checked above
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// TwosComplement returns n's two's-complement big-endian bytes, as few as hold it.
func TwosComplement(n *big.Int) []byte {
	switch n.Sign() {
	case 0:
		return []byte{0}
	case 1:
		b := n.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n = ^(n-1): the bytes of |n|-1, inverted.
	m := new(big.Int).Sub(new(big.Int).Neg(n), big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// Reader reads Avro binary values from a byte slice. Its first error sticks:
// every read after it returns a zero value.
//
// Strings are cut from one copy of the whole data, made on the first string
// read: a decode allocates once for all its strings, not once per string. A
// string kept after the decode keeps that copy alive.
type Reader struct {
	buf []byte
	str string // string(buf), made on the first String
	pos int
	err error
}

// NewReader returns a Reader of data.
func NewReader(data []byte) Reader { return Reader{buf: data} }

// Err returns the first error, or nil.
func (r *Reader) Err() error { return r.err }

// Fail records err unless an error is recorded already.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Done returns the first error, or an error when bytes remain unread.
func (r *Reader) Done() error {
	if r.err == nil && r.pos != len(r.buf) {
		return fmt.Errorf("avrobin: %d bytes after the value", len(r.buf)-r.pos)
	}
	return r.err
}

// Long reads a long. Values of one byte, the most common, take an inlined path.
func (r *Reader) Long() int64 {
	if r.pos < len(r.buf) && r.err == nil {
		if c := r.buf[r.pos]; c < 0x80 {
			r.pos++
			return int64(c>>1) ^ -int64(c&1)
		}
	}
	return r.longSlow()
}

func (r *Reader) longSlow() int64 {
	if r.err != nil {
		return 0
	}
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if r.pos >= len(r.buf) {
			r.Fail(ErrShort)
			return 0
		}
		c := r.buf[r.pos]
		r.pos++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1) //nolint:gosec // zig-zag
		}
	}
	r.Fail(errors.New("avrobin: varint longer than 10 bytes"))
	return 0
}

// Int reads an int.
func (r *Reader) Int() int32 {
	v := r.Long()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.Fail(fmt.Errorf("avrobin: int %d out of range", v))
		return 0
	}
	return int32(v)
}

// Bool reads a boolean.
func (r *Reader) Bool() bool {
	if r.err != nil {
		return false
	}
	if r.pos >= len(r.buf) {
		r.Fail(ErrShort)
		return false
	}
	c := r.buf[r.pos]
	r.pos++
	return c != 0
}

// Float reads a float.
func (r *Reader) Float() float32 {
	p := r.next(4)
	if p == nil {
		return 0
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(p))
}

// Double reads a double.
func (r *Reader) Double() float64 {
	p := r.next(8)
	if p == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(p))
}

func (r *Reader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf)-r.pos {
		r.Fail(ErrShort)
		return nil
	}
	p := r.buf[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return p
}

// BytesView reads bytes and returns them without copying: they alias the data.
func (r *Reader) BytesView() []byte {
	n := r.Long()
	if n < 0 {
		r.Fail(fmt.Errorf("avrobin: negative length %d", n))
		return nil
	}
	return r.next(int(n))
}

// Bytes reads bytes into a new slice.
func (r *Reader) Bytes() []byte {
	p := r.BytesView()
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}

// String reads a string.
func (r *Reader) String() string {
	n := r.Long()
	if r.err != nil {
		return ""
	}
	if n < 0 || n > int64(len(r.buf)-r.pos) {
		r.Fail(ErrShort)
		return ""
	}
	if n == 0 {
		return ""
	}
	if r.str == "" {
		r.str = string(r.buf)
	}
	s := r.str[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

// Fixed reads n bytes into dst.
func (r *Reader) Fixed(dst []byte) { copy(dst, r.next(len(dst))) }

// TimestampMillis reads a timestamp-millis as a UTC time.
func (r *Reader) TimestampMillis() time.Time { return time.UnixMilli(r.Long()).UTC() }

// TimestampMicros reads a timestamp-micros as a UTC time.
func (r *Reader) TimestampMicros() time.Time { return time.UnixMicro(r.Long()).UTC() }

// Date reads a date as midnight UTC.
func (r *Reader) Date() time.Time { return time.Unix(int64(r.Int())*86400, 0).UTC() }

// Decimal reads a bytes decimal at scale.
func (r *Reader) Decimal(scale int) *big.Rat {
	p := r.BytesView()
	if r.err != nil {
		return nil
	}
	return RatFromBytes(p, scale)
}

// RatFromBytes is the decimal whose unscaled value's two's-complement bytes are b.
func RatFromBytes(b []byte, scale int) *big.Rat {
	if len(b) > 0 && len(b) <= 8 && scale >= 0 && scale < len(pow10) {
		var n int64
		if b[0]&0x80 != 0 {
			n = -1
		}
		for _, c := range b {
			n = n<<8 | int64(c)
		}
		return new(big.Rat).SetFrac64(n, pow10[scale])
	}
	num := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		num.Sub(num, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return new(big.Rat).SetFrac(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
}

// Index reads a union branch or enum symbol index and checks it is below n.
func (r *Reader) Index(n int) int {
	i := r.Long()
	if r.err != nil {
		return 0
	}
	if i < 0 || i >= int64(n) {
		r.Fail(fmt.Errorf("avrobin: index %d out of range [0, %d)", i, n))
		return 0
	}
	return int(i)
}

// BlockCount reads the count of an array or map block; a negative count is
// followed by the block's size in bytes, which is skipped. 0 ends the blocks.
func (r *Reader) BlockCount() int {
	n := r.Long()
	if n < 0 {
		n = -n
		r.Long()
	}
	if r.err != nil {
		return 0
	}
	// Items take at least a byte, but for null and empty records; a count
	// far beyond the data left is corrupt, and would allocate for nothing.
	if left := int64(len(r.buf) - r.pos); n > left && n > 1<<16 {
		r.Fail(fmt.Errorf("avrobin: block of %d items in %d bytes", n, left))
		return 0
	}
	return int(n)
}

// FinishBlock turns the items appended to b since start into a block as
// hamba/avro writes it: the negated count and the size in bytes before the
// items (a plain count when they take no bytes).
func FinishBlock(b []byte, start, count int) []byte {
	size := len(b) - start
	var hdr [20]byte
	var h []byte
	if size > 0 {
		h = AppendLong(AppendLong(hdr[:0], int64(-count)), int64(size))
	} else {
		h = AppendLong(hdr[:0], int64(count))
	}
	b = append(b, h...)
	copy(b[start+len(h):], b[start:start+size])
	copy(b[start:], h)
	return b
}

// AppendFixedDecimal appends a fixed decimal of size bytes: the
// two's-complement big-endian bytes of r's unscaled value, sign-extended.
func AppendFixedDecimal(b []byte, r *big.Rat, size, precision, scale int) ([]byte, error) {
	start := len(b)
	b, err := AppendDecimal(b, r, precision, scale)
	if err != nil {
		return b, err
	}
	// Take the bytes back out of their length-prefixed form.
	rd := NewReader(b[start:])
	p := rd.BytesView()
	if len(p) > size {
		return b[:start], fmt.Errorf("avrobin: %s does not fit %d bytes", r.FloatString(scale), size)
	}
	var tmp [64]byte
	val := append(tmp[:0], p...)
	b = b[:start]
	fill := byte(0)
	if len(val) > 0 && val[0]&0x80 != 0 {
		fill = 0xff
	}
	for range size - len(val) {
		b = append(b, fill)
	}
	return append(b, val...), nil
}

// FixedDecimal reads a fixed decimal of size bytes at scale.
func (r *Reader) FixedDecimal(size, scale int) *big.Rat {
	p := r.next(size)
	if p == nil {
		return nil
	}
	return RatFromBytes(p, scale)
}
