package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/services/platform"
)

// The rules of the alerts the service raises itself, as the "rule"
// attribute of each names them.
const (
	// RuleShipmentException: the carrier reported an EXCEPTION; resolved
	// when the shipment moves on (PICKED_UP, IN_TRANSIT, OUT_FOR_DELIVERY)
	// or is delivered.
	RuleShipmentException = "shipment-exception"
	// RuleShipmentReturned: the shipment came back to the sender
	// (RETURNED); resolved only by hand (POST /alerts/{id}/resolve).
	RuleShipmentReturned = "shipment-returned"
	// RuleStockWriteOff: one adjustment removed at least the write-off
	// threshold of a SKU (damaged, lost, expired...); resolved when the SKU
	// is restocked.
	RuleStockWriteOff = "stock-write-off"
)

type service struct {
	opts     Options
	db       *bbolt.DB
	raised   *producer.Typed[*alertevents.AlertRaisedV2]
	resolved *producer.Typed[*alertevents.AlertResolvedV1]
	now      func() time.Time
	// raisedTotal and resolvedTotal count the alerts recorded as raised
	// and as resolved, by type, whoever raised or resolved them.
	raisedTotal, resolvedTotal *prometheus.CounterVec
}

func (s *service) registerMetrics(r prometheus.Registerer) error {
	s.raisedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "waybill_alerts_raised_total", Help: "Alerts recorded as raised, by type, whoever raised them.",
	}, []string{"type"})
	s.resolvedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "waybill_alerts_resolved_total", Help: "Alerts recorded as resolved, by type, whoever resolved them.",
	}, []string{"type"})
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "waybill_alerts_open", Help: "Alerts open now.",
	}, func() float64 {
		n := 0
		_ = s.db.View(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketAlerts).ForEach(func(_, v []byte) error {
				var a struct{ Status string }
				if json.Unmarshal(v, &a) == nil && a.Status == StatusOpen {
					n++
				}
				return nil
			})
		})
		return float64(n)
	})
	for _, c := range []prometheus.Collector{s.raisedTotal, s.resolvedTotal, open} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("alert: %w", err)
		}
	}
	return nil
}

func newService(opts Options, db *bbolt.DB, p *producer.Producer) (*service, error) {
	if err := createBuckets(db); err != nil {
		return nil, err
	}
	return &service{
		opts: opts, db: db,
		raised:   alertevents.NewAlertRaisedProducer(p),
		resolved: alertevents.NewAlertResolvedProducer(p),
		now:      func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
	}, nil
}

func (s *service) register(c *consumer.Consumer) {
	alertevents.HandleAlertRaised(c, s.onAlertRaised)
	alertevents.HandleAlertResolved(c, s.onAlertResolved)
	shipmentevents.HandleShipmentStatusChanged(c, s.onStatusChanged)
	warehouseevents.HandleInventoryAdjusted(c, s.onInventoryAdjusted)
	warehouseevents.HandleInventoryReserved(c, s.onInventoryReserved)
	orderevents.HandleOrderCancelled(c, s.onOrderCancelled)
}

// onInventoryReserved resolves an order's shortage alerts: its backorder is
// filled, the stock is set aside.
func (s *service) onInventoryReserved(ctx context.Context, _ consumer.Meta, ev *warehouseevents.InventoryReservedV1) error {
	return s.resolveOrder(ctx, ev.OrderID, fmt.Sprintf("Backorder filled: stock reserved for order %s in warehouse %s.", ev.OrderID, ev.WarehouseID))
}

// onOrderCancelled resolves a cancelled order's shortage alerts: nobody
// waits for the stock any more.
func (s *service) onOrderCancelled(ctx context.Context, _ consumer.Meta, ev *orderevents.OrderCancelledV1) error {
	return s.resolveOrder(ctx, ev.OrderID, fmt.Sprintf("Order %s cancelled (%s).", ev.OrderID, ev.Reason))
}

