package kafka_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
)

// TestCreateTopicsRetriesAStartingCluster: a cluster that refuses creations
// for a while (INVALID_REPLICATION_FACTOR: brokers not yet taking replicas,
// as a cold three-broker cluster answers) gets them once it is ready.
func TestCreateTopicsRetriesAStartingCluster(t *testing.T) {
	cluster := kafkatest.New(t)
	cat, err := catalog.Load(os.DirFS("../../schemas"))
	if err != nil {
		t.Fatal(err)
	}
	fault := cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Err: kerr.InvalidReplicationFactor, Count: 2})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	created, err := kafka.CreateTopics(ctx, cluster.Config(), cat)
	if err != nil || len(created) != 2*len(cat.Topics) {
		t.Fatalf("CreateTopics = %v, %v; want all %d topics", created, err, 2*len(cat.Topics))
	}
	if fault.Hits() != 2 {
		t.Fatalf("the fault refused %d requests, want 2: the test proves nothing", fault.Hits())
	}

	// Refused for longer than the deadline: the error names the topics.
	cluster2 := kafkatest.New(t)
	cluster2.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Err: kerr.InvalidReplicationFactor, Count: -1})
	ctx2, cancel2 := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel2()
	if _, err := kafka.CreateTopics(ctx2, cluster2.Config(), cat); err == nil {
		t.Fatal("CreateTopics succeeded against a cluster that refuses every creation")
	}
}
