package envelope

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestUUIDv7Order: a million IDs from one goroutine are distinct and strictly
// increasing, as bytes and as text, and each parses as version 7, RFC 9562
// variant, with the current time in its timestamp.
func TestUUIDv7Order(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 10_000
	}
	before := time.Now().UnixMilli()
	var prev [16]byte
	var prevText string
	for i := range n {
		u := newUUIDv7(time.Now())
		if i > 0 && bytes.Compare(prev[:], u[:]) >= 0 {
			t.Fatalf("ID %d %x is not after %x", i, u, prev)
		}
		text := string(appendUUID(nil, &u))
		if i > 0 && text <= prevText {
			t.Fatalf("ID %d %s is not after %s", i, text, prevText)
		}
		if i%997 == 0 {
			checkV7(t, text, before)
		}
		prev, prevText = u, text
	}
}

func checkV7(t *testing.T, text string, notBefore int64) {
	t.Helper()
	p, err := uuid.Parse(text)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	if p.Version() != 7 || p.Variant() != uuid.RFC4122 {
		t.Fatalf("%s: version %d variant %v", text, p.Version(), p.Variant())
	}
	if p.String() != text {
		t.Fatalf("%s formats back as %s", text, p)
	}
	ms := int64(p[0])<<40 | int64(p[1])<<32 | int64(p[2])<<24 | int64(p[3])<<16 | int64(p[4])<<8 | int64(p[5])
	// The counter may push the timestamp past the clock only after 2^41 IDs
	// in one millisecond, which a test cannot make.
	if now := time.Now().UnixMilli(); ms < notBefore || ms > now {
		t.Fatalf("%s: timestamp %d not in [%d, %d]", text, ms, notBefore, now)
	}
}

// TestUUIDv7Concurrent: goroutines making IDs at once get distinct IDs, each
// goroutine's strictly increasing (run with -race).
func TestUUIDv7Concurrent(t *testing.T) {
	const goroutines, each = 8, 20_000
	var wg sync.WaitGroup
	got := make([][][16]byte, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			ids := make([][16]byte, each)
			var m Message
			e := testEnvelope()
			for i := range ids {
				if i%2 == 0 {
					ids[i] = newUUIDv7(time.Now())
					continue
				}
				// Half through EncodeInto, the producer's path.
				e.ID = ""
				if err := EncodeInto(&m, e); err != nil {
					t.Error(err)
					return
				}
				id, _ := m.Header(HeaderID)
				p, err := uuid.ParseBytes(id)
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = p
			}
			got[g] = ids
		})
	}
	wg.Wait()
	seen := make(map[[16]byte]bool, goroutines*each)
	for _, ids := range got {
		for i, u := range ids {
			if seen[u] {
				t.Fatalf("duplicate ID %x", u)
			}
			seen[u] = true
			if i > 0 && bytes.Compare(ids[i-1][:], u[:]) >= 0 {
				t.Fatalf("%x then %x in one goroutine", ids[i-1], u)
			}
		}
	}
}

// TestUUIDv7Clock: the same millisecond, a clock going back and a counter
// overflow all keep the IDs increasing.
func TestUUIDv7Clock(t *testing.T) {
	g := newUUIDGen()
	a := g.next(1000)
	b := g.next(1000)
	c := g.next(999) // the clock went back
	g.seq = 1<<seqBits - 1
	d := g.next(1000) // the counter overflows: the timestamp moves on
	for _, p := range [][2][16]byte{{a, b}, {b, c}, {c, d}} {
		if bytes.Compare(p[0][:], p[1][:]) >= 0 {
			t.Errorf("%x then %x", p[0], p[1])
		}
	}
	if d[5] != byte(1001&0xff) || d[4] != byte(1001>>8) {
		t.Errorf("after overflow the timestamp is %x, want 1001", d[:6])
	}
	for _, u := range [][16]byte{a, b, c, d} {
		if u[6]>>4 != 7 || u[8]>>6 != 2 {
			t.Errorf("%x: version or variant", u)
		}
	}
}

