// Package order is the order service: customers place and cancel orders
// over HTTP, and the service follows each order through the warehouse and
// the carrier by the events the other services publish, so GET /orders/{id}
// says where it stands.
//
// # HTTP API
//
//   - POST /orders places an order:
//
//     {"customer_id": "cus-42",
//     "line_items": [{"sku": "SKU-MUG-350", "quantity": 2}],
//     "shipping_address": {"line1": "Damrak 1", "line2": "3rd floor", "city": "Amsterdam",
//     "region": "NH", "postal_code": "1012 LG", "country_code": "NL"},
//     "total": "84.50", "currency": "EUR"}
//
//     customer_id, line_items (1 to 100, one per SKU, quantity 1 to 10,000)
//     and shipping_address (line1, city, postal_code, an ISO 3166-1 alpha-2
//     country_code) are required; total (a decimal amount with at most 2
//     decimals, as a string) and currency (ISO 4217, three letters) go
//     together or not at all. An invalid request is answered 400 with
//     {"error": ..., "field": "line_items[1].quantity", "errors": [every
//     problem, each with its field]}. A valid one is answered 201 with the
//     order (status CREATED) and its Location, after OrderCreated is on
//     Kafka. An Idempotency-Key header makes the request safe to retry:
//     the same key returns the order it created (200), without a second one.
//
//   - GET /orders/{id}: the order, its status, shipment, alerts and history
//     (404 when unknown).
//
//   - GET /orders?customer_id=...: the customer's orders, oldest first (all
//     orders without the parameter, at most 1000).
//
//   - POST /orders/{id}/cancel with {"reason": "CUSTOMER_REQUEST"} (the
//     default; any CancellationReason) cancels an order that has not left
//     the warehouse (CREATED, BACKORDERED, RESERVED, AWAITING_PICKUP):
//     200 with the order after OrderCancelled is on Kafka; 409 when it is
//     shipped, delivered or cancelled already; 404 when unknown.
//
// # Statuses
//
// An order's status moves forward only, as the events about it arrive:
//
//	CREATED           placed; the warehouse has not answered yet
//	BACKORDERED       AlertRaised INVENTORY_SHORTAGE about the order: not enough stock
//	RESERVED          InventoryReserved: its stock is set aside
//	AWAITING_PICKUP   ShipmentCreated: booked with a carrier, label printed
//	SHIPPED           ShipmentStatusChanged PICKED_UP or IN_TRANSIT
//	OUT_FOR_DELIVERY  ShipmentStatusChanged OUT_FOR_DELIVERY
//	DELIVERED         ShipmentStatusChanged DELIVERED
//	DELIVERY_EXCEPTION, RETURNED  ShipmentStatusChanged EXCEPTION, RETURNED
//	CANCELLED         cancelled through the API (terminal)
//
// An event that arrives late (a reservation after the shipment was booked)
// is recorded in the history without moving the status back. Events about
// a cancelled order are recorded too, and the status stays CANCELLED (a
// parcel the carrier took before the cancellation reached it shows in
// shipment.status). Alerts about the order or its shipment (DELAY, ...)
// are listed with the order, and marked resolved on AlertResolved.
//
// # Events
//
// Produced (ce_source order-service, key order_id): OrderCreated (v2, the
// latest) when an order is placed, OrderCancelled when it is cancelled.
//
// Consumed (group order-service): warehouse-events InventoryReserved;
// shipment-events ShipmentCreated (which also maps the shipment to its
// order, since ShipmentStatusChanged names only the shipment) and
// ShipmentStatusChanged (v2); alert-events AlertRaised (v2) and
// AlertResolved. Events about orders the service does not know (placed
// elsewhere) are skipped with a debug log line.
//
// # Delivery guarantees
//
// Each consumed event changes the state through dedup.Tx(ctx), in the bbolt
// transaction that marks the event handled: a redelivered event has no
// second effect, and a crash leaves either both or neither. The handlers
// produce nothing.
//
// The HTTP handlers send their event inside the bbolt transaction that
// stores the change and wait for the broker's acknowledgement before it
// commits: when Kafka cannot take the event, nothing is stored and the
// client gets a 503 to retry (with its Idempotency-Key). A crash (or a failed
// commit) between the acknowledgement and the commit leaves an event without
// its order: the client saw an error and retries, so the order is placed once
// more under a new ID. That is the at-least-once side, the safer one for
// logistics: an order the customer was told about always reaches the
// warehouse. The order ID, the event's key and business ID, is generated
// before the send, so the event and the stored order always agree.
package order

