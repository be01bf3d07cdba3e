// Package notification is the notification service: it records the messages
// a customer would get (by e-mail or text) as their order moves, and logs
// each one with the trace ID of the event that caused it, so a message can be
// followed back to the order's POST.
//
// # Events
//
// Consumed (group notification-service); the service produces nothing:
//
//   - order-events OrderCreated (v2): "Thank you for your order ..." (items,
//     total); it also learns the order's customer.
//   - order-events OrderCancelled: "Your order ... has been cancelled <why>".
//   - shipment-events ShipmentCreated: "Your order ... is on its way with
//     <carrier>. Tracking number ..."; it also learns the shipment's order.
//     A shipment of an order already cancelled (booked while the
//     cancellation was on its way; the shipment service cancels it before
//     pick-up) is not announced.
//   - shipment-events ShipmentStatusChanged, read as version 1 while
//     shipment-service writes version 2 (the catalog's FULL_TRANSITIVE
//     level is what makes this work): OUT_FOR_DELIVERY and DELIVERED are
//     told to the customer; the other statuses are not, and a RETURNED
//     (v2 only) reads as UNKNOWN and is ignored.
//   - alert-events AlertRaised (v2) about an ORDER or a SHIPMENT of a
//     customer, of the types a customer is told of: DELAY (with the revised
//     estimate of the new_eta attribute), INVENTORY_SHORTAGE, DAMAGE, LOST,
//     ADDRESS_UNDELIVERABLE, CUSTOMS_HOLD. Alerts about SKUs or warehouses,
//     and OTHER, are internal.
//
// A message's customer comes from the events: order -> customer from
// OrderCreated, shipment -> order from ShipmentCreated (or an alert's
// order_id attribute). The topics are read independently, so a message whose
// customer is not known yet waits, and is recorded when the event that
// names the customer arrives.
//
// # HTTP API
//
//   - GET /notifications?customer=<id>[&order_id=<id>]: the customer's
//     messages in the order they were sent (400 without customer).
//
// # Delivery guarantees
//
// Every handler writes only through dedup.Tx(ctx), in the bbolt transaction
// that marks the event handled, and sends nothing. Each message has an ID
// derived from what it reports ("order-created/<order_id>",
// "shipment-delivered/<shipment_id>", "alert/<alert_id>"): a redelivered
// event is skipped by the de-duplication store, and an event re-sent by its
// producer with a new ce_id (at-least-once output upstream) finds its
// message recorded already. A customer gets each message once.
package notification

import (
	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/services/platform"
)

// Name is the service's name: its consumer group is "notification-service".
const Name = "notification"

// Setup sets the service up on app: its handlers, its HTTP route and its
// metric, waybill_notifications_total{kind}.
func Setup(app *platform.App) error {
	s, err := newService(app.DB, app.Logger, app.Metrics)
	if err != nil {
		return err
	}
	c, err := app.Consumer(orderevents.OrderCreatedTopic, shipmentevents.ShipmentCreatedTopic, alertevents.AlertRaisedTopic)
	if err != nil {
		return err
	}
	s.register(c)
	s.routes(app.Mux)
	return nil
}

// Service returns the service for the embedded stack (`waybill dev`).
func Service() devstack.Service { return platform.Service(Name, Setup) }
