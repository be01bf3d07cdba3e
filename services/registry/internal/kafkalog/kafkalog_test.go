package kafkalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waybill/waybill/services/registry/internal/kafkalog"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// A topic written by Confluent's registry replays record for record: the
// exact key bytes, null values as nil, in order, with offsets.
func TestReplayConfluentTopic(t *testing.T) {
	c := newCluster(t)
	if err := c.CreateTopic(topic, 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	addr := c.ListenAddrs()[0]
	want := readFixture(t, "confluent-schemas.tsv")
	for i := range want {
		if _, err := schemalog.ParseKey(want[i].Key); err != nil {
			t.Fatalf("fixture: %v", err)
		}
		want[i].Offset = int64(i)
	}
	write(t, addr, want)

	_, s := startLog(t, addr, kafkalog.Config{})
	if diff := cmp.Diff(want, s.snapshot()); diff != "" {
		t.Errorf("replay (-want +got):\n%s", diff)
	}
	for _, r := range s.snapshot() {
		if r.Value != nil && len(r.Value) == 0 {
			t.Errorf("offset %d: null value replayed as empty", r.Offset)
		}
	}
}

// Start creates a missing topic with one partition and cleanup.policy=compact,
// uses an existing one of that shape, and refuses any other.
func TestStartChecksTopic(t *testing.T) {
	tests := []struct {
		name    string
		parts   int32 // 0: no topic
		configs map[string]string
		wantErr string
	}{
		{name: "missing"},
		{name: "existing", parts: 1, configs: map[string]string{"cleanup.policy": "compact"}},
		{name: "partitions", parts: 3, configs: map[string]string{"cleanup.policy": "compact"}, wantErr: "3 partitions"},
		{name: "delete policy", parts: 1, configs: map[string]string{"cleanup.policy": "delete"}, wantErr: "cleanup.policy=delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t)
			if tt.parts > 0 {
				if err := c.CreateTopic(topic, tt.parts, tt.configs); err != nil {
					t.Fatal(err)
				}
			}
			l, err := kafkalog.New(kafkalog.Config{Brokers: c.ListenAddrs(), Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			err = l.Start(context.Background(), func(schemalog.Record) {})
			if tt.wantErr != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.wantErr)) {
					t.Fatalf("Start: %v, want an error with %q", err, tt.wantErr)
				}
				if errors.Is(err, schemalog.ErrUnavailable) {
					t.Errorf("Start: %v is not a matter of availability", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			info := c.TopicInfo(topic)
			if info == nil {
				t.Fatal("no topic")
			}
			if p := info.Configs["cleanup.policy"]; p == nil || *p != "compact" {
				t.Errorf("cleanup.policy = %v, want compact", p)
			}
			if n := len(c.PartitionInfos(topic)); n != 1 {
				t.Errorf("%d partitions, want 1", n)
			}
		})
	}
}

// Update returns once this instance applied its records; another
// instance's compute sees them without waiting for its own consumer.
func TestReadYourWrites(t *testing.T) {
	c := newCluster(t)
	addr := c.ListenAddrs()[0]
	a, sa := startLog(t, addr, kafkalog.Config{InstanceID: "a", Logger: testLogger(t)})
	b, sb := startLog(t, addr, kafkalog.Config{InstanceID: "b", Logger: testLogger(t)})
	ctx := context.Background()

	for i := 1; i <= 5; i++ {
		for _, w := range []struct {
			l *kafkalog.Log
			s *state
		}{{a, sa}, {b, sb}} {
			rec := schemaRecord("s", 0, 0)
			start := time.Now()
			err := w.l.Update(ctx, func() ([]schemalog.Record, error) {
				id := w.s.nextID() // both instances' writes so far are applied
				rec = schemaRecord(fmt.Sprintf("s%d", id), 1, id)
				return []schemalog.Record{rec}, nil
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if got, ok := w.s.value(rec.Key); !ok || !bytes.Equal(got, rec.Value) {
				t.Fatalf("after Update: %s = %s, want %s", rec.Key, got, rec.Value)
			}
			t.Logf("update %s in %v", rec.Key, time.Since(start))
		}
	}
	// Nothing to write: a's compute still sees b's last write.
	var seen int
	if err := a.Update(ctx, func() ([]schemalog.Record, error) {
		seen = sa.nextID() - 1
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != 10 {
		t.Errorf("max id %d, want 10", seen)
	}
	for _, s := range []*state{sa, sb} {
		if len(s.dups) > 0 {
			t.Errorf("ids claimed twice: %v", s.dups)
		}
	}

	// A failing compute writes nothing.
	before, hwm := len(sa.snapshot()), c.PartitionInfo(topic, 0).HighWatermark
	errCompute := errors.New("compute failed")
	if err := a.Update(ctx, func() ([]schemalog.Record, error) { return nil, errCompute }); !errors.Is(err, errCompute) {
		t.Fatalf("Update: %v, want %v", err, errCompute)
	}
	if err := a.Update(ctx, func() ([]schemalog.Record, error) {
		return []schemalog.Record{schemaRecord("x", 1, 99)}, errCompute
	}); !errors.Is(err, errCompute) {
		t.Fatalf("Update: %v, want %v", err, errCompute)
	}
	if err := b.Update(ctx, func() ([]schemalog.Record, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if after := len(sa.snapshot()); after != before {
		t.Errorf("%d records after empty and failed updates, want %d", after, before)
	}
	if after := c.PartitionInfo(topic, 0).HighWatermark; after != hwm {
		t.Errorf("high watermark %d after empty and failed updates, want %d", after, hwm)
	}
}

// Two instances on one topic, each handing out "the next ID" from its own
// state under Update, concurrently: no ID is handed out twice. This is
// the single-writer rule the registry's IDs depend on. The second case is
// the control: instances that do not share the transactional.id do not
// fence each other, and the same writes do hand out IDs twice.
func TestConcurrentWritersNeverShareAnID(t *testing.T) {
	tests := []struct {
		name     string
		txnID    func(instance int) string
		wantDups bool
	}{
		{name: "one lease", txnID: func(int) string { return "" }},
		{name: "no lease", txnID: func(i int) string { return fmt.Sprint("writer-", i) }, wantDups: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t)
			addr := c.ListenAddrs()[0]
			const (
				instances  = 2
				goroutines = 3
				updates    = 10 // per goroutine
				total      = instances * goroutines * updates
			)
			var computes atomic.Int64
			logs := make([]*kafkalog.Log, instances)
			states := make([]*state, instances)
			for i := range logs {
				logs[i], states[i] = startLog(t, addr, kafkalog.Config{InstanceID: fmt.Sprint(i), TransactionalID: tt.txnID(i)})
			}
			// Computes wait a moment for one of the other instance, so
			// that both compute at once now and then: the race a lease
			// must settle.
			meet := [instances]chan struct{}{make(chan struct{}), make(chan struct{})}
			var met atomic.Int64
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, instances*goroutines)
			for i := range logs {
				for g := range goroutines {
					wg.Go(func() {
						for u := range updates {
							err := logs[i].Update(context.Background(), func() ([]schemalog.Record, error) {
								computes.Add(1)
								id := states[i].nextID()
								select {
								case <-meet[i]:
									met.Add(1)
								case meet[1-i] <- struct{}{}:
								case <-time.After(time.Duration(rand.N(100)) * time.Millisecond):
								}
								return []schemalog.Record{schemaRecord(fmt.Sprintf("i%d-g%d-u%d", i, g, u), 1, id)}, nil
							})
							if err != nil {
								errs <- err
								return
							}
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Update: %v", err)
			}
			t.Logf("%d updates from %d instances in %v, %d computes at once, %d computes (%d again after losing the lease)",
				total, instances, time.Since(start), met.Load(), computes.Load(), computes.Load()-total)

			_, fresh := startLog(t, addr, kafkalog.Config{InstanceID: "fresh"})
			if tt.wantDups {
				if len(fresh.dups) == 0 {
					t.Errorf("no id handed out twice without a lease: the test cannot tell")
				}
				t.Logf("without a lease: %d ids handed out twice", len(fresh.dups))
				return
			}
			if computes.Load() == total {
				t.Error("no write lost the lease: the test did not exercise fencing")
			}
			for i, s := range append(states, fresh) {
				if len(s.dups) > 0 {
					t.Errorf("state %d: ids claimed twice: %v", i, s.dups)
				}
				if len(s.ids) != total || s.maxID != total {
					t.Errorf("state %d: %d ids up to %d, want 1..%d", i, len(s.ids), s.maxID, total)
				}
			}
		})
	}
}

// The state comes back after the broker restarts from its data directory.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	c := newCluster(t, kfake.DataDir(dir))
	l, s := startLog(t, c.ListenAddrs()[0], kafkalog.Config{})
	for i := 1; i <= 3; i++ {
		if err := l.Update(context.Background(), func() ([]schemalog.Record, error) {
			return []schemalog.Record{schemaRecord("s", i, i), {Key: schemalog.ConfigKey(nil), Value: schemalog.Value(schemalog.ConfigValue{CompatibilityLevel: "FULL"})}}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	want := s.snapshot()
	_ = l.Close()
	c.Close()

	c2 := newCluster(t, kfake.DataDir(dir))
	l2, s2 := startLog(t, c2.ListenAddrs()[0], kafkalog.Config{})
	if diff := cmp.Diff(want, s2.snapshot()); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
	// And writing goes on where it left.
	if err := l2.Update(context.Background(), func() ([]schemalog.Record, error) {
		return []schemalog.Record{schemaRecord("s", 4, s2.nextID())}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := s2.nextID(); got != 5 {
		t.Errorf("next id %d, want 5", got)
	}
}

// A permanent delete is a tombstone with the key bytes that were read: after
// compaction the record is gone, also from a fresh replay. A tombstone with
// the same key serialized differently (Confluent issues #2961, #4420) would
// leave it to come back; the second case shows the test would see that.
func TestCompactionKeepsPermanentDeletes(t *testing.T) {
	tests := []struct {
		name      string
		written   []byte // the key as an older registry wrote it
		tombstone func(read []byte) []byte
		wantGone  bool
	}{
		{
			name:      "key bytes as read",
			written:   []byte(`{"magic":1,"keytype":"SCHEMA","subject":"s","version":1}`),
			tombstone: func(read []byte) []byte { return read },
			wantGone:  true,
		},
		{
			name:      "key serialized again",
			written:   []byte(`{"magic":1,"keytype":"SCHEMA","subject":"s","version":1}`),
			tombstone: func([]byte) []byte { return schemalog.SchemaKey("s", 1) },
			wantGone:  false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t)
			if err := c.CreateTopic(topic, 1, map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "0"}); err != nil {
				t.Fatal(err)
			}
			addr := c.ListenAddrs()[0]
			value := schemaRecord("s", 1, 1).Value
			write(t, addr, []schemalog.Record{{Key: tt.written, Value: value}})
			l, s := startLog(t, addr, kafkalog.Config{})

			// Delete it as the registry does: the key as replayed.
			read := s.snapshot()[0].Key
			if err := l.Update(context.Background(), func() ([]schemalog.Record, error) {
				return []schemalog.Record{{Key: tt.tombstone(read), Value: nil}}, nil
			}); err != nil {
				t.Fatal(err)
			}
			// More writes, so the tombstone is not in the last batch,
			// which compaction never touches.
			for i := 2; i <= 3; i++ {
				if err := l.Update(context.Background(), func() ([]schemalog.Record, error) {
					return []schemalog.Record{schemaRecord("other", i, i)}, nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			before := c.PartitionInfo(topic, 0)
			c.Compact()
			after := c.PartitionInfo(topic, 0)
			t.Logf("compaction: %d -> %d bytes, log start offset %d -> %d",
				before.NumBytes, after.NumBytes, before.LogStartOffset, after.LogStartOffset)

			_, fresh := startLog(t, addr, kafkalog.Config{InstanceID: "fresh"})
			_, present := fresh.value(tt.written)
			if present == tt.wantGone {
				t.Errorf("after compaction, %s present = %v, want %v; replayed: %v",
					tt.written, present, !tt.wantGone, keys(fresh.snapshot()))
			}
			if tt.wantGone {
				for _, r := range fresh.snapshot() {
					if bytes.Equal(r.Key, tt.written) && r.Value != nil {
						t.Errorf("offset %d: the deleted record is still in the log", r.Offset)
					}
				}
			}
		})
	}
}

func keys(recs []schemalog.Record) []string {
	var ks []string
	for _, r := range recs {
		v := "value"
		if r.Value == nil {
			v = "null"
		}
		ks = append(ks, fmt.Sprintf("%d:%s=%s", r.Offset, r.Key, v))
	}
	return ks
}

// A commit that the broker never acknowledges makes Update fail with
// ErrUnavailable at its deadline; once the broker answers again, writing goes
// on. The failed commit's outcome is unknown (librdkafka may still be
// retrying EndTxn when the fault ends, and then the commit lands): the failed
// write is visible to every instance or to none, and IDs stay consistent.
func TestUpdateFailsUnavailableWhenCommitsFail(t *testing.T) {
	c := newCluster(t)
	addr := c.ListenAddrs()[0]
	l, s := startLog(t, addr, kafkalog.Config{})
	fault := c.Fault(kfake.Fault{
		Keys:     []kmsg.Key{kmsg.EndTxn},
		TopLevel: true,
		Err:      kerr.CoordinatorNotAvailable,
		Count:    -1,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	var computes int
	err := l.Update(ctx, func() ([]schemalog.Record, error) {
		computes++
		return []schemalog.Record{schemaRecord("lost", 1, 1)}, nil
	})
	t.Logf("Update: %v after %v, %d computes", err, time.Since(start), computes)
	if !errors.Is(err, schemalog.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Update: %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	fault.Remove()

	if err := l.Update(context.Background(), func() ([]schemalog.Record, error) {
		return []schemalog.Record{schemaRecord("kept", 1, s.nextID())}, nil
	}); err != nil {
		t.Fatalf("Update after the fault: %v", err)
	}
	_, fresh := startLog(t, addr, kafkalog.Config{InstanceID: "fresh"})
	_, landed := s.value(schemalog.SchemaKey("lost", 1))
	t.Logf("the commit that timed out landed later: %v", landed)
	wantNext := 2
	if landed {
		wantNext = 3
	}
	for _, st := range []*state{s, fresh} {
		if _, ok := st.value(schemalog.SchemaKey("lost", 1)); ok != landed {
			t.Errorf("instances disagree on the failed write: %v", keys(st.snapshot()))
		}
		if _, ok := st.value(schemalog.SchemaKey("kept", 1)); !ok {
			t.Errorf("the later write is missing: %v", keys(st.snapshot()))
		}
		if st.nextID() != wantNext {
			t.Errorf("next id %d, want %d", st.nextID(), wantNext)
		}
		if len(st.dups) > 0 {
			t.Errorf("ids claimed twice: %v", st.dups)
		}
	}
}

// The broker goes away between the records and the commit: Update fails
// with ErrUnavailable. The commit's outcome is unknown: librdkafka keeps the
// transaction and may complete the commit once the broker is back (under
// load it sometimes does). Either way every instance, old, fresh or later,
// agrees on the log: the failed write's records are applied by all or by
// none, and IDs stay consistent.
func TestUpdateFailsUnavailableWhenBrokerStops(t *testing.T) {
	dir := t.TempDir()
	c := newCluster(t, kfake.DataDir(dir))
	addr := c.ListenAddrs()[0]
	l, s := startLog(t, addr, kafkalog.Config{})
	if err := l.Update(context.Background(), func() ([]schemalog.Record, error) {
		return []schemalog.Record{schemaRecord("before", 1, 1)}, nil
	}); err != nil {
		t.Fatal(err)
	}

	// The outage: the broker stops when the commit arrives.
	var once sync.Once
	c.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		once.Do(func() { go c.Close() })
		return nil, errors.New("outage"), true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err := l.Update(ctx, func() ([]schemalog.Record, error) {
		return []schemalog.Record{schemaRecord("lost", 1, 2), schemaRecord("lost", 2, 3)}, nil
	})
	t.Logf("Update: %v after %v", err, time.Since(start))
	if !errors.Is(err, schemalog.ErrUnavailable) {
		t.Fatalf("Update: %v, want ErrUnavailable", err)
	}

	// The broker comes back on the same port with the same data.
	c2 := newCluster(t, kfake.DataDir(dir), kfake.Ports(port(t, addr)))
	info := c2.PartitionInfo(topic, 0)
	t.Logf("after restart: high watermark %d, last stable offset %d", info.HighWatermark, info.LastStableOffset)

	_, fresh := startLog(t, addr, kafkalog.Config{InstanceID: "fresh"})
	// The old instance writes again (taking the lease aborts the open
	// transaction); then everyone must agree on the log.
	if err := l.Update(context.Background(), func() ([]schemalog.Record, error) {
		return []schemalog.Record{schemaRecord("after", 1, s.nextID())}, nil
	}); err != nil {
		t.Fatalf("Update after the outage: %v", err)
	}
	_, later := startLog(t, addr, kafkalog.Config{InstanceID: "later"})
	_, landed := later.value(schemalog.SchemaKey("lost", 1))
	t.Logf("the commit cut by the outage landed later: %v", landed)
	for name, st := range map[string]*state{"old": s, "fresh": fresh, "later": later} {
		n := 0
		for _, r := range st.snapshot() {
			if k, _ := schemalog.ParseKey(r.Key); k.Subject != nil && *k.Subject == "lost" {
				n++
			}
		}
		if want := map[bool]int{false: 0, true: 2}[landed]; n != want {
			t.Errorf("%s: %d records of the failed write applied, later has %d: %v", name, n, want, keys(st.snapshot()))
		}
		if len(st.dups) > 0 {
			t.Errorf("%s: ids claimed twice: %v", name, st.dups)
		}
	}
	if _, ok := later.value(schemalog.SchemaKey("after", 1)); !ok {
		t.Errorf("later: the write after the outage is missing: %v", keys(later.snapshot()))
	}
	want := 3 // ids 1 (before), 2 (after)
	if landed {
		want = 5 // ids 1, 2 and 3 (lost), 4 (after)
	}
	if got := later.nextID(); got != want {
		t.Errorf("next id %d, want %d", got, want)
	}
}

func port(t testing.TB, addr string) int {
	t.Helper()
	var p int
	if _, err := fmt.Sscanf(addr[bytes.LastIndexByte([]byte(addr), ':')+1:], "%d", &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Update needs Start; after Close, Start and Update return ErrClosed.
func TestClose(t *testing.T) {
	c := newCluster(t)
	l, err := kafkalog.New(kafkalog.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Update(context.Background(), func() ([]schemalog.Record, error) { return nil, nil }); err == nil {
		t.Error("Update before Start: no error")
	}
	if err := l.Start(context.Background(), func(schemalog.Record) {}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Update(context.Background(), func() ([]schemalog.Record, error) { return nil, nil }); !errors.Is(err, schemalog.ErrClosed) {
		t.Errorf("Update after Close: %v", err)
	}
	if err := l.Start(context.Background(), func(schemalog.Record) {}); !errors.Is(err, schemalog.ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Close ends an Update stuck on a commit the broker does not answer, at
// once rather than at the Update's deadline.
func TestCloseDuringUpdate(t *testing.T) {
	c := newCluster(t)
	l, _ := startLog(t, c.ListenAddrs()[0], kafkalog.Config{})
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, TopLevel: true, Err: kerr.CoordinatorNotAvailable, Count: -1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	computed := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- l.Update(ctx, func() ([]schemalog.Record, error) {
			close(computed)
			return []schemalog.Record{schemaRecord("s", 1, 1)}, nil
		})
	}()
	<-computed
	time.Sleep(300 * time.Millisecond) // in CommitTransaction
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if err := <-done; !errors.Is(err, schemalog.ErrClosed) {
		t.Errorf("Update: %v, want ErrClosed", err)
	}
	t.Logf("Close took %v", took)
	if took > 5*time.Second {
		t.Errorf("Close took %v", took)
	}
}

// Start against no broker fails with ErrUnavailable at its deadline.
func TestStartUnavailable(t *testing.T) {
	l, err := kafkalog.New(kafkalog.Config{Brokers: []string{"127.0.0.1:1"}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.Start(context.Background(), func(schemalog.Record) {})
	if !errors.Is(err, schemalog.ErrUnavailable) {
		t.Fatalf("Start: %v, want ErrUnavailable", err)
	}
}
