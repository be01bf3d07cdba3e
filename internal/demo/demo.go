// Package demo is the scripted tour of `waybill dev --demo`: it drives the
// logistics services of a running stack through their HTTP APIs, as a shop
// would, and prints what happened to each order across the services, so a
// newcomer sees the platform work in a minute.
//
// The script (Script) places four orders:
//
//   - a regular one, delivered;
//   - one for more units of SKU-LAMP-LTD than the warehouse has (it reads the
//     stock first, so the order runs short on any state): the warehouse
//     backorders it and raises an INVENTORY_SHORTAGE alert; the script then
//     receives the missing lamps (POST /stock), which fills the backorder,
//     resolves the alert and sends the order on to its delivery;
//   - one for a customer whose ID starts with "delay-": the shipment service
//     holds its parcel past the ETA, raises a DELAY alert, then delivers it,
//     which resolves the alert;
//   - one cancelled right after it is placed.
//
// It waits, within Config.Timeout, until each order reached its end state
// (status, alerts, the customer's messages), then prints, per order, its status
// timeline (GET /orders/{id}), its shipment, the alerts raised and resolved,
// the messages the customer got, and the trace ID every event about the order
// carries.
//
// Throughput then places Config.Orders orders from Config.Clients concurrent
// clients and measures the time until every one is RESERVED or further:
// POST /orders, OrderCreated on Kafka, the warehouse's reservation,
// InventoryReserved back to the order service. It tops the stock up first (an
// InventoryAdjusted per SKU that needs it), so it runs on any state.
package demo

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Defaults of Config.
const (
	DefaultOrders  = 200
	DefaultClients = 32
	DefaultTimeout = 60 * time.Second
)

// Config says where the services are and how much to do.
type Config struct {
	// URLs are the services' base URLs by name ("order": "http://127.0.0.1:8090").
	URLs map[string]string
	// Out receives the report.
	Out io.Writer
	// Orders is how many orders Throughput places; 0 means DefaultOrders,
	// negative skips it.
	Orders int
	// Clients is how many clients place them concurrently; 0 means
	// DefaultClients.
	Clients int
	// Timeout bounds each wait: the script's orders reaching their end
	// states, the throughput orders their reservation. 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Step is the shipment service's time between two statuses, for the
	// report's introduction (0: not said).
	Step time.Duration
}

func (c Config) withDefaults() Config {
	if c.Orders == 0 {
		c.Orders = DefaultOrders
	}
	if c.Clients <= 0 {
		c.Clients = DefaultClients
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	return c
}

func (c Config) client() *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = c.Clients + 4
	return &Client{URLs: c.URLs, HTTP: &http.Client{Timeout: 15 * time.Second, Transport: tr}}
}

// Run runs the script, then the throughput phase (unless Orders < 0).
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if _, err := Script(ctx, cfg); err != nil {
		return err
	}
	if cfg.Orders < 0 {
		return nil
	}
	_, err := Throughput(ctx, cfg)
	return err
}
