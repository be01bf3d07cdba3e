package warehouse

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// The service's buckets in its state file.
var (
	bucketStock       = []byte("warehouse.stock")       // sku -> Stock (JSON)
	bucketOrders      = []byte("warehouse.orders")      // order ID -> Reservation (JSON)
	bucketBackorders  = []byte("warehouse.backorders")  // sequence (8 bytes, big endian) -> order ID, oldest first
	bucketShipments   = []byte("warehouse.shipments")   // shipment ID -> order ID
	bucketIdempotency = []byte("warehouse.idempotency") // Idempotency-Key -> response (JSON)
	bucketMeta        = []byte("warehouse.meta")        // "seeded" -> RFC 3339 time
)

func createBuckets(tx *bbolt.Tx) error {
	for _, b := range [][]byte{bucketStock, bucketOrders, bucketBackorders, bucketShipments, bucketIdempotency, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("warehouse: %w", err)
		}
	}
	return nil
}

// seed stocks the warehouse once: on the first start.
func seed(tx *bbolt.Tx, stock map[string]int64, now time.Time) (bool, error) {
	meta := tx.Bucket(bucketMeta)
	if meta.Get([]byte("seeded")) != nil {
		return false, nil
	}
	for sku, n := range stock {
		if n < 0 {
			return false, fmt.Errorf("warehouse: seed: %s: %d units", sku, n)
		}
		if err := putStock(tx, &Stock{SKU: sku, OnHand: n, UpdatedAt: now}); err != nil {
			return false, err
		}
	}
	return true, meta.Put([]byte("seeded"), []byte(now.Format(time.RFC3339)))
}

func getStock(tx *bbolt.Tx, sku string) (*Stock, error) {
	s := &Stock{SKU: sku}
	v := tx.Bucket(bucketStock).Get([]byte(sku))
	if v == nil {
		return s, nil
	}
	if err := json.Unmarshal(v, s); err != nil {
		return nil, fmt.Errorf("warehouse: stock of %s: %w", sku, err)
	}
	s.Available = s.OnHand - s.Reserved
	return s, nil
}

func putStock(tx *bbolt.Tx, s *Stock) error {
	s.Available = s.OnHand - s.Reserved
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("warehouse: %w", err)
	}
	return tx.Bucket(bucketStock).Put([]byte(s.SKU), b)
}

// getReservation returns what the warehouse did with an order, nil when it
// has not seen it.
func getReservation(tx *bbolt.Tx, orderID string) (*Reservation, error) {
	v := tx.Bucket(bucketOrders).Get([]byte(orderID))
	if v == nil {
		return nil, nil
	}
	r := new(Reservation)
	if err := json.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("warehouse: order %s: %w", orderID, err)
	}
	return r, nil
}

func putReservation(tx *bbolt.Tx, r *Reservation) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("warehouse: %w", err)
	}
	return tx.Bucket(bucketOrders).Put([]byte(r.OrderID), b)
}

// shortLine is a line that does not fit in the available stock.
type shortLine struct {
	sku               string
	wanted, available int64
}

// reserve sets the units of every line aside when all of them fit, and
// returns the lines that do not fit otherwise (and changes nothing).
func reserve(tx *bbolt.Tx, lines []Line, now time.Time) ([]shortLine, error) {
	wanted := map[string]int64{}
	var skus []string // in the order of the lines, each once
	for _, l := range lines {
		if _, ok := wanted[l.SKU]; !ok {
			skus = append(skus, l.SKU)
		}
		wanted[l.SKU] += int64(l.Quantity)
	}
	var short []shortLine
	stocks := make([]*Stock, 0, len(skus))
	for _, sku := range skus {
		s, err := getStock(tx, sku)
		if err != nil {
			return nil, err
		}
		if s.Available < wanted[sku] {
			short = append(short, shortLine{sku, wanted[sku], max(s.Available, 0)})
		}
		stocks = append(stocks, s)
	}
	if len(short) > 0 {
		return short, nil
	}
	for _, s := range stocks {
		s.Reserved += wanted[s.SKU]
		s.UpdatedAt = now
		if err := putStock(tx, s); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// release gives the units of lines back (picked: they left the warehouse
// instead).
func release(tx *bbolt.Tx, lines []Line, picked bool, now time.Time) error {
	for _, l := range lines {
		s, err := getStock(tx, l.SKU)
		if err != nil {
			return err
		}
		s.Reserved -= int64(l.Quantity)
		if picked {
			s.OnHand -= int64(l.Quantity)
		}
		s.UpdatedAt = now
		if err := putStock(tx, s); err != nil {
			return err
		}
	}
	return nil
}

func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
