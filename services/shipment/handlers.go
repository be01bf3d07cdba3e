package shipment

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/services/platform"
)

// service is the running shipment service: its state, its producers and its
// options.
type service struct {
	opts    Options
	db      *bbolt.DB
	now     func() time.Time
	created *producer.Typed[*shipmentevents.ShipmentCreatedV1]
	changed *producer.Typed[*shipmentevents.ShipmentStatusChangedV2]
	alerts  *producer.Typed[*alertevents.AlertRaisedV2]
	metrics metrics
}

// metrics are the service's own (see Setup).
type metrics struct {
	created, cancelled, delays prometheus.Counter
	statuses                   *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) (metrics, error) {
	m := metrics{
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waybill_shipments_created_total", Help: "Shipments booked (ShipmentCreated sent).",
		}),
		cancelled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waybill_shipments_cancelled_total", Help: "Shipments cancelled with their order before pick-up.",
		}),
		delays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waybill_shipment_delays_total", Help: "Shipments past their ETA (DELAY alerts sent).",
		}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waybill_shipment_status_changes_total", Help: "Status changes sent (ShipmentStatusChanged), by status.",
		}, []string{"status"}),
	}
	for _, c := range []prometheus.Collector{m.created, m.cancelled, m.delays, m.statuses} {
		if err := r.Register(c); err != nil {
			return m, fmt.Errorf("shipment: %w", err)
		}
	}
	return m, nil
}

func newService(opts Options, db *bbolt.DB, p *producer.Producer, r prometheus.Registerer) (*service, error) {
	if err := createBuckets(db); err != nil {
		return nil, err
	}
	m, err := newMetrics(r)
	if err != nil {
		return nil, err
	}
	return &service{
		opts: opts, db: db, metrics: m, now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
		created: shipmentevents.NewShipmentCreatedProducer(p),
		changed: shipmentevents.NewShipmentStatusChangedProducer(p),
		alerts:  alertevents.NewAlertRaisedProducer(p),
	}, nil
}

// register adds the handlers to c.
func (s *service) register(c *consumer.Consumer) {
	orderevents.HandleOrderCreated(c, s.onOrderCreated)
	orderevents.HandleOrderCancelled(c, s.onOrderCancelled)
	warehouseevents.HandleInventoryReserved(c, s.onInventoryReserved)
}

// onOrderCreated records the order's customer and address; a reservation that
// came first is turned into its shipment now.
func (s *service) onOrderCreated(ctx context.Context, _ consumer.Meta, ev *orderevents.OrderCreatedV2) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	o, err := get[order](tx, bucketOrders, ev.OrderID)
	if err != nil {
		return err
	}
	if o == nil {
		o = new(order)
	}
	o.Known, o.CustomerID, o.Destination = true, ev.CustomerID, addressFrom(ev.ShippingAddress)
	if o.Reserved != nil && o.CancelledAt == nil {
		if err := s.create(ctx, tx, ev.OrderID, o, *o.Reserved); err != nil {
			return err
		}
		o.Reserved = nil
	}
	return put(tx, bucketOrders, ev.OrderID, o)
}

// onInventoryReserved books the order's shipment: stock is set aside, so the
// parcel can be packed.
func (s *service) onInventoryReserved(ctx context.Context, m consumer.Meta, ev *warehouseevents.InventoryReservedV1) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	o, err := get[order](tx, bucketOrders, ev.OrderID)
	if err != nil {
		return err
	}
	if o == nil {
		o = new(order)
	}
	if o.CancelledAt != nil {
		platform.Logger(ctx).Info("order cancelled before its reservation arrived: no shipment", "order_id", ev.OrderID)
		return nil
	}
	r := reservation{WarehouseID: ev.WarehouseID, ReservedAt: ev.ReservedAt}
	if !m.TraceParent.IsZero() {
		r.TraceParent = m.TraceParent.String()
	}
	if !o.Known {
		// The OrderCreated is on another topic and not read yet: the
		// shipment waits for the address.
		o.Reserved = &r
		platform.Logger(ctx).Info("reservation before its order: waiting for the address", "order_id", ev.OrderID)
		return put(tx, bucketOrders, ev.OrderID, o)
	}
	return s.create(ctx, tx, ev.OrderID, o, r)
}

