package warehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
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
	"github.com/waybill/waybill/pkg/kafka/dedup"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/services/platform"
)

type service struct {
	warehouseID string
	now         func() time.Time
	db          *bbolt.DB
	reserved    *producer.Typed[*warehouseevents.InventoryReservedV1]
	adjusted    *producer.Typed[*warehouseevents.InventoryAdjustedV2]
	alerts      *producer.Typed[*alertevents.AlertRaisedV2]
	metrics     metrics
}

type metrics struct {
	orders      *prometheus.CounterVec // by outcome
	adjustments prometheus.Counter
}

// Setup registers the warehouse service on app: its HTTP API, its handlers,
// its opening stock (first start only) and its metrics
// (waybill_warehouse_orders_total{outcome="reserved|backordered|released|picked|backorder_filled"},
// waybill_warehouse_adjustments_total).
func (o Options) Setup(app *platform.App) error {
	s := &service{
		warehouseID: o.WarehouseID,
		now:         o.Now,
		db:          app.DB,
		reserved:    warehouseevents.NewInventoryReservedProducer(app.Producer),
		adjusted:    warehouseevents.NewInventoryAdjustedProducer(app.Producer),
		alerts:      alertevents.NewAlertRaisedProducer(app.Producer),
		metrics: metrics{
			orders: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "waybill_warehouse_orders_total",
				Help: "Orders the warehouse handled, by outcome: reserved, backordered, released (cancelled), picked (shipped), backorder_filled.",
			}, []string{"outcome"}),
			adjustments: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "waybill_warehouse_adjustments_total", Help: "Stock adjustments through the API (InventoryAdjusted sent).",
			}),
		},
	}
	if s.warehouseID == "" {
		s.warehouseID = DefaultWarehouseID
	}
	if s.now == nil {
		s.now = time.Now
	}
	stock := o.Seed
	if stock == nil && o.SeedFile != "" {
		b, err := os.ReadFile(o.SeedFile)
		if err != nil {
			return fmt.Errorf("warehouse: seed: %w", err)
		}
		if err := json.Unmarshal(b, &stock); err != nil {
			return fmt.Errorf("warehouse: seed %s: want {\"SKU\": units, ...}: %w", o.SeedFile, err)
		}
	}
	if stock == nil {
		stock = DefaultSeed
	}
	for _, c := range []prometheus.Collector{s.metrics.orders, s.metrics.adjustments} {
		if err := app.Metrics.Register(c); err != nil {
			return fmt.Errorf("warehouse: %w", err)
		}
	}
	var seeded bool
	if err := app.DB.Update(func(tx *bbolt.Tx) (err error) {
		if err := createBuckets(tx); err != nil {
			return err
		}
		seeded, err = seed(tx, stock, s.clock())
		return err
	}); err != nil {
		return err
	}
	if seeded {
		app.Logger.Info("warehouse stocked", "warehouse_id", s.warehouseID, "skus", len(stock))
	}

	c, err := app.Consumer(orderevents.OrderCreatedTopic, shipmentevents.ShipmentCreatedTopic)
	if err != nil {
		return err
	}
	// Version 1 on purpose: see the package doc.
	orderevents.HandleOrderCreatedV1(c, s.onOrderCreated)
	orderevents.HandleOrderCancelled(c, s.onOrderCancelled)
	shipmentevents.HandleShipmentCreated(c, s.onShipmentCreated)
	shipmentevents.HandleShipmentStatusChanged(c, s.onShipmentStatus)
	s.routes(app.Mux)
	return nil
}

