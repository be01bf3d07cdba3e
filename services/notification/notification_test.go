package notification_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
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
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/services/notification"
	"github.com/waybill/waybill/services/platform/platformtest"
)

var t0 = time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func orderCreated(id, customer string, s int) *orderevents.OrderCreatedV2 {
	eur := "EUR"
	return &orderevents.OrderCreatedV2{OrderID: id, CustomerID: customer, CreatedAt: at(s),
		LineItems: []orderevents.LineItem{{SKU: "SKU-MUG-350", Quantity: 2}, {SKU: "SKU-TEE-M", Quantity: 1}},
		Total:     big.NewRat(8450, 100), Currency: &eur,
		ShippingAddress: &commonevents.AddressV1{Line1: "Keizersgracht 1", City: "Amsterdam", PostalCode: "1015 CJ", CountryCode: "NL"}}
}

func shipmentCreated(id, orderID string, s int) *shipmentevents.ShipmentCreatedV1 {
	return &shipmentevents.ShipmentCreatedV1{ShipmentID: id, OrderID: orderID, Carrier: "DHL", TrackingNumber: "JD0001",
		Destination: commonevents.AddressV1{Line1: "Keizersgracht 1", City: "Amsterdam", PostalCode: "1015 CJ", CountryCode: "NL"},
		CreatedAt:   at(s)}
}

func status(id string, st shipmentevents.ShipmentStatusV2, s int) *shipmentevents.ShipmentStatusChangedV2 {
	loc := "Amsterdam"
	return &shipmentevents.ShipmentStatusChangedV2{ShipmentID: id, Status: st, Location: &loc, ChangedAt: at(s)}
}

func raised(id string, typ alertevents.AlertTypeV2, et alertevents.EntityType, entity string, s int, attrs map[string]string) *alertevents.AlertRaisedV2 {
	return &alertevents.AlertRaisedV2{AlertID: id, Type: typ, Severity: alertevents.AlertSeverityWarning,
		Entity: alertevents.EntityRef{EntityType: et, EntityID: entity}, Description: "internal text", RaisedAt: at(s), Attributes: attrs}
}

func messages(t *testing.T, url, customer string) []notification.Message {
	t.Helper()
	resp, err := http.Get(url + "/notifications?customer=" + customer)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Customer      string
		Notifications []notification.Message
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Notifications
}

func kinds(ms []notification.Message) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Kind)
	}
	return strings.Join(s, ",")
}

// handled sums waybill_handler_duration_seconds_count (ran) and
// waybill_events_duplicate_skipped_total (dup) of eventType from /metrics.
func handled(t *testing.T, url, eventType string) (ran, dup float64) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `event_type="`+eventType+`"`) {
			continue
		}
		v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		switch {
		case strings.HasPrefix(line, "waybill_handler_duration_seconds_count{"):
			ran += v
		case strings.HasPrefix(line, "waybill_events_duplicate_skipped_total{"):
			dup += v
		}
	}
	return ran, dup
}

