//go:build tools

// Package tools pins modules that Waybill depends on before any package imports
// them, so that `go mod tidy` keeps their exact versions in go.mod.
package tools

import (
	_ "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	_ "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	_ "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	_ "github.com/google/uuid"
	_ "github.com/linkedin/goavro/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/riferrei/srclient"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "go.etcd.io/bbolt"
)
