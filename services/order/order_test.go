package order_test

import (
	"encoding/hex"
	"fmt"
	"math/big"
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
	"github.com/waybill/waybill/services/order"
	"github.com/waybill/waybill/services/platform"
	"github.com/waybill/waybill/services/platform/platformtest"
)

const validOrder = `{"customer_id": "cus-42",
	"line_items": [{"sku": "SKU-MUG-350", "quantity": 2}, {"sku": "SKU-TSHIRT-M-BLU", "quantity": 1}],
	"shipping_address": {"line1": "Damrak 1", "line2": "3rd floor", "city": "Amsterdam", "postal_code": "1012 LG", "country_code": "nl"},
	"total": "84.50", "currency": "EUR"}`

func start(t *testing.T) (*platformtest.Env, *platformtest.Service) {
	t.Helper()
	env := platformtest.New(t)
	return env, env.Start(t, env.Config(t, order.Name), order.Setup)
}

func place(t *testing.T, svc *platformtest.Service, body string) order.Order {
	t.Helper()
	var o order.Order
	platformtest.DoJSON(t, "POST", svc.URL+"/orders", body, http.StatusCreated, &o)
	return o
}

func getOrder(t *testing.T, svc *platformtest.Service, id string) order.Order {
	t.Helper()
	var o order.Order
	platformtest.DoJSON(t, "GET", svc.URL+"/orders/"+id, nil, http.StatusOK, &o)
	return o
}

func waitStatus(t *testing.T, svc *platformtest.Service, id, status string) order.Order {
	t.Helper()
	var o order.Order
	platformtest.Eventually(t, 0, func() error {
		o = getOrder(t, svc, id)
		if o.Status != status {
			return fmt.Errorf("order %s is %s, want %s", id, o.Status, status)
		}
		return nil
	})
	return o
}

