package alert_test

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

	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/services/alert"
	"github.com/waybill/waybill/services/platform/platformtest"
)

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func statusChanged(id string, st shipmentevents.ShipmentStatusV2, at time.Time) *shipmentevents.ShipmentStatusChangedV2 {
	loc := "Rotterdam hub"
	return &shipmentevents.ShipmentStatusChangedV2{ShipmentID: id, Status: st, Location: &loc, ChangedAt: at}
}

func adjusted(sku string, change int32, reason warehouseevents.AdjustmentReasonV2) *warehouseevents.InventoryAdjustedV2 {
	return &warehouseevents.InventoryAdjustedV2{SKU: sku, WarehouseID: "wh-ams-1", QuantityChange: change, Reason: reason, AdjustedAt: now()}
}

// own returns the events of E's type the alert service produced.
func own[E events.Event](t *testing.T, env *platformtest.Env, newE func() E) []E {
	t.Helper()
	var out []E
	for _, r := range platformtest.Events(t, env, newE) {
		if r.Envelope.Source == "alert-service" {
			out = append(out, r.Event)
		}
	}
	return out
}

func newRaised() *alertevents.AlertRaisedV2     { return new(alertevents.AlertRaisedV2) }
func newResolved() *alertevents.AlertResolvedV1 { return new(alertevents.AlertResolvedV1) }