func (s *service) resolveOrder(ctx context.Context, orderID, resolution string) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	if err := settle(tx, alertevents.EntityTypeOrder, orderID, resolution); err != nil {
		return err
	}
	open, err := openAlerts(tx, alertevents.EntityTypeOrder, orderID)
	if err != nil {
		return err
	}
	for _, a := range open {
		if a.Type != string(alertevents.AlertTypeV2InventoryShortage) {
			continue
		}
		if err := s.resolve(ctx, tx, a, resolution); err != nil {
			return err
		}
	}
	return nil
}

// onAlertRaised records an alert, whoever raised it. The same alert ID
// again (an AlertRaised re-sent) changes nothing, and an alert already
// resolved (its AlertResolved read first, or it was this service's own)
// stays resolved.
func (s *service) onAlertRaised(ctx context.Context, m consumer.Meta, ev *alertevents.AlertRaisedV2) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	old, err := getAlert(tx, ev.AlertID)
	if err != nil {
		return err
	}
	a := alertFrom(ev)
	a.RaisedBy, a.TraceID = m.Source, platform.TraceID(ctx)
	switch {
	case old != nil && old.RaisedAt != nil:
		return nil
	case old != nil: // resolved before it was read as raised
		a.Status, a.Resolution, a.ResolvedAt = old.Status, old.Resolution, old.ResolvedAt
	default:
		s.raisedTotal.WithLabelValues(a.Type).Inc()
		platform.Logger(ctx).Warn("alert raised", "alert_id", a.ID, "type", a.Type, "severity", a.Severity,
			"entity_type", a.EntityType, "entity_id", a.EntityID, "raised_by", a.RaisedBy, "description", a.Description)
		if err := putAlert(tx, a); err != nil {
			return err
		}
		// Its cause may be gone already: the reservation, cancellation or
		// delivery was read first (another topic, read independently).
		if res, ok := settled(tx, ev.Entity.EntityType, ev.Entity.EntityID); ok && settles(ev) {
			return s.resolve(ctx, tx, a, res)
		}
		return nil
	}
	return putAlert(tx, a)
}

// settles reports whether an alert is one settle's record resolves: a
// shortage about an order (reserved or cancelled since) or a delay about a
// shipment (delivered since).
func settles(ev *alertevents.AlertRaisedV2) bool {
	switch ev.Entity.EntityType {
	case alertevents.EntityTypeOrder:
		return ev.Type == alertevents.AlertTypeV2InventoryShortage
	case alertevents.EntityTypeShipment:
		return ev.Type == alertevents.AlertTypeV2Delay
	}
	return false
}

// onAlertResolved closes an alert. One not seen raised yet is kept as
// resolved, so its AlertRaised, when it comes, does not open it.
func (s *service) onAlertResolved(ctx context.Context, _ consumer.Meta, ev *alertevents.AlertResolvedV1) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	a, err := getAlert(tx, ev.AlertID)
	if err != nil {
		return err
	}
	if a == nil {
		a = &Alert{ID: ev.AlertID}
	}
	if a.Status == StatusResolved {
		return nil
	}
	at := ev.ResolvedAt
	a.Status, a.Resolution, a.ResolvedAt = StatusResolved, ev.Resolution, &at
	if a.RaisedAt != nil {
		s.resolvedTotal.WithLabelValues(a.Type).Inc()
	}
	return putAlert(tx, a)
}

