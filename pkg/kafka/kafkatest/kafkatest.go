// Package kafkatest runs Kafka in process for tests and for `waybill dev`:
// franz-go's kfake, a broker that speaks the real wire protocol, so
// confluent-kafka-go talks to it unchanged (idempotent produce, consumer
// groups, transactions, offsets by time). kfake has no release tags; the
// calls into it are kept here, in one place, so a new pin changes one file.
package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waybill/waybill/pkg/kafka"
)

// Cluster is an in-process Kafka cluster.
type Cluster struct {
	*kfake.Cluster
}

// Start starts a cluster with one broker (more with kfake.NumBrokers) and
// the given options. Close it when done.
func Start(opts ...kfake.Opt) (*Cluster, error) {
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &Cluster{c}, nil
}

// New starts a cluster for the test t and closes it when the test ends.
func New(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	c, err := Start(opts...)
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Brokers returns the bootstrap servers, "host:port,host:port...".
func (c *Cluster) Brokers() string {
	addrs := c.ListenAddrs()
	s := ""
	for i, a := range addrs {
		if i > 0 {
			s += ","
		}
		s += a
	}
	return s
}

// Config returns a kafka.Config for the cluster. It turns off librdkafka's
// metrics push (KIP-714), which kfake does not implement and which would
// otherwise log a line per client.
func (c *Cluster) Config() kafka.Config {
	return kafka.NewConfig(c.Brokers()).With("enable.metrics.push", "false")
}

// FailProduce makes the broker answer the next count produce requests for
// topic with err (count -1: until the returned function is called). Use
// kerr.NotLeaderForPartition or kerr.RequestTimedOut for the faults a
// producer must ride out.
func (c *Cluster) FailProduce(topic string, err *kerr.Error, count int) (remove func()) {
	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: err, Count: count})
	return h.Remove
}
