package txn_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/txn"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

// A warehouse service that reserves stock for every order, exactly once:
// the reservation and the order's offset are committed together.
func Example() {
	cfg, err := kafka.LoadConfig(os.Getenv(kafka.EnvConfigFile), os.Environ())
	if err != nil {
		log.Fatal(err)
	}
	client, err := registry.New(registry.Config{URL: "http://127.0.0.1:8081"})
	if err != nil {
		log.Fatal(err)
	}
	host, _ := os.Hostname() // e.g. warehouse-0 in a StatefulSet: stable across restarts
	p, err := txn.New(txn.Config{
		Kafka:           cfg,
		Group:           "warehouse-service",
		Topics:          []string{orderevents.OrderCreatedTopic},
		TransactionalID: "warehouse-service-" + host,
		Source:          "warehouse-service",
	}, serde.New(client))
	if err != nil {
		log.Fatal(err)
	}
	txn.Handle(p, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) },
		func(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2, out *txn.Out) error {
			res := &warehouseevents.InventoryReservedV1{OrderID: ev.OrderID, WarehouseID: "wh-1", ReservedAt: time.Now()}
			for _, li := range ev.LineItems {
				res.Reservations = append(res.Reservations, warehouseevents.Reservation{SKU: li.SKU, Quantity: li.Quantity})
			}
			// Visible downstream (read_committed) only when the
			// transaction with this order's offset commits.
			return out.Send(ctx, res)
		})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	err = p.Run(ctx)
	stop()
	if errors.Is(err, txn.ErrFenced) {
		log.Fatal("another instance runs with this transactional ID: ", err)
	}
	if err != nil {
		log.Fatal(err)
	}
}
