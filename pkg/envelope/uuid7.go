package envelope

import (
	cryptorand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// The UUIDv7 generator (RFC 9562 §5.7, monotonicity by §6.2 method 1, a
// fixed-length dedicated counter):
//
//	unix_ts_ms (48 bits) | ver 0111 | counter bits 41-30 (rand_a, 12 bits)
//	| var 10 | counter bits 29-0 (30 bits) | random (32 bits)
//
// The 42-bit counter starts at a random value below 2^41 at each new
// millisecond and counts up by one within it; when it would overflow, the
// timestamp moves on a millisecond (§6.2 allows this). A clock that goes back
// keeps the last timestamp and counts on. So the IDs of one process are
// strictly increasing, as bytes and as strings. The random bits come from one
// ChaCha8 generator seeded once from crypto/rand: IDs must be unique, not
// secret. A mutex guards the state; it is held for a few nanoseconds.
type uuidGen struct {
	mu  sync.Mutex
	ms  int64  // the timestamp of the last ID
	seq uint64 // its counter, below 2^42
	rng rand.ChaCha8
}

const seqBits = 42

var ids = newUUIDGen()

func newUUIDGen() *uuidGen {
	var seed [32]byte
	_, _ = cryptorand.Read(seed[:]) // never fails (Go 1.24+): it crashes the program instead
	g := &uuidGen{}
	g.rng.Seed(seed)
	return g
}

// next returns the next UUIDv7 for the time ms (Unix milliseconds).
func (g *uuidGen) next(ms int64) (u [16]byte) {
	g.mu.Lock()
	if ms > g.ms {
		g.ms = ms
		g.seq = g.rng.Uint64() >> (64 - seqBits + 1) // below 2^41: 2^41 IDs before overflow
	} else {
		g.seq++
		if g.seq >= 1<<seqBits {
			g.ms++
			g.seq = g.rng.Uint64() >> (64 - seqBits + 1)
		}
	}
	ms, seq, r := g.ms, g.seq, g.rng.Uint64()
	g.mu.Unlock()

	// 48-bit timestamp, then version 7 and the counter's top 12 bits.
	binary.BigEndian.PutUint64(u[0:8], uint64(ms)<<16|0x7000|(seq>>30)&0x0fff)
	// Variant 10, the counter's low 30 bits, 32 random bits.
	binary.BigEndian.PutUint64(u[8:16], 0x8000_0000_0000_0000|(seq&(1<<30-1))<<32|r&0xffff_ffff)
	return u
}

// newUUIDv7 returns a new UUIDv7 for time t.
func newUUIDv7(t time.Time) [16]byte { return ids.next(t.UnixMilli()) }

// AppendNewID appends a new event ID, a UUIDv7 in its 36-character text
// form, to dst; it allocates only when dst must grow.
func AppendNewID(dst []byte) []byte {
	u := newUUIDv7(time.Now())
	return appendUUID(dst, &u)
}

// appendNewUUID appends a new event ID for the time unixNano (Unix
// nanoseconds) in its text form.
func appendNewUUID(dst []byte, unixNano int64) []byte {
	ms := unixNano / 1e6
	if unixNano < 0 && unixNano%1e6 != 0 {
		ms-- // floor, as time.Time.UnixMilli
	}
	u := ids.next(ms)
	return appendUUID(dst, &u)
}

// appendUUID appends u as 8-4-4-4-12 lowercase hex.
func appendUUID(dst []byte, u *[16]byte) []byte {
	l := len(dst)
	dst = slices.Grow(dst, 36)[:l+36]
	b := dst[l:]
	hexTo(b[0:8], u[0:4])
	b[8] = '-'
	hexTo(b[9:13], u[4:6])
	b[13] = '-'
	hexTo(b[14:18], u[6:8])
	b[18] = '-'
	hexTo(b[19:23], u[8:10])
	b[23] = '-'
	hexTo(b[24:36], u[10:16])
	return dst
}

// hexTable holds the two lowercase hex digits of every byte.
var hexTable = func() (t [512]byte) {
	const digits = "0123456789abcdef"
	for i := range 256 {
		t[2*i], t[2*i+1] = digits[i>>4], digits[i&15]
	}
	return t
}()

// hexPairs is hexTable as little-endian uint16s, for one store per byte.
var hexPairs = func() (t [256]uint16) {
	for i := range t {
		t[i] = uint16(hexTable[2*i]) | uint16(hexTable[2*i+1])<<8
	}
	return t
}()

// hexTo writes the lowercase hex of src to dst, len(dst) == 2*len(src).
func hexTo(dst, src []byte) {
	_ = dst[2*len(src)-1]
	for i, c := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], hexPairs[c])
	}
}
