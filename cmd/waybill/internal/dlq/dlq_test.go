package dlq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/waybill/waybill/cmd/waybill/internal/root"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
)

// waybill runs the command line in-process.
func waybill(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	code = root.Run(ctx, args, strings.NewReader(""), &out, &errOut)
	checkStderr(t, code, errOut.String())
	return code, out.String(), errOut.String()
}

// checkStderr checks the contract of exit code 2: one line, "waybill: ...";
// nothing on stderr otherwise.
func checkStderr(t *testing.T, code int, stderr string) {
	t.Helper()
	if code != 2 {
		if stderr != "" {
			t.Errorf("exit %d with stderr %q", code, stderr)
		}
		return
	}
	if !strings.HasPrefix(stderr, "waybill: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("exit 2: stderr = %q, want one line starting with \"waybill: \"", stderr)
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, ".go:") {
		t.Errorf("exit 2: stderr looks like a stack trace: %q", stderr)
	}
}

const orderSchema = `{"type": "record", "name": "Order", "namespace": "waybill.test", "fields": [
  {"name": "id", "type": "string"},
  {"name": "total", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}], "default": null},
  {"name": "placed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
  {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
    {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}}]}`

// registryURL starts Waybill's registry with the Order schema and returns
// its URL and the schema's ID.
func registryURL(t *testing.T) (string, uint32) {
	t.Helper()
	s, err := server.New(context.Background(), server.Config{Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	c, err := registry.New(registry.Config{URL: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Register(context.Background(), "orders-waybill.test.Order", orderSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hs.URL, uint32(id)
}

// event returns an envelope record of an Order with the given ID.
func event(t *testing.T, schemaID uint32, id, key string, body []byte) *ck.Message {
	t.Helper()
	m, err := envelope.Encode(envelope.Envelope{
		ID: id, Source: "order-service", Type: "waybill.test.Order", Subject: key, EventVersion: 1,
		Time: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC), SchemaID: schemaID, Body: body,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := make([]ck.Header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = ck.Header{Key: h.Key, Value: h.Value}
	}
	return &ck.Message{Key: m.Key, Value: m.Value, Headers: hs}
}

// setup starts a broker and a registry, produces three events to "orders"
// and dead-letters them: one that decodes, one with a schema ID the registry
// does not know, one whose value is no envelope at all.
func setup(t *testing.T) (c *kafkatest.Cluster, regURL string, orig []*ck.Message) {
	t.Helper()
	c = kafkatest.New(t)
	regURL, id := registryURL(t)
	s := avro.MustParse(orderSchema)
	body, err := avro.Marshal(s, map[string]any{
		"id": "o-1", "total": big.NewRat(1250, 100), "placed_at": time.UnixMilli(1763773200123),
		"status": "PAID", "lines": []any{map[string]any{"sku": "A-1", "qty": 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"orders", "orders.dlq"} {
		if err := c.CreateTopic(topic, 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	junk := event(t, id, "id-3", "o-3", nil)
	junk.Value = []byte("not an envelope")
	orig = c.Produce(t, "orders",
		event(t, id, "id-1", "o-1", body),
		event(t, 999, "id-2", "o-2", body),
		junk,
	)
	at := time.Date(2026, 11, 22, 1, 5, 0, 0, time.UTC)
	c.Produce(t, "orders.dlq",
		kafkatest.DeadLetterOf(orig[0], kafka.CodeHandler, "payment service refused: card expired", "billing", 1, at),
		kafkatest.DeadLetterOf(orig[1], string(envelope.ErrUnknownSchemaID), "schema ID 999 is unknown", "billing", 0, at),
		kafkatest.DeadLetterOf(orig[2], string(envelope.ErrUnknownMagicByte), "the value starts with 0x6e", "billing", 0, at),
	)
	return c, regURL, orig
}

func TestLs(t *testing.T) {
	c, regURL, orig := setup(t)
	code, out, _ := waybill(t, "dlq", "ls", "orders", "--brokers", c.Brokers(), "--registry", regURL)
	if code != 0 {
		t.Fatalf("dlq ls: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"handler  dead-lettered 2026-11-22T01:05:00.000Z",
		"reason:   payment service refused: card expired",
		"from:     orders " + loc(orig[0]),
		"group:    billing, 1 attempt\n",
		`event:    waybill.test.Order v1, ce_id id-1, key "o-1", schema ID 1`,
		`body:     {"id":"o-1","total":"12.50","placed_at":"2025-11-22T01:00:00.123Z","status":"PAID","lines":[{"sku":"A-1","qty":2}]}`,
		"unknown-schema-id",
		"body:     not decoded: schema ID 999 is unknown to the registry",
		"unknown-magic-byte",
		"body:     not decoded: envelope: ",
		"3 dead letters in orders.dlq\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dlq ls output lacks %q:\n%s", want, out)
		}
	}

	// The .dlq name works too; JSON for scripts.
	code, out, _ = waybill(t, "dlq", "ls", "orders.dlq", "--brokers", c.Brokers(), "--registry", regURL, "--format", "json")
	if code != 0 {
		t.Fatalf("dlq ls --format json: exit %d\n%s", code, out)
	}
	var got struct {
		Topic       string           `json:"topic"`
		Count       int              `json:"count"`
		DeadLetters []map[string]any `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.Topic != "orders.dlq" || got.Count != 3 || len(got.DeadLetters) != 3 {
		t.Fatalf("dlq ls json: %s", out)
	}
	var first map[string]any
	for _, d := range got.DeadLetters {
		if d["ce_id"] == "id-1" {
			first = d
		}
	}
	want := map[string]any{
		"code": "handler", "reason": "payment service refused: card expired", "topic": "orders",
		"partition": float64(orig[0].TopicPartition.Partition), "offset": float64(orig[0].TopicPartition.Offset),
		"timestamp": orig[0].Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00"), "dead_lettered_at": "2026-11-22T01:05:00.000Z",
		"group": "billing", "attempts": float64(1), "ce_type": "waybill.test.Order", "ce_id": "id-1", "event_version": "1",
		"schema_id": float64(1), "key": "o-1",
		"event": map[string]any{"id": "o-1", "total": "12.50", "placed_at": "2025-11-22T01:00:00.123Z", "status": "PAID",
			"lines": []any{map[string]any{"sku": "A-1", "qty": float64(2)}}},
	}
	delete(first, "dlq_partition")
	delete(first, "dlq_offset")
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("dlq ls json, the dead letter of id-1 (-want +got):\n%s", diff)
	}
}

func loc(m *ck.Message) string {
	return strings.Join([]string{itoa(int64(m.TopicPartition.Partition)), itoa(int64(m.TopicPartition.Offset))}, "/")
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestLsRegistryDown(t *testing.T) {
	c, _, _ := setup(t)
	code, out, _ := waybill(t, "dlq", "ls", "orders", "--brokers", c.Brokers(), "--registry", "http://127.0.0.1:1", "--format", "json")
	if code != 0 {
		t.Fatalf("dlq ls with the registry down: exit %d\n%s", code, out)
	}
	var got struct {
		DeadLetters []struct {
			ID          string          `json:"ce_id"`
			Event       json.RawMessage `json:"event"`
			DecodeError string          `json:"decode_error"`
		} `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.DeadLetters) != 3 {
		t.Fatalf("%d dead letters listed, want 3:\n%s", len(got.DeadLetters), out)
	}
	for _, d := range got.DeadLetters {
		if d.Event != nil || d.DecodeError == "" {
			t.Errorf("%s: event %s, decode error %q", d.ID, d.Event, d.DecodeError)
		}
		if d.ID != "id-3" && !strings.Contains(d.DecodeError, "registry http://127.0.0.1:1 does not answer") {
			t.Errorf("%s: decode error %q, want the registry named", d.ID, d.DecodeError)
		}
	}
}

func TestLsErrors(t *testing.T) {
	c := kafkatest.New(t)
	if err := c.CreateTopic("quiet", 1, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"no dead letters", []string{"dlq", "ls", "quiet", "--brokers", c.Brokers(), "--registry", "http://127.0.0.1:1"}, 0, "no dead letters in quiet.dlq\n"},
		{"no dead letters json", []string{"dlq", "ls", "quiet", "--brokers", c.Brokers(), "--format", "json"}, 0, `"count": 0`},
		{"no topic", []string{"dlq", "ls", "--brokers", c.Brokers()}, 2, "which topic"},
		{"two topics", []string{"dlq", "ls", "a", "b"}, 2, `unexpected argument "b"`},
		{"markdown", []string{"dlq", "ls", "quiet", "--format", "markdown"}, 2, "want text or json"},
		{"bad timeout", []string{"dlq", "ls", "quiet", "--timeout", "0s"}, 2, "--timeout"},
		{"missing config file", []string{"dlq", "ls", "quiet", "--kafka-config", "testdata/nope.properties"}, 2, "nope.properties"},
		{"unreachable broker", []string{"dlq", "ls", "quiet", "--brokers", "127.0.0.1:1", "--timeout", "2s"}, 2, "127.0.0.1:1"},
		{"unknown subcommand", []string{"dlq", "rm", "quiet"}, 2, `unknown command "rm"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := waybill(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.out) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.out, out, errOut)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestReplay(t *testing.T) {
	c, _, orig := setup(t)
	brokers := []string{"--brokers", c.Brokers()}
	count := func() int { return len(c.ReadAll(t, "orders")) }

	code, out, _ := waybill(t, append([]string{"dlq", "replay", "orders", "--id", "id-1", "--dry-run"}, brokers...)...)
	if code != 0 || !strings.Contains(out, "would replay orders.dlq") || !strings.Contains(out, "ce_id id-1") || !strings.Contains(out, "nothing was sent") {
		t.Errorf("dlq replay --dry-run: exit %d\n%s", code, out)
	}
	if n := count(); n != 3 {
		t.Errorf("after a dry run, orders has %d records, want 3", n)
	}

	code, _, errOut := waybill(t, append([]string{"dlq", "replay", "orders", "--id", "id-1", "--id", "id-9"}, brokers...)...)
	if code != 2 || !strings.Contains(errOut, "event ID id-9") {
		t.Errorf("dlq replay --id of nothing: exit %d, %s", code, errOut)
	}
	if n := count(); n != 3 {
		t.Errorf("after a refused replay, orders has %d records, want 3", n)
	}

	code, out, _ = waybill(t, append([]string{"dlq", "replay", "orders", "--id", "id-1", "--format", "json"}, brokers...)...)
	var got struct {
		Replayed, Selected int
		DryRun             bool `json:"dry_run"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Replayed != 1 || got.Selected != 1 || got.DryRun {
		t.Fatalf("dlq replay --id id-1: exit %d, %v\n%s", code, err, out)
	}
	all := c.ReadAll(t, "orders")
	if len(all) != 4 {
		t.Fatalf("orders has %d records, want 3 + 1 replayed", len(all))
	}
	var replayed *ck.Message
	for _, m := range all {
		if bytes.Equal(m.Key, orig[0].Key) && m.TopicPartition.Offset != orig[0].TopicPartition.Offset {
			replayed = m
		}
	}
	if replayed == nil {
		t.Fatalf("id-1 not found replayed on orders")
	}
	if !bytes.Equal(replayed.Value, orig[0].Value) {
		t.Errorf("replayed value %x, want %x", replayed.Value, orig[0].Value)
	}
	n := len(replayed.Headers)
	if n == 0 || replayed.Headers[n-1].Key != kafka.HeaderReplayedAt {
		t.Fatalf("replayed headers %v: want %s last", replayed.Headers, kafka.HeaderReplayedAt)
	}
	if diff := cmp.Diff(orig[0].Headers, replayed.Headers[:n-1]); diff != "" {
		t.Errorf("replayed headers (-original +replayed):\n%s", diff)
	}
	// The replayed event still decodes as an envelope, with the same ID.
	hs := make([]envelope.Header, len(replayed.Headers))
	for i, h := range replayed.Headers {
		hs[i] = envelope.Header{Key: h.Key, Value: h.Value}
	}
	if e, err := envelope.Decode(envelope.Message{Key: replayed.Key, Value: replayed.Value, Headers: hs}); err != nil || e.ID != "id-1" {
		t.Errorf("the replayed record decodes to %+v, %v", e, err)
	}

	// By code, in text.
	code, out, _ = waybill(t, append([]string{"dlq", "replay", "orders.dlq", "--code", "unknown-magic-byte"}, brokers...)...)
	if code != 0 || !strings.Contains(out, "1 dead letter replayed from orders.dlq") {
		t.Errorf("dlq replay --code: exit %d\n%s", code, out)
	}
	if n := count(); n != 5 {
		t.Errorf("orders has %d records, want 5", n)
	}
}