// list returns GET /alerts?<query>.
func list(t *testing.T, url, query string) (int, []alert.Alert) {
	t.Helper()
	resp, err := http.Get(url + "/alerts?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Alerts []alert.Alert }
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, body.Alerts
}

func ids(as []alert.Alert) string {
	var s []string
	for _, a := range as {
		s = append(s, a.ID+":"+a.Status)
	}
	return strings.Join(s, ",")
}

// handled returns how many times the handler of eventType ran, and how many
// events of it were skipped as duplicates, from /metrics.
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

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestShipmentAlerts: a DELAY alert raised by the shipment service is
// resolved when the shipment is delivered; an EXCEPTION raises one alert
// however often it is delivered, resolved when the shipment moves again; a
// RETURNED alert is resolved by hand.
func TestShipmentAlerts(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	env := platformtest.New(t)
	svc := env.Start(t, env.Config(t, alert.Name), alert.Setup)
	if code := func() int {
		resp, err := http.Get(svc.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}(); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}

	env.Send(t, ctx, &alertevents.AlertRaisedV2{AlertID: "alr-delay-shp-1", Type: alertevents.AlertTypeV2Delay,
		Severity: alertevents.AlertSeverityWarning, Entity: alertevents.EntityRef{EntityType: alertevents.EntityTypeShipment, EntityID: "shp-1"},
		Description: "late", RaisedAt: now(), Attributes: map[string]string{"order_id": "ord-1"}})
	platformtest.Eventually(t, 0, func() error {
		if _, open := list(t, svc.URL, "open=true"); ids(open) != "alr-delay-shp-1:OPEN" {
			return fmt.Errorf("open alerts %s", ids(open))
		}
		return nil
	})

	// EXCEPTION: the same record twice, and the same report with a new
	// event ID.
	exc := statusChanged("shp-2", shipmentevents.ShipmentStatusV2Exception, now())
	rec := env.Record(t, exc)
	env.Cluster.Produce(t, shipmentevents.ShipmentStatusChangedTopic, rec, rec)
	env.Send(t, ctx, exc)
	platformtest.Eventually(t, 0, func() error {
		if ran, dup := handled(t, svc.URL, shipmentevents.ShipmentStatusChangedEventType); ran < 2 || dup < 1 {
			return fmt.Errorf("ShipmentStatusChanged: handled %v, %v duplicates", ran, dup)
		}
		return nil
	})
	raised := own(t, env, newRaised)
	if len(raised) != 1 || raised[0].Entity.EntityID != "shp-2" || raised[0].Attributes["rule"] != alert.RuleShipmentException {
		t.Fatalf("alerts raised for the exception: %+v", raised)
	}
	excID := raised[0].AlertID

	env.Send(t, ctx, statusChanged("shp-1", shipmentevents.ShipmentStatusV2Delivered, now()))
	env.Send(t, ctx, statusChanged("shp-2", shipmentevents.ShipmentStatusV2InTransit, now()))
	env.Send(t, ctx, statusChanged("shp-3", shipmentevents.ShipmentStatusV2Returned, now()))
	platformtest.Eventually(t, 0, func() error {
		if n := len(own(t, env, newResolved)); n != 2 {
			return fmt.Errorf("%d AlertResolved", n)
		}
		if n := len(own(t, env, newRaised)); n != 2 {
			return fmt.Errorf("%d AlertRaised", n)
		}
		return nil
	})
	resolved := map[string]string{}
	for _, r := range own(t, env, newResolved) {
		resolved[r.AlertID] = r.Resolution
	}
	if !strings.Contains(resolved["alr-delay-shp-1"], "delivered") || !strings.Contains(resolved[excID], "moving again") {
		t.Errorf("resolutions %v", resolved)
	}
	platformtest.Eventually(t, 0, func() error {
		_, open := list(t, svc.URL, "open=true")
		if len(open) != 1 || open[0].EntityID != "shp-3" || open[0].Attributes["rule"] != alert.RuleShipmentReturned || open[0].RaisedBy != "alert-service" {
			return fmt.Errorf("open alerts %+v", open)
		}
		return nil
	})
	_, open := list(t, svc.URL, "open=true")
	returned := open[0].ID
	if _, all := list(t, svc.URL, ""); len(all) != 3 {
		t.Errorf("all alerts: %s", ids(all))
	}
	if _, closed := list(t, svc.URL, "open=false&entity_id=shp-1"); ids(closed) != "alr-delay-shp-1:RESOLVED" {
		t.Errorf("resolved alerts of shp-1: %s", ids(closed))
	}
	if code, _ := list(t, svc.URL, "open=maybe"); code != http.StatusBadRequest {
		t.Errorf("open=maybe: %d", code)
	}

	// By hand.
	if code := post(t, svc.URL+"/alerts/"+returned+"/resolve", `{"resolution":"Customer collected it at the depot."}`); code != http.StatusOK {
		t.Errorf("resolve: %d", code)
	}
	if code := post(t, svc.URL+"/alerts/"+returned+"/resolve", ``); code != http.StatusConflict {
		t.Errorf("resolve again: %d", code)
	}
	if code := post(t, svc.URL+"/alerts/alr-nope/resolve", ``); code != http.StatusNotFound {
		t.Errorf("resolve unknown: %d", code)
	}
	platformtest.Wait(t, env, newResolved, 1, 0, func(r *alertevents.AlertResolvedV1) bool {
		return r.AlertID == returned && r.Resolution == "Customer collected it at the depot."
	})
	resp, err := http.Get(svc.URL + "/alerts/" + returned)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a alert.Alert
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.Status != alert.StatusResolved || a.ResolvedAt == nil {
		t.Errorf("GET %s: %v %+v", returned, err, a)
	}
}

// TestStockAlerts: a big write-off raises an alert about the SKU, a small
// one does not; restocking resolves it and the warehouse's shortage alert
// about an order that names the SKU; an AlertResolved read before its
// AlertRaised keeps the alert closed.
func TestStockAlerts(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	env := platformtest.New(t)
	svc := env.Start(t, env.Config(t, alert.Name), alert.Options{WriteOffThreshold: 10}.Setup)

	env.Send(t, ctx, &alertevents.AlertRaisedV2{AlertID: "alr-short-ord-9", Type: alertevents.AlertTypeV2InventoryShortage,
		Severity: alertevents.AlertSeverityWarning, Entity: alertevents.EntityRef{EntityType: alertevents.EntityTypeOrder, EntityID: "ord-9"},
		Description: "short", RaisedAt: now(), Attributes: map[string]string{"sku": "SKU-LAMP"}})
	env.Send(t, ctx, adjusted("SKU-LAMP", -15, warehouseevents.AdjustmentReasonV2Damaged))
	env.Send(t, ctx, adjusted("SKU-LAMP", -3, warehouseevents.AdjustmentReasonV2Lost))
	env.Send(t, ctx, &alertevents.AlertResolvedV1{AlertID: "alr-early", Resolution: "done", ResolvedAt: now()})
	platformtest.Eventually(t, 0, func() error {
		if _, open := list(t, svc.URL, "open=true"); len(open) != 2 {
			return fmt.Errorf("open alerts %s", ids(open))
		}
		if ran, _ := handled(t, svc.URL, warehouseevents.InventoryAdjustedEventType); ran < 2 {
			return fmt.Errorf("InventoryAdjusted handled %v times", ran)
		}
		return nil
	})
	raised := own(t, env, newRaised)
	if len(raised) != 1 || raised[0].Type != alertevents.AlertTypeV2Damage || raised[0].Entity.EntityID != "SKU-LAMP" ||
		raised[0].Attributes["quantity_change"] != "-15" {
		t.Fatalf("write-off alerts %+v", raised)
	}

	env.Send(t, ctx, adjusted("SKU-LAMP", 50, warehouseevents.AdjustmentReasonV2Received))
	env.Send(t, ctx, &alertevents.AlertRaisedV2{AlertID: "alr-early", Type: alertevents.AlertTypeV2Other,
		Severity: alertevents.AlertSeverityInfo, Entity: alertevents.EntityRef{EntityType: alertevents.EntityTypeWarehouse, EntityID: "wh-ams-1"},
		Description: "raised after its resolution was read", RaisedAt: now()})
	platformtest.Eventually(t, 0, func() error {
		if _, all := list(t, svc.URL, ""); len(all) != 3 {
			return fmt.Errorf("alerts %s", ids(all))
		}
		if _, open := list(t, svc.URL, "open=true"); len(open) != 0 {
			return fmt.Errorf("open alerts %s", ids(open))
		}
		return nil
	})
	got := map[string]bool{}
	for _, r := range own(t, env, newResolved) {
		got[r.AlertID] = strings.Contains(r.Resolution, "restocked")
	}
	if len(got) != 2 || !got["alr-short-ord-9"] || !got[raised[0].AlertID] {
		t.Errorf("resolved %v", got)
	}

	// A shortage of two SKUs is resolved once both are restocked by their
	// shortfall; another by its order's reservation (the backorder
	// filled), a third by its order's cancellation.
	shortage := func(order string, attrs map[string]string) *alertevents.AlertRaisedV2 {
		return &alertevents.AlertRaisedV2{AlertID: "alr-short-" + order, Type: alertevents.AlertTypeV2InventoryShortage,
			Severity: alertevents.AlertSeverityWarning, Entity: alertevents.EntityRef{EntityType: alertevents.EntityTypeOrder, EntityID: order},
			Description: "short", RaisedAt: now(), Attributes: attrs}
	}
	env.Send(t, ctx, shortage("ord-7", map[string]string{"skus": "SKU-A,SKU-B", "shortfall": "SKU-A:5,SKU-B:2"}))
	env.Send(t, ctx, shortage("ord-8", map[string]string{"skus": "SKU-C"}))
	env.Send(t, ctx, shortage("ord-6", map[string]string{"skus": "SKU-C"}))
	platformtest.Eventually(t, 0, func() error {
		if _, open := list(t, svc.URL, "open=true&type=INVENTORY_SHORTAGE"); len(open) != 3 {
			return fmt.Errorf("open shortages %s", ids(open))
		}
		return nil
	})
	env.Send(t, ctx, adjusted("SKU-A", 3, warehouseevents.AdjustmentReasonV2Received))
	env.Send(t, ctx, adjusted("SKU-B", 2, warehouseevents.AdjustmentReasonV2Received))
	env.Send(t, ctx, &warehouseevents.InventoryReservedV1{OrderID: "ord-8", WarehouseID: "wh-ams-1",
		Reservations: []warehouseevents.Reservation{{SKU: "SKU-C", Quantity: 1}}, ReservedAt: now()})
	env.Send(t, ctx, &orderevents.OrderCancelledV1{OrderID: "ord-6", Reason: orderevents.CancellationReasonCustomerRequest, CancelledAt: now()})
	platformtest.Eventually(t, 0, func() error {
		if ran, _ := handled(t, svc.URL, warehouseevents.InventoryAdjustedEventType); ran < 5 {
			return fmt.Errorf("InventoryAdjusted handled %v times", ran)
		}
		if _, open := list(t, svc.URL, "open=true"); ids(open) != "alr-short-ord-7:OPEN" {
			return fmt.Errorf("open alerts %s", ids(open))
		}
		return nil
	})
	env.Send(t, ctx, adjusted("SKU-A", 2, warehouseevents.AdjustmentReasonV2Found))
	platformtest.Eventually(t, 0, func() error {
		if _, open := list(t, svc.URL, "open=true"); len(open) != 0 {
			return fmt.Errorf("open alerts %s", ids(open))
		}
		return nil
	})
	for series, want := range map[string]float64{
		"waybill_alerts_open": 0,
		`waybill_alerts_raised_total{type="INVENTORY_SHORTAGE"}`:   4,
		`waybill_alerts_resolved_total{type="INVENTORY_SHORTAGE"}`: 4,
		`waybill_alerts_raised_total{type="DAMAGE"}`:               1,
	} {
		if got := sample(t, svc.URL, series); got != want {
			t.Errorf("%s %v, want %v", series, got, want)
		}
	}
	res := map[string]string{}
	for _, r := range own(t, env, newResolved) {
		res[r.AlertID] = r.Resolution
	}
	if !strings.Contains(res["alr-short-ord-7"], "restocked") || !strings.Contains(res["alr-short-ord-8"], "Backorder filled") ||
		!strings.Contains(res["alr-short-ord-6"], "cancelled") || len(res) != 5 {
		t.Errorf("resolutions %v", res)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want int
		err  bool
	}{{"", 0, false}, {"25", 25, false}, {"0", 0, true}, {"many", 0, true}} {
		o, err := alert.OptionsFromEnv(func(string) string { return tc.v })
		if (err != nil) != tc.err || o.WriteOffThreshold != tc.want {
			t.Errorf("%q: %+v, %v", tc.v, o, err)
		}
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

// TestCauseGoneBeforeAlert: the topics are read independently, so the
// event that ends an alert's cause (the order reserved, the shipment
// delivered) may be read before the alert itself; the alert is then
// resolved as soon as it is recorded, never left open.
func TestCauseGoneBeforeAlert(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	env := platformtest.New(t)
	svc := env.Start(t, env.Config(t, alert.Name), alert.Options{WriteOffThreshold: 10}.Setup)

	env.Send(t, ctx, &warehouseevents.InventoryReservedV1{OrderID: "ord-late", WarehouseID: "wh-ams-1",
		Reservations: []warehouseevents.Reservation{{SKU: "SKU-C", Quantity: 1}}, ReservedAt: now()})
	env.Send(t, ctx, statusChanged("shp-late", shipmentevents.ShipmentStatusV2Delivered, now()))
	platformtest.Eventually(t, 0, func() error {
		if ran, _ := handled(t, svc.URL, warehouseevents.InventoryReservedEventType); ran < 1 {
			return fmt.Errorf("InventoryReserved handled %v times", ran)
		}
		if ran, _ := handled(t, svc.URL, shipmentevents.ShipmentStatusChangedEventType); ran < 1 {
			return fmt.Errorf("ShipmentStatusChanged handled %v times", ran)
		}
		return nil
	})
	env.Send(t, ctx, &alertevents.AlertRaisedV2{AlertID: "shortage-ord-late", Type: alertevents.AlertTypeV2InventoryShortage,
		Severity: alertevents.AlertSeverityWarning, Entity: alertevents.EntityRef{EntityType: alertevents.EntityTypeOrder, EntityID: "ord-late"},
		Description: "short", RaisedAt: now(), Attributes: map[string]string{"skus": "SKU-C"}})
	env.Send(t, ctx, &alertevents.AlertRaisedV2{AlertID: "alr-delay-shp-late", Type: alertevents.AlertTypeV2Delay,
		Severity: alertevents.AlertSeverityWarning, Entity: alertevents.EntityRef{EntityType: alertevents.EntityTypeShipment, EntityID: "shp-late"},
		Description: "late", RaisedAt: now()})
	platformtest.Eventually(t, 0, func() error {
		if _, all := list(t, svc.URL, ""); len(all) != 2 {
			return fmt.Errorf("alerts %s", ids(all))
		}
		if _, open := list(t, svc.URL, "open=true"); len(open) != 0 {
			return fmt.Errorf("open alerts %s", ids(open))
		}
		return nil
	})
	got := map[string]string{}
	for _, r := range own(t, env, newResolved) {
		got[r.AlertID] = r.Resolution
	}
	if !strings.Contains(got["shortage-ord-late"], "ord-late") || !strings.Contains(got["alr-delay-shp-late"], "delivered") {
		t.Errorf("AlertResolved sent: %v", got)
	}
}
