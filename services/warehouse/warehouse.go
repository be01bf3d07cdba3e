// Package warehouse is the warehouse service: it keeps the stock of one
// warehouse per SKU, sets stock aside for each order (all of its lines or
// none), and takes goods in and out over HTTP.
//
// # Stock
//
// Each SKU has units on hand and units reserved; available = on hand -
// reserved. A reservation holds its units until its order is cancelled
// (they become available again) or its shipment is picked up (they leave:
// on hand and reserved both go down). On its first start the warehouse is
// stocked with Options.Seed, by default DefaultSeed: 100 units of each
// demo SKU and 3 of SKU-LAMP-LTD, so that a demo order of a few lamps runs
// short. The opening stock is a starting balance, not an adjustment: it
// sends no event.
//
// # Events
//
// Consumed (group warehouse-service):
//
//   - order-events OrderCreated, read as version 1 (HandleOrderCreatedV1)
//     while the order service writes version 2: the warehouse needs only the
//     line items, which v1 has, and is deployed on its own schedule; the
//     serde resolves each v2 event to v1 (dropping the address and total).
//     This is Waybill's "older version consumed while a newer one is
//     produced" case. When every line fits in the available stock, the
//     units are reserved and InventoryReserved is sent; otherwise nothing is
//     reserved, the order is backordered and AlertRaised (type
//     INVENTORY_SHORTAGE, severity WARNING, entity ORDER <order_id>,
//     attributes order_id, warehouse_id, skus: the short SKUs
//     comma-separated, shortfall: "SKU:missing,...") is sent. Its ID is
//     ShortageAlertID(order_id), "shortage-<order_id>".
//   - order-events OrderCancelled: a reservation is released (its units
//     become available, and fill the backorders they can: see Backorders);
//     a backorder is dropped. No event about the release itself: the
//     cancellation tells everyone. A cancellation read before its
//     order (it cannot happen on one partition, but a replay may) is
//     remembered, and the order is then ignored.
//   - shipment-events ShipmentCreated (to learn which order a shipment
//     carries) and ShipmentStatusChanged PICKED_UP: the order's reserved
//     units leave the warehouse (on hand and reserved go down); a
//     cancellation after that releases nothing.
//
// Produced (ce_source warehouse-service): InventoryReserved (key order_id)
// and InventoryAdjusted v2 (key sku) on warehouse-events, AlertRaised v2 on
// alert-events.
//
// # Backorders
//
// Goods received through POST /stock, and units a cancellation releases,
// fill the backorders, oldest first: each backordered order whose lines now all fit is reserved, and its
// InventoryReserved is sent (continuing the order's trace), so a shortage
// resolves itself when the goods arrive. An order that still does not fit
// waits, and a later, smaller one may go before it.
//
// # HTTP API
//
//   - POST /stock {"sku": "SKU-MUG-350", "quantity": 20, "reason": "RECEIVED",
//     "note": "PO-1234"}: a signed change of the units on hand (not 0;
//     reason one of the AdjustmentReason symbols, RECEIVED by default for
//     goods in, required for goods out). 200 with the SKU's stock and the
//     backorders it filled, after InventoryAdjusted is on Kafka; 400 naming
//     the field; 409 when it would leave fewer units on hand than are
//     reserved. An Idempotency-Key header makes it safe to retry.
//   - GET /stock: every SKU's stock; GET /stock/{sku}: one (404 unknown).
//   - GET /reservations/{order_id}: what the warehouse did with an order
//     (RESERVED, BACKORDERED, RELEASED, PICKED, CANCELLED) and its lines.
//
// # Delivery guarantees
//
// Every handler changes the stock through dedup.Tx(ctx), in the bbolt
// transaction that marks the event handled, so a redelivered event reserves
// nothing twice. An order is also handled once by its ID: an OrderCreated
// re-sent with a new ce_id for an order the warehouse has seen changes
// nothing and sends nothing.
//
// Output events are sent inside that transaction, before it commits, and
// the handler waits for the broker's acknowledgement (a failed send is
// retried, the transaction rolled back): a crash between the send and the
// commit sends the event again when the order is redelivered (at-least-once
// output) instead of losing a reservation. A re-sent InventoryReserved has a
// new ce_id but the same order_id, and a re-sent shortage alert the same
// alert_id, so consumers recognise the repeat (the shipment service books one
// shipment per order). POST /stock works the same way in a transaction of its
// own. The price is that the database's single writer waits for each
// acknowledgement: a few milliseconds an order.
package warehouse

