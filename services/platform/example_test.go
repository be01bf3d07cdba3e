package platform_test

import (
	"context"
	"net/http"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/dedup"
	"github.com/waybill/waybill/services/platform"
)

// A service is a Setup function: it creates its buckets, registers its
// handlers on the consumer and its routes on the mux. Its binary is
// os.Exit(platform.Main("hello", setup)); the embedded stack runs
// platform.Service("hello", setup).
func Example() {
	setup := func(app *platform.App) error {
		if err := app.DB.Update(func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists([]byte("hello.orders"))
			return err
		}); err != nil {
			return err
		}
		c, err := app.Consumer(orderevents.OrderCreatedTopic)
		if err != nil {
			return err
		}
		orderevents.HandleOrderCreated(c, func(ctx context.Context, _ consumer.Meta, ev *orderevents.OrderCreatedV2) error {
			// Written in the transaction that marks the event handled:
			// once per event, even when Kafka delivers it again.
			if err := dedup.Tx(ctx).Bucket([]byte("hello.orders")).Put([]byte(ev.OrderID), []byte(ev.CustomerID)); err != nil {
				return err
			}
			platform.Logger(ctx).InfoContext(ctx, "order seen", "order_id", ev.OrderID) // with trace_id
			return nil
		})
		app.Mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
			var customer []byte
			_ = app.DB.View(func(tx *bbolt.Tx) error {
				customer = tx.Bucket([]byte("hello.orders")).Get([]byte(r.PathValue("id")))
				return nil
			})
			if customer == nil {
				platform.WriteError(w, http.StatusNotFound, "", "hello: no such order")
				return
			}
			platform.WriteJSON(w, http.StatusOK, map[string]string{"customer_id": string(customer)})
		})
		return nil
	}
	_ = platform.Service("hello", setup)
}
