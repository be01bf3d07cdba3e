package txn_test

import (
	"testing"
	"time"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/kafka/txn"
)

// Each of N orders yields one reservation; read with read_committed the
// output has each exactly once, with the envelope filled and the trace
// continued, and the group's committed offsets reach the end of the input.
func TestHappyPath(t *testing.T) {
	const n = 1000
	e := newEnv(t, 3)
	e.produceOrders(t, n)
	p, err := txn.New(e.config("happy", "happy-0"), e.serde)
	if err != nil {
		t.Fatal(err)
	}
	txn.Handle(p, newOrder, reserve)
	began := time.Now()
	r := start(t, p)
	eventually(t, 30*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "happy", inTopic) })
	took := time.Since(began)
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	count, msgs := e.outputs(t, "read_committed")
	exactlyOnce(t, count, n)
	for _, m := range msgs[:1] {
		var hs []envelope.Header
		for _, h := range m.Headers {
			hs = append(hs, envelope.Header{Key: h.Key, Value: h.Value})
		}
		env, err := envelope.Decode(envelope.Message{Key: m.Key, Value: m.Value, Headers: hs})
		if err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		if env.Source != "warehouse-test" || env.Type != "waybill.warehouse.InventoryReserved" || env.TraceParent.IsZero() {
			t.Errorf("output envelope %+v", env)
		}
	}
	commits := e.metric(t, "waybill_txn_commits_total", nil)
	aborts := e.metric(t, "waybill_txn_aborts_total", nil)
	consumed := e.metric(t, "waybill_events_consumed_total", nil)
	t.Logf("%d events in %v: %v commits, %v aborts, %v consumed", n, took.Round(time.Millisecond), commits, aborts, consumed)
	if consumed != n || aborts != 0 || commits == 0 {
		t.Errorf("metrics: consumed %v (want %d), aborts %v, commits %v", consumed, n, aborts, commits)
	}
}