import (
	"time"

	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/services/platform"
)

// Name is the service's name: its consumer group and ce_source are
// "order-service".
const Name = "order"

// Service returns the order service for the embedded stack.
func Service() devstack.Service { return platform.Service(Name, Setup) }

// Statuses of an order (see the package doc).
const (
	StatusCreated           = "CREATED"
	StatusBackordered       = "BACKORDERED"
	StatusReserved          = "RESERVED"
	StatusAwaitingPickup    = "AWAITING_PICKUP"
	StatusShipped           = "SHIPPED"
	StatusOutForDelivery    = "OUT_FOR_DELIVERY"
	StatusDelivered         = "DELIVERED"
	StatusDeliveryException = "DELIVERY_EXCEPTION"
	StatusReturned          = "RETURNED"
	StatusCancelled         = "CANCELLED"
)

// rank orders the statuses: a status moves only to a higher rank.
var rank = map[string]int{
	StatusCreated: 0, StatusBackordered: 1, StatusReserved: 2, StatusAwaitingPickup: 3,
	StatusShipped: 4, StatusOutForDelivery: 5, StatusDeliveryException: 6, StatusDelivered: 7, StatusReturned: 8,
}

// cancellable reports whether an order in status may still be cancelled:
// its goods have not left the warehouse.
func cancellable(status string) bool {
	return rank[status] <= rank[StatusAwaitingPickup] && status != StatusCancelled
}

// Order is an order as the API shows it and the service stores it.
type Order struct {
	ID              string     `json:"id"`
	CustomerID      string     `json:"customer_id"`
	Status          string     `json:"status"`
	LineItems       []LineItem `json:"line_items"`
	ShippingAddress Address    `json:"shipping_address"`
	Total           string     `json:"total,omitempty"`
	Currency        string     `json:"currency,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	// TraceID is the trace of the request that placed the order: every
	// event about the order carries it.
	TraceID string `json:"trace_id,omitempty"`
	// TraceParent is that request's W3C traceparent; a cancellation
	// continues it.
	TraceParent  string        `json:"traceparent,omitempty"`
	Reservation  *Reservation  `json:"reservation,omitempty"`
	Shipment     *Shipment     `json:"shipment,omitempty"`
	Cancellation *Cancellation `json:"cancellation,omitempty"`
	Alerts       []Alert       `json:"alerts,omitempty"`
	History      []Change      `json:"history"`
}

// LineItem is one SKU of an order.
type LineItem struct {
	SKU      string `json:"sku"`
	Quantity int32  `json:"quantity"`
}

// Address is where an order goes.
type Address struct {
	Line1       string `json:"line1"`
	Line2       string `json:"line2,omitempty"`
	City        string `json:"city"`
	Region      string `json:"region,omitempty"`
	PostalCode  string `json:"postal_code"`
	CountryCode string `json:"country_code"`
}

// Reservation is the warehouse's InventoryReserved for the order.
type Reservation struct {
	WarehouseID string    `json:"warehouse_id"`
	ReservedAt  time.Time `json:"reserved_at"`
}

// Shipment is the order's shipment as the carrier events report it.
type Shipment struct {
	ID             string     `json:"id"`
	Carrier        string     `json:"carrier"`
	TrackingNumber string     `json:"tracking_number"`
	Status         string     `json:"status"`
	Location       string     `json:"location,omitempty"`
	ETA            *time.Time `json:"eta,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// Cancellation says why and when an order was cancelled.
type Cancellation struct {
	Reason      string    `json:"reason"`
	CancelledAt time.Time `json:"cancelled_at"`
}

// Alert is an alert about the order or its shipment.
type Alert struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Severity    string     `json:"severity"`
	Description string     `json:"description"`
	RaisedAt    time.Time  `json:"raised_at"`
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
	Resolution  string     `json:"resolution,omitempty"`
}

// Change is one step of an order's history: the event (or request) that
// moved it, and the status after it.
type Change struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
	Cause  string    `json:"cause"` // "POST /orders", "InventoryReserved", "ShipmentStatusChanged IN_TRANSIT", ...
}

// advance moves o to status when that is forward, and records the change in
// the history in any case.
func (o *Order) advance(status, cause string, at time.Time) {
	if o.Status != StatusCancelled && rank[status] > rank[o.Status] {
		o.Status = status
	}
	o.UpdatedAt = at
	o.History = append(o.History, Change{At: at, Status: o.Status, Cause: cause})
}
