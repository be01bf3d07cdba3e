package txn_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/txn"
)

// abortFaults are broker answers that make librdkafka raise an error whose
// TxnRequiresAbort is true, each at a different step of a transaction: a
// partition refused by AddPartitionsToTxn (the next Produce fails), a
// produce request refused (CommitTransaction reports it), the
// group's AddOffsetsToTxn and TxnOffsetCommit refused
// (SendOffsetsToTransaction reports them). When AddPartitionsToTxn refused
// the transaction's first partitions, librdkafka still sends EndTxn on abort
// (it counts the request as sent) and the coordinator, which has no
// transaction open, answers INVALID_TXN_STATE, a fatal error: the processor
// then replaces its producer, which is recovered from too.
var abortFaults = []struct {
	name  string
	fault kfake.Fault
}{
	{"AddPartitionsToTxn TOPIC_AUTHORIZATION_FAILED", kfake.Fault{Keys: []kmsg.Key{kmsg.AddPartitionsToTxn}, Err: kerr.TopicAuthorizationFailed}},
	{"produce INVALID_RECORD", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: outTopic, Err: kerr.InvalidRecord}},
	{"AddOffsetsToTxn GROUP_AUTHORIZATION_FAILED", kfake.Fault{Keys: []kmsg.Key{kmsg.AddOffsetsToTxn}, Err: kerr.GroupAuthorizationFailed}},
	{"TxnOffsetCommit GROUP_AUTHORIZATION_FAILED", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.GroupAuthorizationFailed}},
	{"TxnOffsetCommit UNKNOWN_SERVER_ERROR", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.UnknownServerError}},
}

// TestEvidenceAborts is the evidence for the transactional mode:
// 5,000 orders while the broker fails a transaction's partition
// registration, produce, offsets or offset commit requests 15 times, each an
// error librdkafka says requires an abort. Each is aborted, the consumer rewound, the records handled
// again; the output topic read with read_committed has every order exactly
// once, no duplicates, no gaps, while read_uncommitted shows the records of
// the aborted transactions; the group's offsets reach the end.
func TestEvidenceAborts(t *testing.T) {
	const n, rounds = 5000, 3
	e := newEnv(t, 3)
	e.produceOrders(t, n)
	cfg := e.config("aborts", "aborts-0")
	cfg.MaxBatch = 100
	// Records go out as soon as they are produced, so those of a
	// transaction whose offsets are refused are on the broker
	// (read_uncommitted shows them) when it is aborted.
	cfg.Kafka = cfg.Kafka.With("linger.ms", "0")
	// An abort that cannot flush in time (seen about once in ten runs:
	// librdkafka waits for in-flight records) is retried well before the
	// coordinator's transaction timeout (10 s here) would abort it.
	cfg.OpTimeout = 3 * time.Second
	p, err := txn.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int64
	txn.Handle(p, newOrder, func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
		handled.Add(1)
		return reserve(ctx, m, ev, out)
	})
	began := time.Now()
	r := start(t, p)
	hits := 0
	for range rounds {
		for _, f := range abortFaults {
			h := e.cluster.Fault(f.fault)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			err := h.Wait(ctx, 1)
			cancel()
			if err != nil {
				t.Fatalf("fault %s never hit (%d hits before): the processor finished or stalled", f.name, hits)
			}
			hits++
			// One fault per transaction: the next is installed once
			// this one's transaction is aborted.
			eventually(t, 40*time.Second, f.name+" aborts a transaction", func() bool {
				return e.metric(t, "waybill_txn_aborts_total", nil)+
					e.metric(t, "waybill_txn_producer_recreated_total", nil) >= float64(hits)
			})
		}
	}
	eventually(t, 45*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "aborts", inTopic) })
	took := time.Since(began)
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	committed, _ := e.outputs(t, "read_committed")
	exactlyOnce(t, committed, n)
	uncommitted, all := e.outputs(t, "read_uncommitted")
	extra := len(all) - n
	for k := range uncommitted {
		if committed[k] == 0 {
			t.Errorf("read_uncommitted has %s, which no committed transaction has", k)
		}
	}
	aborts := e.metric(t, "waybill_txn_aborts_total", nil)
	byReason := map[string]float64{}
	for _, reason := range []string{"produce", "send_offsets", "commit"} {
		byReason[reason] = e.metric(t, "waybill_txn_aborts_total", map[string]string{"reason": reason})
	}
	commits := e.metric(t, "waybill_txn_commits_total", nil)
	recreated := e.metric(t, "waybill_txn_producer_recreated_total", nil)
	t.Logf("retried calls: %v", e.metric(t, "waybill_txn_retries_total", nil))
	t.Logf("%d orders, %d faults injected: %v aborts %v, %v producers replaced after a fatal error, %v commits, "+
		"%d handler calls (%d again after aborts), "+
		"read_committed %d records (0 duplicates, 0 gaps), read_uncommitted %d (%d from aborted transactions), in %v",
		n, hits, aborts, byReason, recreated, commits, handled.Load(), handled.Load()-n, n, len(all), extra, took.Round(time.Millisecond))
	if aborts+recreated < float64(hits) {
		t.Errorf("%v aborts and %v replaced producers, want at least one per fault (%d)", aborts, recreated, hits)
	}
	if extra <= 0 {
		t.Errorf("read_uncommitted shows no aborted records (%d records): the aborts were not real", len(all))
	}
	if handled.Load() <= n {
		t.Errorf("handlers ran %d times for %d orders: nothing was processed again after an abort", handled.Load(), n)
	}
	if got := e.metric(t, "waybill_events_consumed_total", nil); got != n {
		t.Errorf("waybill_events_consumed_total %v, want %d (committed transactions only)", got, n)
	}
}

