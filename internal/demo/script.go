package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/waybill/waybill/services/alert"
	"github.com/waybill/waybill/services/notification"
	"github.com/waybill/waybill/services/order"
	"github.com/waybill/waybill/services/shipment"
	"github.com/waybill/waybill/services/warehouse"
)

// ShortSKU is the SKU the warehouse has few of (warehouse.DefaultSeed).
const ShortSKU = "SKU-LAMP-LTD"

// Scenario is one order of the script: what is ordered, and the end state it
// must reach.
type Scenario struct {
	Title      string
	CustomerID string
	Items      []order.LineItem
	Address    order.Address
	Total      string
	// Cancel cancels the order right after it is placed.
	Cancel bool
	// Restock receives the order's units at the warehouse once the order
	// is backordered and its shortage alert raised.
	Restock bool
	// Want is the order's end status.
	Want string
	// Kinds are the messages the customer must have got (notification.Message.Kind).
	Kinds []string
	// Alerts are the IDs of the alerts that must be raised and resolved,
	// from the order's ID.
	Alerts func(orderID string) []string
}

// Outcome is what happened to a scenario's order, across the services.
type Outcome struct {
	Scenario Scenario
	Order    *order.Order
	// Shipment is nil when none was booked (an order cancelled in time).
	Shipment      *shipment.Shipment
	Alerts        []alert.Alert
	Notifications []notification.Message
	// Missing says what the order still lacks for its end state ("" once there).
	Missing string
}

// Scenarios returns the script's orders; lamps is how many units of
// ShortSKU the short order asks for (more than the warehouse has).
func Scenarios(lamps int32) []Scenario {
	delivered := []string{"order_created", "shipment_created", "out_for_delivery", "delivered"}
	return []Scenario{
		{
			Title: "A regular order, delivered", CustomerID: "cus-alice",
			Items:   []order.LineItem{{SKU: "SKU-MUG-350", Quantity: 2}, {SKU: "SKU-POSTER-A2", Quantity: 1}},
			Address: order.Address{Line1: "Damrak 1", City: "Amsterdam", PostalCode: "1012 LG", CountryCode: "NL"},
			Total:   "34.80", Want: order.StatusDelivered, Kinds: delivered,
		},
		{
			Title: "Short of stock: backordered, restocked, delivered", CustomerID: "cus-bob",
			Items:   []order.LineItem{{SKU: ShortSKU, Quantity: lamps}},
			Address: order.Address{Line1: "Unter den Linden 5", City: "Berlin", PostalCode: "10117", CountryCode: "DE"},
			Total:   fmt.Sprintf("%d.00", 49*lamps), Restock: true, Want: order.StatusDelivered,
			Kinds:  append([]string{"alert_inventory_shortage"}, delivered...),
			Alerts: func(id string) []string { return []string{warehouse.ShortageAlertID(id)} },
		},
		{
			Title: "A shipment delayed past its ETA, then delivered", CustomerID: shipment.DelayCustomerPrefix + "carol",
			Items:   []order.LineItem{{SKU: "SKU-TSHIRT-M-BLU", Quantity: 3}},
			Address: order.Address{Line1: "Rue de Rivoli 10", City: "Paris", PostalCode: "75001", CountryCode: "FR"},
			Total:   "59.70", Want: order.StatusDelivered,
			Kinds:  append([]string{"alert_delay"}, delivered...),
			Alerts: func(id string) []string { return []string{shipment.DelayAlertID(shipment.ShipmentID(id))} },
		},
		{
			Title: "Cancelled by the customer", CustomerID: "cus-dave",
			Items:   []order.LineItem{{SKU: "SKU-SOCKS-L-GRY", Quantity: 4}},
			Address: order.Address{Line1: "Gran Via 20", City: "Madrid", PostalCode: "28013", CountryCode: "ES"},
			Total:   "23.96", Cancel: true, Want: order.StatusCancelled,
			Kinds: []string{"order_created", "order_cancelled"},
		},
	}
}

