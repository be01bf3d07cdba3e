package producer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// configMap returns librdkafka's configuration for cfg: the producer's
// guarantees, cfg's fields, and Kafka's properties between them.
func configMap(cfg Config) (ck.ConfigMap, error) {
	if cfg.Kafka.Brokers() == "" {
		return nil, errors.New("producer: no bootstrap.servers in the Kafka configuration")
	}
	if cfg.Source == "" {
		return nil, errors.New("producer: no Source (ce_source)")
	}
	props := cfg.Kafka.Properties
	// What the guarantees need: refuse a configuration that asks otherwise
	// rather than quietly losing exactly-once delivery or Java's key
	// placement.
	for _, c := range []struct {
		key string
		ok  []string
		why string
	}{
		{"enable.idempotence", []string{"true"}, "the producer is idempotent"},
		{"acks", []string{"all", "-1"}, "the producer is idempotent (acks=all)"},
		{"request.required.acks", []string{"all", "-1"}, "the producer is idempotent (acks=all)"},
		{"partitioner", []string{"murmur2_random", "murmur2"}, "keys are placed as Java's default partitioner places them"},
	} {
		if v, ok := props[c.key]; ok && !contains(c.ok, strings.ToLower(strings.TrimSpace(v))) {
			return nil, fmt.Errorf("producer: %s=%s is not allowed: %s", c.key, v, c.why)
		}
	}
	for _, k := range []string{"transactional.id", "go.delivery.reports", "go.delivery.report.fields",
		"go.logs.channel.enable", "go.logs.channel", "go.batch.producer", "delivery.report.only.error"} {
		if _, ok := props[k]; ok {
			return nil, fmt.Errorf("producer: %s is set by the producer itself", k)
		}
	}
	m := cfg.Kafka.ConfigMap(map[string]any{
		"compression.type": "lz4",
		"client.id":        cfg.Source,
	})
	for k, v := range map[string]any{
		"enable.idempotence": true,
		"acks":               "all",
		"partitioner":        "murmur2_random",
		// Delivery reports travel with the event's Opaque; copying key
		// and value back into Go for each would be wasted.
		"go.delivery.reports":       true,
		"go.delivery.report.fields": "none",
		// librdkafka's log lines go to the Logger, redacted, not to stderr.
		"go.logs.channel.enable": true,
	} {
		m[k] = v
	}
	delete(m, "request.required.acks")
	if cfg.Compression != "" {
		m["compression.type"] = cfg.Compression
	}
	if cfg.Linger < 0 || cfg.BatchSize < 0 {
		return nil, errors.New("producer: negative Linger or BatchSize")
	}
	if cfg.Linger > 0 {
		m["linger.ms"] = strconv.FormatFloat(float64(cfg.Linger.Microseconds())/1000, 'f', -1, 64)
	}
	if cfg.BatchSize > 0 {
		m["batch.size"] = cfg.BatchSize
	}
	// ck reads its own go.* properties typed: a string from a file or the
	// environment would be refused.
	for _, k := range []string{"go.events.channel.size", "go.produce.channel.size"} {
		if v, ok := props[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("producer: %s=%s is not a positive integer", k, v)
			}
			m[k] = n
		}
	}
	return m, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
