package dedup_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waybill/waybill/pkg/kafka/dedup"
)

func TestMemoryPanicsOnBadCapacity(t *testing.T) {
	for _, capacity := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMemory(%d) did not panic", capacity)
				}
			}()
			dedup.NewMemory(capacity)
		}()
	}
}

func TestMemoryClose(t *testing.T) {
	s := dedup.NewMemory(10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ran := false
	dup, err := s.Do(t.Context(), "a", func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, dedup.ErrClosed) || dup || ran {
		t.Fatalf("Do after Close = %v, %v, ran %v; want false, ErrClosed, not run", dup, err, ran)
	}
}

// TestMemoryCapacity: within capacity every recorded ID is a duplicate; past
// it the oldest recorded IDs are forgotten, first in first out, and a
// duplicate does not make an ID younger.
func TestMemoryCapacity(t *testing.T) {
	const capacity = 5
	s := dedup.NewMemory(capacity)
	defer s.Close()
	do := func(id string) bool {
		t.Helper()
		dup, err := s.Do(t.Context(), id, func(context.Context) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return dup
	}
	for i := range capacity {
		if do(fmt.Sprint(i)) {
			t.Fatalf("new id %d reported duplicate", i)
		}
	}
	for i := range capacity {
		if !do(fmt.Sprint(i)) {
			t.Fatalf("id %d within capacity not detected", i)
		}
	}
	// "0" was seen again just now, but it is still the oldest recorded.
	do("5")
	if do("1") != true {
		t.Fatal(`"1" forgotten before "0"`)
	}
	if do("0") {
		t.Fatal(`"0", the oldest, was not forgotten`) // and is now recorded again, newest
	}
	// Recorded now, oldest first: 2 3 4 5 0.
	for _, id := range []string{"2", "3", "4", "5", "0"} {
		if !do(id) {
			t.Fatalf("%q forgotten too early", id)
		}
	}
}

// TestMemoryModel checks random sequences against a plain FIFO model.
func TestMemoryModel(t *testing.T) {
	for _, capacity := range []int{1, 2, 7, 64} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(capacity), 1))
			s := dedup.NewMemory(capacity)
			defer s.Close()
			var fifo []string // model: recorded IDs, oldest first
			in := func(id string) bool {
				for _, x := range fifo {
					if x == id {
						return true
					}
				}
				return false
			}
			fnErr := errors.New("handler failed")
			for step := range 5000 {
				id := fmt.Sprint(rng.IntN(capacity * 3))
				fail := rng.IntN(5) == 0
				ran := false
				dup, err := s.Do(t.Context(), id, func(context.Context) error {
					ran = true
					if fail {
						return fnErr
					}
					return nil
				})
				want := in(id)
				if dup != want || ran == want {
					t.Fatalf("step %d id %s: duplicate %v ran %v, want duplicate %v (model %v)", step, id, dup, ran, want, fifo)
				}
				switch {
				case want:
					if err != nil {
						t.Fatalf("step %d: duplicate with error %v", step, err)
					}
				case fail:
					if err != fnErr { //nolint:errorlint // returned as is: the same value
						t.Fatalf("step %d: err %v, want the handler's error as is", step, err)
					}
				default:
					if err != nil {
						t.Fatal(err)
					}
					fifo = append(fifo, id)
					if len(fifo) > capacity {
						fifo = fifo[1:]
					}
				}
			}
		})
	}
}

// TestMemoryConcurrent runs many goroutines on few IDs: fn never runs twice
// at once for one ID, and runs exactly once per ID when it succeeds.
func TestMemoryConcurrent(t *testing.T) {
	s := dedup.NewMemory(1000)
	defer s.Close()
	const ids, goroutines = 10, 32
	var running, runs [ids]atomic.Int32
	var overlap atomic.Bool
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range ids {
				id := (i + g) % ids
				_, err := s.Do(t.Context(), fmt.Sprint(id), func(context.Context) error {
					if running[id].Add(1) > 1 {
						overlap.Store(true)
					}
					defer running[id].Add(-1)
					n := runs[id].Add(1)
					time.Sleep(100 * time.Microsecond)
					if n <= 3 { // the first three attempts fail
						return errors.New("fail")
					}
					return nil
				})
				_ = err
			}
		})
	}
	wg.Wait()
	if overlap.Load() {
		t.Error("fn ran concurrently for one ID")
	}
	for id := range ids {
		if n := runs[id].Load(); n != 4 {
			t.Errorf("id %d: fn ran %d times, want 4 (3 failures, 1 success, then duplicates)", id, n)
		}
	}
}

// TestMemoryWaiterSeesOutcome: a second Do for an ID in flight waits; it is
// a duplicate if the first succeeds, and runs fn if the first fails.
func TestMemoryWaiterSeesOutcome(t *testing.T) {
	for _, firstFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("firstFails=%v", firstFails), func(t *testing.T) {
			s := dedup.NewMemory(10)
			defer s.Close()
			started, release := make(chan struct{}), make(chan struct{})
			first := make(chan error, 1)
			go func() {
				_, err := s.Do(t.Context(), "x", func(context.Context) error {
					close(started)
					<-release
					if firstFails {
						return errors.New("first failed")
					}
					return nil
				})
				first <- err
			}()
			<-started
			second := make(chan bool, 1)
			ran := make(chan struct{}, 1)
			go func() {
				dup, err := s.Do(t.Context(), "x", func(context.Context) error { ran <- struct{}{}; return nil })
				if err != nil {
					t.Error(err)
				}
				second <- dup
			}()
			select {
			case <-second:
				t.Fatal("second Do returned while the first was in flight")
			case <-ran:
				t.Fatal("second fn ran while the first was in flight")
			case <-time.After(50 * time.Millisecond):
			}
			close(release)
			if err := <-first; (err != nil) != firstFails {
				t.Fatalf("first Do: %v", err)
			}
			dup := <-second
			if dup == firstFails {
				t.Fatalf("second Do duplicate = %v, want %v", dup, !firstFails)
			}
			if len(ran) != map[bool]int{true: 1, false: 0}[firstFails] {
				t.Fatalf("second fn ran %d times", len(ran))
			}
		})
	}
}

func TestMemoryWaiterContextCanceled(t *testing.T) {
	s := dedup.NewMemory(10)
	defer s.Close()
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = s.Do(t.Context(), "x", func(context.Context) error { close(started); <-release; return nil })
	}()
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	dup, err := s.Do(ctx, "x", func(context.Context) error { t.Error("fn ran"); return nil })
	if dup || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v, %v; want false, context.DeadlineExceeded", dup, err)
	}
	close(release)
	<-done
}

// TestMemoryPanic: a panicking fn leaves the ID unrecorded and does not
// block later calls.
func TestMemoryPanic(t *testing.T) {
	s := dedup.NewMemory(10)
	defer s.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic not propagated")
			}
		}()
		_, _ = s.Do(t.Context(), "x", func(context.Context) error { panic("boom") })
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ran := false
	dup, err := s.Do(ctx, "x", func(context.Context) error { ran = true; return nil })
	if dup || err != nil || !ran {
		t.Fatalf("Do after panic = %v, %v, ran %v", dup, err, ran)
	}
}

func TestMemoryEmptyID(t *testing.T) {
	s := dedup.NewMemory(10)
	defer s.Close()
	dup, err := s.Do(t.Context(), "", func(context.Context) error { t.Error("fn ran"); return nil })
	if dup || err == nil {
		t.Fatalf("Do(\"\") = %v, %v; want an error", dup, err)
	}
}
