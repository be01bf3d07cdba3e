package consumer_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/dedup"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

// The child process of TestKillAndRestart is the test binary run again
// with these variables set.
const (
	envKillChild    = "WAYBILL_CONSUMER_CHILD"
	envKillBrokers  = "WAYBILL_CONSUMER_BROKERS"
	envKillRegistry = "WAYBILL_CONSUMER_REGISTRY"
	envKillStore    = "WAYBILL_CONSUMER_STORE"
)

const (
	killGroup    = "kill"
	killInstance = "kill-member" // static membership: the restart replaces the dead member at once
	effects      = "effects"
)

// killConsumer is the consumer both lives of the member run: Bolt
// de-duplication, and a handler that counts its effect per event ID in the
// same transaction. It reports every 50 events on report.
func killConsumer(t testing.TB, kcfg kafka.Config, s *serde.Serde, store *dedup.Bolt, reg consumer.Config, report func(n int64)) *consumer.Consumer {
	cfg := reg
	cfg.Kafka = kcfg.With("group.instance.id", killInstance).
		With("auto.commit.interval.ms", "1000") // a wide window of handled, uncommitted events
	cfg.Group, cfg.Topics, cfg.Dedup = killGroup, []string{orderevents.OrderCreatedTopic}, store
	c, err := consumer.New(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			b := dedup.Tx(ctx).Bucket([]byte(effects))
			var count uint64
			if v := b.Get([]byte(m.ID)); v != nil {
				count = binary.BigEndian.Uint64(v)
			}
			if err := b.Put([]byte(m.ID), binary.BigEndian.AppendUint64(nil, count+1)); err != nil {
				return err
			}
			time.Sleep(500 * time.Microsecond)
			if k := n.Add(1); k%50 == 0 && report != nil {
				report(k)
			}
			return nil
		})
	return c
}

// openStore opens the store with group commit (WithBatch): the handler's
// effects are all written through Tx, so a rerun after a shared
// transaction's rollback is harmless.
func openStore(t testing.TB, path string) *dedup.Bolt {
	store, err := dedup.OpenBolt(path, dedup.WithBatch())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DB().Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(effects))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return store
}

// killChild is the first life: it consumes until the parent kills it.
func killChild(t *testing.T) {
	client, err := registry.New(registry.Config{URL: os.Getenv(envKillRegistry)})
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(t, os.Getenv(envKillStore))
	c := killConsumer(t, kafka.NewConfig(os.Getenv(envKillBrokers)).With("enable.metrics.push", "false"),
		serde.New(client), store,
		consumer.Config{Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()},
		func(n int64) { fmt.Printf("handled %d\n", n) })
	_ = c.Run(context.Background()) // until SIGKILL
}

// A member killed with SIGKILL in the middle of its work and restarted
// with its durable de-duplication store: every event's side effect is
// applied exactly once, none is missing, and the events it had handled but
// not committed are redelivered and skipped as duplicates.
func TestKillAndRestart(t *testing.T) {
	if os.Getenv(envKillChild) == "1" {
		killChild(t)
		return
	}
	const topic = orderevents.OrderCreatedTopic
	const n = 3000
	e := newEnv(t, 3, topic)
	var msgs []*ck.Message
	for i := range n {
		msgs = append(msgs, e.encode(t, order(fmt.Sprintf("ord-%d", i%100))))
	}
	e.produce(t, msgs...)
	path := filepath.Join(t.TempDir(), "dedup.db")

	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKillAndRestart$", "-test.count=1")
	cmd.Env = append(os.Environ(), envKillChild+"=1", envKillBrokers+"="+e.cluster.Brokers(),
		envKillRegistry+"="+e.registryURL, envKillStore+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	killedAt := int64(0)
	for sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "handled "); ok {
			if killedAt, _ = strconv.ParseInt(k, 10, 64); killedAt >= n/3 {
				break
			}
		}
	}
	if killedAt < n/3 {
		t.Fatalf("the child stopped after %d events: %v", killedAt, sc.Err())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	committedAtKill := e.cluster.GroupCommitted(t, killGroup, topic)

	// The second life, in this process, on the same store.
	restart := time.Now()
	store := openStore(t, path)
	t.Cleanup(func() { _ = store.Close() })
	c := killConsumer(t, e.cluster.Config(), e.serde, store,
		consumer.Config{Logger: slog.New(slog.DiscardHandler), Registerer: e.metrics}, nil)
	r := start(t, c)
	eventually(t, 40*time.Second, "the restarted member commits everything", func() bool {
		return e.committedAll(t, killGroup, topic)
	})
	restarted := time.Since(restart)
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}

	ids := map[string]bool{}
	for _, m := range msgs {
		ids[header(m, "ce_id")] = true
	}
	var applied, twice int
	_ = store.DB().View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(effects)).ForEach(func(k, v []byte) error {
			applied++
			if c := binary.BigEndian.Uint64(v); c != 1 {
				twice++
				t.Errorf("event %s applied %d times", k, c)
			}
			if !ids[string(k)] {
				t.Errorf("effect for unknown event %s", k)
			}
			return nil
		})
	})
	if applied != n {
		t.Errorf("%d events applied, want %d", applied, n)
	}
	dups := e.metric(t, "waybill_events_duplicate_skipped_total", nil)
	if dups == 0 {
		t.Error("no redelivered event was skipped: the kill did not land between a handler and its commit")
	}
	t.Logf("killed after ≥%d events (committed then: %v); the restart redelivered and skipped %v and committed all in %v; %d of %d applied once each",
		killedAt, committedAtKill, dups, restarted.Round(time.Millisecond), applied-twice, n)
}
