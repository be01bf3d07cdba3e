package shipment

import (
	"testing"
	"time"
)

// TestDue: what the ticker does to a shipment, at each moment of its
// journey, held for the delay demo or not.
func TestDue(t *testing.T) {
	const step = time.Second
	t0 := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ptr := func(t time.Time) *time.Time { return &t }
	for _, tc := range []struct {
		name string
		sh   Shipment
		now  time.Time
		want action
	}{
		{"not yet", Shipment{Status: "CREATED", NextStepAt: ptr(at(1)), ETA: at(6)}, at(0.5), action{}},
		{"next step", Shipment{Status: "CREATED", NextStepAt: ptr(at(1)), ETA: at(6)}, at(1), action{advance: true, status: "PICKED_UP"}},
		{"last step", Shipment{Status: "OUT_FOR_DELIVERY", NextStepAt: ptr(at(4)), ETA: at(6)}, at(4.2), action{advance: true, status: "DELIVERED"}},
		{"delivered", Shipment{Status: "DELIVERED", ETA: at(6)}, at(60), action{}},
		{"cancelled", Shipment{Status: StatusCancelled, ETA: at(6)}, at(60), action{}},
		{"late", Shipment{Status: "IN_TRANSIT", NextStepAt: ptr(at(10)), ETA: at(6)}, at(7), action{raiseDelay: true}},
		{"late and due", Shipment{Status: "IN_TRANSIT", NextStepAt: ptr(at(7)), ETA: at(6)}, at(7), action{raiseDelay: true, advance: true, status: "OUT_FOR_DELIVERY"}},
		{"late, alert raised", Shipment{Status: "IN_TRANSIT", NextStepAt: ptr(at(10)), ETA: at(6), DelayAlertID: "a"}, at(7), action{}},
		{"held before its ETA", Shipment{Status: "IN_TRANSIT", NextStepAt: ptr(at(3)), ETA: at(6), OriginalETA: at(6), HeldForDelay: true}, at(5), action{}},
		{"held past its ETA", Shipment{Status: "IN_TRANSIT", NextStepAt: ptr(at(3)), ETA: at(6), OriginalETA: at(6), HeldForDelay: true}, at(6.5), action{raiseDelay: true}},
		{"held, released", Shipment{Status: "IN_TRANSIT", NextStepAt: ptr(at(3)), ETA: at(9), OriginalETA: at(6), HeldForDelay: true, DelayAlertID: "a"}, at(7), action{advance: true, status: "OUT_FOR_DELIVERY"}},
		{"held moves before IN_TRANSIT", Shipment{Status: "PICKED_UP", NextStepAt: ptr(at(2)), ETA: at(6), OriginalETA: at(6), HeldForDelay: true}, at(2), action{advance: true, status: "IN_TRANSIT"}},
	} {
		if got := tc.sh.due(tc.now, step); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