// onStatusChanged raises an alert when a carrier reports an exception or a
// return, and resolves a shipment's alerts when the cause is gone: a delayed
// or stuck shipment delivered, a stuck one moving again.
func (s *service) onStatusChanged(ctx context.Context, _ consumer.Meta, ev *shipmentevents.ShipmentStatusChangedV2) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	open, err := openAlerts(tx, alertevents.EntityTypeShipment, ev.ShipmentID)
	if err != nil {
		return err
	}
	where := ""
	if ev.Location != nil {
		where = " (" + *ev.Location + ")"
	}
	switch ev.Status {
	case shipmentevents.ShipmentStatusV2Exception, shipmentevents.ShipmentStatusV2Returned:
		rule, desc := RuleShipmentException, fmt.Sprintf("Carrier reported an exception for shipment %s%s: check with the carrier.", ev.ShipmentID, where)
		if ev.Status == shipmentevents.ShipmentStatusV2Returned {
			rule, desc = RuleShipmentReturned, fmt.Sprintf("Shipment %s was returned to the sender%s: contact the customer.", ev.ShipmentID, where)
		}
		for _, a := range open {
			if a.Attributes["rule"] == rule {
				return nil // one open alert per rule and shipment
			}
		}
		attrs := map[string]string{"rule": rule, "shipment_status": string(ev.Status)}
		if ev.Location != nil {
			attrs["location"] = *ev.Location
		}
		return s.raise(ctx, tx, &alertevents.AlertRaisedV2{
			AlertID: fmt.Sprintf("alr-%s-%s-%d", rule, ev.ShipmentID, ev.ChangedAt.UnixMilli()),
			Type:    alertevents.AlertTypeV2Other, Severity: alertevents.AlertSeverityWarning,
			Entity:      alertevents.EntityRef{EntityType: alertevents.EntityTypeShipment, EntityID: ev.ShipmentID},
			Description: desc, RaisedAt: ev.ChangedAt, Attributes: attrs,
		})
	case shipmentevents.ShipmentStatusV2Delivered:
		if err := settle(tx, alertevents.EntityTypeShipment, ev.ShipmentID,
			fmt.Sprintf("Shipment %s delivered%s at %s.", ev.ShipmentID, where, ev.ChangedAt.Format(time.RFC3339))); err != nil {
			return err
		}
		for _, a := range open {
			if a.Attributes["rule"] == RuleShipmentReturned {
				continue
			}
			res := fmt.Sprintf("Shipment %s delivered%s at %s.", ev.ShipmentID, where, ev.ChangedAt.Format(time.RFC3339))
			if err := s.resolve(ctx, tx, a, res); err != nil {
				return err
			}
		}
	case shipmentevents.ShipmentStatusV2PickedUp, shipmentevents.ShipmentStatusV2InTransit, shipmentevents.ShipmentStatusV2OutForDelivery:
		for _, a := range open {
			if a.Attributes["rule"] != RuleShipmentException {
				continue
			}
			res := fmt.Sprintf("Shipment %s moving again: %s%s.", ev.ShipmentID, ev.Status, where)
			if err := s.resolve(ctx, tx, a, res); err != nil {
				return err
			}
		}
	}
	return nil
}

