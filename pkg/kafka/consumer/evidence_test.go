package consumer_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
)

// corruption turns a good record into one the consumer must dead-letter
// with code.
type corruption struct {
	name    string
	code    envelope.Kind
	corrupt func(m *ck.Message)
}

func setHeader(m *ck.Message, key, value string) {
	for i, h := range m.Headers {
		if h.Key == key {
			m.Headers[i].Value = []byte(value)
		}
	}
}

// corruptions are the ways the envelope decoder and the serde know an
// event to be broken, one each.
var corruptions = []corruption{
	{"empty value", envelope.ErrNoMagicByte, func(m *ck.Message) { m.Value = nil }},
	{"bad magic byte", envelope.ErrUnknownMagicByte, func(m *ck.Message) { m.Value[0] = 0x01 }},
	{"short value", envelope.ErrShortValue, func(m *ck.Message) { m.Value = m.Value[:3] }},
	{"unknown envelope version", envelope.ErrUnknownEnvelopeVersion, func(m *ck.Message) { setHeader(m, envelope.HeaderEnvelope, "2") }},
	{"missing header", envelope.ErrMissingHeader, func(m *ck.Message) {
		m.Headers = slices.DeleteFunc(m.Headers, func(h ck.Header) bool { return h.Key == envelope.HeaderID })
	}},
	{"malformed header", envelope.ErrMalformedHeader, func(m *ck.Message) { setHeader(m, envelope.HeaderTime, "yesterday") }},
	{"key mismatch", envelope.ErrKeyMismatch, func(m *ck.Message) { m.Key = []byte("someone-else") }},
	{"unknown schema ID", envelope.ErrUnknownSchemaID, func(m *ck.Message) { copy(m.Value[1:5], []byte{0x00, 0xff, 0xff, 0xff}) }},
	{"truncated body", envelope.ErrUndecodableBody, func(m *ck.Message) { m.Value = m.Value[:envelope.WireHeaderLen+4] }},
	{"garbage body", envelope.ErrUndecodableBody, func(m *ck.Message) {
		m.Value = append(m.Value[:envelope.WireHeaderLen], bytes.Repeat([]byte{0xff}, 24)...)
	}},
}

