package dedup_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/kafka/dedup"
)

// The child process of TestBoltCrash is the test binary run again with these
// variables set.
const (
	envChild   = "WAYBILL_DEDUP_CHILD"
	envPath    = "WAYBILL_DEDUP_PATH"
	envIDs     = "WAYBILL_DEDUP_IDS"
	envWorkers = "WAYBILL_DEDUP_WORKERS"
	envBatch   = "WAYBILL_DEDUP_BATCH"
)

// TestBoltCrash kills a process handling events through Bolt at a random
// moment, then handles all events again, as Kafka redelivers what was not
// committed: every event must have had its effect exactly once. Each handler
// counts its effects in its own bucket, through Tx.
func TestBoltCrash(t *testing.T) {
	if os.Getenv(envChild) == "1" {
		crashChild(t)
		return
	}
	const ids = 1000
	for _, mode := range []struct {
		name    string
		workers int
		batch   bool
		rounds  int
	}{
		{"sequential", 1, false, 4},
		{"workers", 8, false, 2},
		{"batch", 8, true, 4},
	} {
		t.Run(mode.name, func(t *testing.T) {
			late := 0
			for round := 0; round < mode.rounds; round++ {
				path := filepath.Join(t.TempDir(), "dedup.db")
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBoltCrash$", "-test.count=1")
				cmd.Env = append(os.Environ(), envChild+"=1", envPath+"="+path,
					envIDs+"="+strconv.Itoa(ids), envWorkers+"="+strconv.Itoa(mode.workers),
					envBatch+"="+strconv.FormatBool(mode.batch))
				cmd.Stderr = os.Stderr
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// The child prints each ID once Do returned for it: the
				// handler's effect is then committed. Kill it after a
				// random number of them, a random moment later.
				killAfter := 1 + rand.IntN(ids/2)
				handled := map[string]bool{}
				lines := bufio.NewScanner(out)
				finished := false
				for lines.Scan() {
					line := lines.Text()
					if line == "finished" {
						finished = true
						continue
					}
					handled[line] = true
					if len(handled) == killAfter {
						// Spin rather than sleep: sleeps come in
						// steps that lock onto the child's pace and
						// kill it at the same point of Do each time.
						d := time.Duration(rand.IntN(3000)) * time.Microsecond
						for start := time.Now(); time.Since(start) < d; {
						}
						if err := cmd.Process.Kill(); err != nil {
							t.Fatal(err)
						}
					}
				}
				err = cmd.Wait()
				cancel()
				if finished || err == nil {
					// On a loaded machine the child may run ahead of
					// the parent reading its output, to the end.
					if late++; late > 3 {
						t.Fatalf("round %d: the child finished before it was killed, %d times", round, late)
					}
					t.Logf("round %d: the child finished before it was killed; again", round)
					round--
					continue
				}

				// No fsync from here on: nothing crashes, and 1000
				// fsyncs take seconds.
				b := openBolt(t, path, dedup.WithBoltOptions(&bbolt.Options{Timeout: time.Second, NoSync: true}), dedup.WithBatch())
				before := map[string]uint64{}
				done := 0
				for i := range ids {
					id := strconv.Itoa(i)
					n := count(t, b.DB(), id)
					if n > 1 || (handled[id] && n != 1) {
						t.Fatalf("round %d: after the kill, id %s had its effect %d times (Do returned: %v)", round, id, n, handled[id])
					}
					before[id] = n
					done += int(n)
				}
				// Redelivery: everything again, in a new order, by 8
				// workers sharing transactions.
				work := make(chan int)
				var wg sync.WaitGroup
				for range 8 {
					wg.Go(func() {
						for i := range work {
							id := strconv.Itoa(i)
							dup, err := b.Do(t.Context(), id, increment(id))
							if err != nil || dup != (before[id] == 1) {
								t.Errorf("round %d: id %s: duplicate %v, %v, but its effect was there %d times", round, id, dup, err, before[id])
							}
						}
					})
				}
				for _, i := range rand.Perm(ids) {
					work <- i
				}
				close(work)
				wg.Wait()
				for i := range ids {
					if n := count(t, b.DB(), strconv.Itoa(i)); n != 1 {
						t.Fatalf("round %d: id %d had its effect %d times, want 1", round, i, n)
					}
				}
				t.Logf("round %d: killed after %d reported, %d committed", round, len(handled), done)
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// crashChild handles IDs 0..N-1 until killed, and says "finished" if not.
func crashChild(t *testing.T) {
	ids, _ := strconv.Atoi(os.Getenv(envIDs))
	workers, _ := strconv.Atoi(os.Getenv(envWorkers))
	var opts []dedup.BoltOpt
	if os.Getenv(envBatch) == "true" {
		opts = append(opts, dedup.WithBatch())
	}
	b := openBolt(t, os.Getenv(envPath), opts...)
	work := make(chan string)
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for id := range work {
				mustDo(t, b, id)
				mu.Lock()
				fmt.Fprintln(w, id)
				w.Flush()
				mu.Unlock()
			}
		})
	}
	for i := range ids {
		work <- strconv.Itoa(i)
	}
	close(work)
	wg.Wait()
	fmt.Fprintln(w, "finished")
	w.Flush()
}