// create books the shipment of an order with a carrier and announces it,
// unless it exists already (a second reservation for the order, or a
// ShipmentCreated re-sent after a crash).
func (s *service) create(ctx context.Context, tx *bbolt.Tx, orderID string, o *order, r reservation) error {
	id := ShipmentID(orderID)
	if old, err := get[Shipment](tx, bucketShipments, id); err != nil || old != nil {
		if old != nil {
			platform.Logger(ctx).Info("order has its shipment already", "order_id", orderID, "shipment_id", id)
		}
		return err
	}
	now := s.now()
	carrier, tracking := carrierFor(orderID)
	eta := now.Add(s.opts.ETA)
	nextStep := now.Add(s.opts.Step)
	sh := &Shipment{
		ID: id, OrderID: orderID, CustomerID: o.CustomerID, WarehouseID: r.WarehouseID,
		Carrier: carrier, TrackingNumber: tracking, Destination: o.Destination,
		Status: string(shipmentevents.ShipmentStatusV2Created), CreatedAt: now, UpdatedAt: now,
		ETA: eta, OriginalETA: eta, NextStepAt: &nextStep,
		HeldForDelay: strings.HasPrefix(o.CustomerID, DelayCustomerPrefix),
		History:      []StatusEntry{{Status: string(shipmentevents.ShipmentStatusV2Created), At: now, Location: "Waybill fulfilment centre"}},
		TraceParent:  r.TraceParent,
	}
	if _, err := s.created.Send(ctx, &shipmentevents.ShipmentCreatedV1{
		ShipmentID: id, OrderID: orderID, Carrier: carrier, TrackingNumber: tracking,
		Destination: o.Destination.event(), CreatedAt: now,
	}); err != nil {
		return consumer.Retryable(fmt.Errorf("shipment: send ShipmentCreated %s: %w", id, err))
	}
	s.metrics.created.Inc()
	platform.Logger(ctx).Info("shipment created", "shipment_id", id, "order_id", orderID, "carrier", carrier,
		"tracking_number", tracking, "eta", eta, "held_for_delay", sh.HeldForDelay)
	return putShipment(tx, sh)
}

// onOrderCancelled stops the order's shipment if the carrier does not have it
// yet; after pick-up it is too late, and the shipment goes on (the order
// service refuses such cancellations; one that comes anyway is logged).
func (s *service) onOrderCancelled(ctx context.Context, _ consumer.Meta, ev *orderevents.OrderCancelledV1) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	o, err := get[order](tx, bucketOrders, ev.OrderID)
	if err != nil {
		return err
	}
	if o == nil {
		o = new(order)
	}
	at := ev.CancelledAt
	o.CancelledAt, o.Reserved = &at, nil
	if err := put(tx, bucketOrders, ev.OrderID, o); err != nil {
		return err
	}
	sh, err := get[Shipment](tx, bucketShipments, ShipmentID(ev.OrderID))
	switch {
	case err != nil:
		return err
	case sh == nil:
		return nil
	case sh.Status == StatusCancelled:
		return nil
	case sh.shipped():
		platform.Logger(ctx).Warn("order cancelled after its shipment left: the shipment goes on",
			"order_id", ev.OrderID, "shipment_id", sh.ID, "status", sh.Status)
		return nil
	}
	now := s.now()
	sh.Status, sh.UpdatedAt, sh.NextStepAt = StatusCancelled, now, nil
	sh.History = append(sh.History, StatusEntry{Status: StatusCancelled, At: now})
	s.metrics.cancelled.Inc()
	platform.Logger(ctx).Info("shipment cancelled with its order", "order_id", ev.OrderID, "shipment_id", sh.ID,
		"reason", string(ev.Reason))
	return putShipment(tx, sh)
}

// run moves the shipments along until ctx ends.
func (s *service) run(ctx context.Context) error {
	interval := min(max(s.opts.Step/4, 20*time.Millisecond), time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.tick(ctx)
		}
	}
}

