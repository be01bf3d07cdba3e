package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/waybill/waybill/services/order"
)

// loadSKUs are the SKUs the throughput orders rotate through, one unit each.
var loadSKUs = []string{"SKU-MUG-350", "SKU-TSHIRT-M-BLU", "SKU-SOCKS-L-GRY", "SKU-POSTER-A2"}

// Result is what Throughput measured.
type Result struct {
	Orders, Clients int
	// Placed is the time from the first POST /orders to the last answer.
	Placed time.Duration
	// Reserved is the time from the first POST until every order was seen
	// RESERVED or further (polled every 100 ms, so up to that late).
	Reserved time.Duration
	// Latency are the percentiles of each order's time from placed to
	// RESERVED, as the order's history records them.
	P50, P95, Max time.Duration
}

// PerSecond is the end-to-end rate: orders reserved per second.
func (r Result) PerSecond() float64 { return float64(r.Orders) / r.Reserved.Seconds() }

// beyondReserved are the statuses of an order whose stock was reserved.
var beyondReserved = []string{order.StatusReserved, order.StatusAwaitingPickup, order.StatusShipped,
	order.StatusOutForDelivery, order.StatusDelivered, order.StatusDeliveryException, order.StatusReturned}

// Throughput places cfg.Orders orders from cfg.Clients concurrent clients
// and waits until each is RESERVED or further, then prints the rate.
func Throughput(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	c := cfg.client()
	w := cfg.Out
	r := Result{Orders: cfg.Orders, Clients: cfg.Clients}
	title := "── Throughput "
	fmt.Fprintf(w, "\n%s%s\n", title, "───────────────────────────────────────────────────────────")

	if err := topUp(ctx, c, cfg.Orders); err != nil {
		return r, err
	}
	customer := fmt.Sprintf("load-%d", time.Now().UnixMilli())
	fmt.Fprintf(w, "Placing %d orders (customer %s, one unit each) from %d concurrent clients...\n", cfg.Orders, customer, cfg.Clients)

	start := time.Now()
	ids := make([]string, cfg.Orders)
	next := make(chan int)
	errs := make(chan error, cfg.Clients)
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Go(func() {
			for i := range next {
				o, err := c.PlaceOrder(ctx, NewOrder{
					CustomerID: customer,
					LineItems:  []order.LineItem{{SKU: loadSKUs[i%len(loadSKUs)], Quantity: 1}},
					ShippingAddress: order.Address{Line1: fmt.Sprintf("Keizersgracht %d", i+1), City: "Amsterdam",
						PostalCode: "1015 CJ", CountryCode: "NL"},
				})
				if err != nil {
					errs <- err
					return
				}
				ids[i] = o.ID
			}
		})
	}
	var err error
feed:
	for i := range cfg.Orders {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return r, err
	}
	select {
	case err = <-errs:
		return r, err
	default:
	}
	r.Placed = time.Since(start)

	var orders []order.Order
	err = poll(ctx, cfg.Timeout, func() (bool, error) {
		var err error
		if orders, err = c.CustomerOrders(ctx, customer); err != nil {
			return false, err
		}
		return countReserved(orders) >= cfg.Orders, nil
	})
	if errors.Is(err, errTimeout) {
		return r, fmt.Errorf("demo: %d of %d orders RESERVED or further after %s", countReserved(orders), cfg.Orders, cfg.Timeout)
	}
	if err != nil {
		return r, err
	}
	r.Reserved = time.Since(start)

	var lat []time.Duration
	for _, o := range orders {
		for _, ch := range o.History {
			if ch.Status == order.StatusReserved {
				lat = append(lat, ch.At.Sub(o.CreatedAt))
				break
			}
		}
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		r.P50, r.P95, r.Max = lat[n/2], lat[min(n-1, n*95/100)], lat[n-1]
	}
	fmt.Fprintf(w, "placed    %d orders in %s (%.0f POST /orders a second)\n", r.Orders, seconds(r.Placed), float64(r.Orders)/r.Placed.Seconds())
	fmt.Fprintf(w, "reserved  all %d RESERVED or further %s after the first POST: %.0f orders/s end to end\n", r.Orders, seconds(r.Reserved), r.PerSecond())
	fmt.Fprintf(w, "          (POST /orders > OrderCreated > warehouse reserves > InventoryReserved > order service)\n")
	fmt.Fprintf(w, "latency   placed to RESERVED: p50 %s, p95 %s, max %s\n", ms(r.P50), ms(r.P95), ms(r.Max))
	return r, nil
}

func countReserved(orders []order.Order) int {
	n := 0
	for _, o := range orders {
		if slices.Contains(beyondReserved, o.Status) {
			n++
		}
	}
	return n
}

// topUp receives stock so that each load SKU has enough available units for
// its share of n orders (a rerun on the same state has used some up).
func topUp(ctx context.Context, c *Client, n int) error {
	stock, err := c.Stock(ctx)
	if err != nil {
		return err
	}
	avail := map[string]int64{}
	for _, s := range stock {
		avail[s.SKU] = s.Available
	}
	need := int64(n/len(loadSKUs) + 1)
	for _, sku := range loadSKUs {
		if avail[sku] >= need {
			continue
		}
		if _, err := c.Adjust(ctx, Adjustment{SKU: sku, Quantity: need - avail[sku], Reason: "RECEIVED", Note: "demo: stock for the throughput orders"}); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }
