package warehouse_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/services/platform"
	"github.com/waybill/waybill/services/platform/platformtest"
	"github.com/waybill/waybill/services/warehouse"
)

var seed = map[string]int64{"SKU-A": 10, "SKU-B": 2}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func orderV2(id string, lines ...orderevents.LineItem) *orderevents.OrderCreatedV2 {
	return &orderevents.OrderCreatedV2{OrderID: id, CustomerID: "cus-1", LineItems: lines, CreatedAt: now()}
}

func line(sku string, n int32) orderevents.LineItem {
	return orderevents.LineItem{SKU: sku, Quantity: n}
}

func stock(t *testing.T, svc *platformtest.Service, sku string) warehouse.Stock {
	t.Helper()
	var s warehouse.Stock
	platformtest.DoJSON(t, "GET", svc.URL+"/stock/"+sku, nil, http.StatusOK, &s)
	return s
}

// waitStock waits until sku has onHand units on hand and reserved reserved.
func waitStock(t *testing.T, svc *platformtest.Service, sku string, onHand, reserved int64) {
	t.Helper()
	platformtest.Eventually(t, 0, func() error {
		s := stock(t, svc, sku)
		if s.OnHand != onHand || s.Reserved != reserved || s.Available != onHand-reserved {
			return fmt.Errorf("%s: %+v, want %d on hand, %d reserved", sku, s, onHand, reserved)
		}
		return nil
	})
}

func waitReservation(t *testing.T, svc *platformtest.Service, order, status string) warehouse.Reservation {
	t.Helper()
	var r warehouse.Reservation
	platformtest.Eventually(t, 0, func() error {
		status0, body := platformtest.Do(t, "GET", svc.URL+"/reservations/"+order, nil)
		r = warehouse.Reservation{}
		if status0 == http.StatusOK {
			if err := json.Unmarshal(body, &r); err != nil {
				return err
			}
		}
		if r.Status != status {
			return fmt.Errorf("order %s: %d %s, want %s", order, status0, body, status)
		}
		return nil
	})
	return r
}

func reservedFor(order string) func(*warehouseevents.InventoryReservedV1) bool {
	return func(ev *warehouseevents.InventoryReservedV1) bool { return ev.OrderID == order }
}

func newReserved() *warehouseevents.InventoryReservedV1 {
	return new(warehouseevents.InventoryReservedV1)
}