// A retriable error of CommitTransaction is retried: while the transaction
// coordinator answers EndTxn with COORDINATOR_LOAD_IN_PROGRESS, librdkafka
// retries inside the call until OpTimeout and CommitTransaction returns a
// retriable timeout; the processor calls it again until it succeeds,
// without aborting.
func TestCommitRetried(t *testing.T) {
	const n = 500
	e := newEnv(t, 3)
	e.produceOrders(t, n)
	cfg := e.config("retriable", "retriable-0")
	cfg.OpTimeout = 300 * time.Millisecond
	p, err := txn.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(p, newOrder, reserve)
	h := e.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.CoordinatorLoadInProgress, Count: -1})
	r := start(t, p)
	eventually(t, 20*time.Second, "commit retried twice", func() bool {
		return e.metric(t, "waybill_txn_retries_total", map[string]string{"op": "commit"}) >= 2
	})
	h.Remove()
	eventually(t, 30*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "retriable", inTopic) })
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	committed, _ := e.outputs(t, "read_committed")
	exactlyOnce(t, committed, n)
	retries := e.metric(t, "waybill_txn_retries_total", map[string]string{"op": "commit"})
	aborts := e.metric(t, "waybill_txn_aborts_total", nil)
	t.Logf("EndTxn failed %d times; CommitTransaction retried %v times; %v aborts", h.Hits(), retries, aborts)
	if aborts != 0 {
		t.Errorf("%v aborts, want 0: a retriable error must not abort", aborts)
	}
}

// A second processor with the same TransactionalID fences the first: the
// first's Run returns an error wrapping ErrFatal and ErrFenced; the second
// finishes the work, and the output has every order exactly once.
func TestFenced(t *testing.T) {
	const n = 3000
	e := newEnv(t, 3)
	e.produceOrders(t, n)
	slow := func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
		time.Sleep(200 * time.Microsecond)
		return reserve(ctx, m, ev, out)
	}
	cfg := e.config("fenced", "fenced-0")
	cfg.MaxBatch = 100
	cfg.Workers = 1 // slow: the second must start while the first works
	first, err := txn.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(first, newOrder, slow)
	r1 := start(t, first)
	eventually(t, 20*time.Second, "the first commits", func() bool {
		return e.metric(t, "waybill_txn_commits_total", nil) >= 2
	})
	second, err := txn.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(second, newOrder, slow)
	r2 := start(t, second)

	err1, returned := r1.Wait(30 * time.Second)
	if !returned {
		t.Fatal("the fenced processor's Run did not return")
	}
	if !errors.Is(err1, txn.ErrFatal) || !errors.Is(err1, txn.ErrFenced) {
		t.Fatalf("fenced Run returned %v, want ErrFatal and ErrFenced", err1)
	}
	eventually(t, 45*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "fenced", inTopic) })
	if err := r2.Stop(); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	committed, _ := e.outputs(t, "read_committed")
	exactlyOnce(t, committed, n)
	t.Logf("fenced: %v; %v commits, %v aborts; %d orders once each", err1, e.metric(t, "waybill_txn_commits_total", nil), e.metric(t, "waybill_txn_aborts_total", nil), n)
}

// A fatal error other than fencing is recovered from with a new producer:
// when the coordinator refuses a commit with INVALID_TXN_STATE (fatal for
// librdkafka), the processor replaces its producer (same transactional.id,
// whose InitTransactions aborts the open transaction), rewinds and goes on;
// every order once. When the error keeps coming, Run gives up after three
// new producers with an error wrapping ErrFatal (not ErrFenced).
func TestFatalRecovered(t *testing.T) {
	const n = 1000
	e := newEnv(t, 3)
	e.produceOrders(t, n)
	p, err := txn.New(e.config("fatal", "fatal-0"), e.serde)
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(p, newOrder, reserve)
	h := e.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.InvalidTxnState})
	r := start(t, p)
	eventually(t, 30*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "fatal", inTopic) })
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	uncommitted, all := e.outputs(t, "read_uncommitted")
	count, _ := e.outputs(t, "read_committed")
	exactlyOnce(t, count, n)
	recreated := e.metric(t, "waybill_txn_producer_recreated_total", nil)
	t.Logf("EndTxn refused %d time(s): %v producer(s) replaced; read_committed %d orders once each, read_uncommitted %d records (%d keys)",
		h.Hits(), recreated, n, len(all), len(uncommitted))
	if h.Hits() != 1 || recreated != 1 {
		t.Errorf("fault hit %d times, %v producers replaced; want 1 and 1", h.Hits(), recreated)
	}

	// The same error every time: Run stops.
	p2, err := txn.New(e.config("fatal-again", "fatal-1"), e.serde)
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(p2, newOrder, reserve)
	e.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.InvalidTxnState, Count: -1})
	r2 := start(t, p2)
	err, returned := r2.Wait(30 * time.Second)
	if !returned {
		t.Fatal("Run did not give up")
	}
	if !errors.Is(err, txn.ErrFatal) || errors.Is(err, txn.ErrFenced) {
		t.Fatalf("Run returned %v, want ErrFatal without ErrFenced", err)
	}
	if got := e.metric(t, "waybill_txn_producer_recreated_total", map[string]string{"group": "fatal-again"}); got != 3 {
		t.Errorf("%v producers replaced before giving up, want 3", got)
	}
	t.Logf("always refused: %v", err)
}
