package dedup_test

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/waybill/waybill/pkg/kafka/dedup"
)

// Each iteration records a new ID (the common case: most events are not
// duplicates). Bolt's fn writes one counter through Tx, as a handler keeping
// its state in the same file would. Parallel benchmarks run 4×GOMAXPROCS
// goroutines, about a consumer's 8 workers on 2 cores.

func BenchmarkMemoryDo(b *testing.B) {
	s := dedup.NewMemory(100_000)
	defer s.Close()
	fn := func(context.Context) error { return nil }
	ctx := context.Background()
	ids := benchIDs(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if dup, err := s.Do(ctx, ids[i], fn); dup || err != nil {
			b.Fatal(dup, err)
		}
	}
}

func BenchmarkMemoryDoParallel(b *testing.B) {
	s := dedup.NewMemory(100_000)
	defer s.Close()
	fn := func(context.Context) error { return nil }
	ids := benchIDs(b.N)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if dup, err := s.Do(ctx, ids[next.Add(1)-1], fn); dup || err != nil {
				b.Error(dup, err)
				return
			}
		}
	})
}

func BenchmarkBoltDo(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []dedup.BoltOpt
	}{{"update", nil}, {"batch", []dedup.BoltOpt{dedup.WithBatch()}}} {
		b.Run(bc.name, func(b *testing.B) {
			s := openBolt(b, filepath.Join(b.TempDir(), "dedup.db"), bc.opts...)
			ctx := context.Background()
			ids := benchIDs(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if dup, err := s.Do(ctx, ids[i], increment(ids[i])); dup || err != nil {
					b.Fatal(dup, err)
				}
			}
		})
	}
}

func BenchmarkBoltDoParallel(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []dedup.BoltOpt
	}{{"update", nil}, {"batch", []dedup.BoltOpt{dedup.WithBatch()}}} {
		b.Run(bc.name, func(b *testing.B) {
			s := openBolt(b, filepath.Join(b.TempDir(), "dedup.db"), bc.opts...)
			ids := benchIDs(b.N)
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					id := ids[next.Add(1)-1]
					if dup, err := s.Do(ctx, id, increment(id)); dup || err != nil {
						b.Error(dup, err)
						return
					}
				}
			})
		})
	}
}

// benchIDs returns n distinct IDs shaped like envelope IDs (36-byte UUIDs).
func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		s := strconv.Itoa(i)
		ids[i] = "0190d5c2-7a4b-7000-8000-" + "000000000000"[len(s):] + s
	}
	return ids
}
