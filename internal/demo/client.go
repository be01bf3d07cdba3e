package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/waybill/waybill/services/alert"
	"github.com/waybill/waybill/services/notification"
	"github.com/waybill/waybill/services/order"
	"github.com/waybill/waybill/services/shipment"
	"github.com/waybill/waybill/services/warehouse"
)

// Client calls the services' HTTP APIs, as a shop's backend or a support
// tool would.
type Client struct {
	// URLs are the services' base URLs by name (order.Name, ...).
	URLs map[string]string
	// HTTP sends the requests; nil means a client with a 10 s timeout.
	HTTP *http.Client
}

// NewOrder is the body of POST /orders.
type NewOrder struct {
	CustomerID      string           `json:"customer_id"`
	LineItems       []order.LineItem `json:"line_items"`
	ShippingAddress order.Address    `json:"shipping_address"`
	Total           string           `json:"total,omitempty"`
	Currency        string           `json:"currency,omitempty"`
}

// Adjustment is the body of POST /stock.
type Adjustment struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
	Reason   string `json:"reason,omitempty"`
	Note     string `json:"note,omitempty"`
}

// StatusError is an HTTP answer other than the one expected.
type StatusError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("demo: %s %s: %d %s", e.Method, e.URL, e.Status, strings.TrimSpace(e.Body))
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// do sends body (nil: none) as JSON and decodes a 2xx answer into out (nil:
// discarded).
func (c *Client) do(ctx context.Context, method, service, path string, body, out any) error {
	base, ok := c.URLs[service]
	if !ok {
		return fmt.Errorf("demo: no URL for service %s", service)
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("demo: %s %s: %w", method, base+path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Method: method, URL: base + path, Status: resp.StatusCode, Body: string(b)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("demo: %s %s: %w", method, base+path, err)
	}
	return nil
}

// PlaceOrder places an order (POST /orders).
func (c *Client) PlaceOrder(ctx context.Context, o NewOrder) (*order.Order, error) {
	out := new(order.Order)
	return out, c.do(ctx, http.MethodPost, order.Name, "/orders", o, out)
}

// Order returns an order (GET /orders/{id}).
func (c *Client) Order(ctx context.Context, id string) (*order.Order, error) {
	out := new(order.Order)
	return out, c.do(ctx, http.MethodGet, order.Name, "/orders/"+url.PathEscape(id), nil, out)
}

// CustomerOrders returns a customer's orders, oldest first (GET /orders?customer_id=).
func (c *Client) CustomerOrders(ctx context.Context, customer string) ([]order.Order, error) {
	var out struct {
		Orders []order.Order `json:"orders"`
	}
	return out.Orders, c.do(ctx, http.MethodGet, order.Name, "/orders?customer_id="+url.QueryEscape(customer), nil, &out)
}

// Cancel cancels an order (POST /orders/{id}/cancel).
func (c *Client) Cancel(ctx context.Context, id, reason string) (*order.Order, error) {
	out := new(order.Order)
	return out, c.do(ctx, http.MethodPost, order.Name, "/orders/"+url.PathEscape(id)+"/cancel", map[string]string{"reason": reason}, out)
}

// Stock returns the warehouse's stock of every SKU (GET /stock).
func (c *Client) Stock(ctx context.Context) ([]warehouse.Stock, error) {
	var out struct {
		Stock []warehouse.Stock `json:"stock"`
	}
	return out.Stock, c.do(ctx, http.MethodGet, warehouse.Name, "/stock", nil, &out)
}

// Adjust changes a SKU's units on hand (POST /stock).
func (c *Client) Adjust(ctx context.Context, a Adjustment) (*warehouse.AdjustResponse, error) {
	out := new(warehouse.AdjustResponse)
	return out, c.do(ctx, http.MethodPost, warehouse.Name, "/stock", a, out)
}

// Shipment returns a shipment (GET /shipments/{id}).
func (c *Client) Shipment(ctx context.Context, id string) (*shipment.Shipment, error) {
	out := new(shipment.Shipment)
	return out, c.do(ctx, http.MethodGet, shipment.Name, "/shipments/"+url.PathEscape(id), nil, out)
}

// Alerts returns the alerts about an entity, open and resolved (GET /alerts?entity_id=).
func (c *Client) Alerts(ctx context.Context, entityID string) ([]alert.Alert, error) {
	var out struct {
		Alerts []alert.Alert `json:"alerts"`
	}
	return out.Alerts, c.do(ctx, http.MethodGet, alert.Name, "/alerts?entity_id="+url.QueryEscape(entityID), nil, &out)
}

// Notifications returns the messages a customer got, in the order they were
// sent (GET /notifications?customer=).
func (c *Client) Notifications(ctx context.Context, customer string) ([]notification.Message, error) {
	var out struct {
		Notifications []notification.Message `json:"notifications"`
	}
	return out.Notifications, c.do(ctx, http.MethodGet, notification.Name, "/notifications?customer="+url.QueryEscape(customer), nil, &out)
}

// isNotFound reports whether err is a 404.
func isNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound
}
