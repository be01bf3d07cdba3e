package serde_test

import (
	"context"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/serde"
)

// TestMeasure prints the serde's overheads measured so that a busy machine
// does not drown them: the paths compared run interleaved, in chunks, and
// each reports its fastest chunk. Run with WAYBILL_SERDE_MEASURE=1 and -v.
func TestMeasure(t *testing.T) {
	if os.Getenv("WAYBILL_SERDE_MEASURE") == "" {
		t.Skip("set WAYBILL_SERDE_MEASURE=1 to measure")
	}
	e := newEnv(t)
	pushSchemas(t, e)
	ctx := context.Background()
	s := serde.New(e.client)
	w, err := serde.NewWriter(ctx, s, order2)
	if err != nil {
		t.Fatal(err)
	}
	wp, err := serde.NewWriter(ctx, s, p2)
	if err != nil {
		t.Fatal(err)
	}
	o1, _, err := s.Serialize(ctx, order1)
	if err != nil {
		t.Fatal(err)
	}
	o2, _, err := s.Serialize(ctx, order2)
	if err != nil {
		t.Fatal(err)
	}
	var into1 orderevents.OrderCreatedV1
	var into2 orderevents.OrderCreatedV2
	for _, v := range [][]byte{o1, o2} {
		if err := s.Deserialize(ctx, v, &into2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Deserialize(ctx, o1, &into1); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	fns := map[string]func(){
		"encode OrderCreatedV2: AppendAvro":       func() { buf, _ = order2.AppendAvro(buf[:0]) },
		"encode OrderCreatedV2: AppendSerialize":  func() { buf, _, _ = s.AppendSerialize(ctx, buf[:0], order2) },
		"encode OrderCreatedV2: Writer.Append":    func() { buf, _ = w.Append(buf[:0], order2) },
		"encode test Parcel v2: AppendAvro":       func() { buf, _ = p2.AppendAvro(buf[:0]) },
		"encode test Parcel v2: AppendSerialize":  func() { buf, _, _ = s.AppendSerialize(ctx, buf[:0], p2) },
		"encode test Parcel v2: Writer.Append":    func() { buf, _ = wp.Append(buf[:0], p2) },
		"decode OrderCreated v1 as v1":            func() { _ = s.Deserialize(ctx, o1, &into1) },
		"decode OrderCreated v1 as v2 (resolved)": func() { _ = s.Deserialize(ctx, o1, &into2) },
		"decode OrderCreated v2 as v2":            func() { _ = s.Deserialize(ctx, o2, &into2) },
	}
	const chunk, rounds = 1000, 2000
	mins := map[string]time.Duration{}
	for range rounds {
		for name, f := range fns {
			start := time.Now()
			for range chunk {
				f()
			}
			if d := time.Since(start); mins[name] == 0 || d < mins[name] {
				mins[name] = d
			}
		}
	}
	names := make([]string, 0, len(mins))
	for name := range mins {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Logf("%-42s %7.1f ns", name, float64(mins[name].Nanoseconds())/chunk)
	}
}
