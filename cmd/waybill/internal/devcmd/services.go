package devcmd

import (
	"fmt"
	"io"

	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/services/alert"
	"github.com/waybill/waybill/services/notification"
	"github.com/waybill/waybill/services/order"
	"github.com/waybill/waybill/services/shipment"
	"github.com/waybill/waybill/services/warehouse"
)

// services are the logistics services, in the order of their default ports
// (order 8090, warehouse 8091, shipment 8092, alert 8093, notification
// 8094): the same code their binaries under services/*/cmd run in compose.
func services() []devstack.Service {
	return []devstack.Service{order.Service(), warehouse.Service(), shipment.Service(), alert.Service(), notification.Service()}
}

// sampleOrder is the body of the order the printed curl line places.
const sampleOrder = `{"customer_id":"cus-42","line_items":[{"sku":"SKU-MUG-350","quantity":2}],` +
	`"shipping_address":{"line1":"Damrak 1","city":"Amsterdam","postal_code":"1012 LG","country_code":"NL"},` +
	`"total":"24.90","currency":"EUR"}`

// tryIt prints how to place an order and follow it.
func tryIt(w io.Writer, s *devstack.Stack) {
	urls := map[string]string{}
	for _, svc := range s.Services() {
		urls[svc.Name] = svc.URL
	}
	o, n := urls[order.Name], urls[notification.Name]
	if o == "" {
		return
	}
	fmt.Fprintf(w, "\nPlace an order:\n  curl -s -X POST %s/orders -H 'Content-Type: application/json' -d '%s'\n", o, sampleOrder)
	fmt.Fprintf(w, "Follow it:  curl -s %s/orders/<order_id>", o)
	if n != "" {
		fmt.Fprintf(w, "   and   curl -s '%s/notifications?customer=cus-42'", n)
	}
	fmt.Fprintln(w)
}