// TestNewID: the exported forms.
func TestNewID(t *testing.T) {
	before := time.Now().UnixMilli()
	id, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	checkV7(t, id, before)
	b := AppendNewID([]byte("x"))
	if len(b) != 37 || b[0] != 'x' {
		t.Fatalf("AppendNewID: %q", b)
	}
	checkV7(t, string(b[1:]), before)
	if string(b[1:]) <= id {
		t.Errorf("%s then %s", id, b[1:])
	}
}

// TestAppendRFC3339Nano: the hand-written format equals time's, from year 0
// to 9999, with and without fractions, in any location.
func TestAppendRFC3339Nano(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		time.Unix(minRFC3339, 0), time.Unix(maxRFC3339-1, 999_999_999), time.Unix(0, 0), time.Unix(-1, 0),
		time.Unix(-1, 1), time.Date(2000, 2, 29, 23, 59, 59, 100, time.UTC), time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 12, 31, 12, 0, 0, 120_000_000, time.FixedZone("x", 5*3600+1800)), testTime,
	}
	for range 200_000 {
		sec := minRFC3339 + r.Int64N(maxRFC3339-minRFC3339)
		ns := r.Int64N(1e9)
		switch r.IntN(4) {
		case 0:
			ns = 0
		case 1:
			ns -= ns % 1000
		}
		times = append(times, time.Unix(sec, ns))
	}
	times = append(times, time.Now(), time.Now().In(time.FixedZone("y", -7*3600)))
	for _, tm := range times {
		if !inRFC3339Range(tm) {
			t.Fatalf("%v not in range", tm)
		}
		want := tm.UTC().AppendFormat(nil, time.RFC3339Nano)
		if got := appendRFC3339Nano([]byte("x"), tm); string(got[1:]) != string(want) || got[0] != 'x' {
			t.Fatalf("%v: %s, want %s", tm, got[1:], want)
		}
	}
	for _, tm := range []time.Time{time.Unix(minRFC3339-1, 999_999_999), time.Unix(maxRFC3339, 0)} {
		if inRFC3339Range(tm) {
			t.Errorf("%v in range", tm.UTC())
		}
		if y := tm.UTC().Year(); y >= 0 && y <= 9999 {
			t.Errorf("%v: the bounds are wrong", tm.UTC())
		}
	}
}

func TestAppendUint(t *testing.T) {
	for _, v := range []uint32{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 999_999_999, math.MaxUint32} {
		if got, want := string(appendUint([]byte("x"), v)), "x"+strconv.FormatUint(uint64(v), 10); got != want {
			t.Errorf("%d: %s", v, got)
		}
	}
}

func TestHexTo(t *testing.T) {
	src := make([]byte, 256)
	for i := range src {
		src[i] = byte(i)
	}
	dst := make([]byte, 512)
	hexTo(dst, src)
	if string(dst) != hex.EncodeToString(src) {
		t.Errorf("hexTo: %s", dst)
	}
	for range 100 {
		tp := NewTrace()
		tp.Flags = byte(rand.IntN(256))
		want := "00-" + hex.EncodeToString(tp.TraceID[:]) + "-" + hex.EncodeToString(tp.SpanID[:]) + "-" + hex.EncodeToString([]byte{tp.Flags})
		if tp.String() != want {
			t.Fatalf("%s, want %s", tp, want)
		}
	}
}

// TestKnownFullName: a remembered name does not make another of its length
// (its slot) valid, and concurrent checks agree.
func TestKnownFullName(t *testing.T) {
	for range 2 {
		for _, c := range []struct {
			name string
			ok   bool
		}{
			{"zz.yy.Remembered", true}, {"zz.yy.1emembered", false}, {"zz.yy..emembered", false},
			{"zz.yy.Rememb-red", false}, {"zz.yy.Remembered.", false}, {"", false}, {"a", true},
			{"_a._b", true}, {".a", false}, {"1a", false}, {"a.é", false},
		} {
			if got := knownFullName(c.name); got != c.ok {
				t.Errorf("knownFullName(%q) = %v", c.name, got)
			}
			if got := validFullName([]byte(c.name)); got != c.ok {
				t.Errorf("validFullName(%q) = %v", c.name, got)
			}
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				name := "c" + strconv.Itoa(g) + ".n" + strconv.Itoa(i)
				if !knownFullName(name) || knownFullName(name+".") {
					t.Error(name)
					return
				}
			}
		})
	}
	wg.Wait()
}