// TestPlace: a valid order is stored and published as OrderCreated v2, with
// the request's trace; the API serves it back; invalid ones are 400s that
// name the field.
func TestPlace(t *testing.T) {
	env, svc := start(t)

	req, _ := http.NewRequest("POST", svc.URL+"/orders", strings.NewReader(validOrder))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("Location"), "/orders/ord-") {
		t.Fatalf("POST /orders: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/orders/")
	trace := resp.Header.Get("X-Trace-Id")

	o := getOrder(t, svc, id)
	if o.Status != order.StatusCreated || o.CustomerID != "cus-42" || len(o.LineItems) != 2 || o.Total != "84.50" ||
		o.Currency != "EUR" || o.ShippingAddress.CountryCode != "NL" || o.TraceID != trace || len(o.History) != 1 {
		t.Errorf("GET /orders/%s: %+v", id, o)
	}

	recs := platformtest.Wait(t, env, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) }, 1, 0,
		func(ev *orderevents.OrderCreatedV2) bool { return ev.OrderID == id })
	ev, e := recs[0].Event, recs[0].Envelope
	if e.EventVersion != 2 || e.Source != "order-service" || e.Subject != id || hex.EncodeToString(e.TraceParent.TraceID[:]) != trace {
		t.Errorf("envelope %+v, want v2 from order-service with trace %s", e, trace)
	}
	if ev.CustomerID != "cus-42" || len(ev.LineItems) != 2 || ev.LineItems[0] != (orderevents.LineItem{SKU: "SKU-MUG-350", Quantity: 2}) ||
		ev.Total == nil || ev.Total.Cmp(big.NewRat(8450, 100)) != 0 || ev.Currency == nil || *ev.Currency != "EUR" ||
		ev.ShippingAddress == nil || ev.ShippingAddress.City != "Amsterdam" || ev.ShippingAddress.Line2 == nil ||
		ev.ShippingAddress.Region != nil || !ev.CreatedAt.Equal(o.CreatedAt) {
		t.Errorf("OrderCreated %+v", ev)
	}

	// The same Idempotency-Key twice: one order, one event.
	var first, again order.Order
	for i, o := range []*order.Order{&first, &again} {
		req, _ := http.NewRequest("POST", svc.URL+"/orders", strings.NewReader(strings.Replace(validOrder, "cus-42", "cus-idem", 1)))
		req.Header.Set("Idempotency-Key", "k-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{http.StatusCreated, http.StatusOK}[i]; resp.StatusCode != want {
			t.Errorf("POST %d with Idempotency-Key: %d, want %d", i+1, resp.StatusCode, want)
		}
		platformtest.DecodeBody(t, resp, o)
		resp.Body.Close()
	}
	if first.ID == "" || again.ID != first.ID {
		t.Errorf("Idempotency-Key: orders %s and %s", first.ID, again.ID)
	}
	var list struct{ Orders []order.Order }
	platformtest.DoJSON(t, "GET", svc.URL+"/orders?customer_id=cus-idem", nil, http.StatusOK, &list)
	if len(list.Orders) != 1 || list.Orders[0].ID != first.ID {
		t.Errorf("orders of cus-idem: %+v", list.Orders)
	}
	platformtest.Wait(t, env, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) }, 2, 0, nil)
	if n := len(platformtest.Events(t, env, func() *orderevents.OrderCreatedV2 { return new(orderevents.OrderCreatedV2) })); n != 2 {
		t.Errorf("%d OrderCreated events, want 2", n)
	}

	for _, tc := range []struct {
		name, body, field string
	}{
		{"not JSON", `{"customer_id": `, ""},
		{"unknown field", strings.Replace(validOrder, `"total"`, `"totl"`, 1), "totl"},
		{"customer missing", strings.Replace(validOrder, `"customer_id": "cus-42",`, ``, 1), "customer_id"},
		{"customer empty", strings.Replace(validOrder, `"cus-42"`, `" "`, 1), "customer_id"},
		{"customer not a string", strings.Replace(validOrder, `"cus-42"`, `42`, 1), "customer_id"},
		{"no line items", strings.Replace(validOrder, `[{"sku": "SKU-MUG-350", "quantity": 2}, {"sku": "SKU-TSHIRT-M-BLU", "quantity": 1}]`, `[]`, 1), "line_items"},
		{"quantity 0", strings.Replace(validOrder, `"quantity": 1`, `"quantity": 0`, 1), "line_items[1].quantity"},
		{"quantity a string", strings.Replace(validOrder, `"quantity": 1`, `"quantity": "1"`, 1), "line_items.quantity"},
		{"quantity a fraction", strings.Replace(validOrder, `"quantity": 1`, `"quantity": 1.5`, 1), "line_items.quantity"},
		{"quantity too large", strings.Replace(validOrder, `"quantity": 1`, `"quantity": 99999999999`, 1), "line_items.quantity"},
		{"sku missing", strings.Replace(validOrder, `"sku": "SKU-TSHIRT-M-BLU", `, ``, 1), "line_items[1].sku"},
		{"sku twice", strings.Replace(validOrder, `SKU-TSHIRT-M-BLU`, `SKU-MUG-350`, 1), "line_items[1].sku"},
		{"sku with a space", strings.Replace(validOrder, `SKU-TSHIRT-M-BLU`, `SKU TSHIRT`, 1), "line_items[1].sku"},
		{"no address", strings.Replace(validOrder, `{"line1": "Damrak 1", "line2": "3rd floor", "city": "Amsterdam", "postal_code": "1012 LG", "country_code": "nl"}`, `null`, 1), "shipping_address"},
		{"city missing", strings.Replace(validOrder, `"city": "Amsterdam", `, ``, 1), "shipping_address.city"},
		{"bad country", strings.Replace(validOrder, `"nl"`, `"Netherlands"`, 1), "shipping_address.country_code"},
		{"bad total", strings.Replace(validOrder, `"84.50"`, `"84.505"`, 1), "total"},
		{"total a number", strings.Replace(validOrder, `"84.50"`, `84.5`, 1), "total"},
		{"total without currency", strings.Replace(validOrder, `, "currency": "EUR"`, ``, 1), "currency"},
		{"bad currency", strings.Replace(validOrder, `"EUR"`, `"EURO"`, 1), "currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body struct {
				platform.ErrorBody
				Errors []platform.ErrorBody
			}
			platformtest.DoJSON(t, "POST", svc.URL+"/orders", tc.body, http.StatusBadRequest, &body)
			if body.Field != tc.field || body.Error == "" || (tc.field != "" && !strings.Contains(body.Error, tc.field)) {
				t.Errorf("400 %+v, want the field %q named", body, tc.field)
			}
		})
	}
	// Every problem is listed.
	var body struct{ Errors []platform.ErrorBody }
	platformtest.DoJSON(t, "POST", svc.URL+"/orders", `{"line_items": [{"sku": "", "quantity": -1}]}`, http.StatusBadRequest, &body)
	var fields []string
	for _, e := range body.Errors {
		fields = append(fields, e.Field)
	}
	if got := strings.Join(fields, ","); got != "customer_id,line_items[0].sku,line_items[0].quantity,shipping_address" {
		t.Errorf("fields %s", got)
	}
	platformtest.DoJSON(t, "GET", svc.URL+"/orders/ord-nope", nil, http.StatusNotFound, nil)

	var h platform.Health
	platformtest.DoJSON(t, "GET", svc.URL+"/healthz", nil, http.StatusOK, &h)
	if h.Status != "ok" || h.Consumer != "running" {
		t.Errorf("healthz %+v", h)
	}
	_, metrics := platformtest.Do(t, "GET", svc.URL+"/metrics", nil)
	for _, want := range []string{
		"waybill_orders_placed_total 2",
		`waybill_events_produced_total{event_type="waybill.orders.OrderCreated",topic="order-events"} 2`,
		`waybill_http_requests_total{code="400",route="POST /orders"}`,
		"waybill_delivery_latency_seconds",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestLifecycle: the order's status follows the events about it, a
// redelivered event changes nothing, and cancelling is allowed until the
// goods leave the warehouse.
func TestLifecycle(t *testing.T) {
	env, svc := start(t)
	ctx := t.Context()
	o := place(t, svc, validOrder)
	now := time.Now().UTC().Truncate(time.Millisecond)

	// A shortage, then the stock arrives and is reserved.
	env.Send(t, ctx, &alertevents.AlertRaisedV2{AlertID: "shortage-" + o.ID, Type: alertevents.AlertTypeV2InventoryShortage,
		Severity: alertevents.AlertSeverityWarning, Entity: alertevents.EntityRef{EntityType: alertevents.EntityTypeOrder, EntityID: o.ID},
		Description: "SKU-MUG-350: 2 wanted, 0 available", RaisedAt: now})
	waitStatus(t, svc, o.ID, order.StatusBackordered)
	reserved := env.Record(t, &warehouseevents.InventoryReservedV1{OrderID: o.ID, WarehouseID: "WH-AMS-1", ReservedAt: now,
		Reservations: []warehouseevents.Reservation{{SKU: "SKU-MUG-350", Quantity: 2}}})
	env.Cluster.Produce(t, "", reserved)
	got := waitStatus(t, svc, o.ID, order.StatusReserved)
	if got.Reservation == nil || got.Reservation.WarehouseID != "WH-AMS-1" || len(got.Alerts) != 1 {
		t.Errorf("reserved order %+v", got)
	}
	env.Send(t, ctx, &alertevents.AlertResolvedV1{AlertID: "shortage-" + o.ID, Resolution: "restocked", ResolvedAt: now})
	platformtest.Eventually(t, 0, func() error {
		if got = getOrder(t, svc, o.ID); got.Alerts[0].ResolvedAt == nil {
			return fmt.Errorf("alert not resolved: %+v", got.Alerts)
		}
		return nil
	})

	shp := "shp-" + o.ID
	env.Send(t, ctx, &shipmentevents.ShipmentCreatedV1{ShipmentID: shp, OrderID: o.ID, Carrier: "DHL", TrackingNumber: "JD0001", CreatedAt: now})
	got = waitStatus(t, svc, o.ID, order.StatusAwaitingPickup)
	if got.Shipment == nil || got.Shipment.ID != shp || got.Shipment.Carrier != "DHL" || got.Alerts[0].ResolvedAt == nil {
		t.Errorf("order awaiting pickup %+v", got)
	}
	// The reservation again (the same record): no change to the history.
	n := len(got.History)
	env.Cluster.Produce(t, "", reserved)

	loc := "Rotterdam hub"
	for i, st := range []shipmentevents.ShipmentStatusV2{shipmentevents.ShipmentStatusV2PickedUp, shipmentevents.ShipmentStatusV2InTransit} {
		env.Send(t, ctx, &shipmentevents.ShipmentStatusChangedV2{ShipmentID: shp, Status: st, Location: &loc, ChangedAt: now.Add(time.Duration(i+1) * time.Second)})
	}
	got = waitStatus(t, svc, o.ID, order.StatusShipped)
	platformtest.Eventually(t, 0, func() error {
		got = getOrder(t, svc, o.ID)
		if got.Shipment.Status != "IN_TRANSIT" {
			return fmt.Errorf("shipment %+v", got.Shipment)
		}
		return nil
	})
	if len(got.History) != n+2 || got.Shipment.Location != loc {
		t.Errorf("history after a redelivered reservation and two status changes: %+v", got.History)
	}
	// Too late to cancel.
	platformtest.DoJSON(t, "POST", svc.URL+"/orders/"+o.ID+"/cancel", `{"reason": "CUSTOMER_REQUEST"}`, http.StatusConflict, nil)
	env.Send(t, ctx, &shipmentevents.ShipmentStatusChangedV2{ShipmentID: shp, Status: shipmentevents.ShipmentStatusV2Delivered, ChangedAt: now.Add(time.Minute)})
	waitStatus(t, svc, o.ID, order.StatusDelivered)

	// Cancelling a fresh order, with the order's trace.
	o2 := place(t, svc, validOrder)
	platformtest.DoJSON(t, "POST", svc.URL+"/orders/"+o2.ID+"/cancel", `{"reason": "bogus"}`, http.StatusBadRequest, nil)
	var c order.Order
	platformtest.DoJSON(t, "POST", svc.URL+"/orders/"+o2.ID+"/cancel", `{"reason": "payment_failed"}`, http.StatusOK, &c)
	if c.Status != order.StatusCancelled || c.Cancellation == nil || c.Cancellation.Reason != "PAYMENT_FAILED" {
		t.Errorf("cancelled %+v", c)
	}
	platformtest.DoJSON(t, "POST", svc.URL+"/orders/"+o2.ID+"/cancel", nil, http.StatusConflict, nil)
	platformtest.DoJSON(t, "POST", svc.URL+"/orders/ord-nope/cancel", nil, http.StatusNotFound, nil)
	recs := platformtest.Wait(t, env, func() *orderevents.OrderCancelledV1 { return new(orderevents.OrderCancelledV1) }, 1, 0, nil)
	// Without a body (or with an empty one): at the customer's request.
	o3 := place(t, svc, validOrder)
	platformtest.DoJSON(t, "POST", svc.URL+"/orders/"+o3.ID+"/cancel", "", http.StatusOK, &c)
	if c.Cancellation == nil || c.Cancellation.Reason != "CUSTOMER_REQUEST" {
		t.Errorf("cancelled without a body: %+v", c.Cancellation)
	}
	if len(recs) != 1 || recs[0].Event.OrderID != o2.ID || recs[0].Event.Reason != orderevents.CancellationReasonPaymentFailed ||
		hex.EncodeToString(recs[0].Envelope.TraceParent.TraceID[:]) != o2.TraceID {
		t.Errorf("OrderCancelled %+v, want order %s in trace %s", recs, o2.ID, o2.TraceID)
	}
	// A reservation after the cancellation is recorded, the order stays cancelled.
	env.Send(t, kafka.ContextWithTrace(ctx, envelope.NewTrace()), &warehouseevents.InventoryReservedV1{OrderID: o2.ID, WarehouseID: "WH-AMS-1",
		ReservedAt: now, Reservations: []warehouseevents.Reservation{{SKU: "SKU-MUG-350", Quantity: 2}}})
	platformtest.Eventually(t, 0, func() error {
		got = getOrder(t, svc, o2.ID)
		if got.Reservation == nil {
			return fmt.Errorf("no reservation recorded")
		}
		return nil
	})
	if got.Status != order.StatusCancelled {
		t.Errorf("cancelled order moved to %s", got.Status)
	}
	_, metrics := platformtest.Do(t, "GET", svc.URL+"/metrics", nil)
	for _, want := range []string{
		`waybill_order_status_changes_total{status="DELIVERED"} 1`,
		`waybill_events_duplicate_skipped_total{event_type="waybill.warehouse.InventoryReserved",group="order-service",topic="warehouse-events"} 1`,
		"waybill_orders_cancelled_total 2",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
