package shipment_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/commonevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/services/platform/platformtest"
	"github.com/waybill/waybill/services/shipment"
)

func orderCreated(id, customer string) *orderevents.OrderCreatedV2 {
	line2 := "3rd floor"
	return &orderevents.OrderCreatedV2{
		OrderID: id, CustomerID: customer,
		LineItems: []orderevents.LineItem{{SKU: "SKU-MUG-350", Quantity: 2}},
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
		ShippingAddress: &commonevents.AddressV1{Line1: "Keizersgracht 1", Line2: &line2, City: "Amsterdam",
			PostalCode: "1015 CJ", CountryCode: "NL"},
	}
}

func reserved(orderID string) *warehouseevents.InventoryReservedV1 {
	return &warehouseevents.InventoryReservedV1{OrderID: orderID, WarehouseID: "wh-ams-1",
		Reservations: []warehouseevents.Reservation{{SKU: "SKU-MUG-350", Quantity: 2}},
		ReservedAt:   time.Now().UTC().Truncate(time.Millisecond)}
}

func newCreated() *shipmentevents.ShipmentCreatedV1 { return new(shipmentevents.ShipmentCreatedV1) }
func newChanged() *shipmentevents.ShipmentStatusChangedV2 {
	return new(shipmentevents.ShipmentStatusChangedV2)
}
func newAlert() *alertevents.AlertRaisedV2 { return new(alertevents.AlertRaisedV2) }

// getShipment returns GET /shipments/{id}'s status code and body.
func getShipment(t *testing.T, url, id string) (int, shipment.Shipment) {
	t.Helper()
	resp, err := http.Get(url + "/shipments/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s shipment.Shipment
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, s
}

// metric sums the samples of a metric of /metrics whose labels include
// event_type="eventType".
func metric(t *testing.T, url, name, eventType string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, `event_type="`+eventType+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		sum += v
	}
	return sum
}

// TestJourney: a reserved order becomes a shipment that moves through every
// status to DELIVERED on the ticker, continuing the order's trace; a
// shipment held for the delay demo raises one DELAY alert once past its ETA,
// then is delivered; the hook refuses delivered and unknown shipments.
func TestJourney(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	env := platformtest.New(t)
	opts := shipment.Options{Step: 150 * time.Millisecond, ETA: 2500 * time.Millisecond}
	svc := env.Start(t, env.Config(t, shipment.Name), opts.Setup)

	trace := envelope.NewTrace()
	tctx := kafka.ContextWithTrace(ctx, trace)
	env.Send(t, tctx, orderCreated("ord-1", "cus-1"))
	env.Send(t, tctx, reserved("ord-1"))
	env.Send(t, ctx, orderCreated("ord-2", "delay-cus-2"))
	env.Send(t, ctx, reserved("ord-2"))

	created := platformtest.Wait(t, env, newCreated, 2, 0, nil)
	byID := map[string]*shipmentevents.ShipmentCreatedV1{}
	for _, r := range created {
		byID[r.Event.ShipmentID] = r.Event
		if r.Envelope.Source != "shipment-service" {
			t.Errorf("ce_source %q", r.Envelope.Source)
		}
	}
	c := byID["shp-ord-1"]
	if c == nil || c.OrderID != "ord-1" || c.Carrier == "" || c.TrackingNumber == "" ||
		c.Destination.City != "Amsterdam" || c.Destination.Line2 == nil || *c.Destination.Line2 != "3rd floor" {
		t.Fatalf("ShipmentCreated %+v", c)
	}

	delivered := func(ev *shipmentevents.ShipmentStatusChangedV2) bool {
		return ev.Status == shipmentevents.ShipmentStatusV2Delivered
	}
	platformtest.Wait(t, env, newChanged, 2, 30*time.Second, delivered)

	var statuses []shipmentevents.ShipmentStatusV2
	for _, r := range platformtest.Events(t, env, newChanged) {
		if r.Event.ShipmentID != "shp-ord-1" {
			continue
		}
		statuses = append(statuses, r.Event.Status)
		if tp := r.Envelope.TraceParent; tp.TraceID != trace.TraceID {
			t.Errorf("%s: trace %x, want the order's %x", r.Event.Status, tp.TraceID, trace.TraceID)
		}
		if (r.Event.Eta == nil) != (r.Event.Status == shipmentevents.ShipmentStatusV2Delivered) {
			t.Errorf("%s: eta %v", r.Event.Status, r.Event.Eta)
		}
	}
	want := []shipmentevents.ShipmentStatusV2{"PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("statuses of shp-ord-1: %v, want %v", statuses, want)
	}

	alerts := platformtest.Events(t, env, newAlert)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want one (the held shipment's DELAY): %+v", len(alerts), alerts)
	}
	a := alerts[0].Event
	if a.AlertID != shipment.DelayAlertID("shp-ord-2") || a.Type != alertevents.AlertTypeV2Delay ||
		a.Entity.EntityType != alertevents.EntityTypeShipment || a.Entity.EntityID != "shp-ord-2" ||
		a.Attributes["order_id"] != "ord-2" || a.Attributes["new_eta"] == "" {
		t.Errorf("DELAY alert %+v", a)
	}
	code, s := getShipment(t, svc.URL, "shp-ord-2")
	if code != http.StatusOK || s.Status != "DELIVERED" || s.DelayAlertID != a.AlertID || !s.ETA.After(s.OriginalETA) ||
		len(s.History) != 5 {
		t.Errorf("GET shp-ord-2: %d %+v", code, s)
	}
	code, s = getShipment(t, svc.URL, "shp-ord-1")
	if code != http.StatusOK || s.Status != "DELIVERED" || s.CustomerID != "cus-1" || s.DelayAlertID != "" {
		t.Errorf("GET shp-ord-1: %d %+v", code, s)
	}

	for series, want := range map[string]float64{
		`waybill_shipment_status_changes_total{status="DELIVERED"}`: 2,
		"waybill_shipments_created_total":                           2,
		"waybill_shipment_delays_total":                             1,
	} {
		if got := sample(t, svc.URL, series); got != want {
			t.Errorf("%s %v, want %v", series, got, want)
		}
	}
	for _, tc := range []struct {
		id   string
		want int
	}{{"shp-ord-1", http.StatusConflict}, {"shp-nope", http.StatusNotFound}} {
		resp, err := http.Post(svc.URL+"/shipments/"+tc.id+"/delay", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST delay %s: %d, want %d", tc.id, resp.StatusCode, tc.want)
		}
	}
}

// TestBookingAndCancel: with a step too long for the ticker to move anything,
// a reservation read before its order waits for the address; the same
// reservation delivered twice (same ce_id) or re-sent (new ce_id) books one
// shipment; a cancellation before pick-up cancels the shipment without an
// event; the delay hook marks a shipment; /healthz answers.
func TestBookingAndCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	env := platformtest.New(t)
	opts := shipment.Options{Step: time.Hour}
	svc := env.Start(t, env.Config(t, shipment.Name), opts.Setup)

	resp, err := http.Get(svc.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}

	// The reservation first: no shipment until the order's address is known.
	env.Send(t, ctx, reserved("ord-a"))
	platformtest.Eventually(t, 0, func() error {
		if n := metric(t, svc.URL, "waybill_handler_duration_seconds_count", warehouseevents.InventoryReservedEventType); n < 1 {
			return fmt.Errorf("InventoryReserved handled %v times", n)
		}
		return nil
	})
	if code, _ := getShipment(t, svc.URL, "shp-ord-a"); code != http.StatusNotFound {
		t.Fatalf("shipment before its order: %d", code)
	}
	env.Send(t, ctx, orderCreated("ord-a", "cus-a"))
	platformtest.Wait(t, env, newCreated, 1, 0, nil)

	// The same record twice, then the same reservation with a new ID.
	rec := env.Record(t, reserved("ord-b"))
	env.Send(t, ctx, orderCreated("ord-b", "cus-b"))
	env.Cluster.Produce(t, warehouseevents.InventoryReservedTopic, rec, rec)
	env.Send(t, ctx, reserved("ord-b"))
	platformtest.Eventually(t, 0, func() error {
		dup := metric(t, svc.URL, "waybill_events_duplicate_skipped_total", warehouseevents.InventoryReservedEventType)
		ran := metric(t, svc.URL, "waybill_handler_duration_seconds_count", warehouseevents.InventoryReservedEventType)
		if dup < 1 || ran < 3 {
			return fmt.Errorf("InventoryReserved: %v duplicates skipped, handled %v times", dup, ran)
		}
		return nil
	})
	created := platformtest.Events(t, env, newCreated)
	n := 0
	for _, r := range created {
		if r.Event.OrderID == "ord-b" {
			n++
		}
	}
	if n != 1 || len(created) != 2 {
		t.Fatalf("%d ShipmentCreated for ord-b (%d in all), want 1 (2)", n, len(created))
	}

	// Cancelled before pick-up.
	env.Send(t, ctx, &orderevents.OrderCancelledV1{OrderID: "ord-b", Reason: orderevents.CancellationReasonCustomerRequest,
		CancelledAt: time.Now().UTC().Truncate(time.Millisecond)})
	platformtest.Eventually(t, 0, func() error {
		if code, s := getShipment(t, svc.URL, "shp-ord-b"); s.Status != shipment.StatusCancelled {
			return fmt.Errorf("shp-ord-b: %d %s", code, s.Status)
		}
		return nil
	})
	// A reservation after the cancellation books nothing.
	env.Send(t, ctx, &orderevents.OrderCancelledV1{OrderID: "ord-c", Reason: orderevents.CancellationReasonOutOfStock,
		CancelledAt: time.Now().UTC().Truncate(time.Millisecond)})
	env.Send(t, ctx, orderCreated("ord-c", "cus-c"))
	env.Send(t, ctx, reserved("ord-c"))
	platformtest.Eventually(t, 0, func() error {
		if ran := metric(t, svc.URL, "waybill_handler_duration_seconds_count", warehouseevents.InventoryReservedEventType); ran < 4 {
			return fmt.Errorf("InventoryReserved handled %v times", ran)
		}
		if ran := metric(t, svc.URL, "waybill_handler_duration_seconds_count", orderevents.OrderCreatedEventType); ran < 3 {
			return fmt.Errorf("OrderCreated handled %v times", ran)
		}
		return nil
	})
	if code, _ := getShipment(t, svc.URL, "shp-ord-c"); code != http.StatusNotFound {
		t.Errorf("shipment of an order cancelled before its reservation: %d", code)
	}
	if got := platformtest.Events(t, env, newChanged); len(got) != 0 {
		t.Errorf("status changes with a one-hour step: %+v", got)
	}

	resp, err = http.Post(svc.URL+"/shipments/shp-ord-a/delay", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, s := getShipment(t, svc.URL, "shp-ord-a"); resp.StatusCode != http.StatusAccepted || !s.HeldForDelay || code != http.StatusOK {
		t.Errorf("POST delay: %d; then %d %+v", resp.StatusCode, code, s)
	}
	resp, err = http.Get(svc.URL + "/shipments?order_id=ord-a")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Shipments []shipment.Shipment }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Shipments) != 1 || list.Shipments[0].ID != "shp-ord-a" {
		t.Errorf("GET /shipments?order_id=ord-a: %v %+v", err, list)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want shipment.Options
		err  bool
	}{
		{env: nil},
		{env: map[string]string{shipment.EnvStep: "500ms", shipment.EnvETA: "1m"}, want: shipment.Options{Step: 500 * time.Millisecond, ETA: time.Minute}},
		{env: map[string]string{shipment.EnvStep: "soon"}, err: true},
		{env: map[string]string{shipment.EnvETA: "-1s"}, err: true},
	} {
		got, err := shipment.OptionsFromEnv(func(k string) string { return tc.env[k] })
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%v: %+v, %v", tc.env, got, err)
		}
	}
}

