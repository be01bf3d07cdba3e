package order

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/dedup"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/services/platform"
)

type service struct {
	db        *bbolt.DB
	created   *producer.Typed[*orderevents.OrderCreatedV2]
	cancelled *producer.Typed[*orderevents.OrderCancelledV1]
	metrics   metrics
}

type metrics struct {
	placed, cancelled prometheus.Counter
	statuses          *prometheus.CounterVec
}

// Setup registers the order service on app: its HTTP API, its handlers and
// its metrics (waybill_orders_placed_total, waybill_orders_cancelled_total,
// waybill_order_status_changes_total{status}).
func Setup(app *platform.App) error {
	if err := app.DB.Update(createBuckets); err != nil {
		return err
	}
	s := &service{
		db:        app.DB,
		created:   orderevents.NewOrderCreatedProducer(app.Producer),
		cancelled: orderevents.NewOrderCancelledProducer(app.Producer),
		metrics: metrics{
			placed: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "waybill_orders_placed_total", Help: "Orders placed through the API (OrderCreated sent).",
			}),
			cancelled: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "waybill_orders_cancelled_total", Help: "Orders cancelled through the API (OrderCancelled sent).",
			}),
			statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "waybill_order_status_changes_total", Help: "Orders moved to a status by a consumed event, by status.",
			}, []string{"status"}),
		},
	}
	if err := app.Metrics.Register(s.metrics.placed); err != nil {
		return fmt.Errorf("order: %w", err)
	}
	if err := app.Metrics.Register(s.metrics.cancelled); err != nil {
		return fmt.Errorf("order: %w", err)
	}
	if err := app.Metrics.Register(s.metrics.statuses); err != nil {
		return fmt.Errorf("order: %w", err)
	}
	c, err := app.Consumer(warehouseevents.InventoryReservedTopic, shipmentevents.ShipmentCreatedTopic, alertevents.AlertRaisedTopic)
	if err != nil {
		return err
	}
	warehouseevents.HandleInventoryReserved(c, s.onReserved)
	shipmentevents.HandleShipmentCreated(c, s.onShipmentCreated)
	shipmentevents.HandleShipmentStatusChanged(c, s.onShipmentStatus)
	alertevents.HandleAlertRaised(c, s.onAlertRaised)
	alertevents.HandleAlertResolved(c, s.onAlertResolved)
	s.routes(app.Mux)
	return nil
}

// update runs fn on the order id inside the handler's transaction and
// stores it; an unknown order is skipped.
func (s *service) update(ctx context.Context, m consumer.Meta, id string, fn func(o *Order, at time.Time)) error {
	tx := dedup.Tx(ctx)
	o, err := getOrder(tx, id)
	if err != nil {
		return err
	}
	if o == nil {
		platform.Logger(ctx).DebugContext(ctx, "event about an unknown order skipped", "order_id", id, "event_type", m.Type)
		return nil
	}
	before := o.Status
	fn(o, time.Now().UTC().Truncate(time.Millisecond))
	if err := putOrder(tx, o); err != nil {
		return err
	}
	if o.Status != before {
		s.metrics.statuses.WithLabelValues(o.Status).Inc()
		platform.Logger(ctx).InfoContext(ctx, "order status", "order_id", id, "status", o.Status, "was", before, "event_type", m.Type)
	}
	return nil
}

func (s *service) onReserved(ctx context.Context, m consumer.Meta, ev *warehouseevents.InventoryReservedV1) error {
	return s.update(ctx, m, ev.OrderID, func(o *Order, at time.Time) {
		o.Reservation = &Reservation{WarehouseID: ev.WarehouseID, ReservedAt: ev.ReservedAt}
		o.advance(StatusReserved, "InventoryReserved", at)
	})
}

func (s *service) onShipmentCreated(ctx context.Context, m consumer.Meta, ev *shipmentevents.ShipmentCreatedV1) error {
	if err := dedup.Tx(ctx).Bucket(bucketShipments).Put([]byte(ev.ShipmentID), []byte(ev.OrderID)); err != nil {
		return err
	}
	return s.update(ctx, m, ev.OrderID, func(o *Order, at time.Time) {
		if o.Shipment == nil || o.Shipment.ID != ev.ShipmentID {
			o.Shipment = &Shipment{ID: ev.ShipmentID, Status: string(shipmentevents.ShipmentStatusV2Created)}
		}
		o.Shipment.Carrier, o.Shipment.TrackingNumber, o.Shipment.UpdatedAt = ev.Carrier, ev.TrackingNumber, ev.CreatedAt
		o.advance(StatusAwaitingPickup, "ShipmentCreated", at)
	})
}

