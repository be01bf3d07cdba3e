package txn_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/txn"
)

func header(m *ck.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Dead letters are part of the transaction: of 1,000 orders, 50 do not
// decode (bad magic byte), 50 fail with a permanent error, 50 keep failing
// with retryable errors, 50 succeed on their second attempt, and 10 send an
// event librdkafka refuses (larger than message.max.bytes). read_committed
// shows 840 outputs (the retried ones once, though their first attempt
// sent an event too) and 160 dead letters with the original bytes, the
// right code and attempts; each output continues its input's trace.
func TestDeadLettersInTransaction(t *testing.T) {
	const n = 1000
	e := newEnv(t, 3)
	traces := map[string]string{} // order -> trace ID of its input
	e.produceOrdersWith(t, n, func(i int, m *ck.Message) {
		if i%20 == 1 {
			m.Value[0] = 0x01
		}
		traces[string(m.Key)] = strings.Split(header(m, envelope.HeaderTraceParent), "-")[1]
	})
	cfg := e.config("dlq", "dlq-0")
	p, err := txn.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	attempts := map[string]int{}
	txn.Handle(p, newOrder, func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
		i, _ := strconv.Atoi(strings.TrimPrefix(ev.OrderID, "ord-"))
		if i%100 == 5 {
			// An output larger than message.max.bytes: librdkafka
			// refuses to queue it.
			return out.Send(ctx, &warehouseevents.InventoryReservedV1{OrderID: ev.OrderID,
				WarehouseID: strings.Repeat("w", 1<<20+100), ReservedAt: time.UnixMilli(0).UTC(),
				Reservations: []warehouseevents.Reservation{{SKU: "SKU-1", Quantity: 1}}})
		}
		if err := reserve(ctx, m, ev, out); err != nil {
			return err
		}
		mu.Lock()
		attempts[ev.OrderID]++
		mu.Unlock()
		switch {
		case i%20 == 2:
			return errors.New("no such warehouse")
		case i%20 == 3:
			return consumer.Retryable(errors.New("stock service busy"))
		case i%20 == 4 && m.Attempt == 1:
			return consumer.Retryable(errors.New("stock service busy once"))
		}
		return nil
	})
	r := start(t, p)
	eventually(t, 30*time.Second, "committed offsets at the end", func() bool { return e.committedAll(t, "dlq", inTopic) })
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	count, msgs := e.outputs(t, "read_committed")
	want := 0
	for i := range n {
		k := "ord-" + strconv.Itoa(i)
		switch {
		case i%20 == 1 || i%20 == 2 || i%20 == 3 || i%100 == 5:
			if count[k] != 0 {
				t.Errorf("%s: %d outputs, want 0 (dead-lettered)", k, count[k])
			}
		default:
			want++
			if count[k] != 1 {
				t.Errorf("%s: %d outputs, want 1", k, count[k])
			}
		}
	}
	for _, m := range msgs {
		tp := strings.Split(header(m, envelope.HeaderTraceParent), "-")
		if len(tp) != 4 || tp[1] != traces[string(m.Key)] {
			t.Fatalf("%s: output traceparent %q does not continue the input's trace %s", m.Key, header(m, envelope.HeaderTraceParent), traces[string(m.Key)])
		}
	}
	dlq := e.cluster.ReadTopic(t, kafka.DeadLetterTopic(inTopic), "read_committed")
	codes := map[string]int{}
	for _, m := range dlq {
		i, _ := strconv.Atoi(strings.TrimPrefix(string(m.Key), "ord-"))
		code, att := header(m, kafka.HeaderDeadLetterCode), header(m, kafka.HeaderDeadLetterAttempts)
		codes[code]++
		wantCode, wantAtt := map[int]string{1: string(envelope.ErrUnknownMagicByte), 2: kafka.CodeHandler, 3: kafka.CodeRetriesExhausted, 5: kafka.CodeHandler}[i%20],
			map[int]string{1: "0", 2: "1", 3: "3", 5: "1"}[i%20]
		if reason := header(m, kafka.HeaderDeadLetterReason); i%100 == 5 && !strings.Contains(reason, "producing the handler's") {
			t.Errorf("%s: reason %q", m.Key, reason)
		}
		if code != wantCode || att != wantAtt || header(m, kafka.HeaderDeadLetterTopic) != inTopic || header(m, kafka.HeaderDeadLetterGroup) != "dlq" {
			t.Errorf("%s: dead letter code %q attempts %q topic %q, want %q %q", m.Key, code, att, header(m, kafka.HeaderDeadLetterTopic), wantCode, wantAtt)
		}
		if i%20 == 1 && m.Value[0] != 0x01 {
			t.Errorf("%s: dead letter value not the original bytes", m.Key)
		}
	}
	t.Logf("%d orders: %d outputs (want %d), %d dead letters %v, %v commits, %v aborts", n, len(msgs), want, len(dlq), codes,
		e.metric(t, "waybill_txn_commits_total", nil), e.metric(t, "waybill_txn_aborts_total", nil))
	if len(msgs) != want || len(dlq) != n-want {
		t.Errorf("%d outputs and %d dead letters, want %d and %d", len(msgs), len(dlq), want, n-want)
	}
	if got := e.metric(t, "waybill_txn_aborts_total", map[string]string{"reason": "produce"}); got != n/100 {
		t.Errorf("%v aborts for outputs librdkafka refused, want one per such record (%d)", got, n/100)
	}
	if got := e.metric(t, "waybill_events_dead_lettered_total", nil); got != float64(n-want) {
		t.Errorf("waybill_events_dead_lettered_total %v, want %d", got, n-want)
	}
}