// TestEvidenceCorrupt is the evidence: 10,000 events of which
// 1,000 are corrupt in every way the decoder knows. The valid ones are
// handled once each, the corrupt ones are on the dead-letter topic byte for
// byte with the right code, nothing is lost, the consumer keeps going, and
// the group's committed offsets reach the end of every partition.
func TestEvidenceCorrupt(t *testing.T) {
	const total, corruptEvery = 10_000, 10
	n := total
	if testing.Short() {
		n = 2_000
	}
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 4, topic)

	start0 := time.Now()
	msgs := make([]*ck.Message, n)
	want := map[string]envelope.Kind{} // by ce_id of the original (before corruption)
	for i := range msgs {
		ev := &orderevents.OrderCreatedV2{
			OrderID: fmt.Sprintf("ord-%d", i%500), CustomerID: "cus-1",
			LineItems: []orderevents.LineItem{{SKU: "SKU-" + strconv.Itoa(i), Quantity: 1}},
			CreatedAt: time.UnixMilli(1_700_000_000_000 + int64(i)).UTC(),
		}
		m := e.encode(t, ev)
		if i%corruptEvery == 0 {
			c := corruptions[(i/corruptEvery)%len(corruptions)]
			m.Headers = append(m.Headers, ckHeader("test_corruption", c.name))
			m.Value = bytes.Clone(m.Value)
			c.corrupt(m)
			want[fmt.Sprint(i)] = c.code
		}
		m.Headers = append(m.Headers, ckHeader("test_index", strconv.Itoa(i)))
		msgs[i] = m
	}
	acked := e.produce(t, msgs...)
	produced := time.Since(start0)

	handled := newSeen()
	var firstAt atomic.Int64
	c, err := consumer.New(e.config("evidence", topic), e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			if ev.OrderID != m.Subject || len(ev.LineItems) != 1 {
				return fmt.Errorf("event %s: decoded %+v", m.ID, ev)
			}
			firstAt.CompareAndSwap(0, time.Now().UnixNano())
			handled.add(m.ID)
			return nil
		})
	start1 := time.Now()
	r := start(t, c)
	valid := n - n/corruptEvery
	dlqTopic := kafka.DeadLetterTopic(topic)
	eventually(t, 50*time.Second, "all events finished and committed", func() bool {
		return handled.distinct() >= valid &&
			e.metric(t, "waybill_events_dead_lettered_total", nil) >= float64(n/corruptEvery) &&
			e.committedAll(t, "evidence", topic)
	})
	consumed := time.Since(start1)
	if err := r.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got := handled.distinct(); got != valid {
		t.Errorf("handled %d distinct events, want %d", got, valid)
	}
	if dups := handled.twice(); len(dups) > 0 {
		t.Errorf("handled more than once: %v", dups[:min(5, len(dups))])
	}
	// The dead-letter topic: exactly the corrupt records, each with its
	// code, the original key, value and headers byte for byte, and where
	// it came from.
	dlq := e.readAll(t, dlqTopic)
	if len(dlq) != n/corruptEvery {
		t.Errorf("%d dead letters, want %d", len(dlq), n/corruptEvery)
	}
	stored := map[tp]*ck.Message{} // the topic as the broker keeps it
	for _, m := range e.readAll(t, topic) {
		stored[tp{m.TopicPartition.Partition, int64(m.TopicPartition.Offset)}] = m
	}
	byCode := map[string]int{}
	got := map[string]bool{}
	for _, d := range dlq {
		idx := header(d, "test_index")
		orig := msgs[atoi(t, idx)]
		code := header(d, kafka.HeaderDeadLetterCode)
		byCode[code]++
		if got[idx] {
			t.Errorf("event %s dead-lettered twice", idx)
		}
		got[idx] = true
		if code != string(want[idx]) {
			t.Errorf("event %s (%s): code %q (reason %q), want %q", idx, header(d, "test_corruption"),
				code, header(d, kafka.HeaderDeadLetterReason), want[idx])
		}
		if !bytes.Equal(d.Key, orig.Key) || !bytes.Equal(d.Value, orig.Value) {
			t.Errorf("event %s: key/value changed on the dead-letter topic", idx)
		}
		if len(d.Headers) != len(orig.Headers)+9 {
			t.Errorf("event %s: %d headers, want the %d original + 9", idx, len(d.Headers), len(orig.Headers))
		} else {
			for i, h := range orig.Headers {
				if d.Headers[i].Key != h.Key || !bytes.Equal(d.Headers[i].Value, h.Value) {
					t.Errorf("event %s: header %d is %s=%q, want %s=%q", idx, i, d.Headers[i].Key, d.Headers[i].Value, h.Key, h.Value)
				}
			}
		}
		a := acked[atoi(t, idx)]
		s := stored[tp{a.TopicPartition.Partition, int64(a.TopicPartition.Offset)}]
		if s == nil || header(d, kafka.HeaderDeadLetterPartition) != strconv.Itoa(int(a.TopicPartition.Partition)) ||
			header(d, kafka.HeaderDeadLetterOffset) != strconv.FormatInt(int64(a.TopicPartition.Offset), 10) ||
			header(d, kafka.HeaderDeadLetterTimestamp) != strconv.FormatInt(s.Timestamp.UnixMilli(), 10) {
			t.Errorf("event %s at %d/%d: dead letter says partition %s offset %s timestamp %s", idx,
				a.TopicPartition.Partition, a.TopicPartition.Offset,
				header(d, kafka.HeaderDeadLetterPartition), header(d, kafka.HeaderDeadLetterOffset), header(d, kafka.HeaderDeadLetterTimestamp))
		}
		if at, err := time.Parse(time.RFC3339Nano, header(d, kafka.HeaderDeadLetterTime)); err != nil || at.Before(start1) {
			t.Errorf("event %s: %s = %q (%v)", idx, kafka.HeaderDeadLetterTime, header(d, kafka.HeaderDeadLetterTime), err)
		}
		// What `waybill dlq ls` reads back.
		hs := make([]envelope.Header, len(d.Headers))
		for i, h := range d.Headers {
			hs[i] = envelope.Header{Key: h.Key, Value: h.Value}
		}
		pd, err := kafka.ParseDeadLetter(envelope.Message{Key: d.Key, Value: d.Value, Headers: hs})
		if err != nil || pd.Code != code || pd.Topic != topic || pd.Group != "evidence" || pd.Attempts != 0 ||
			pd.Offset != int64(a.TopicPartition.Offset) || len(pd.Message.Headers) != len(orig.Headers) {
			t.Errorf("event %s: kafka.ParseDeadLetter: %+v, %v", idx, pd, err)
		}
		if header(d, kafka.HeaderDeadLetterTopic) != topic || header(d, kafka.HeaderDeadLetterGroup) != "evidence" ||
			header(d, kafka.HeaderDeadLetterAttempts) != "0" || header(d, kafka.HeaderDeadLetterReason) == "" {
			t.Errorf("event %s: dead-letter headers %v", idx, d.Headers[len(orig.Headers):])
		}
	}
	for idx := range want {
		if !got[idx] {
			t.Errorf("corrupt event %s (%s) is not on the dead-letter topic", idx, want[idx])
		}
	}
	if !e.committedAll(t, "evidence", topic) {
		t.Errorf("committed %v, end %v", e.cluster.GroupCommitted(t, "evidence", topic), e.cluster.EndOffsets(t, topic))
	}
	if got := e.metric(t, "waybill_events_consumed_total", map[string]string{"group": "evidence"}); got != float64(n) {
		t.Errorf("waybill_events_consumed_total = %v, want %d", got, n)
	}
	if got := e.metric(t, "waybill_events_consumed_total", map[string]string{"event_type": "unknown"}); got < 1 {
		t.Errorf("no undecodable record counted with event_type=unknown")
	}
	joined := time.Unix(0, firstAt.Load()).Sub(start1)
	t.Logf("%d events (%d corrupt): produced in %v; handled %d, dead-lettered %d %v; all committed %v after Run (first event handled after %v, the group join)",
		n, n/corruptEvery, produced.Round(time.Millisecond), handled.distinct(), len(dlq), byCode,
		consumed.Round(time.Millisecond), joined.Round(time.Millisecond))
}

func ckHeader(k, v string) ck.Header { return ck.Header{Key: k, Value: []byte(v)} }

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("index %q: %v", s, err)
	}
	return n
}
