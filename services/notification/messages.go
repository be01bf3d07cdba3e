package notification

import (
	"fmt"
	"strings"
	"time"

	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
)

// Message is a message a customer would get, as GET /notifications returns
// it.
type Message struct {
	// ID is the message's business key ("order-created/ord-1",
	// "shipment-delivered/shp-ord-1", "alert/alr-delay-shp-ord-1"): one
	// message per key, however often its event is delivered or re-sent.
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	OrderID    string `json:"order_id,omitempty"`
	ShipmentID string `json:"shipment_id,omitempty"`
	// Kind is what the message is about: order_created, order_cancelled,
	// shipment_created, out_for_delivery, delivered, or alert_<type> in
	// lower case (alert_delay, alert_inventory_shortage...).
	Kind string `json:"kind"`
	Text string `json:"text"`
	// At is when what it reports happened.
	At time.Time `json:"at"`
	// SentAt is when the message was recorded, "sent": a customer's
	// messages are listed in this order, as an inbox shows them. (Events
	// of different topics are read independently, so a message can be
	// sent after one about a later event: a shipment booked while the
	// order's cancellation was on its way is announced, then cancelled.)
	SentAt time.Time `json:"sent_at"`
	// TraceID is the trace of the event that caused it; EventID its ce_id.
	TraceID string `json:"trace_id,omitempty"`
	EventID string `json:"event_id"`
}

func orderCreatedMessage(ev *orderevents.OrderCreatedV2) *Message {
	n := 0
	for _, l := range ev.LineItems {
		n += int(l.Quantity)
	}
	items := fmt.Sprintf("%d items", n)
	if n == 1 {
		items = "1 item"
	}
	total := ""
	if ev.Total != nil && ev.Currency != nil {
		total = fmt.Sprintf(", total %s %s", ev.Total.FloatString(2), *ev.Currency)
	}
	return &Message{
		ID: "order-created/" + ev.OrderID, CustomerID: ev.CustomerID, OrderID: ev.OrderID, Kind: "order_created", At: ev.CreatedAt,
		Text: fmt.Sprintf("Thank you for your order %s (%s%s). We will let you know when it ships.", ev.OrderID, items, total),
	}
}

var cancelReasons = map[orderevents.CancellationReason]string{
	orderevents.CancellationReasonCustomerRequest:      " as you asked",
	orderevents.CancellationReasonPaymentFailed:        " because the payment did not go through",
	orderevents.CancellationReasonOutOfStock:           " because some items are out of stock",
	orderevents.CancellationReasonFraudSuspected:       " because we could not verify it",
	orderevents.CancellationReasonAddressUndeliverable: " because we cannot deliver to the address given",
}

func orderCancelledMessage(ev *orderevents.OrderCancelledV1) *Message {
	return &Message{
		ID: "order-cancelled/" + ev.OrderID, OrderID: ev.OrderID, Kind: "order_cancelled", At: ev.CancelledAt,
		Text: fmt.Sprintf("Your order %s has been cancelled%s. Anything you paid will be refunded.", ev.OrderID, cancelReasons[ev.Reason]),
	}
}

func shipmentCreatedMessage(ev *shipmentevents.ShipmentCreatedV1) *Message {
	return &Message{
		ID: "shipment-created/" + ev.ShipmentID, OrderID: ev.OrderID, ShipmentID: ev.ShipmentID, Kind: "shipment_created", At: ev.CreatedAt,
		Text: fmt.Sprintf("Your order %s is on its way with %s. Tracking number: %s.", ev.OrderID, ev.Carrier, ev.TrackingNumber),
	}
}

// statusMessage is the message of a status change a customer hears of:
// out for delivery and delivered; nil for the others.
func statusMessage(ev *shipmentevents.ShipmentStatusChangedV1) *Message {
	m := &Message{ShipmentID: ev.ShipmentID, At: ev.ChangedAt}
	switch ev.Status {
	case shipmentevents.ShipmentStatusV1OutForDelivery:
		m.ID, m.Kind = "shipment-out-for-delivery/"+ev.ShipmentID, "out_for_delivery"
		m.Text = "Your parcel {parcel} is out for delivery today."
	case shipmentevents.ShipmentStatusV1Delivered:
		m.ID, m.Kind = "shipment-delivered/"+ev.ShipmentID, "delivered"
		m.Text = "Your parcel {parcel} has been delivered."
		if ev.Location != nil {
			m.Text = "Your parcel {parcel} has been delivered (" + *ev.Location + ")."
		}
	default:
		return nil
	}
	return m
}

// alertTexts are what a customer is told of an alert about their order or
// parcel, by type; the types not listed (OTHER, UNKNOWN) are internal.
var alertTexts = map[alertevents.AlertTypeV2]string{
	alertevents.AlertTypeV2Delay:                "Your parcel {parcel} is running late. We are sorry for the wait%s.",
	alertevents.AlertTypeV2InventoryShortage:    "Some items of your order {order} are out of stock. We will ship as soon as they are back%s.",
	alertevents.AlertTypeV2Damage:               "Your parcel {parcel} was damaged in transit. We are sending a replacement%s.",
	alertevents.AlertTypeV2Lost:                 "Your parcel {parcel} was lost by the carrier. We are sending a replacement%s.",
	alertevents.AlertTypeV2AddressUndeliverable: "We could not deliver your parcel {parcel} to the address given. Please check it in your account%s.",
	alertevents.AlertTypeV2CustomsHold:          "Your parcel {parcel} is held at customs. We will let you know when it is released%s.",
}

// alertMessage is the message of an alert about an order or a shipment of a
// customer, or nil.
func alertMessage(ev *alertevents.AlertRaisedV2) *Message {
	text, ok := alertTexts[ev.Type]
	if !ok {
		return nil
	}
	m := &Message{ID: "alert/" + ev.AlertID, Kind: "alert_" + strings.ToLower(string(ev.Type)), At: ev.RaisedAt,
		OrderID: ev.Attributes["order_id"]}
	switch ev.Entity.EntityType {
	case alertevents.EntityTypeOrder:
		m.OrderID = ev.Entity.EntityID
	case alertevents.EntityTypeShipment:
		m.ShipmentID = ev.Entity.EntityID
	default:
		return nil
	}
	extra := ""
	if eta, err := time.Parse(time.RFC3339, ev.Attributes["new_eta"]); err == nil {
		extra = "; new estimated delivery " + eta.UTC().Format("Mon 2 Jan 15:04 MST")
	}
	m.Text = fmt.Sprintf(text, extra)
	return m
}

// finish fills in the placeholders of msg's text once its order is known:
// {order} is the order ID, {parcel} "for order <order_id>" (the shipment ID
// while the order is not known).
func (msg *Message) finish() {
	parcel := msg.ShipmentID
	if msg.OrderID != "" {
		parcel = "for order " + msg.OrderID
	}
	msg.Text = strings.NewReplacer("{order}", msg.OrderID, "{parcel}", parcel).Replace(msg.Text)
}