// TestNotifications: the messages of two customers' orders, from every
// event the service tells customers of, in order, with the trace of the
// event behind each; internal statuses and alerts are not told; a shipment
// read before its order waits for the customer; an event delivered twice or
// re-sent gives one message.
func TestNotifications(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	env := platformtest.New(t)
	svc := env.Start(t, env.Config(t, notification.Name), notification.Setup)

	resp, err := http.Get(svc.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	resp, err = http.Get(svc.URL + "/notifications")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /notifications without customer: %d", resp.StatusCode)
	}

	// count waits until customer has n messages: the events of different
	// topics are read independently, and the messages are listed in the
	// order they were sent.
	count := func(customer string, n int) {
		t.Helper()
		platformtest.Eventually(t, 0, func() error {
			if got := messages(t, svc.URL, customer); len(got) < n {
				return fmt.Errorf("%s: %d messages (%s), want %d", customer, len(got), kinds(got), n)
			}
			return nil
		})
	}
	trace := envelope.NewTrace()
	env.Send(t, kafka.ContextWithTrace(ctx, trace), orderCreated("ord-1", "cus-1", 0))
	env.Send(t, ctx, shipmentCreated("shp-ord-1", "ord-1", 10))
	env.Send(t, ctx, status("shp-ord-1", shipmentevents.ShipmentStatusV2PickedUp, 20))
	env.Send(t, ctx, status("shp-ord-1", shipmentevents.ShipmentStatusV2InTransit, 30))
	count("cus-1", 2)
	env.Send(t, ctx, raised("alr-delay-shp-ord-1", alertevents.AlertTypeV2Delay, alertevents.EntityTypeShipment, "shp-ord-1", 35,
		map[string]string{"new_eta": at(60).Format(time.RFC3339)}))
	count("cus-1", 3)
	for i, st := range []shipmentevents.ShipmentStatusV2{"OUT_FOR_DELIVERY", "DELIVERED", "RETURNED"} {
		env.Send(t, ctx, status("shp-ord-1", st, 40+10*i))
	}

	env.Send(t, ctx, orderCreated("ord-2", "cus-2", 1))
	env.Send(t, ctx, raised("alr-short-ord-2", alertevents.AlertTypeV2InventoryShortage, alertevents.EntityTypeOrder, "ord-2", 2, nil))
	env.Send(t, ctx, raised("alr-other-ord-2", alertevents.AlertTypeV2Other, alertevents.EntityTypeOrder, "ord-2", 3, nil))
	env.Send(t, ctx, raised("alr-sku", alertevents.AlertTypeV2Damage, alertevents.EntityTypeSKU, "SKU-MUG-350", 3, nil))
	count("cus-2", 2)
	env.Send(t, ctx, &orderevents.OrderCancelledV1{OrderID: "ord-2", Reason: orderevents.CancellationReasonOutOfStock, CancelledAt: at(4)})

	// The shipment and its delivery before the order that names the customer.
	env.Send(t, ctx, shipmentCreated("shp-ord-3", "ord-3", 12))
	env.Send(t, ctx, status("shp-ord-3", shipmentevents.ShipmentStatusV2Delivered, 50))
	platformtest.Eventually(t, 0, func() error {
		if ran, _ := handled(t, svc.URL, shipmentevents.ShipmentStatusChangedEventType); ran < 6 {
			return fmt.Errorf("ShipmentStatusChanged handled %v times", ran)
		}
		return nil
	})
	if got := messages(t, svc.URL, "cus-3"); len(got) != 0 {
		t.Fatalf("cus-3 before the order: %+v", got)
	}
	env.Send(t, ctx, orderCreated("ord-3", "cus-3", 5))

	// Twice the same record, and the same order with a new event ID.
	rec := env.Record(t, orderCreated("ord-4", "cus-4", 6))
	env.Cluster.Produce(t, orderevents.OrderCreatedTopic, rec, rec)
	env.Send(t, ctx, orderCreated("ord-4", "cus-4", 6))

	want := map[string]string{
		"cus-1": "order_created,shipment_created,alert_delay,out_for_delivery,delivered",
		"cus-2": "order_created,alert_inventory_shortage,order_cancelled",
		"cus-3": "order_created,shipment_created,delivered",
		"cus-4": "order_created",
	}
	platformtest.Eventually(t, 0, func() error {
		for c, w := range want {
			if got := kinds(messages(t, svc.URL, c)); got != w {
				return fmt.Errorf("%s: %s, want %s", c, got, w)
			}
		}
		if ran, dup := handled(t, svc.URL, orderevents.OrderCreatedEventType); ran < 5 || dup < 1 {
			return fmt.Errorf("OrderCreated: handled %v, %v duplicates", ran, dup)
		}
		return nil
	})
	if got := kinds(messages(t, svc.URL, "cus-4")); got != want["cus-4"] {
		t.Errorf("cus-4 after a redelivery and a re-send: %s", got)
	}

	ms := messages(t, svc.URL, "cus-1")
	for i := range ms {
		if ms[i].SentAt.IsZero() || i > 0 && ms[i].SentAt.Before(ms[i-1].SentAt) {
			t.Errorf("message %d sent at %v, after %v", i, ms[i].SentAt, ms[max(i-1, 0)].SentAt)
		}
	}
	if ms[0].TraceID != hex.EncodeToString(trace.TraceID[:]) || ms[0].OrderID != "ord-1" || ms[0].EventID == "" {
		t.Errorf("order_created message %+v: want trace %x", ms[0], trace.TraceID)
	}
	for i, sub := range []string{"ord-1 (3 items, total 84.50 EUR)", "DHL. Tracking number: JD0001", "running late",
		"Your parcel for order ord-1 is out for delivery today.", "has been delivered (Amsterdam)"} {
		if !strings.Contains(ms[i].Text, sub) {
			t.Errorf("message %d %q: want %q in it", i, ms[i].Text, sub)
		}
	}
	if ms[2].ShipmentID != "shp-ord-1" || ms[2].OrderID != "ord-1" || !strings.Contains(ms[2].Text, "Sat 14 Mar 10:01 UTC") {
		t.Errorf("delay message %+v", ms[2])
	}
	if c := messages(t, svc.URL, "cus-2"); !strings.Contains(c[2].Text, "because some items are out of stock") {
		t.Errorf("cancellation %q", c[2].Text)
	}
	// A shipment booked while the order's cancellation was on its way is
	// not announced.
	env.Send(t, ctx, shipmentCreated("shp-ord-2", "ord-2", 5))
	platformtest.Eventually(t, 0, func() error {
		if ran, _ := handled(t, svc.URL, shipmentevents.ShipmentCreatedEventType); ran < 3 {
			return fmt.Errorf("ShipmentCreated handled %v times", ran)
		}
		return nil
	})
	if got := kinds(messages(t, svc.URL, "cus-2")); got != want["cus-2"] {
		t.Errorf("cus-2 after a shipment of the cancelled order: %s", got)
	}

	if got := sample(t, svc.URL, `waybill_notifications_total{kind="order_created"}`); got != 4 {
		t.Errorf("waybill_notifications_total{kind=order_created} %v, want 4", got)
	}

	resp, err = http.Get(svc.URL + "/notifications?customer=cus-1&order_id=ord-9")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var none struct{ Notifications []notification.Message }
	if err := json.NewDecoder(resp.Body).Decode(&none); err != nil || none.Notifications == nil || len(none.Notifications) != 0 {
		t.Errorf("cus-1 order ord-9: %v %+v", err, none)
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
