package consumer_test

import (
	"context"
	"errors"
	"log"
	"os/signal"
	"syscall"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

var errWarehouseBusy = errors.New("warehouse busy")

// reserveStock stands in for a service's side effect.
func reserveStock(context.Context, *orderevents.OrderCreatedV2) error { return nil }

// A service's consumer: one typed handler, retryable and permanent errors,
// and a graceful shutdown on SIGTERM.
func Example() {
	cfg, err := kafka.LoadConfig("", []string{"WAYBILL_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092"})
	if err != nil {
		log.Fatal(err)
	}
	client, err := registry.New(registry.Config{URL: "http://127.0.0.1:8081"})
	if err != nil {
		log.Fatal(err)
	}
	c, err := consumer.New(consumer.Config{
		Kafka:  cfg,
		Group:  "warehouse-service",
		Topics: []string{orderevents.OrderCreatedTopic},
	}, serde.New(client))
	if err != nil {
		log.Fatal(err)
	}
	// v1 and v2 OrderCreated events both arrive as v2 values.
	consumer.Handle(c, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			err := reserveStock(ctx, ev)
			if errors.Is(err, errWarehouseBusy) {
				return consumer.Retryable(err) // retried with back-off, then dead-lettered
			}
			return err // nil: done; another error: to order-events.dlq at once
		})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	err = c.Run(ctx)
	stop()
	if err != nil {
		log.Fatal(err)
	}
}
