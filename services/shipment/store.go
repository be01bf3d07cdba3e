package shipment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/kafka/dedup"
)

// The service's buckets in the bbolt file it shares with the de-duplication
// store (so a handler's state change commits with the event's de-dup mark):
//
//	shipment.orders     order_id    -> order (JSON): customer, address,
//	                                   cancelled, a reservation waiting for
//	                                   the order's OrderCreated
//	shipment.shipments  shipment_id -> Shipment (JSON)
//	shipment.active     shipment_id -> "" for the shipments the ticker moves,
//	                                   so a tick reads only those
var (
	bucketOrders    = []byte("shipment.orders")
	bucketShipments = []byte("shipment.shipments")
	bucketActive    = []byte("shipment.active")
)

// order is what the service knows of an order from order-events and
// warehouse-events.
type order struct {
	CustomerID string `json:"customer_id,omitempty"`
	// Known: its OrderCreated was handled (the address is known).
	Known       bool       `json:"known"`
	Destination Address    `json:"destination"`
	CancelledAt *time.Time `json:"cancelled_at,omitempty"`
	// Reserved is an InventoryReserved handled before the OrderCreated
	// (the topics are read independently): the shipment is created when the
	// address arrives.
	Reserved *reservation `json:"reserved,omitempty"`
}

type reservation struct {
	WarehouseID string    `json:"warehouse_id"`
	ReservedAt  time.Time `json:"reserved_at"`
	TraceParent string    `json:"trace_parent,omitempty"`
}

// createBuckets makes the buckets; Setup runs it before consuming.
func createBuckets(db *bbolt.DB) error {
	return db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketOrders, bucketShipments, bucketActive} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("shipment: bucket %s: %w", b, err)
			}
		}
		return nil
	})
}

// txOf returns the de-duplication store's transaction of a handler's
// context.
func txOf(ctx context.Context) (*bbolt.Tx, error) {
	tx := dedup.Tx(ctx)
	if tx == nil {
		return nil, errors.New("shipment: handler runs outside a bbolt de-duplication transaction (the consumer needs dedup.OpenBolt)")
	}
	return tx, nil
}

func get[T any](tx *bbolt.Tx, bucket []byte, key string) (*T, error) {
	v := tx.Bucket(bucket).Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	t := new(T)
	if err := json.Unmarshal(v, t); err != nil {
		return nil, fmt.Errorf("shipment: %s %q: %w", bucket, key, err)
	}
	return t, nil
}

func put(tx *bbolt.Tx, bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("shipment: %s %q: %w", bucket, key, err)
	}
	return tx.Bucket(bucket).Put([]byte(key), b)
}

// putShipment stores s and keeps the active index in step.
func putShipment(tx *bbolt.Tx, s *Shipment) error {
	if err := put(tx, bucketShipments, s.ID, s); err != nil {
		return err
	}
	if s.active() {
		return tx.Bucket(bucketActive).Put([]byte(s.ID), nil)
	}
	return tx.Bucket(bucketActive).Delete([]byte(s.ID))
}

// dueIDs lists the active shipments that have something due at now, read
// in one read transaction, so a tick writes (and syncs) only for those.
func dueIDs(db *bbolt.DB, now time.Time, step time.Duration) ([]string, error) {
	var ids []string
	err := db.View(func(tx *bbolt.Tx) error {
		shipments := tx.Bucket(bucketShipments)
		return tx.Bucket(bucketActive).ForEach(func(k, _ []byte) error {
			v := shipments.Get(k)
			if v == nil {
				return nil
			}
			var sh Shipment
			if err := json.Unmarshal(v, &sh); err != nil {
				return fmt.Errorf("shipment: shipment %q: %w", k, err)
			}
			if a := sh.due(now, step); a.advance || a.raiseDelay {
				ids = append(ids, string(k))
			}
			return nil
		})
	})
	return ids, err
}
