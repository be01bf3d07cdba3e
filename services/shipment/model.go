package shipment

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/waybill/waybill/pkg/events/commonevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
)

// The statuses a shipment goes through, in order. CREATED is the status
// ShipmentCreated implies (the label is printed); each later one is announced
// by a ShipmentStatusChanged.
var journey = []shipmentevents.ShipmentStatusV2{
	shipmentevents.ShipmentStatusV2Created,
	shipmentevents.ShipmentStatusV2PickedUp,
	shipmentevents.ShipmentStatusV2InTransit,
	shipmentevents.ShipmentStatusV2OutForDelivery,
	shipmentevents.ShipmentStatusV2Delivered,
}

// StatusCancelled is the status of a shipment whose order was cancelled
// before the carrier picked it up. It is the service's own: the schema has no
// such status, and no event announces it (the OrderCancelled that caused it
// already told everyone).
const StatusCancelled = "CANCELLED"

// Shipment is a shipment as the service keeps it (JSON in bbolt) and as
// GET /shipments/{id} returns it.
type Shipment struct {
	ID             string        `json:"shipment_id"`
	OrderID        string        `json:"order_id"`
	CustomerID     string        `json:"customer_id,omitempty"`
	WarehouseID    string        `json:"warehouse_id,omitempty"`
	Carrier        string        `json:"carrier"`
	TrackingNumber string        `json:"tracking_number"`
	Destination    Address       `json:"destination"`
	Status         string        `json:"status"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	ETA            time.Time     `json:"eta"`
	OriginalETA    time.Time     `json:"original_eta"`
	NextStepAt     *time.Time    `json:"next_step_at,omitempty"`
	HeldForDelay   bool          `json:"held_for_delay,omitempty"`
	DelayAlertID   string        `json:"delay_alert_id,omitempty"`
	History        []StatusEntry `json:"history"`
	// TraceParent is the trace of the reservation the shipment was created
	// for: the status changes the ticker sends later continue it, so one
	// order can be followed to its delivery.
	TraceParent string `json:"trace_parent,omitempty"`
}

// StatusEntry is one step of a shipment's history.
type StatusEntry struct {
	Status   string    `json:"status"`
	At       time.Time `json:"at"`
	Location string    `json:"location,omitempty"`
}

// Address is a postal address in JSON.
type Address struct {
	Line1       string `json:"line1"`
	Line2       string `json:"line2,omitempty"`
	City        string `json:"city"`
	Region      string `json:"region,omitempty"`
	PostalCode  string `json:"postal_code"`
	CountryCode string `json:"country_code"`
}

func addressFrom(a *commonevents.AddressV1) Address {
	if a == nil {
		return Address{}
	}
	return Address{Line1: a.Line1, Line2: deref(a.Line2), City: a.City, Region: deref(a.Region),
		PostalCode: a.PostalCode, CountryCode: a.CountryCode}
}

func (a Address) event() commonevents.AddressV1 {
	return commonevents.AddressV1{Line1: a.Line1, Line2: ptr(a.Line2), City: a.City, Region: ptr(a.Region),
		PostalCode: a.PostalCode, CountryCode: a.CountryCode}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ShipmentID is the ID of the shipment of an order: derived from the order ID,
// so that a ShipmentCreated sent again (after a crash between the send and the
// commit) names the same shipment, and so that a demo script knows it.
func ShipmentID(orderID string) string { return "shp-" + orderID }

// DelayAlertID is the ID of the DELAY alert of a shipment: one per shipment,
// so a re-sent AlertRaised is recognisably the same alert.
func DelayAlertID(shipmentID string) string { return "alr-delay-" + shipmentID }

var carriers = []string{"DHL", "UPS", "POSTNL", "DPD"}

// carrierFor books an order with a carrier, chosen by the order ID's hash so
// that the same order always gets the same carrier and tracking number.
func carrierFor(orderID string) (carrier, tracking string) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(orderID))
	sum := h.Sum64()
	carrier = carriers[sum%uint64(len(carriers))]
	return carrier, fmt.Sprintf("%s%012d", carrierPrefix[carrier], sum%1_000_000_000_000)
}

var carrierPrefix = map[string]string{"DHL": "JD", "UPS": "1Z", "POSTNL": "3S", "DPD": "05"}

// locations says where the carrier reports each status.
func location(carrier string, status shipmentevents.ShipmentStatusV2, city string) string {
	switch status {
	case shipmentevents.ShipmentStatusV2PickedUp:
		return "Waybill fulfilment centre"
	case shipmentevents.ShipmentStatusV2InTransit:
		return carrier + " sorting hub"
	case shipmentevents.ShipmentStatusV2OutForDelivery, shipmentevents.ShipmentStatusV2Delivered:
		if city != "" {
			return city
		}
		return carrier + " local depot"
	}
	return ""
}

// next returns the status after s on the journey, and false when s is the
// last one or not on it (cancelled, exception, returned).
func next(s string) (shipmentevents.ShipmentStatusV2, bool) {
	for i, j := range journey[:len(journey)-1] {
		if string(j) == s {
			return journey[i+1], true
		}
	}
	return "", false
}

// remainingSteps is how many status changes s is from DELIVERED.
func remainingSteps(s string) int {
	for i, j := range journey {
		if string(j) == s {
			return len(journey) - 1 - i
		}
	}
	return 0
}

// active reports whether the ticker still moves the shipment.
func (s *Shipment) active() bool {
	_, ok := next(s.Status)
	return ok
}

// shipped reports whether the carrier has the parcel: from PICKED_UP on,
// cancelling the order no longer stops the shipment.
func (s *Shipment) shipped() bool {
	return s.Status != string(shipmentevents.ShipmentStatusV2Created) && s.Status != StatusCancelled
}

// action is what the ticker does to a shipment at a time.
type action struct {
	// raiseDelay: the shipment is past its ETA and no DELAY alert was raised.
	raiseDelay bool
	// advance: the shipment moves to status.
	advance bool
	status  shipmentevents.ShipmentStatusV2
}

// due decides what the ticker does to s at now, with step between statuses:
//   - an active shipment past its ETA gets its DELAY alert, once;
//   - an active shipment whose next step is due moves to the next status,
//     except a shipment held for the delay demo, which stays IN_TRANSIT
//     until one step after its original ETA (so the delay is real, and the
//     alert comes before the delivery).
func (s *Shipment) due(now time.Time, step time.Duration) action {
	var a action
	if !s.active() {
		return a
	}
	if s.DelayAlertID == "" && now.After(s.ETA) {
		a.raiseDelay = true
	}
	if s.NextStepAt == nil || now.Before(*s.NextStepAt) {
		return a
	}
	st, _ := next(s.Status)
	if s.HeldForDelay && s.Status == string(shipmentevents.ShipmentStatusV2InTransit) &&
		now.Before(s.OriginalETA.Add(step)) {
		return a
	}
	a.advance, a.status = true, st
	return a
}

// apply moves s to status at now and schedules its next step.
func (s *Shipment) apply(status shipmentevents.ShipmentStatusV2, loc string, now time.Time, step time.Duration) {
	s.Status = string(status)
	s.UpdatedAt = now
	s.History = append(s.History, StatusEntry{Status: string(status), At: now, Location: loc})
	if s.active() {
		t := now.Add(step)
		s.NextStepAt = &t
	} else {
		s.NextStepAt = nil
	}
}

// revisedETA is the estimate after a delay: the steps left from now.
func (s *Shipment) revisedETA(now time.Time, step time.Duration) time.Time {
	n := remainingSteps(s.Status)
	if s.HeldForDelay && s.Status != string(shipmentevents.ShipmentStatusV2OutForDelivery) {
		n++ // the hold itself takes about a step
	}
	return now.Add(time.Duration(n) * step)
}