// TestWarehouse: orders written as OrderCreated v2 (and one as v1) are read
// as v1 and reserved all or nothing; a shortage raises its alert; a
// redelivered or re-sent order reserves nothing twice; a cancellation
// releases, a pick-up takes the goods out; goods received fill the
// backorder.
func TestWarehouse(t *testing.T) {
	env := platformtest.New(t)
	svc := env.Start(t, env.Config(t, warehouse.Name), warehouse.Options{Seed: seed, WarehouseID: "WH-TEST"}.Setup)
	ctx := t.Context()

	// Reserved: both lines fit.
	rec := env.Record(t, orderV2("ord-1", line("SKU-A", 3), line("SKU-B", 1)))
	env.Cluster.Produce(t, "", rec)
	got := platformtest.Wait(t, env, newReserved, 1, 0, reservedFor("ord-1"))
	ev := got[0].Event
	if ev.WarehouseID != "WH-TEST" || len(ev.Reservations) != 2 || ev.Reservations[0] != (warehouseevents.Reservation{SKU: "SKU-A", Quantity: 3}) ||
		got[0].Envelope.Source != "warehouse-service" {
		t.Errorf("InventoryReserved %+v from %s", ev, got[0].Envelope.Source)
	}
	waitStock(t, svc, "SKU-A", 10, 3)
	waitStock(t, svc, "SKU-B", 2, 1)

	// Written with v1 by an older producer: read all the same.
	env.Send(t, ctx, &orderevents.OrderCreatedV1{OrderID: "ord-2", CustomerID: "cus-1", LineItems: []orderevents.LineItem{line("SKU-A", 1)}, CreatedAt: now()})
	platformtest.Wait(t, env, newReserved, 1, 0, reservedFor("ord-2"))

	// Short of SKU-B: nothing reserved, an alert.
	env.Send(t, ctx, orderV2("ord-3", line("SKU-A", 1), line("SKU-B", 5)))
	alerts := platformtest.Wait(t, env, func() *alertevents.AlertRaisedV2 { return new(alertevents.AlertRaisedV2) }, 1, 0, nil)
	a := alerts[0].Event
	if a.AlertID != warehouse.ShortageAlertID("ord-3") || a.Type != alertevents.AlertTypeV2InventoryShortage ||
		a.Entity != (alertevents.EntityRef{EntityType: alertevents.EntityTypeOrder, EntityID: "ord-3"}) ||
		a.Attributes["skus"] != "SKU-B" || a.Attributes["shortfall"] != "SKU-B:4" || !strings.Contains(a.Description, "SKU-B 5 wanted, 1 available") {
		t.Errorf("AlertRaised %+v", a)
	}
	waitReservation(t, svc, "ord-3", warehouse.StatusBackordered)
	waitStock(t, svc, "SKU-A", 10, 4)

	// The first order again: the same record (same ce_id), and re-sent with
	// a new ce_id. Neither reserves.
	env.Cluster.Produce(t, "", rec)
	env.Send(t, ctx, orderV2("ord-1", line("SKU-A", 3), line("SKU-B", 1)))
	env.Send(t, ctx, orderV2("ord-4", line("SKU-A", 1)))
	platformtest.Wait(t, env, newReserved, 1, 0, reservedFor("ord-4"))
	platformtest.Eventually(t, 0, func() error {
		_, m := platformtest.Do(t, "GET", svc.URL+"/metrics", nil)
		if !strings.Contains(string(m), `waybill_events_duplicate_skipped_total{event_type="waybill.orders.OrderCreated",group="warehouse-service",topic="order-events"} 1`) {
			return fmt.Errorf("the redelivery was not skipped")
		}
		if !strings.Contains(string(m), `waybill_events_consumed_total{event_type="waybill.orders.OrderCreated",group="warehouse-service",topic="order-events"} 6`) {
			return fmt.Errorf("not every OrderCreated consumed yet")
		}
		return nil
	})
	waitStock(t, svc, "SKU-A", 10, 5)
	if n := len(platformtest.Events(t, env, newReserved)); n != 3 {
		t.Errorf("%d InventoryReserved, want 3 (ord-1, ord-2, ord-4)", n)
	}

	// Cancelled: ord-1's units come back; ord-2 leaves with its shipment.
	env.Send(t, ctx, &orderevents.OrderCancelledV1{OrderID: "ord-1", Reason: orderevents.CancellationReasonCustomerRequest, CancelledAt: now()})
	waitReservation(t, svc, "ord-1", warehouse.StatusReleased)
	waitStock(t, svc, "SKU-B", 2, 0)
	env.Send(t, ctx, &shipmentevents.ShipmentCreatedV1{ShipmentID: "shp-ord-2", OrderID: "ord-2", Carrier: "DHL", TrackingNumber: "1", CreatedAt: now()})
	env.Send(t, ctx, &shipmentevents.ShipmentStatusChangedV2{ShipmentID: "shp-ord-2", Status: shipmentevents.ShipmentStatusV2PickedUp, ChangedAt: now()})
	waitReservation(t, svc, "ord-2", warehouse.StatusPicked)
	waitStock(t, svc, "SKU-A", 9, 1) // ord-4's unit is still reserved
	env.Send(t, ctx, &orderevents.OrderCancelledV1{OrderID: "ord-2", Reason: orderevents.CancellationReasonOther, CancelledAt: now()})

	// Goods in fill the backorder.
	var adj warehouse.AdjustResponse
	platformtest.DoJSON(t, "POST", svc.URL+"/stock", `{"sku": "SKU-B", "quantity": 10, "note": "PO-1"}`, http.StatusOK, &adj)
	if adj.OnHand != 12 || adj.Reserved != 5 || adj.Available != 7 || len(adj.Filled) != 1 || adj.Filled[0] != "ord-3" {
		t.Errorf("POST /stock: %+v", adj)
	}
	platformtest.Wait(t, env, newReserved, 1, 0, reservedFor("ord-3"))
	adjusted := platformtest.Wait(t, env, func() *warehouseevents.InventoryAdjustedV2 { return new(warehouseevents.InventoryAdjustedV2) }, 1, 0, nil)
	if e := adjusted[0].Event; e.SKU != "SKU-B" || e.QuantityChange != 10 || e.Reason != warehouseevents.AdjustmentReasonV2Received ||
		e.Note == nil || *e.Note != "PO-1" || e.WarehouseID != "WH-TEST" {
		t.Errorf("InventoryAdjusted %+v", e)
	}
	waitReservation(t, svc, "ord-2", warehouse.StatusPicked) // a cancellation after the pick-up releases nothing
	waitStock(t, svc, "SKU-A", 9, 2)

	// Goods out, retried with its Idempotency-Key.
	for range 2 {
		req, _ := http.NewRequest("POST", svc.URL+"/stock", strings.NewReader(`{"sku": "SKU-A", "quantity": -3, "reason": "damaged"}`))
		req.Header.Set("Idempotency-Key", "count-7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		platformtest.DecodeBody(t, resp, &adj)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || adj.OnHand != 6 {
			t.Errorf("POST /stock -3: %d %+v", resp.StatusCode, adj)
		}
	}
	platformtest.DoJSON(t, "POST", svc.URL+"/stock", `{"sku": "SKU-A", "quantity": -5, "reason": "LOST"}`, http.StatusConflict, nil)

	for _, tc := range []struct{ body, field string }{
		{`{"quantity": 1}`, "sku"},
		{`{"sku": "SKU A", "quantity": 1}`, "sku"},
		{`{"sku": "SKU-A"}`, "quantity"},
		{`{"sku": "SKU-A", "quantity": 0}`, "quantity"},
		{`{"sku": "SKU-A", "quantity": "5"}`, "quantity"},
		{`{"sku": "SKU-A", "quantity": -1}`, "reason"},
		{`{"sku": "SKU-A", "quantity": 1, "reason": "STOLEN"}`, "reason"},
		{`{"sku": "SKU-A", "quantity": 1, "colour": "red"}`, "colour"},
	} {
		var e platform.ErrorBody
		platformtest.DoJSON(t, "POST", svc.URL+"/stock", tc.body, http.StatusBadRequest, &e)
		if e.Field != tc.field || !strings.Contains(e.Error, tc.field) {
			t.Errorf("%s: 400 %+v, want the field %s named", tc.body, e, tc.field)
		}
	}
	var all struct {
		WarehouseID string `json:"warehouse_id"`
		Stock       []warehouse.Stock
	}
	platformtest.DoJSON(t, "GET", svc.URL+"/stock", nil, http.StatusOK, &all)
	if all.WarehouseID != "WH-TEST" || len(all.Stock) != 2 || all.Stock[0].SKU != "SKU-A" || all.Stock[1].Available != 7 {
		t.Errorf("GET /stock %+v", all)
	}
	platformtest.DoJSON(t, "GET", svc.URL+"/stock/SKU-NONE", nil, http.StatusNotFound, nil)

	var h platform.Health
	platformtest.DoJSON(t, "GET", svc.URL+"/healthz", nil, http.StatusOK, &h)
	if h.Status != "ok" || h.Consumer != "running" || h.Producer != "running" {
		t.Errorf("healthz %+v", h)
	}
	_, m := platformtest.Do(t, "GET", svc.URL+"/metrics", nil)
	for _, want := range []string{
		`waybill_warehouse_orders_total{outcome="reserved"} 3`,
		`waybill_warehouse_orders_total{outcome="backordered"} 1`,
		`waybill_warehouse_orders_total{outcome="backorder_filled"} 1`,
		`waybill_warehouse_adjustments_total 2`,
		`waybill_events_produced_total{event_type="waybill.alerts.AlertRaised",topic="alert-events"} 1`,
		`waybill_handler_duration_seconds_count{event_type="waybill.orders.OrderCreated",group="warehouse-service",topic="order-events"}`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRestart: stopped and started again on the same data directory, the
// warehouse keeps its stock and reservations (the opening stock is not
// applied again), a redelivered order is still a duplicate, and a
// cancellation still finds what to release.
func TestRestart(t *testing.T) {
	env := platformtest.New(t)
	cfg := env.Config(t, warehouse.Name)
	svc := env.Start(t, cfg, warehouse.Options{Seed: seed}.Setup)
	rec := env.Record(t, orderV2("ord-1", line("SKU-A", 4)))
	env.Cluster.Produce(t, "", rec)
	platformtest.Wait(t, env, newReserved, 1, 0, reservedFor("ord-1"))
	platformtest.DoJSON(t, "POST", svc.URL+"/stock", `{"sku": "SKU-C", "quantity": 5}`, http.StatusOK, nil)
	waitStock(t, svc, "SKU-A", 10, 4)
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}

	svc = env.Start(t, cfg, warehouse.Options{Seed: map[string]int64{"SKU-A": 1000}}.Setup)
	waitStock(t, svc, "SKU-A", 10, 4)
	waitStock(t, svc, "SKU-C", 5, 0)
	waitReservation(t, svc, "ord-1", warehouse.StatusReserved)
	env.Cluster.Produce(t, "", rec)
	env.Send(t, t.Context(), &orderevents.OrderCancelledV1{OrderID: "ord-1", Reason: orderevents.CancellationReasonOther, CancelledAt: now()})
	waitReservation(t, svc, "ord-1", warehouse.StatusReleased)
	waitStock(t, svc, "SKU-A", 10, 0)
	if n := len(platformtest.Events(t, env, newReserved)); n != 1 {
		t.Errorf("%d InventoryReserved, want 1", n)
	}
	_, m := platformtest.Do(t, "GET", svc.URL+"/metrics", nil)
	if !strings.Contains(string(m), `waybill_events_duplicate_skipped_total{event_type="waybill.orders.OrderCreated",group="warehouse-service",topic="order-events"} 1`) {
		t.Error("the order redelivered after the restart was not skipped as a duplicate")
	}
}

// TestCancelFillsBackorder: units a cancellation releases fill a waiting
// backorder, whose InventoryReserved continues the trace of its order.
func TestCancelFillsBackorder(t *testing.T) {
	env := platformtest.New(t)
	svc := env.Start(t, env.Config(t, warehouse.Name), warehouse.Options{Seed: map[string]int64{"SKU-A": 2}}.Setup)
	ctx := t.Context()
	env.Send(t, ctx, orderV2("ord-1", line("SKU-A", 2)))
	platformtest.Wait(t, env, newReserved, 1, 0, reservedFor("ord-1"))
	trace := envelope.NewTrace()
	env.Send(t, kafka.ContextWithTrace(ctx, trace), orderV2("ord-2", line("SKU-A", 1)))
	waitReservation(t, svc, "ord-2", warehouse.StatusBackordered)

	env.Send(t, ctx, &orderevents.OrderCancelledV1{OrderID: "ord-1", Reason: orderevents.CancellationReasonCustomerRequest, CancelledAt: now()})
	got := platformtest.Wait(t, env, newReserved, 1, 0, reservedFor("ord-2"))
	if tp := got[0].Envelope.TraceParent; tp.TraceID != trace.TraceID {
		t.Errorf("backorder's InventoryReserved in trace %x, want the order's %x", tp.TraceID, trace.TraceID)
	}
	waitReservation(t, svc, "ord-1", warehouse.StatusReleased)
	waitReservation(t, svc, "ord-2", warehouse.StatusReserved)
	waitStock(t, svc, "SKU-A", 2, 1)
	_, m := platformtest.Do(t, "GET", svc.URL+"/metrics", nil)
	if !strings.Contains(string(m), `waybill_warehouse_orders_total{outcome="backorder_filled"} 1`) {
		t.Error("/metrics: no backorder_filled")
	}
}

// TestRestartMidFlow: the warehouse is stopped and started again while
// orders arrive; every order is reserved once, none lost, none twice.
func TestRestartMidFlow(t *testing.T) {
	const orders = 300
	env := platformtest.New(t)
	cfg := env.Config(t, warehouse.Name)
	opts := warehouse.Options{Seed: map[string]int64{"SKU-A": orders}}
	svc := env.Start(t, cfg, opts.Setup)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range orders {
			env.Send(t, t.Context(), orderV2(fmt.Sprintf("ord-%03d", i), line("SKU-A", 1)))
		}
	}()
	// Stop once some orders are handled, start again.
	platformtest.Eventually(t, 0, func() error {
		if s := stock(t, svc, "SKU-A"); s.Reserved < orders/4 {
			return fmt.Errorf("%d reserved", s.Reserved)
		}
		return nil
	})
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sent:
		t.Log("every order was sent before the restart")
	default:
	}
	svc = env.Start(t, cfg, opts.Setup)
	<-sent
	waitStock(t, svc, "SKU-A", orders, orders)
	seen := map[string]int{}
	for _, r := range platformtest.Events(t, env, newReserved) {
		seen[r.Event.OrderID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s reserved %d times", id, n)
		}
	}
	if len(seen) != orders {
		t.Errorf("%d orders reserved, want %d", len(seen), orders)
	}
}