// clock is the service's time: UTC, milliseconds (what the events carry).
func (s *service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *service) onOrderCreated(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV1) error {
	tx := dedup.Tx(ctx)
	log := platform.Logger(ctx)
	r, err := getReservation(tx, ev.OrderID)
	if err != nil {
		return err
	}
	if r != nil {
		// Seen before under another event ID (re-sent), or cancelled first.
		log.InfoContext(ctx, "order seen already: nothing to do", "order_id", ev.OrderID, "status", r.Status)
		return nil
	}
	now := s.clock()
	r = &Reservation{OrderID: ev.OrderID, UpdatedAt: now, TraceParent: m.TraceParent.String()}
	if m.TraceParent.IsZero() {
		r.TraceParent = ""
	}
	for _, li := range ev.LineItems {
		r.Lines = append(r.Lines, Line{SKU: li.SKU, Quantity: li.Quantity})
	}
	if len(r.Lines) == 0 {
		return fmt.Errorf("warehouse: order %s has no line items", ev.OrderID) // dead-lettered: the schema says never empty
	}
	short, err := reserve(tx, r.Lines, now)
	if err != nil {
		return err
	}
	if len(short) == 0 {
		r.Status = StatusReserved
		if err := putReservation(tx, r); err != nil {
			return err
		}
		if _, err := s.reserved.Send(ctx, s.reservedEvent(r, now)); err != nil {
			return consumer.Retryable(err) // rolled back: nothing reserved
		}
		s.metrics.orders.WithLabelValues("reserved").Inc()
		log.InfoContext(ctx, "stock reserved", "order_id", ev.OrderID, "lines", len(r.Lines))
		return nil
	}
	seq, err := tx.Bucket(bucketBackorders).NextSequence()
	if err != nil {
		return err
	}
	r.Status, r.Backorder = StatusBackordered, seq
	if err := putReservation(tx, r); err != nil {
		return err
	}
	if err := tx.Bucket(bucketBackorders).Put(seqKey(seq), []byte(r.OrderID)); err != nil {
		return err
	}
	alert := s.shortageAlert(ev.OrderID, short, now)
	if _, err := s.alerts.Send(ctx, alert); err != nil {
		return consumer.Retryable(err)
	}
	s.metrics.orders.WithLabelValues("backordered").Inc()
	log.WarnContext(ctx, "stock short: order backordered", "order_id", ev.OrderID, "alert_id", alert.AlertID, "shortfall", alert.Attributes["shortfall"])
	return nil
}

func (s *service) reservedEvent(r *Reservation, now time.Time) *warehouseevents.InventoryReservedV1 {
	ev := &warehouseevents.InventoryReservedV1{OrderID: r.OrderID, WarehouseID: s.warehouseID, ReservedAt: now}
	for _, l := range r.Lines {
		ev.Reservations = append(ev.Reservations, warehouseevents.Reservation{SKU: l.SKU, Quantity: l.Quantity})
	}
	return ev
}

func (s *service) shortageAlert(orderID string, short []shortLine, now time.Time) *alertevents.AlertRaisedV2 {
	var skus, shortfall, desc []string
	for _, l := range short {
		skus = append(skus, l.sku)
		shortfall = append(shortfall, l.sku+":"+strconv.FormatInt(l.wanted-l.available, 10))
		desc = append(desc, fmt.Sprintf("%s %d wanted, %d available", l.sku, l.wanted, l.available))
	}
	return &alertevents.AlertRaisedV2{
		AlertID:  ShortageAlertID(orderID),
		Type:     alertevents.AlertTypeV2InventoryShortage,
		Severity: alertevents.AlertSeverityWarning,
		Entity:   alertevents.EntityRef{EntityType: alertevents.EntityTypeOrder, EntityID: orderID},
		Description: fmt.Sprintf("Order %s is backordered at %s: %s. It is reserved when the goods arrive.",
			orderID, s.warehouseID, strings.Join(desc, "; ")),
		RaisedAt: now,
		Attributes: map[string]string{
			"order_id": orderID, "warehouse_id": s.warehouseID,
			"skus": strings.Join(skus, ","), "shortfall": strings.Join(shortfall, ","),
		},
	}
}

