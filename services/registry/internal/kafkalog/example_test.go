package kafkalog_test

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/services/registry/internal/kafkalog"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// The registry's use of the log: Start replays into the state, Update
// computes from the state and returns once its records were applied.
func Example() {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1)) // or a real Kafka
	if err != nil {
		panic(err)
	}
	defer cluster.Close()

	l, err := kafkalog.New(kafkalog.Config{Brokers: cluster.ListenAddrs(), Topic: "_schemas"})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	ctx := context.Background()
	var subjects int
	apply := func(r schemalog.Record) {
		if k, err := schemalog.ParseKey(r.Key); err == nil && k.KeyType == schemalog.KeySchema {
			subjects++
			fmt.Printf("applied %s at offset %d\n", r.Key, r.Offset)
		}
	}
	if err := l.Start(ctx, apply); err != nil {
		panic(err)
	}
	err = l.Update(ctx, func() ([]schemalog.Record, error) {
		id := subjects + 1 // no other instance writes meanwhile
		return []schemalog.Record{{
			Key: schemalog.SchemaKey("orders-value", 1),
			Value: schemalog.Value(schemalog.SchemaValue{
				Subject: "orders-value", Version: 1, ID: id, Schema: `"string"`,
			}),
		}}, nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("subjects:", subjects)
	// Output:
	// applied {"keytype":"SCHEMA","subject":"orders-value","version":1,"magic":1} at offset 0
	// subjects: 1
}