// onInventoryAdjusted resolves the alerts about a SKU when it is restocked
// (a shortage, a write-off), and raises one when a single adjustment writes
// off at least the threshold.
func (s *service) onInventoryAdjusted(ctx context.Context, _ consumer.Meta, ev *warehouseevents.InventoryAdjustedV2) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	open, err := openAlerts(tx, alertevents.EntityTypeSKU, ev.SKU)
	if err != nil {
		return err
	}
	if ev.QuantityChange > 0 {
		for _, a := range open {
			if a.EntityType == string(alertevents.EntityTypeSKU) {
				res := fmt.Sprintf("SKU %s restocked: %+d units (%s) in warehouse %s.", ev.SKU, ev.QuantityChange, ev.Reason, ev.WarehouseID)
				if err := s.resolve(ctx, tx, a, res); err != nil {
					return err
				}
				continue
			}
			// A shortage of an order: resolved once every SKU it is short
			// of is restocked by its shortfall.
			if a.Restocked == nil {
				a.Restocked = map[string]int64{}
			}
			a.Restocked[ev.SKU] += int64(ev.QuantityChange)
			if !a.covered() {
				platform.Logger(ctx).Info("shortage partly restocked", "alert_id", a.ID, "sku", ev.SKU, "restocked", a.Restocked)
				if err := putAlert(tx, a); err != nil {
					return err
				}
				continue
			}
			res := fmt.Sprintf("Short SKUs restocked (%s %+d units, %s in warehouse %s).", ev.SKU, ev.QuantityChange, ev.Reason, ev.WarehouseID)
			if err := s.resolve(ctx, tx, a, res); err != nil {
				return err
			}
		}
		return nil
	}
	if -int64(ev.QuantityChange) < int64(s.opts.WriteOffThreshold) {
		return nil
	}
	for _, a := range open {
		if a.Attributes["rule"] == RuleStockWriteOff {
			return nil // one open write-off alert per SKU
		}
	}
	typ := alertevents.AlertTypeV2Other
	switch ev.Reason {
	case warehouseevents.AdjustmentReasonV2Damaged:
		typ = alertevents.AlertTypeV2Damage
	case warehouseevents.AdjustmentReasonV2Lost:
		typ = alertevents.AlertTypeV2Lost
	}
	return s.raise(ctx, tx, &alertevents.AlertRaisedV2{
		AlertID: fmt.Sprintf("alr-%s-%s-%d", RuleStockWriteOff, ev.SKU, ev.AdjustedAt.UnixMilli()),
		Type:    typ, Severity: alertevents.AlertSeverityWarning,
		Entity: alertevents.EntityRef{EntityType: alertevents.EntityTypeSKU, EntityID: ev.SKU},
		Description: fmt.Sprintf("%d units of SKU %s written off in warehouse %s (%s): check stock before it runs short.",
			-ev.QuantityChange, ev.SKU, ev.WarehouseID, ev.Reason),
		RaisedAt: ev.AdjustedAt,
		Attributes: map[string]string{"rule": RuleStockWriteOff, "sku": ev.SKU, "warehouse_id": ev.WarehouseID,
			"quantity_change": strconv.Itoa(int(ev.QuantityChange)), "reason": string(ev.Reason)},
	})
}

// raise sends the service's own alert and records it, in the handler's
// transaction: a crash before the commit sends it again, with the same
// alert ID, derived from the event that caused it.
func (s *service) raise(ctx context.Context, tx *bbolt.Tx, ev *alertevents.AlertRaisedV2) error {
	if old, err := getAlert(tx, ev.AlertID); err != nil || old != nil {
		return err
	}
	if _, err := s.raised.Send(ctx, ev); err != nil {
		return consumer.Retryable(fmt.Errorf("alert: send AlertRaised %s: %w", ev.AlertID, err))
	}
	a := alertFrom(ev)
	a.RaisedBy, a.TraceID = "alert-service", platform.TraceID(ctx)
	s.raisedTotal.WithLabelValues(a.Type).Inc()
	platform.Logger(ctx).Warn("alert raised", "alert_id", a.ID, "type", a.Type, "severity", a.Severity,
		"entity_type", a.EntityType, "entity_id", a.EntityID, "rule", a.Attributes["rule"], "description", a.Description)
	return putAlert(tx, a)
}

// resolve sends an AlertResolved for a and records it.
func (s *service) resolve(ctx context.Context, tx *bbolt.Tx, a *Alert, resolution string) error {
	now := s.now()
	if _, err := s.resolved.Send(ctx, &alertevents.AlertResolvedV1{AlertID: a.ID, Resolution: resolution, ResolvedAt: now}); err != nil {
		return consumer.Retryable(fmt.Errorf("alert: send AlertResolved %s: %w", a.ID, err))
	}
	a.Status, a.Resolution, a.ResolvedAt = StatusResolved, resolution, &now
	s.resolvedTotal.WithLabelValues(a.Type).Inc()
	platform.Logger(ctx).Info("alert resolved", "alert_id", a.ID, "type", a.Type, "entity_type", a.EntityType,
		"entity_id", a.EntityID, "resolution", resolution)
	return putAlert(tx, a)
}
