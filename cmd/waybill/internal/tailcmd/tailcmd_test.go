package tailcmd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/cmd/waybill/internal/root"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/serde"
	"github.com/waybill/waybill/services/registry/registrytest"
)

func waybill(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	code = root.Run(ctx, args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestTail shows two events decoded, with their headers and trace, and a
// poison record with the reason a consumer would dead-letter it.
func TestTail(t *testing.T) {
	ctx := t.Context()
	topic := orderevents.OrderCreatedTopic
	cl := kafkatest.New(t, kfake.SeedTopics(2, topic))
	reg := registrytest.WithSchemas(t, "../../../../schemas")
	p, err := producer.New(producer.Config{Kafka: cl.Config(), Source: "order-service",
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}, serde.New(reg.Client))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	trace := envelope.NewTrace()
	for _, id := range []string{"ord-1", "ord-2"} {
		if _, err := orderevents.NewOrderCreatedProducer(p).Send(kafka.ContextWithTrace(ctx, trace), &orderevents.OrderCreatedV2{
			OrderID: id, CustomerID: "cus-1", LineItems: []orderevents.LineItem{{SKU: "SKU-MUG-350", Quantity: 2}},
			CreatedAt: time.UnixMilli(1741946531000).UTC(),
		}); err != nil {
			t.Fatal(err)
		}
	}
	cl.Produce(t, topic, &ck.Message{Key: []byte("ord-3"), Value: []byte("not an envelope")})

	code, out, errOut := waybill(t, "tail", topic, "--from-beginning", "--max", "3", "--format", "json",
		"--brokers", cl.Brokers(), "--registry", reg.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	type line struct {
		Key, Type, ID, Source, Error string
		TraceID                      string `json:"trace_id"`
		Version                      int
		Headers                      map[string]string
		Event                        map[string]any
	}
	got := map[string]line{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev line
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		got[ev.Key] = ev
	}
	for _, id := range []string{"ord-1", "ord-2"} {
		ev := got[id]
		if ev.Type != orderevents.OrderCreatedEventType || ev.Version != 2 || ev.Source != "order-service" || ev.ID == "" ||
			ev.TraceID != fmt.Sprintf("%x", trace.TraceID) || !strings.Contains(ev.Headers[envelope.HeaderTraceParent], ev.TraceID) ||
			ev.Event["order_id"] != id || ev.Event["customer_id"] != "cus-1" {
			t.Errorf("%s: %+v", id, ev)
		}
	}
	if ev := got["ord-3"]; !strings.HasPrefix(ev.Error, "missing-header") && !strings.Contains(ev.Error, "waybill_envelope") {
		t.Errorf("poison record: %+v, want the missing-header reason", ev)
	}

	code, out, _ = waybill(t, "tail", topic, "--from-beginning", "--max", "3", "--brokers", cl.Brokers(), "--registry", reg.URL)
	if code != 0 || !strings.Contains(out, "waybill.orders.OrderCreated v2  key=ord-1") || !strings.Contains(out, `"line_items":[{"sku":"SKU-MUG-350","quantity":2}]`) ||
		!strings.Contains(out, "key=ord-3  NOT AN ENVELOPE") {
		t.Errorf("text output:\n%s", out)
	}
}

// TestNoTopic: a topic that does not exist is exit 2 with one line.
func TestNoTopic(t *testing.T) {
	cl := kafkatest.New(t)
	code, out, errOut := waybill(t, "tail", "nope", "--brokers", cl.Brokers(), "--timeout", "5s")
	if code != 2 || !strings.Contains(errOut, `no topic "nope"`) || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d, %q %q", code, out, errOut)
	}
}