// shipmentStatus maps a shipment's status to its order's.
var shipmentStatus = map[shipmentevents.ShipmentStatusV2]string{
	shipmentevents.ShipmentStatusV2Created:        StatusAwaitingPickup,
	shipmentevents.ShipmentStatusV2PickedUp:       StatusShipped,
	shipmentevents.ShipmentStatusV2InTransit:      StatusShipped,
	shipmentevents.ShipmentStatusV2OutForDelivery: StatusOutForDelivery,
	shipmentevents.ShipmentStatusV2Delivered:      StatusDelivered,
	shipmentevents.ShipmentStatusV2Exception:      StatusDeliveryException,
	shipmentevents.ShipmentStatusV2Returned:       StatusReturned,
}

func (s *service) onShipmentStatus(ctx context.Context, m consumer.Meta, ev *shipmentevents.ShipmentStatusChangedV2) error {
	id := lookup(dedup.Tx(ctx), bucketShipments, ev.ShipmentID)
	if id == "" {
		platform.Logger(ctx).DebugContext(ctx, "status of an unknown shipment skipped", "shipment_id", ev.ShipmentID)
		return nil
	}
	return s.update(ctx, m, id, func(o *Order, at time.Time) {
		if o.Shipment == nil {
			o.Shipment = &Shipment{ID: ev.ShipmentID}
		}
		// Changes of one shipment arrive in order (one key, one partition);
		// an older report (changed_at) does not overwrite a newer one.
		if !ev.ChangedAt.Before(o.Shipment.UpdatedAt) {
			o.Shipment.Status, o.Shipment.ETA, o.Shipment.UpdatedAt = string(ev.Status), ev.Eta, ev.ChangedAt
			o.Shipment.Location = ""
			if ev.Location != nil {
				o.Shipment.Location = *ev.Location
			}
		}
		status, ok := shipmentStatus[ev.Status]
		if !ok { // UNKNOWN: a status this service does not know yet
			status = o.Status
		}
		o.advance(status, "ShipmentStatusChanged "+string(ev.Status), at)
	})
}

func (s *service) onAlertRaised(ctx context.Context, m consumer.Meta, ev *alertevents.AlertRaisedV2) error {
	tx := dedup.Tx(ctx)
	var id string
	switch ev.Entity.EntityType {
	case alertevents.EntityTypeOrder:
		id = ev.Entity.EntityID
	case alertevents.EntityTypeShipment:
		id = lookup(tx, bucketShipments, ev.Entity.EntityID)
	}
	if id == "" {
		return nil // about stock, a warehouse, or something else
	}
	if o, err := getOrder(tx, id); err != nil || o == nil {
		return err
	}
	if err := tx.Bucket(bucketAlerts).Put([]byte(ev.AlertID), []byte(id)); err != nil {
		return err
	}
	return s.update(ctx, m, id, func(o *Order, at time.Time) {
		for _, a := range o.Alerts {
			if a.ID == ev.AlertID {
				return // raised again (a re-sent event): the same alert
			}
		}
		o.Alerts = append(o.Alerts, Alert{ID: ev.AlertID, Type: string(ev.Type), Severity: string(ev.Severity),
			Description: ev.Description, RaisedAt: ev.RaisedAt})
		status := o.Status
		if ev.Type == alertevents.AlertTypeV2InventoryShortage && ev.Entity.EntityType == alertevents.EntityTypeOrder {
			status = StatusBackordered
		}
		o.advance(status, "AlertRaised "+string(ev.Type), at)
	})
}

func (s *service) onAlertResolved(ctx context.Context, m consumer.Meta, ev *alertevents.AlertResolvedV1) error {
	id := lookup(dedup.Tx(ctx), bucketAlerts, ev.AlertID)
	if id == "" {
		return nil
	}
	return s.update(ctx, m, id, func(o *Order, at time.Time) {
		for i := range o.Alerts {
			if a := &o.Alerts[i]; a.ID == ev.AlertID && a.ResolvedAt == nil {
				resolved := ev.ResolvedAt
				a.ResolvedAt, a.Resolution = &resolved, ev.Resolution
				o.advance(o.Status, "AlertResolved", at)
			}
		}
	})
}