// Script places the scenarios' orders, waits until each reached its end
// state, and prints what happened to each. The error says which order did
// not, and what it lacks.
func Script(ctx context.Context, cfg Config) ([]*Outcome, error) {
	cfg = cfg.withDefaults()
	c := cfg.client()
	w := cfg.Out

	lamps := int32(4)
	stock, err := c.Stock(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range stock {
		if s.SKU == ShortSKU {
			lamps = int32(max(s.Available, 0)) + 2
		}
	}

	intro := "Placing 4 orders through the order service's API"
	if cfg.Step > 0 {
		intro += fmt.Sprintf(" (shipments move one status every %s)", cfg.Step)
	}
	fmt.Fprintln(w, intro+"...")
	start := time.Now()
	var outs []*Outcome
	for _, sc := range Scenarios(lamps) {
		o, err := c.PlaceOrder(ctx, NewOrder{CustomerID: sc.CustomerID, LineItems: sc.Items, ShippingAddress: sc.Address, Total: sc.Total, Currency: "EUR"})
		if err != nil {
			return nil, err
		}
		if sc.Cancel {
			if o, err = c.Cancel(ctx, o.ID, "CUSTOMER_REQUEST"); err != nil {
				return nil, err
			}
		}
		outs = append(outs, &Outcome{Scenario: sc, Order: o, Missing: "not looked at yet"})
	}

	restocked := false
	err = poll(ctx, cfg.Timeout, func() (bool, error) {
		done := true
		for _, out := range outs {
			if err := out.refresh(ctx, c); err != nil {
				return false, err
			}
			// The goods arrive once the shortage is an open alert, as they
			// would after an operator saw it.
			if out.Scenario.Restock && !restocked && out.Order.Status == order.StatusBackordered && out.hasAlert(warehouse.ShortageAlertID(out.Order.ID)) {
				if err := restock(ctx, c, w, out); err != nil {
					return false, err
				}
				restocked = true
			}
			done = done && out.Missing == ""
		}
		return done, nil
	})
	if err != nil {
		var lacking []string
		for _, out := range outs {
			if out.Missing != "" {
				lacking = append(lacking, fmt.Sprintf("%s (%s) %s", out.Order.ID, out.Scenario.Title, out.Missing))
			}
		}
		if errors.Is(err, errTimeout) {
			for i, out := range outs {
				report(w, i+1, len(outs), out)
			}
			return outs, fmt.Errorf("demo: after %s: %s", cfg.Timeout, strings.Join(lacking, "; "))
		}
		return outs, err
	}
	fmt.Fprintf(w, "All 4 orders reached their end state in %s.\n", seconds(time.Since(start)))
	for i, out := range outs {
		report(w, i+1, len(outs), out)
	}
	return outs, nil
}

// restock receives an order's units at the warehouse (POST /stock), which
// fills its backorder.
func restock(ctx context.Context, c *Client, w io.Writer, out *Outcome) error {
	for _, it := range out.Scenario.Items {
		res, err := c.Adjust(ctx, Adjustment{SKU: it.SKU, Quantity: int64(it.Quantity), Reason: "RECEIVED", Note: "demo: goods in for the backorder of " + out.Order.ID})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s is backordered; receiving %d x %s at the warehouse (POST /stock) fills %d backorder(s)\n",
			out.Order.ID, it.Quantity, it.SKU, len(res.Filled))
	}
	return nil
}

// refresh reads the order's state from every service and sets Missing.
func (o *Outcome) refresh(ctx context.Context, c *Client) error {
	id := o.Order.ID
	ord, err := c.Order(ctx, id)
	if err != nil {
		return err
	}
	o.Order = ord
	sh, err := c.Shipment(ctx, shipment.ShipmentID(id))
	switch {
	case isNotFound(err):
		o.Shipment = nil
	case err != nil:
		return err
	default:
		o.Shipment = sh
	}
	o.Alerts = nil
	for _, entity := range []string{id, shipment.ShipmentID(id)} {
		as, err := c.Alerts(ctx, entity)
		if err != nil {
			return err
		}
		o.Alerts = append(o.Alerts, as...)
	}
	msgs, err := c.Notifications(ctx, o.Scenario.CustomerID)
	if err != nil {
		return err
	}
	o.Notifications = o.Notifications[:0]
	for _, m := range msgs {
		if m.OrderID == id {
			o.Notifications = append(o.Notifications, m)
		}
	}
	o.Missing = o.missing()
	return nil
}

func (o *Outcome) hasAlert(id string) bool {
	return slices.ContainsFunc(o.Alerts, func(a alert.Alert) bool { return a.ID == id })
}