// tick advances every active shipment that is due, each in a write
// transaction of its own (which checks again what is due) in which its events are sent before the commit: a crash in between
// sends them again (same shipment and alert IDs) rather than losing them.
func (s *service) tick(ctx context.Context) {
	ids, err := dueIDs(s.db, s.now(), s.opts.Step)
	if err != nil {
		platform.Logger(ctx).Error("shipment: list active shipments", "err", err)
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		if err := s.db.Update(func(tx *bbolt.Tx) error { return s.advance(ctx, tx, id) }); err != nil && ctx.Err() == nil {
			platform.Logger(ctx).Error("shipment: advance", "shipment_id", id, "err", err)
		}
	}
}

// advance does what is due to one shipment: its DELAY alert, its next status.
func (s *service) advance(ctx context.Context, tx *bbolt.Tx, id string) error {
	sh, err := get[Shipment](tx, bucketShipments, id)
	if err != nil || sh == nil {
		return err
	}
	now := s.now()
	a := sh.due(now, s.opts.Step)
	if !a.raiseDelay && !a.advance {
		return nil
	}
	if tp, err := envelope.ParseTraceParent(sh.TraceParent); err == nil && !tp.IsZero() {
		ctx = kafka.ContextWithTrace(ctx, tp)
	}
	// A stop does not cut a send short: an event handed to the producer is
	// delivered by its Close anyway, and a rolled-back transaction would
	// then send it a second time after the restart.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	if a.raiseDelay {
		if err := s.raiseDelay(ctx, sh, now); err != nil {
			return err
		}
	}
	if a.advance {
		loc := location(sh.Carrier, a.status, sh.Destination.City)
		ev := &shipmentevents.ShipmentStatusChangedV2{ShipmentID: sh.ID, Status: a.status, Location: ptr(loc), ChangedAt: now}
		if a.status != shipmentevents.ShipmentStatusV2Delivered {
			eta := sh.ETA
			ev.Eta = &eta
		}
		if _, err := s.changed.Send(ctx, ev); err != nil {
			return fmt.Errorf("shipment: send ShipmentStatusChanged %s %s: %w", sh.ID, a.status, err)
		}
		sh.apply(a.status, loc, now, s.opts.Step)
		s.metrics.statuses.WithLabelValues(sh.Status).Inc()
		platform.Logger(ctx).Info("shipment status changed", "shipment_id", sh.ID, "order_id", sh.OrderID, "status", sh.Status)
	}
	return putShipment(tx, sh)
}

// sendTimeout bounds a ticker's send, so a broker that is away does not hold
// the database's write lock for long.
const sendTimeout = 15 * time.Second

// raiseDelay sends the shipment's DELAY alert and revises its ETA.
func (s *service) raiseDelay(ctx context.Context, sh *Shipment, now time.Time) error {
	eta := sh.revisedETA(now, s.opts.Step)
	alert := &alertevents.AlertRaisedV2{
		AlertID: DelayAlertID(sh.ID), Type: alertevents.AlertTypeV2Delay, Severity: alertevents.AlertSeverityWarning,
		Entity: alertevents.EntityRef{EntityType: alertevents.EntityTypeShipment, EntityID: sh.ID},
		Description: fmt.Sprintf("Shipment %s of order %s (%s %s) is past its ETA of %s and still %s; new estimate %s.",
			sh.ID, sh.OrderID, sh.Carrier, sh.TrackingNumber, sh.ETA.Format(time.RFC3339), sh.Status, eta.Format(time.RFC3339)),
		RaisedAt: now,
		Attributes: map[string]string{
			"order_id": sh.OrderID, "carrier": sh.Carrier, "tracking_number": sh.TrackingNumber,
			"status": sh.Status, "eta": sh.ETA.Format(time.RFC3339), "new_eta": eta.Format(time.RFC3339),
		},
	}
	if _, err := s.alerts.Send(ctx, alert); err != nil {
		return fmt.Errorf("shipment: send AlertRaised %s: %w", alert.AlertID, err)
	}
	platform.Logger(ctx).Warn("shipment delayed", "shipment_id", sh.ID, "order_id", sh.OrderID, "alert_id", alert.AlertID,
		"eta", sh.ETA, "new_eta", eta)
	s.metrics.delays.Inc()
	sh.DelayAlertID, sh.ETA = alert.AlertID, eta
	return nil
}
