package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
	server "github.com/waybill/waybill/services/registry"
)

// The whole loop with the real runtime: a producer sends orders, a consumer's
// handler refuses one (a permanent error) and it is dead-lettered; `dlq ls`
// shows it decoded; the cause is fixed; `dlq replay` sends it back and the
// consumer handles it, once; a second replay is skipped as a duplicate.
func TestDeadLetterLoop(t *testing.T) {
	topic := orderevents.OrderCreatedTopic
	c := kafkatest.New(t, kfake.SeedTopics(2, topic, kafka.DeadLetterTopic(topic)))
	srv, err := server.New(context.Background(), server.Config{Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	client, err := registry.New(registry.Config{URL: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(os.DirFS("../../../../schemas"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	plan, err := registry.PlanSync(ctx, client, cat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Apply(ctx, client, plan); err != nil {
		t.Fatal(err)
	}
	sd := serde.New(client)
	metrics := prometheus.NewRegistry()

	var mu sync.Mutex
	refuse := true
	handled := map[string]int{} // order ID -> times handled
	cons, err := consumer.New(consumer.Config{
		Kafka: c.Config().With("auto.commit.interval.ms", "100"), Group: "billing", Topics: []string{topic},
		Registerer: metrics, Logger: slog.New(slog.DiscardHandler),
	}, sd)
	if err != nil {
		t.Fatal(err)
	}
	consumer.Handle(cons, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(_ context.Context, _ consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			mu.Lock()
			defer mu.Unlock()
			if ev.OrderID == "o-2" && refuse {
				return errors.New("payment service refused: card expired")
			}
			handled[ev.OrderID]++
			return nil
		})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cons.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	}()

	p, err := producer.New(producer.Config{Kafka: c.Config(), Source: "order-service", Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}, sd)
	if err != nil {
		t.Fatal(err)
	}
	eur := "EUR"
	for _, id := range []string{"o-1", "o-2", "o-3"} {
		if _, err := p.Send(ctx, &orderevents.OrderCreatedV2{
			OrderID: id, CustomerID: "c-9", LineItems: []orderevents.LineItem{{SKU: "A-1", Quantity: 2}},
			CreatedAt: time.UnixMilli(1763773200000).UTC(), Total: big.NewRat(1250, 100), Currency: &eur,
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %v", what, ctx.Err())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	times := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		return handled[id]
	}
	waitFor("o-1 and o-3 handled, o-2 dead-lettered", func() bool {
		letters, _ := kafka.ReadDeadLetters(ctx, c.Config(), topic)
		return times("o-1") == 1 && times("o-3") == 1 && len(letters) == 1
	})

	code, out, _ := waybill(t, "dlq", "ls", topic, "--brokers", c.Brokers(), "--registry", hs.URL, "--format", "json")
	var ls struct {
		DeadLetters []struct {
			Code, Reason, Group, Topic string
			Attempts                   int
			Event                      map[string]any
			DecodeError                string `json:"decode_error"`
		} `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(out), &ls); code != 0 || err != nil || len(ls.DeadLetters) != 1 {
		t.Fatalf("dlq ls: exit %d, %v\n%s", code, err, out)
	}
	d := ls.DeadLetters[0]
	if d.Code != kafka.CodeHandler || d.Reason != "payment service refused: card expired" || d.Group != "billing" ||
		d.Topic != topic || d.Attempts != 1 || d.Event["order_id"] != "o-2" || d.Event["total"] != "12.50" || d.DecodeError != "" {
		t.Errorf("dlq ls of the consumer's dead letter:\n%s", out)
	}

	// Fixed: the replay is handled, once.
	mu.Lock()
	refuse = false
	mu.Unlock()
	if code, out, _ := waybill(t, "dlq", "replay", topic, "--brokers", c.Brokers()); code != 0 {
		t.Fatalf("dlq replay: exit %d\n%s", code, out)
	}
	waitFor("o-2 handled after the replay", func() bool { return times("o-2") == 1 })

	// Replayed again: the consumer remembers the event ID.
	if code, out, _ := waybill(t, "dlq", "replay", topic, "--brokers", c.Brokers()); code != 0 {
		t.Fatalf("dlq replay again: exit %d\n%s", code, out)
	}
	dups := func() float64 {
		mfs, err := metrics.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0.0
		for _, mf := range mfs {
			if mf.GetName() == "waybill_events_duplicate_skipped_total" {
				for _, m := range mf.GetMetric() {
					n += m.GetCounter().GetValue()
				}
			}
		}
		return n
	}
	waitFor("the second replay skipped as a duplicate", func() bool { return dups() == 1 })
	if n := times("o-2"); n != 1 {
		t.Errorf("o-2 handled %d times, want 1", n)
	}
}