func (o *Outcome) missing() string {
	var lacks []string
	if o.Order.Status != o.Scenario.Want {
		lacks = append(lacks, fmt.Sprintf("is %s, want %s", o.Order.Status, o.Scenario.Want))
	}
	var kinds []string
	for _, m := range o.Notifications {
		kinds = append(kinds, m.Kind)
	}
	for _, k := range o.Scenario.Kinds {
		if !slices.Contains(kinds, k) {
			lacks = append(lacks, "no "+k+" message")
		}
	}
	if o.Scenario.Alerts != nil {
		for _, id := range o.Scenario.Alerts(o.Order.ID) {
			i := slices.IndexFunc(o.Alerts, func(a alert.Alert) bool { return a.ID == id })
			switch {
			case i < 0:
				lacks = append(lacks, "alert "+id+" not raised")
			case o.Alerts[i].Status != alert.StatusResolved:
				lacks = append(lacks, "alert "+id+" not resolved")
			}
		}
	}
	return strings.Join(lacks, ", ")
}

// report prints one order's story.
func report(w io.Writer, n, of int, o *Outcome) {
	ord := o.Order
	title := fmt.Sprintf("── %d/%d  %s ", n, of, o.Scenario.Title)
	fmt.Fprintf(w, "\n%s%s\n", title, strings.Repeat("─", max(3, 72-len([]rune(title)))))
	var items []string
	for _, it := range ord.LineItems {
		items = append(items, fmt.Sprintf("%d x %s", it.Quantity, it.SKU))
	}
	fmt.Fprintf(w, "order     %s for %s: %s\n", ord.ID, ord.CustomerID, strings.Join(items, ", "))
	fmt.Fprintf(w, "trace     %s\n", ord.TraceID)
	for i, ch := range ord.History {
		label := ""
		if i == 0 {
			label = "status"
		}
		fmt.Fprintf(w, "%-9s %6s  %-17s %s\n", label, fmt.Sprintf("+%.2fs", ch.At.Sub(ord.CreatedAt).Seconds()), ch.Status, ch.Cause)
	}
	if sh := o.Shipment; sh == nil {
		fmt.Fprintf(w, "shipment  none booked\n")
	} else {
		var steps []string
		for _, h := range sh.History {
			steps = append(steps, h.Status)
		}
		fmt.Fprintf(w, "shipment  %s with %s (tracking %s): %s\n", sh.ID, sh.Carrier, sh.TrackingNumber, strings.Join(steps, " > "))
	}
	if len(o.Alerts) == 0 {
		fmt.Fprintf(w, "alerts    none\n")
	}
	for i, a := range o.Alerts {
		label := ""
		if i == 0 {
			label = "alerts"
		}
		state := "open"
		if a.ResolvedAt != nil {
			state = "resolved"
			if a.RaisedAt != nil {
				state += fmt.Sprintf(" %s later", seconds(a.ResolvedAt.Sub(*a.RaisedAt)))
			}
			if a.Resolution != "" {
				state += ": " + ellipsis(shortIDs(a.Resolution, ord.ID), 80)
			}
		}
		fmt.Fprintf(w, "%-9s %s %s raised by %s, %s\n", label, a.Type, a.ID, a.RaisedBy, state)
	}
	if len(o.Notifications) == 0 {
		fmt.Fprintf(w, "messages  none\n")
	}
	for i, m := range o.Notifications {
		label := ""
		if i == 0 {
			label = "messages"
		}
		fmt.Fprintf(w, "%-9s %-25s %s\n", label, m.Kind, ellipsis(shortIDs(m.Text, ord.ID), 100))
	}
	if o.Missing != "" {
		fmt.Fprintf(w, "MISSING   %s\n", o.Missing)
	}
}

// shortIDs writes the order's ID, and its shipment's, in s as "ord-…" and
// the ID's last 8 characters: the report names the order in full once.
func shortIDs(s, orderID string) string {
	if len(orderID) > 16 {
		s = strings.ReplaceAll(s, orderID, "ord-…"+orderID[len(orderID)-8:])
	}
	return s
}

func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// seconds formats d as seconds to the tenth, "1.2s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

var errTimeout = errors.New("demo: timed out")

// poll calls cond every 100 ms until it is true, returns an error, ctx ends
// or timeout passes (errTimeout).
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return errTimeout
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
