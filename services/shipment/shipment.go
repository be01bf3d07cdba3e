// Package shipment is the shipment service: it books a shipment with a
// carrier for every order whose stock is reserved, moves it along its journey
// and raises an alert when it is late.
//
// # Events
//
// Consumed (group shipment-service):
//
//   - warehouse-events InventoryReserved: the order's stock is set aside;
//     the service books the order's shipment and sends ShipmentCreated
//     (status CREATED: the label is printed). The shipment ID is
//     ShipmentID(order_id), "shp-<order_id>": one shipment per order (a
//     second reservation for the same order is logged and ignored).
//   - order-events OrderCreated (v2): the customer and the shipping address,
//     which InventoryReserved does not carry. The two topics are read
//     independently, so a reservation handled before its order waits in the
//     state and the shipment is created when the OrderCreated arrives. An
//     order written with v1 has no address: its shipment has an empty
//     destination (collected in person).
//   - order-events OrderCancelled: a shipment still CREATED (not picked up)
//     is cancelled (status CANCELLED, the service's own: no event, the
//     OrderCancelled already told everyone); a reservation still waiting is
//     dropped. After pick-up it is too late: the shipment goes on, and the
//     service logs it.
//
// Produced (ce_source shipment-service):
//
//   - ShipmentCreated, ShipmentStatusChanged (v2) on shipment-events. A
//     ticker moves each shipment one status every step: CREATED ->
//     PICKED_UP -> IN_TRANSIT -> OUT_FOR_DELIVERY -> DELIVERED, each change
//     with its location and the current ETA (none once delivered).
//   - AlertRaised (DELAY, severity WARNING, entity SHIPMENT) on alert-events,
//     once per shipment, when a shipment not yet delivered is past its ETA.
//     Its ID is DelayAlertID(shipment_id); attributes carry order_id,
//     carrier, tracking_number, status, eta and new_eta (the revised
//     estimate, which the later status changes carry as their eta). The
//     alert service resolves it when the shipment is delivered.
//
// Status changes and alerts sent by the ticker continue the trace of the
// reservation that created the shipment, so one order is followed from its
// POST to its delivery.
//
// # Configuration
//
// WAYBILL_SHIPMENT_STEP (a Go duration, default 3s) is the time between two
// statuses; WAYBILL_SHIPMENT_ETA (default 6 steps) is the delivery estimate
// from booking. A shipment normally arrives after 4 steps, well inside it.
//
// # The delay demo
//
// A shipment can be made late on purpose, to show the DELAY alert and its
// resolution: either POST /shipments/{id}/delay while it is on its way, or
// place the order for a customer whose ID starts with "delay-"
// (DelayCustomerPrefix). Such a shipment is held IN_TRANSIT until one step
// past its ETA: at the ETA it raises its DELAY alert, then it goes on and is
// delivered two steps later.
//
// # HTTP API
//
//   - GET /shipments/{id}: the shipment, its status, ETA and history (404
//     when unknown).
//   - GET /shipments?order_id=...&status=...: the shipments, oldest first.
//   - POST /shipments/{id}/delay: the delay demo hook (202 with the
//     shipment; 404 unknown; 409 once it is out for delivery, delivered or
//     cancelled). The hold lasts until one step past the shipment's ETA,
//     so with a long WAYBILL_SHIPMENT_ETA the demo takes as long.
//
// # Delivery guarantees
//
// Every handler changes the state through dedup.Tx(ctx), in the bbolt
// transaction that marks the event handled, so a redelivered event has no
// second effect. Output events are sent inside that transaction, before it
// commits, and the handler waits for the broker's acknowledgement: a crash
// between the send and the commit sends the event again on redelivery
// (at-least-once output) rather than losing it, which for shipments and
// alerts is the safer side. A re-sent event carries a new ce_id but the same
// business IDs (the shipment ID derived from the order, the alert ID from the
// shipment), so downstream services recognise it; they handle a repeated
// shipment or alert ID as the same one. The ticker works the same way, in a
// bbolt transaction of its own per shipment. The price is that the database's
// single writer waits for each acknowledgement: fine at a demo's rates.
package shipment

import (
	"fmt"
	"os"
	"time"

	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/services/platform"
)

// Name is the service's name: its consumer group and ce_source are
// "shipment-service".
const Name = "shipment"

// DelayCustomerPrefix starts the customer IDs whose shipments are held for
// the delay demo.
const DelayCustomerPrefix = "delay-"

// Environment variables of the service's options.
const (
	EnvStep = "WAYBILL_SHIPMENT_STEP"
	EnvETA  = "WAYBILL_SHIPMENT_ETA"
)

// DefaultStep is the time between two statuses of a shipment.
const DefaultStep = 3 * time.Second

// Options are the service's own settings.
type Options struct {
	// Step is the time between two statuses; 0 means DefaultStep.
	Step time.Duration
	// ETA is the delivery estimate from booking; 0 means 6 steps.
	ETA time.Duration
}

// OptionsFromEnv reads the options from WAYBILL_SHIPMENT_STEP and
// WAYBILL_SHIPMENT_ETA through getenv.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	var o Options
	for _, v := range []struct {
		name string
		d    *time.Duration
	}{{EnvStep, &o.Step}, {EnvETA, &o.ETA}} {
		s := getenv(v.name)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Options{}, fmt.Errorf("shipment: %s=%q: want a positive duration such as 3s", v.name, s)
		}
		*v.d = d
	}
	return o, nil
}

func (o Options) withDefaults() Options {
	if o.Step <= 0 {
		o.Step = DefaultStep
	}
	if o.ETA <= 0 {
		o.ETA = 6 * o.Step
	}
	return o
}

// Setup sets the service up on app with the options of the environment
// (OptionsFromEnv(os.Getenv)).
func Setup(app *platform.App) error {
	o, err := OptionsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	return o.Setup(app)
}

// Setup sets the service up on app with o: its handlers, its HTTP routes,
// the ticker that moves shipments along, and its metrics:
// waybill_shipments_created_total, waybill_shipments_cancelled_total,
// waybill_shipment_delays_total and
// waybill_shipment_status_changes_total{status}. (Counted when the event is
// sent; a transaction that then rolls back is counted anyway, as the event
// it sent is.)
func (o Options) Setup(app *platform.App) error {
	s, err := newService(o.withDefaults(), app.DB, app.Producer, app.Metrics)
	if err != nil {
		return err
	}
	c, err := app.Consumer(orderevents.OrderCreatedTopic, warehouseevents.InventoryReservedTopic)
	if err != nil {
		return err
	}
	s.register(c)
	s.routes(app.Mux)
	app.Go("ticker", s.run)
	return nil
}

// Service returns the service for the embedded stack (`waybill dev`), with
// the options of the environment.
func Service() devstack.Service { return platform.Service(Name, Setup) }
