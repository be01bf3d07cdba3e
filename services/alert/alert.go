// Package alert is the alert service: it keeps every alert of Waybill, open
// or resolved, raises alerts of its own from what shipments and stock do,
// and resolves open alerts when their cause goes away.
//
// # Events
//
// Consumed (group alert-service), with the latest version of each type.
//
// alert-events AlertRaised and AlertResolved: every alert, whoever raised it
// (warehouse-service: INVENTORY_SHORTAGE; shipment-service: DELAY; this
// service), is recorded, and closed by its AlertResolved. A repeated
// AlertRaised (same alert_id, re-sent after a crash) changes nothing; an
// AlertResolved read before its AlertRaised keeps the alert closed.
//
// shipment-events ShipmentStatusChanged:
//
//   - EXCEPTION raises an alert (type OTHER, WARNING, entity SHIPMENT, rule
//     shipment-exception), one open per shipment; the shipment moving on
//     (PICKED_UP, IN_TRANSIT, OUT_FOR_DELIVERY) or DELIVERED resolves it.
//   - RETURNED raises an alert (OTHER, WARNING, rule shipment-returned),
//     resolved only by hand.
//   - DELIVERED resolves every other open alert about the shipment, the
//     DELAY alert above all ("the delayed shipment arrived").
//
// warehouse-events InventoryAdjusted:
//
//   - A positive adjustment (goods received, found...) resolves the open
//     alerts about the SKU (write-offs), and counts towards the open
//     INVENTORY_SHORTAGE alerts of orders that name the SKU (attributes sku,
//     skus, short_skus or missing_skus, comma-separated; or entity SKU): one
//     is resolved once every SKU it names is restocked by its shortfall
//     (attribute shortfall, "SKU-A:3,SKU-B:1", as the warehouse writes it;
//     one unit when it does not say).
//   - One adjustment that removes at least the write-off threshold
//     (WAYBILL_ALERT_WRITE_OFF_THRESHOLD units, default 10) raises an alert
//     about the SKU (DAMAGE, LOST or OTHER by the reason, WARNING, rule
//     stock-write-off), one open per SKU.
//
// warehouse-events InventoryReserved resolves the order's open
// INVENTORY_SHORTAGE alerts: its backorder was filled (the usual end of a
// shortage: the warehouse reserves backorders when goods arrive).
// order-events OrderCancelled resolves them too: nobody waits for the stock
// any more. Other event types of these topics (OrderCreated,
// ShipmentCreated) are skipped.
//
// Produced (ce_source alert-service) on alert-events: AlertRaised for the
// rules above (attribute "rule" names the rule) and AlertResolved for every
// alert it closes, its own and others'.
//
// # HTTP API
//
//   - GET /alerts?open=true: the open alerts, newest first (open=false: the
//     resolved ones; without it, all); entity_id= and type= filter further.
//   - GET /alerts/{id}: one alert (404 when unknown).
//   - POST /alerts/{id}/resolve {"resolution": "..."}: an operator closes an
//     alert (200 with the alert; 404; 409 when resolved already).
//
// # Delivery guarantees
//
// Handlers change the state through dedup.Tx(ctx), in the bbolt transaction
// that marks the event handled: a redelivered event has no second effect.
// The events a handler produces are sent inside that transaction, before it
// commits, waiting for the broker's acknowledgement (at-least-once output): a
// crash between the send and the commit sends the event again on redelivery
// rather than losing an alert. The IDs of its own alerts are derived from the
// event that caused them (rule, entity and the time the event reports), and a
// resolution is keyed by the alert's ID, so a re-sent event is the same alert
// to every consumer. An alert raised or resolved by this service is recorded
// in the same transaction, so reading it back from alert-events changes
// nothing.
package alert

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/services/platform"
)

// Name is the service's name: its consumer group and ce_source are
// "alert-service".
const Name = "alert"

// EnvWriteOffThreshold names the environment variable of
// Options.WriteOffThreshold.
const EnvWriteOffThreshold = "WAYBILL_ALERT_WRITE_OFF_THRESHOLD"

// DefaultWriteOffThreshold is Options.WriteOffThreshold's default.
const DefaultWriteOffThreshold = 10

// sendTimeout bounds a send outside a handler (an operator's resolution).
const sendTimeout = 15 * time.Second

// Options are the service's own settings.
type Options struct {
	// WriteOffThreshold is how many units one negative stock adjustment
	// must remove to raise an alert; 0 means DefaultWriteOffThreshold.
	WriteOffThreshold int
}

// OptionsFromEnv reads the options from WAYBILL_ALERT_WRITE_OFF_THRESHOLD
// through getenv.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	var o Options
	if v := getenv(EnvWriteOffThreshold); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Options{}, fmt.Errorf("alert: %s=%q: want a positive number of units", EnvWriteOffThreshold, v)
		}
		o.WriteOffThreshold = n
	}
	return o, nil
}

// Setup sets the service up on app with the options of the environment.
func Setup(app *platform.App) error {
	o, err := OptionsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	return o.Setup(app)
}

// Setup sets the service up on app with o: its handlers, HTTP routes and
// metrics: waybill_alerts_raised_total{type} and
// waybill_alerts_resolved_total{type} (every alert recorded, whoever raised or
// resolved it), waybill_alerts_open.
func (o Options) Setup(app *platform.App) error {
	if o.WriteOffThreshold <= 0 {
		o.WriteOffThreshold = DefaultWriteOffThreshold
	}
	s, err := newService(o, app.DB, app.Producer)
	if err != nil {
		return err
	}
	if err := s.registerMetrics(app.Metrics); err != nil {
		return err
	}
	c, err := app.Consumer(alertevents.AlertRaisedTopic, shipmentevents.ShipmentStatusChangedTopic, warehouseevents.InventoryAdjustedTopic,
		orderevents.OrderCancelledTopic)
	if err != nil {
		return err
	}
	s.register(c)
	s.routes(app.Mux)
	return nil
}

// Service returns the service for the embedded stack (`waybill dev`).
func Service() devstack.Service { return platform.Service(Name, Setup) }
