package kafka_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
)

// topic is what a test checks of a topic on the broker.
type topic struct {
	Partitions    int
	RetentionMs   string
	CleanupPolicy string
}

// describe returns the broker's topics (internal ones left out) with their
// partitions and configuration, through the same client library the runtime
// uses.
func describe(t *testing.T, cfg kafka.Config) map[string]topic {
	t.Helper()
	cm := cfg.ConfigMap(nil)
	admin, err := ck.NewAdminClient(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	md, err := admin.GetMetadata(nil, true, 10_000)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	got := map[string]topic{}
	var resources []ck.ConfigResource
	for name, tm := range md.Topics {
		if strings.HasPrefix(name, "_") {
			continue
		}
		got[name] = topic{Partitions: len(tm.Partitions)}
		resources = append(resources, ck.ConfigResource{Type: ck.ResourceTopic, Name: name})
	}
	if len(resources) == 0 {
		return got
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := admin.DescribeConfigs(ctx, resources)
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	for _, r := range res {
		if r.Error.Code() != ck.ErrNoError {
			t.Fatalf("describe configs of %s: %v", r.Name, r.Error)
		}
		tp := got[r.Name]
		tp.RetentionMs = r.Config["retention.ms"].Value
		tp.CleanupPolicy = r.Config["cleanup.policy"].Value
		got[r.Name] = tp
	}
	return got
}

func TestCreateTopics(t *testing.T) {
	cluster := kafkatest.New(t)
	cfg := cluster.Config()
	cat, err := catalog.Load(os.DirFS("../../schemas"))
	if err != nil {
		t.Fatal(err)
	}
	// schemas/catalog.yaml, with retention.ms in milliseconds.
	want := map[string]topic{
		"order-events":         {12, "1209600000", "delete"},
		"order-events.dlq":     {12, "1209600000", "delete"},
		"warehouse-events":     {6, "1209600000", "delete"},
		"warehouse-events.dlq": {6, "1209600000", "delete"},
		"shipment-events":      {12, "2592000000", "delete"},
		"shipment-events.dlq":  {12, "2592000000", "delete"},
		"alert-events":         {3, "7776000000", "delete"},
		"alert-events.dlq":     {3, "7776000000", "delete"},
	}
	if len(cat.Topics) != 4 {
		t.Fatalf("schemas/catalog.yaml has %d topics, this test knows 4: update it", len(cat.Topics))
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	created, err := kafka.CreateTopics(ctx, cfg, cat)
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	var names []string
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	if diff := cmp.Diff(names, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, describe(t, cfg)); diff != "" {
		t.Errorf("topics on the broker (-want +got):\n%s", diff)
	}

	// Again: everything exists, nothing is created, nothing fails.
	created, err = kafka.CreateTopics(ctx, cfg, cat)
	if err != nil || len(created) != 0 {
		t.Errorf("second CreateTopics = %v, %v; want nothing created, no error", created, err)
	}
}

func TestCreateTopicsLeavesExistingAlone(t *testing.T) {
	cluster := kafkatest.New(t)
	cfg := cluster.Config()
	// orders exists with another shape: it is kept as it is, its
	// dead-letter topic is created, "infinite" is retention.ms -1.
	if err := cluster.CreateTopic("orders", 2, nil); err != nil {
		t.Fatal(err)
	}
	cat := &catalog.Catalog{Topics: []catalog.Topic{
		{Name: "audit", Partitions: 1, Retention: "1h", CleanupPolicy: "compact"},
		{Name: "orders", Partitions: 4, Retention: "infinite", CleanupPolicy: "delete"},
	}}
	created, err := kafka.CreateTopics(t.Context(), cfg, cat)
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	if diff := cmp.Diff([]string{"audit", "audit.dlq", "orders.dlq"}, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	got := describe(t, cfg)
	want := map[string]topic{
		"audit":      {1, "3600000", "compact"},
		"audit.dlq":  {1, "3600000", "delete"},
		"orders.dlq": {4, "-1", "delete"},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, got[name]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if n := got["orders"].Partitions; n != 2 {
		t.Errorf("existing topic orders has %d partitions after CreateTopics, want its 2", n)
	}
}

func TestCreateTopicsUnreachable(t *testing.T) {
	cat := &catalog.Catalog{Topics: []catalog.Topic{{Name: "orders", Partitions: 1, Retention: "1d", CleanupPolicy: "delete"}}}
	// Nothing listens on port 1.
	cfg := kafka.NewConfig("127.0.0.1:1").With("enable.metrics.push", "false").With("sasl.password", "hunter2")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	created, err := kafka.CreateTopics(ctx, cfg, cat)
	if err == nil || len(created) != 0 {
		t.Fatalf("CreateTopics on no broker = %v, %v; want an error", created, err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("CreateTopics took %v past its 2s deadline", el)
	}
	msg := err.Error()
	t.Log(msg)
	if !strings.HasPrefix(msg, "kafka: ") || !strings.Contains(msg, "127.0.0.1:1") || strings.Contains(msg, "hunter2") {
		t.Errorf("error = %q; want it to start with kafka:, name the broker, and hold no secret", msg)
	}
}
