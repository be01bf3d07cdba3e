package kafka_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/dedup"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
	"github.com/waybill/waybill/services/registry/registrytest"
)

// The crash test's child: a consumer process with a durable de-duplication
// store whose handler applies its side effect (a counter per order) in the
// store's transaction. Run by TestConsumerKilled, never on its own.
const (
	childEnv     = "WAYBILL_CRASH_CHILD"
	childBrokers = "WAYBILL_CRASH_BROKERS"
	childReg     = "WAYBILL_CRASH_REGISTRY"
	childDB      = "WAYBILL_CRASH_DB"
	childWant    = "WAYBILL_CRASH_WANT"
	effects      = "effects"
	totals       = "total"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashChild consumes until every one of want orders has its effect, and
// exits 0 then.
func crashChild() int {
	want, _ := strconv.Atoi(os.Getenv(childWant))
	store, err := dedup.OpenBolt(os.Getenv(childDB), dedup.WithBatch())
	if err != nil {
		fmt.Println("child:", err)
		return 2
	}
	defer store.Close()
	client, err := registry.New(registry.Config{URL: os.Getenv(childReg)})
	if err != nil {
		fmt.Println("child:", err)
		return 2
	}
	c, err := consumer.New(consumer.Config{
		Kafka: kafka.NewConfig(os.Getenv(childBrokers)).With("enable.metrics.push", "false").
			With("auto.commit.interval.ms", "200").
			// Static membership: the restarted process takes the killed
			// one's place at once instead of waiting out its session.
			With("group.instance.id", "crash-child").With("session.timeout.ms", "6000"),
		Group: "crash", Topics: []string{orderevents.OrderCreatedTopic}, Workers: 4, Dedup: store,
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
	}, serde.New(client))
	if err != nil {
		fmt.Println("child:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	orderevents.HandleOrderCreated(c, func(ctx context.Context, _ consumer.Meta, ev *orderevents.OrderCreatedV2) error {
		tx := dedup.Tx(ctx)
		b, err := tx.CreateBucketIfNotExists([]byte(effects))
		if err != nil {
			return err
		}
		var n uint64
		if v := b.Get([]byte(ev.OrderID)); v != nil {
			n = binary.BigEndian.Uint64(v)
		}
		if err := b.Put([]byte(ev.OrderID), binary.BigEndian.AppendUint64(nil, n+1)); err != nil {
			return err
		}
		// total counts the orders with an effect, in the same transaction.
		t, err := tx.CreateBucketIfNotExists([]byte(totals))
		if err != nil {
			return err
		}
		var total uint64
		if v := t.Get([]byte(totals)); v != nil {
			total = binary.BigEndian.Uint64(v)
		}
		if n == 0 {
			total++
		}
		if err := t.Put([]byte(totals), binary.BigEndian.AppendUint64(nil, total)); err != nil {
			return err
		}
		once.Do(func() { fmt.Println("handling") })
		return nil
	})
	// Done when every order has its effect, whether this process or an
	// earlier one applied it.
	go func() {
		for ctx.Err() == nil {
			var total uint64
			_ = store.DB().View(func(tx *bbolt.Tx) error {
				if b := tx.Bucket([]byte(totals)); b != nil {
					if v := b.Get([]byte(totals)); v != nil {
						total = binary.BigEndian.Uint64(v)
					}
				}
				return nil
			})
			if total >= uint64(want) {
				cancel()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	if err := c.Run(ctx); err != nil {
		fmt.Println("child:", err)
		return 2
	}
	return 0
}

// TestConsumerKilled: a consumer with the durable de-duplication store is
// killed (SIGKILL) mid-batch several times and restarted; every event's side
// effect is applied exactly once, none missing.
func TestConsumerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a consumer process several times")
	}
	const events = 1500
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	topic := orderevents.OrderCreatedTopic
	cl := kafkatest.New(t, kfake.SeedTopics(4, topic, kafka.DeadLetterTopic(topic)))
	reg := registrytest.WithSchemas(t, "../../schemas")
	p, err := producer.New(producer.Config{Kafka: cl.Config(), Source: "crash-test",
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}, serde.New(reg.Client))
	if err != nil {
		t.Fatal(err)
	}
	orders := orderevents.NewOrderCreatedProducer(p)
	errs := make(chan error, events)
	for i := range events {
		ev := &orderevents.OrderCreatedV2{OrderID: fmt.Sprintf("ord-%05d", i), CustomerID: "cus-1",
			LineItems: []orderevents.LineItem{{SKU: "SKU-MUG-350", Quantity: 1}}, CreatedAt: time.UnixMilli(1741946531000).UTC()}
		if err := orders.SendAsync(ctx, ev, func(d producer.Delivery) { errs <- d.Err }); err != nil {
			t.Fatal(err)
		}
	}
	for range events {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}

	db := filepath.Join(t.TempDir(), "dedup.db")
	// run starts a child; with kill > 0 it kills the child that long after
	// the child started handling events, and reports whether the child
	// finished first.
	run := func(kill time.Duration) (exited bool) {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", childBrokers+"="+cl.Brokers(), childReg+"="+reg.URL,
			childDB+"="+db, childWant+"="+strconv.Itoa(events))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		handling := make(chan struct{})
		var out strings.Builder
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "handling" {
					close(handling)
				} else {
					out.WriteString(sc.Text() + "\n")
				}
			}
		}()
		wait := make(chan error, 1)
		go func() { wait <- cmd.Wait() }()
		if kill > 0 {
			select {
			case <-handling:
			case err := <-wait:
				if err != nil {
					t.Fatalf("child: %v\n%s", err, stderr.String())
				}
				return true
			}
			select {
			case <-time.After(kill):
				_ = cmd.Process.Signal(syscall.SIGKILL)
				if err := <-wait; err == nil {
					return true // it finished just before the kill
				}
				return false
			case err := <-wait:
				if err != nil {
					t.Fatalf("child: %v\n%s", err, stderr.String())
				}
				return true
			}
		}
		if err := <-wait; err != nil {
			t.Fatalf("child: %v\n%s%s", err, out.String(), stderr.String())
		}
		return true
	}
	kills := 0
	for i := range 4 {
		// Kill at a random moment while the child handles events.
		d := time.Duration(1+rand.IntN(250)) * time.Millisecond
		if run(d) {
			t.Logf("run %d finished before its kill at %v", i, d)
			break
		}
		kills++
		t.Logf("run %d killed after %v: %d orders have their effect", i, d, countEffects(t, db))
	}
	run(0) // to the end
	if kills == 0 {
		t.Fatal("the child was never killed mid-run: the test proved nothing")
	}

	bdb, err := bbolt.Open(db, 0o600, &bbolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var missing, twice []string
	err = bdb.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(effects))
		for i := range events {
			id := fmt.Sprintf("ord-%05d", i)
			switch v := b.Get([]byte(id)); {
			case v == nil:
				missing = append(missing, id)
			case binary.BigEndian.Uint64(v) != 1:
				twice = append(twice, fmt.Sprintf("%s×%d", id, binary.BigEndian.Uint64(v)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events, %d kills: %d effects missing, %d applied more than once", events, kills, len(missing), len(twice))
	if len(missing) > 0 || len(twice) > 0 {
		t.Fatalf("missing %v; applied more than once %v", head(missing), head(twice))
	}
}

func countEffects(t *testing.T, path string) int {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		return -1 // not created yet
	}
	defer db.Close()
	n := 0
	_ = db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket([]byte(effects)); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n
}

func head(s []string) []string { return s[:min(len(s), 10)] }