import (
	"os"
	"time"

	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/services/platform"
)

// Name is the service's name: its consumer group and ce_source are
// "warehouse-service".
const Name = "warehouse"

// Environment variables Setup reads.
const (
	EnvWarehouseID = "WAYBILL_WAREHOUSE_ID"   // default DefaultWarehouseID
	EnvSeed        = "WAYBILL_WAREHOUSE_SEED" // a JSON file {"SKU": units, ...}; default DefaultSeed
)

// DefaultWarehouseID is the warehouse the service runs when
// WAYBILL_WAREHOUSE_ID does not name one.
const DefaultWarehouseID = "WH-AMS-1"

// DefaultSeed is the opening stock when none is configured: plenty of the
// demo SKUs, and few of SKU-LAMP-LTD for the shortage case.
var DefaultSeed = map[string]int64{
	"SKU-MUG-350":      100,
	"SKU-TSHIRT-M-BLU": 100,
	"SKU-SOCKS-L-GRY":  100,
	"SKU-POSTER-A2":    100,
	"SKU-LAMP-LTD":     3,
}

// Service returns the warehouse service for the embedded stack.
func Service() devstack.Service { return platform.Service(Name, Setup) }

// Setup registers the warehouse service on app with Options from the
// environment (WAYBILL_WAREHOUSE_ID, WAYBILL_WAREHOUSE_SEED).
func Setup(app *platform.App) error {
	return Options{WarehouseID: os.Getenv(EnvWarehouseID), SeedFile: os.Getenv(EnvSeed)}.Setup(app)
}

// Options configure the service; the zero value is the default.
type Options struct {
	// WarehouseID names the warehouse in the events ("" means
	// DefaultWarehouseID).
	WarehouseID string
	// Seed is the opening stock, applied on the first start only (nil
	// means SeedFile, else DefaultSeed).
	Seed map[string]int64
	// SeedFile is a JSON file {"SKU": units} read when Seed is nil.
	SeedFile string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// ShortageAlertID is the ID of the INVENTORY_SHORTAGE alert the warehouse
// raises for an order.
func ShortageAlertID(orderID string) string { return "shortage-" + orderID }

// Status of an order in the warehouse.
const (
	StatusReserved    = "RESERVED"
	StatusBackordered = "BACKORDERED"
	StatusReleased    = "RELEASED"  // reserved, then cancelled: the units are available again
	StatusPicked      = "PICKED"    // its shipment was picked up: the units left
	StatusCancelled   = "CANCELLED" // cancelled while backordered, or before it was seen
)

// Stock is one SKU's stock.
type Stock struct {
	SKU       string    `json:"sku"`
	OnHand    int64     `json:"on_hand"`
	Reserved  int64     `json:"reserved"`
	Available int64     `json:"available"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Line is one SKU of an order.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int32  `json:"quantity"`
}

// Reservation is what the warehouse did with an order.
type Reservation struct {
	OrderID    string    `json:"order_id"`
	Status     string    `json:"status"`
	Lines      []Line    `json:"lines,omitempty"`
	ShipmentID string    `json:"shipment_id,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
	// TraceParent is the trace of the order's OrderCreated, which a
	// reservation made later (a backorder filled) continues.
	TraceParent string `json:"traceparent,omitempty"`
	// Backorder is the key of the order in the backorder queue.
	Backorder uint64 `json:"backorder,omitempty"`
}