func (s *service) onOrderCancelled(ctx context.Context, _ consumer.Meta, ev *orderevents.OrderCancelledV1) error {
	tx := dedup.Tx(ctx)
	r, err := getReservation(tx, ev.OrderID)
	if err != nil {
		return err
	}
	now := s.clock()
	if r == nil {
		r = &Reservation{OrderID: ev.OrderID}
	}
	outcome := ""
	switch r.Status {
	case StatusReserved:
		if err := release(tx, r.Lines, false, now); err != nil {
			return err
		}
		r.Status, outcome = StatusReleased, "released"
		if err := putReservation(tx, r); err != nil {
			return err
		}
		// The units released may be what a backorder waits for.
		filled, err := s.fillBackorders(ctx, tx, now)
		if err != nil {
			return consumer.Retryable(err)
		}
		for range filled {
			s.metrics.orders.WithLabelValues("backorder_filled").Inc()
		}
	case StatusBackordered:
		if err := tx.Bucket(bucketBackorders).Delete(seqKey(r.Backorder)); err != nil {
			return err
		}
		r.Status, r.Backorder = StatusCancelled, 0
	case "":
		r.Status = StatusCancelled
	default: // released, cancelled already; picked: too late, the goods left
		platform.Logger(ctx).InfoContext(ctx, "order cancelled: nothing to release", "order_id", ev.OrderID, "status", r.Status)
		return nil
	}
	r.UpdatedAt = now
	if err := putReservation(tx, r); err != nil {
		return err
	}
	if outcome != "" {
		s.metrics.orders.WithLabelValues(outcome).Inc()
	}
	platform.Logger(ctx).InfoContext(ctx, "order cancelled", "order_id", ev.OrderID, "status", r.Status, "reason", ev.Reason)
	return nil
}

func (s *service) onShipmentCreated(ctx context.Context, _ consumer.Meta, ev *shipmentevents.ShipmentCreatedV1) error {
	tx := dedup.Tx(ctx)
	if err := tx.Bucket(bucketShipments).Put([]byte(ev.ShipmentID), []byte(ev.OrderID)); err != nil {
		return err
	}
	r, err := getReservation(tx, ev.OrderID)
	if err != nil || r == nil {
		return err
	}
	r.ShipmentID = ev.ShipmentID
	return putReservation(tx, r)
}

func (s *service) onShipmentStatus(ctx context.Context, _ consumer.Meta, ev *shipmentevents.ShipmentStatusChangedV2) error {
	if ev.Status != shipmentevents.ShipmentStatusV2PickedUp {
		return nil
	}
	tx := dedup.Tx(ctx)
	orderID := string(tx.Bucket(bucketShipments).Get([]byte(ev.ShipmentID)))
	if orderID == "" {
		return nil // a shipment of another warehouse
	}
	r, err := getReservation(tx, orderID)
	if err != nil || r == nil || r.Status != StatusReserved {
		return err // picked up after a cancellation released it: logged by the shipment service
	}
	now := s.clock()
	if err := release(tx, r.Lines, true, now); err != nil {
		return err
	}
	r.Status, r.UpdatedAt = StatusPicked, now
	if err := putReservation(tx, r); err != nil {
		return err
	}
	s.metrics.orders.WithLabelValues("picked").Inc()
	platform.Logger(ctx).InfoContext(ctx, "order picked up: its goods left the warehouse", "order_id", orderID, "shipment_id", ev.ShipmentID)
	return nil
}

// fillBackorders reserves the backordered orders that now fit, oldest
// first, and sends their InventoryReserved, each in its order's trace.
// It runs in tx, before it commits.
func (s *service) fillBackorders(ctx context.Context, tx *bbolt.Tx, now time.Time) ([]string, error) {
	var filled []string
	c := tx.Bucket(bucketBackorders).Cursor()
	for k, v := c.First(); k != nil; {
		r, err := getReservation(tx, string(v))
		if err != nil {
			return nil, err
		}
		if r == nil || r.Status != StatusBackordered {
			if err := c.Delete(); err != nil {
				return nil, err
			}
			k, v = c.Seek(k)
			continue
		}
		short, err := reserve(tx, r.Lines, now)
		if err != nil {
			return nil, err
		}
		if len(short) > 0 {
			k, v = c.Next()
			continue
		}
		r.Status, r.Backorder, r.UpdatedAt = StatusReserved, 0, now
		if err := putReservation(tx, r); err != nil {
			return nil, err
		}
		if err := c.Delete(); err != nil {
			return nil, err
		}
		octx := ctx
		if tp, err := envelope.ParseTraceParent(r.TraceParent); err == nil {
			octx = kafka.ContextWithTrace(ctx, tp)
		}
		if _, err := s.reserved.Send(octx, s.reservedEvent(r, now)); err != nil {
			return nil, &sendError{err}
		}
		filled = append(filled, r.OrderID)
		platform.Logger(octx).InfoContext(octx, "backorder filled: stock reserved", "order_id", r.OrderID)
		k, v = c.Seek(k)
	}
	return filled, nil
}

type sendError struct{ err error }

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }
