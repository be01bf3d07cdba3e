package dedup_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/kafka/dedup"
)

// counters is the bucket where test handlers keep their state: how often
// each event had its effect.
var counters = []byte("test.counters")

func openBolt(t testing.TB, path string, opts ...dedup.BoltOpt) *dedup.Bolt {
	t.Helper()
	b, err := dedup.OpenBolt(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.DB().Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(counters)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// increment is a handler that counts its effects in the counters bucket,
// through the Do transaction.
func increment(id string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		tx := dedup.Tx(ctx)
		if tx == nil {
			return errors.New("no transaction in fn's context")
		}
		b := tx.Bucket(counters)
		var n uint64
		if v := b.Get([]byte(id)); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		return b.Put([]byte(id), binary.BigEndian.AppendUint64(nil, n+1))
	}
}

// count reads how often id's handler had its effect.
func count(t testing.TB, db *bbolt.DB, id string) uint64 {
	t.Helper()
	var n uint64
	if err := db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(counters).Get([]byte(id)); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// mustDo runs Do with increment and fails the test on an error.
func mustDo(t testing.TB, s dedup.Store, id string) (duplicate bool) {
	t.Helper()
	dup, err := s.Do(context.Background(), id, increment(id))
	if err != nil {
		t.Fatalf("Do(%q): %v", id, err)
	}
	return dup
}

func TestBoltDuplicateSurvivesReopen(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			var opts []dedup.BoltOpt
			if batch {
				opts = append(opts, dedup.WithBatch())
			}
			path := filepath.Join(t.TempDir(), "dedup.db")
			b := openBolt(t, path, opts...)
			if mustDo(t, b, "a") {
				t.Fatal("first Do reported a duplicate")
			}
			if !mustDo(t, b, "a") {
				t.Fatal("second Do did not report a duplicate")
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			b = openBolt(t, path, opts...)
			if !mustDo(t, b, "a") {
				t.Fatal("Do after reopen did not report a duplicate")
			}
			if mustDo(t, b, "b") {
				t.Fatal("new ID after reopen reported a duplicate")
			}
			if n := count(t, b.DB(), "a"); n != 1 {
				t.Fatalf("handler of a had its effect %d times, want 1", n)
			}
		})
	}
}

// TestBoltFailureRollsBack: an error or a panic from fn discards fn's writes
// and leaves the ID unrecorded, so the retry runs fn again.
func TestBoltFailureRollsBack(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			var opts []dedup.BoltOpt
			if batch {
				opts = append(opts, dedup.WithBatch())
			}
			b := openBolt(t, filepath.Join(t.TempDir(), "dedup.db"), opts...)
			fnErr := errors.New("handler failed")
			dup, err := b.Do(t.Context(), "a", func(ctx context.Context) error {
				if err := increment("a")(ctx); err != nil {
					return err
				}
				return fnErr
			})
			if dup || err != fnErr { //nolint:errorlint // returned as is: the same value
				t.Fatalf("Do = %v, %v; want false and the handler's error as is", dup, err)
			}
			func() {
				defer func() {
					if recover() == nil {
						t.Fatal("panic not propagated")
					}
				}()
				_, _ = b.Do(t.Context(), "a", func(ctx context.Context) error {
					_ = increment("a")(ctx)
					panic("boom")
				})
			}()
			if n := count(t, b.DB(), "a"); n != 0 {
				t.Fatalf("failed handler's writes kept: count %d", n)
			}
			if mustDo(t, b, "a") {
				t.Fatal("ID recorded although fn failed")
			}
			if n := count(t, b.DB(), "a"); n != 1 {
				t.Fatalf("count %d after retry, want 1", n)
			}
		})
	}
}

type derivedKey struct{}

func TestBoltTx(t *testing.T) {
	if dedup.Tx(t.Context()) != nil {
		t.Fatal("Tx outside Do is not nil")
	}
	m := dedup.NewMemory(1)
	defer m.Close()
	_, _ = m.Do(t.Context(), "a", func(ctx context.Context) error {
		if dedup.Tx(ctx) != nil {
			t.Error("Tx in Memory's fn is not nil")
		}
		return nil
	})
	b := openBolt(t, filepath.Join(t.TempDir(), "dedup.db"))
	var kept context.Context
	_, _ = b.Do(t.Context(), "a", func(ctx context.Context) error {
		tx := dedup.Tx(context.WithValue(ctx, derivedKey{}, 1))
		if tx == nil || !tx.Writable() {
			t.Errorf("Tx in a derived context = %v, want the writable transaction", tx)
		}
		kept = ctx
		return nil
	})
	if dedup.Tx(kept) != nil {
		t.Fatal("Tx after fn returned is not nil")
	}
}

func TestBoltConcurrent(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			var opts []dedup.BoltOpt
			if batch {
				opts = append(opts, dedup.WithBatch())
			}
			b := openBolt(t, filepath.Join(t.TempDir(), "dedup.db"), opts...)
			const ids, goroutines = 20, 8
			var running atomic.Int32
			var overlap atomic.Bool
			var fails [ids]atomic.Int32
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range ids {
						id := fmt.Sprint((i + g) % ids)
						idx := (i + g) % ids
						_, _ = b.Do(t.Context(), id, func(ctx context.Context) error {
							if running.Add(1) > 1 {
								overlap.Store(true)
							}
							defer running.Add(-1)
							if err := increment(id)(ctx); err != nil {
								return err
							}
							if fails[idx].Add(1) <= 2 { // the first two attempts fail
								return errors.New("fail")
							}
							return nil
						})
					}
				})
			}
			wg.Wait()
			if overlap.Load() {
				t.Error("two fns ran at once")
			}
			for i := range ids {
				id := fmt.Sprint(i)
				if n := count(t, b.DB(), id); n != 1 {
					t.Errorf("id %s: effect kept %d times, want 1", id, n)
				}
				if !mustDo(t, b, id) {
					t.Errorf("id %s: not recorded", id)
				}
			}
		})
	}
}

func TestBoltBadIDs(t *testing.T) {
	b := openBolt(t, filepath.Join(t.TempDir(), "dedup.db"))
	for _, id := range []string{"", string(make([]byte, bbolt.MaxKeySize))} {
		dup, err := b.Do(t.Context(), id, func(context.Context) error { t.Error("fn ran"); return nil })
		if dup || err == nil {
			t.Errorf("Do(ID of %d bytes) = %v, %v; want an error", len(id), dup, err)
		}
	}
}

func TestBoltClose(t *testing.T) {
	b, err := dedup.OpenBolt(filepath.Join(t.TempDir(), "dedup.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	dup, err := b.Do(t.Context(), "a", func(context.Context) error { t.Error("fn ran"); return nil })
	if dup || !errors.Is(err, dedup.ErrClosed) {
		t.Fatalf("Do after Close = %v, %v; want ErrClosed", dup, err)
	}
	if _, err := b.Prune(0); !errors.Is(err, dedup.ErrClosed) {
		t.Fatalf("Prune after Close = %v; want ErrClosed", err)
	}
}

// TestBoltLocked: a file another Bolt holds is not opened twice; OpenBolt
// gives up after the bbolt timeout instead of waiting forever.
func TestBoltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dedup.db")
	openBolt(t, path)
	start := time.Now()
	b, err := dedup.OpenBolt(path, dedup.WithBoltOptions(&bbolt.Options{Timeout: 100 * time.Millisecond}))
	if err == nil {
		b.Close()
		t.Fatal("opened a locked file")
	}
	t.Log(err)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("OpenBolt took %v", d)
	}
}

// clock is a settable time for Bolt (dedup.SetNow).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newClock(t *testing.T) *clock {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	t.Cleanup(dedup.SetNow(c.now))
	return c
}

func TestBoltPrune(t *testing.T) {
	clk := newClock(t)
	t.Cleanup(dedup.SetPruneChunk(100))
	b := openBolt(t, filepath.Join(t.TempDir(), "dedup.db"), dedup.WithRetention(0))
	for i := range 250 { // more than one prune transaction
		if i == 200 {
			clk.add(time.Hour)
		}
		mustDo(t, b, fmt.Sprint(i))
	}
	clk.add(time.Hour)
	if _, err := b.Prune(-time.Second); err == nil {
		t.Fatal("Prune(negative) did not fail")
	}
	removed, err := b.Prune(90 * time.Minute)
	if err != nil || removed != 200 {
		t.Fatalf("Prune = %d, %v; want 200 removed", removed, err)
	}
	if removed, err := b.Prune(90 * time.Minute); err != nil || removed != 0 {
		t.Fatalf("second Prune = %d, %v; want 0 removed", removed, err)
	}
	for _, i := range []int{0, 100, 199} {
		if mustDo(t, b, fmt.Sprint(i)) {
			t.Errorf("pruned id %d still a duplicate", i)
		}
	}
	for _, i := range []int{200, 249} {
		if !mustDo(t, b, fmt.Sprint(i)) {
			t.Errorf("kept id %d not a duplicate", i)
		}
	}
	clk.add(time.Nanosecond)
	if removed, err := b.Prune(0); err != nil || removed != 53 {
		t.Fatalf("Prune(0) = %d, %v; want all 53 removed", removed, err)
	}
}

// TestBoltRetention: OpenBolt prunes IDs older than the retention before it
// returns, and a goroutine prunes again while the store is open.
func TestBoltRetention(t *testing.T) {
	clk := newClock(t)
	path := filepath.Join(t.TempDir(), "dedup.db")
	b := openBolt(t, path)
	mustDo(t, b, "old")
	b.Close()

	clk.add(dedup.DefaultRetention - time.Minute)
	b = openBolt(t, path)
	if !mustDo(t, b, "old") {
		t.Fatal("ID within the default retention pruned on open")
	}
	b.Close()
	clk.add(2 * time.Minute)
	b = openBolt(t, path)
	if mustDo(t, b, "old") {
		t.Fatal("ID past the default retention not pruned on open")
	}
	b.Close()

	// WithRetention(1s) prunes every 250ms.
	b = openBolt(t, path, dedup.WithRetention(time.Second))
	mustDo(t, b, "new")
	clk.add(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		dup, err := b.Do(t.Context(), "new", func(context.Context) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !dup {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ID past the retention not pruned by the pruning goroutine")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBoltBatchPanic: with WithBatch, a fn that panics in a shared
// transaction panics in its own caller's goroutine; the other calls of the
// transaction run again and commit, each effect once.
func TestBoltBatchPanic(t *testing.T) {
	b := openBolt(t, filepath.Join(t.TempDir(), "dedup.db"), dedup.WithBatch())
	started := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := b.Do(t.Context(), "first", func(ctx context.Context) error {
			close(started)
			time.Sleep(100 * time.Millisecond) // the others queue up meanwhile
			return increment("first")(ctx)
		})
		first <- err
	}()
	<-started
	const n = 6
	var wg sync.WaitGroup
	var panics atomic.Int32
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprint(i)
			defer func() {
				if r := recover(); r != nil {
					if id != "3" || r != "boom" {
						t.Errorf("id %s: unexpected panic %v", id, r)
					}
					panics.Add(1)
				}
			}()
			_, err := b.Do(t.Context(), id, func(ctx context.Context) error {
				if err := increment(id)(ctx); err != nil {
					return err
				}
				if id == "3" {
					panic("boom")
				}
				return nil
			})
			if err != nil {
				t.Errorf("id %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if panics.Load() != 1 {
		t.Fatalf("%d panics, want 1", panics.Load())
	}
	for i := range n {
		id := fmt.Sprint(i)
		want := uint64(1)
		if id == "3" {
			want = 0
		}
		if c := count(t, b.DB(), id); c != want {
			t.Errorf("id %s: count %d, want %d", id, c, want)
		}
		if dup := mustDo(t, b, id); dup != (want == 1) {
			t.Errorf("id %s: duplicate %v after the batch", id, dup)
		}
	}
}
