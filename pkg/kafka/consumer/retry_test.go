package consumer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
)

var errFlaky = errors.New("flaky downstream")

func order(id string) *orderevents.OrderCreatedV2 {
	return &orderevents.OrderCreatedV2{
		OrderID: id, CustomerID: "cus-1",
		LineItems: []orderevents.LineItem{{SKU: "SKU-1", Quantity: 1}},
		CreatedAt: time.UnixMilli(1_700_000_000_000).UTC(),
	}
}

// Retryable errors are retried in place with back-off: an event that
// succeeds on attempt 3 is handled once after 2 retries; one that keeps
// failing goes to the dead-letter topic as retries-exhausted with its
// attempt count; a permanent error (or a panic) dead-letters at once.
func TestRetries(t *testing.T) {
	const topic = orderevents.OrderCreatedTopic
	e := newEnv(t, 2, topic)
	cfg := e.config("retries", topic)
	cfg.Retry = consumer.RetryPolicy{Attempts: 4, Initial: 20 * time.Millisecond, Max: 40 * time.Millisecond, Jitter: 0.1}

	var mu sync.Mutex
	attempts := map[string][]int{} // by order: Meta.Attempt of each call
	at := map[string][]time.Time{}
	succeeded := map[string]int{}
	c, err := consumer.New(cfg, e.serde)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			mu.Lock()
			attempts[ev.OrderID] = append(attempts[ev.OrderID], m.Attempt)
			at[ev.OrderID] = append(at[ev.OrderID], time.Now())
			mu.Unlock()
			var err error
			switch ev.OrderID {
			case "third-time-lucky":
				if m.Attempt < 3 {
					err = consumer.Retryable(errFlaky)
				}
			case "always-flaky":
				err = consumer.Retryable(errFlaky)
			case "permanent":
				err = errors.New("order refused:\nno such customer")
			case "panics":
				panic("boom")
			}
			if err == nil {
				mu.Lock()
				succeeded[ev.OrderID]++
				mu.Unlock()
			}
			return err
		})
	ids := []string{"third-time-lucky", "always-flaky", "permanent", "panics", "fine"}
	var msgs = e.produce(t, e.encode(t, order(ids[0])), e.encode(t, order(ids[1])), e.encode(t, order(ids[2])),
		e.encode(t, order(ids[3])), e.encode(t, order(ids[4])))
	r := start(t, c)
	dlqTopic := kafka.DeadLetterTopic(topic)
	eventually(t, 30*time.Second, "three dead letters and all committed", func() bool {
		return e.metric(t, "waybill_events_dead_lettered_total", nil) >= 3 && e.committedAll(t, "retries", topic)
	})
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	for id, want := range map[string][]int{
		"third-time-lucky": {1, 2, 3},
		"always-flaky":     {1, 2, 3, 4},
		"permanent":        {1},
		"panics":           {1},
		"fine":             {1},
	} {
		if got := attempts[id]; !slices.Equal(got, want) {
			t.Errorf("%s: attempts %v, want %v", id, got, want)
		}
	}
	if succeeded["third-time-lucky"] != 1 || succeeded["fine"] != 1 {
		t.Errorf("succeeded %v, want third-time-lucky and fine once each", succeeded)
	}
	// Back-off: at least Initial*(1-Jitter) between attempts, growing.
	ts := at["always-flaky"]
	for i := 1; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-1]); d < 18*time.Millisecond {
			t.Errorf("attempt %d came %v after attempt %d: no back-off", i+1, d, i)
		}
	}
	if got := e.metric(t, "waybill_events_retried_total", nil); got != 2+3 {
		t.Errorf("waybill_events_retried_total = %v, want 5 (2 + 3)", got)
	}

	dlq := e.readAll(t, dlqTopic)
	byOrder := map[string]map[string]string{}
	for _, d := range dlq {
		byOrder[string(d.Key)] = map[string]string{
			"code":     header(d, kafka.HeaderDeadLetterCode),
			"attempts": header(d, kafka.HeaderDeadLetterAttempts),
			"reason":   header(d, kafka.HeaderDeadLetterReason),
			"offset":   header(d, kafka.HeaderDeadLetterOffset),
		}
	}
	if len(dlq) != 3 {
		t.Errorf("%d dead letters, want 3: %v", len(dlq), byOrder)
	}
	for id, want := range map[string][2]string{
		"always-flaky": {kafka.CodeRetriesExhausted, "4"},
		"permanent":    {kafka.CodeHandler, "1"},
		"panics":       {kafka.CodeHandler, "1"},
	} {
		got := byOrder[id]
		if got["code"] != want[0] || got["attempts"] != want[1] {
			t.Errorf("%s: dead letter code %q attempts %q, want %q %q", id, got["code"], got["attempts"], want[0], want[1])
		}
	}
	if r := byOrder["permanent"]["reason"]; r != "order refused: no such customer" {
		t.Errorf("reason %q: want the handler's error on one line", r)
	}
	if r := byOrder["panics"]["reason"]; !strings.Contains(r, "panicked: boom") {
		t.Errorf("reason %q: want the panic", r)
	}
	if got, want := byOrder["permanent"]["offset"], msgs[2].TopicPartition.Offset.String(); got != want {
		t.Errorf("offset header %q, want %q", got, want)
	}
	for _, code := range []string{kafka.CodeRetriesExhausted, kafka.CodeHandler} {
		if got := e.metric(t, "waybill_events_dead_lettered_total", map[string]string{"code": code, "event_type": orderevents.OrderCreatedEventType}); got < 1 {
			t.Errorf("no dead letter counted with code %s", code)
		}
	}
}

// Retryable keeps the cause visible to errors.Is and errors.As.
func TestRetryable(t *testing.T) {
	err := consumer.Retryable(errFlaky)
	if !errors.Is(err, errFlaky) || !consumer.IsRetryable(err) || err.Error() != errFlaky.Error() {
		t.Errorf("Retryable(%v) = %v: Is %v, IsRetryable %v", errFlaky, err, errors.Is(err, errFlaky), consumer.IsRetryable(err))
	}
	if consumer.IsRetryable(errFlaky) {
		t.Error("IsRetryable of a plain error")
	}
	if consumer.Retryable(nil) != nil {
		t.Error("Retryable(nil) != nil")
	}
}
