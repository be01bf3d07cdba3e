package registry

import (
	"github.com/waybill/waybill/services/registry/internal/kafkalog"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// Log is the registry's storage: an ordered log of records in the formats
// of Confluent's `_schemas` topic. Its contract (replay, then Update with
// exclusive write access, read your writes) is internal/schemalog's.
type Log = schemalog.Log

// MemoryLog returns storage held in memory: one instance, nothing survives
// a restart (`--storage memory`, tests).
func MemoryLog() Log { return schemalog.NewMemory() }

// KafkaConfig configures KafkaLog: Brokers is required, Topic defaults to
// "_schemas".
type KafkaConfig = kafkalog.Config

// KafkaLog returns storage on a one-partition compacted Kafka topic, which
// several instances may share (`--storage kafka`).
func KafkaLog(cfg KafkaConfig) (Log, error) {
	l, err := kafkalog.New(cfg)
	if err != nil {
		return nil, err
	}
	return l, nil
}
