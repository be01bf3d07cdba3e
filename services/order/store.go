package order

import (
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"
)

// The service's buckets in its state file.
var (
	bucketOrders      = []byte("order.orders")      // order ID -> Order (JSON)
	bucketByCustomer  = []byte("order.by_customer") // customer ID + 0 + order ID -> nothing
	bucketIdempotency = []byte("order.idempotency") // Idempotency-Key -> order ID
	bucketShipments   = []byte("order.shipments")   // shipment ID -> order ID
	bucketAlerts      = []byte("order.alerts")      // alert ID -> order ID
)

func createBuckets(tx *bbolt.Tx) error {
	for _, b := range [][]byte{bucketOrders, bucketByCustomer, bucketIdempotency, bucketShipments, bucketAlerts} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("order: %w", err)
		}
	}
	return nil
}

// getOrder returns the order id, or nil when there is none.
func getOrder(tx *bbolt.Tx, id string) (*Order, error) {
	v := tx.Bucket(bucketOrders).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	o := new(Order)
	if err := json.Unmarshal(v, o); err != nil {
		return nil, fmt.Errorf("order: stored order %s: %w", id, err)
	}
	return o, nil
}

func putOrder(tx *bbolt.Tx, o *Order) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("order: %w", err)
	}
	if err := tx.Bucket(bucketOrders).Put([]byte(o.ID), b); err != nil {
		return fmt.Errorf("order: %w", err)
	}
	return tx.Bucket(bucketByCustomer).Put(customerKey(o.CustomerID, o.ID), nil)
}

func customerKey(customer, id string) []byte {
	return append(append([]byte(customer), 0), id...)
}

// lookup returns the order ID an index bucket maps key to, or "".
func lookup(tx *bbolt.Tx, bucket []byte, key string) string {
	return string(tx.Bucket(bucket).Get([]byte(key)))
}
