package txn

import (
	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// producerConfig is the transactional producer's librdkafka configuration:
// the user's properties without the consumer's, and those exactly-once needs
// over them.
func (p *Processor) producerConfig() *ck.ConfigMap {
	m := p.cfg.Kafka.ConfigMap(map[string]any{"compression.type": "lz4", "linger.ms": 5})
	for k := range m {
		if consumerOnly(k) {
			delete(m, k)
		}
	}
	m["transactional.id"] = p.cfg.TransactionalID
	m["enable.idempotence"] = true
	m["acks"] = "all"
	m["partitioner"] = "murmur2_random"
	m["go.logs.channel.enable"] = true
	m["go.delivery.report.fields"] = "none"
	return &m
}

// consumerConfig is the consumer's librdkafka configuration: the user's
// properties without the producer's, and those exactly-once needs over them.
func (p *Processor) consumerConfig() *ck.ConfigMap {
	defaults := map[string]any{"auto.offset.reset": "earliest", "statistics.interval.ms": 5000}
	if p.cfg.Kafka.Properties["group.protocol"] != "consumer" {
		defaults["partition.assignment.strategy"] = "cooperative-sticky"
	}
	m := p.cfg.Kafka.ConfigMap(defaults)
	for k := range m {
		if producerOnly(k) {
			delete(m, k)
		}
	}
	m["group.id"] = p.cfg.Group
	m["isolation.level"] = "read_committed"
	m["enable.auto.commit"] = false
	m["enable.auto.offset.store"] = false
	m["go.logs.channel.enable"] = true
	return &m
}

// consumerOnly reports whether a property is one only consumers take.
func consumerOnly(k string) bool {
	switch k {
	case "group.id", "group.instance.id", "group.protocol", "group.remote.assignor",
		"partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms",
		"max.poll.interval.ms", "enable.auto.commit", "auto.commit.interval.ms",
		"enable.auto.offset.store", "auto.offset.reset", "isolation.level",
		"fetch.min.bytes", "fetch.max.bytes", "fetch.wait.max.ms", "fetch.message.max.bytes",
		"max.partition.fetch.bytes", "queued.min.messages", "queued.max.messages.kbytes",
		"enable.partition.eof", "check.crcs", "statistics.interval.ms":
		return true
	}
	return false
}

// producerOnly reports whether a property is one only producers take.
func producerOnly(k string) bool {
	switch k {
	case "transactional.id", "transaction.timeout.ms", "enable.idempotence", "enable.gapless.guarantee",
		"acks", "request.required.acks", "partitioner", "compression.type", "compression.codec",
		"compression.level", "linger.ms", "queue.buffering.max.ms", "batch.size", "batch.num.messages",
		"queue.buffering.max.messages", "queue.buffering.max.kbytes", "message.timeout.ms",
		"delivery.timeout.ms", "retries", "message.send.max.retries", "max.in.flight.requests.per.connection",
		"max.in.flight", "sticky.partitioning.linger.ms":
		return true
	}
	return false
}