// TestRestart: shipments stopped mid-journey (the service stopped and started
// again on its data directory) carry on from where they were: each status
// is announced exactly once, and each shipment booked once.
func TestRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	env := platformtest.New(t)
	cfg := env.Config(t, shipment.Name)
	opts := shipment.Options{Step: 250 * time.Millisecond, ETA: 30 * time.Second}
	svc := env.Start(t, cfg, opts.Setup)
	orders := []string{"ord-r1", "ord-r2", "ord-r3"}
	for _, id := range orders {
		env.Send(t, ctx, orderCreated(id, "cus-"+id))
		env.Send(t, ctx, reserved(id))
	}
	platformtest.Wait(t, env, newChanged, len(orders), 0, func(ev *shipmentevents.ShipmentStatusChangedV2) bool {
		return ev.Status == shipmentevents.ShipmentStatusV2PickedUp
	})
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := len(platformtest.Events(t, env, newChanged))
	svc = env.Start(t, cfg, opts.Setup)
	platformtest.Wait(t, env, newChanged, len(orders), 0, func(ev *shipmentevents.ShipmentStatusChangedV2) bool {
		return ev.Status == shipmentevents.ShipmentStatusV2Delivered
	})
	t.Logf("%d status changes before the restart", stopped)

	got := map[string][]string{}
	for _, r := range platformtest.Events(t, env, newChanged) {
		got[r.Event.ShipmentID] = append(got[r.Event.ShipmentID], string(r.Event.Status))
	}
	for _, id := range orders {
		if s := strings.Join(got[shipment.ShipmentID(id)], ","); s != "PICKED_UP,IN_TRANSIT,OUT_FOR_DELIVERY,DELIVERED" {
			t.Errorf("%s: %s", id, s)
		}
		if code, s := getShipment(t, svc.URL, shipment.ShipmentID(id)); code != http.StatusOK || s.Status != "DELIVERED" || len(s.History) != 5 {
			t.Errorf("GET %s: %d %+v", id, code, s)
		}
	}
	if n := len(platformtest.Events(t, env, newCreated)); n != len(orders) {
		t.Errorf("%d ShipmentCreated, want %d", n, len(orders))
	}
}

// sample returns the value of the /metrics line that starts with series
// (a metric name with its labels as Prometheus writes them), or -1.
func sample(t *testing.T, url, series string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(line[len(series)+1:], 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return -1
}
