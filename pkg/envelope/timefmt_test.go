package envelope

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestDigits8: the lane arithmetic equals fmt's %08d. Each lane is
// independent, so every value of each 4-digit lane against a sweep of the
// other, and random values, cover it.
func TestDigits8(t *testing.T) {
	check := func(x uint32) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], digits8(x)|0x3030_3030_3030_3030)
		if want := fmt.Sprintf("%08d", x); string(b[:]) != want {
			t.Fatalf("digits8(%d) = %q, want %q", x, b[:], want)
		}
	}
	for i := range uint32(10000) {
		check(i*10000 + (9999 - i))
		check(i*10000 + i)
		check(i)
		check(i * 10000)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		check(r.Uint32N(100_000_000))
	}
}

// TestRFC3339DayCache: consecutive times crossing midnight, and a day far
// away between, format as time does whatever the cache holds.
func TestRFC3339DayCache(t *testing.T) {
	base := int64(1763769599) // 2025-11-21T23:59:59Z
	for _, sec := range []int64{base, base + 1, base, -1, 0, base + 86400, minRFC3339, maxRFC3339 - 1, base + 1} {
		for _, ns := range []int{0, 1, 10, 999_999_999, 100_000_000, 120_000_000} {
			got := string(appendRFC3339(nil, sec, ns))
			want := timeUnix(sec, ns)
			if got != want {
				t.Errorf("%d.%09d: %s, want %s", sec, ns, got, want)
			}
		}
	}
}

// TestRFC3339Now: the second cache gives time's text for the seconds it
// holds and the ones it does not, one goroutine or many (run with -race).
func TestRFC3339Now(t *testing.T) {
	base := int64(1763769598) // 2025-11-21T23:59:58Z
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 3))
			for i := range 5000 {
				sec := base + int64(i/1000) // a few seconds, crossing midnight
				if r.IntN(50) == 0 {
					sec = r.Int64N(maxRFC3339-minRFC3339) + minRFC3339 // far away
				}
				ns := r.IntN(1e9)
				if r.IntN(10) == 0 {
					ns = r.IntN(10) * 100_000_000
				}
				got := string(appendRFC3339Now([]byte("x"), sec, ns))
				if want := "x" + timeUnix(sec, ns); got != want {
					t.Errorf("%d.%09d: %s, want %s", sec, ns, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
