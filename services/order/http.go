package order

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/commonevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/services/platform"
)

// Limits of a valid order.
const (
	MaxLineItems = 100
	MaxQuantity  = 10_000
	maxIDLen     = 64
	maxTextLen   = 200
	maxListed    = 1000
)

var (
	skuPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	countryPattern  = regexp.MustCompile(`^[A-Z]{2}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
	amountPattern   = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,2})?$`)
)

// placeRequest is the body of POST /orders. Pointers tell a missing field
// from an empty one.
type placeRequest struct {
	CustomerID      *string    `json:"customer_id"`
	LineItems       []LineItem `json:"line_items"`
	ShippingAddress *Address   `json:"shipping_address"`
	Total           *string    `json:"total"`
	Currency        *string    `json:"currency"`
}

// errorBody is the body of a 400: the first problem as platform.ErrorBody
// has it, and every problem.
type errorBody struct {
	platform.ErrorBody
	Errors []platform.ErrorBody `json:"errors,omitempty"`
}

// problems collects the invalid fields of a request.
type problems []platform.ErrorBody

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, platform.ErrorBody{Field: field, Error: field + ": " + fmt.Sprintf(format, args...)})
}

func (p problems) write(w http.ResponseWriter) {
	platform.WriteJSON(w, http.StatusBadRequest, errorBody{ErrorBody: p[0], Errors: p})
}

// validate checks r and returns the order it asks for (without ID, status
// or times), or the problems.
func (r *placeRequest) validate() (*Order, problems) {
	var p problems
	o := &Order{}
	switch {
	case r.CustomerID == nil:
		p.add("customer_id", "required")
	case strings.TrimSpace(*r.CustomerID) == "":
		p.add("customer_id", "must not be empty")
	case len(*r.CustomerID) > maxIDLen:
		p.add("customer_id", "at most %d characters", maxIDLen)
	default:
		o.CustomerID = strings.TrimSpace(*r.CustomerID)
	}
	switch {
	case r.LineItems == nil:
		p.add("line_items", "required: at least one {\"sku\", \"quantity\"}")
	case len(r.LineItems) == 0:
		p.add("line_items", "must not be empty")
	case len(r.LineItems) > MaxLineItems:
		p.add("line_items", "at most %d line items, got %d", MaxLineItems, len(r.LineItems))
	default:
		seen := map[string]int{}
		for i, li := range r.LineItems {
			f := fmt.Sprintf("line_items[%d]", i)
			switch {
			case li.SKU == "":
				p.add(f+".sku", "required")
			case len(li.SKU) > maxIDLen || !skuPattern.MatchString(li.SKU):
				p.add(f+".sku", "%q is not a SKU: letters, digits, '.', '_' and '-', at most %d", li.SKU, maxIDLen)
			default:
				if j, dup := seen[li.SKU]; dup {
					p.add(f+".sku", "%s is in line_items[%d] already: one line per SKU", li.SKU, j)
				}
				seen[li.SKU] = i
			}
			if li.Quantity < 1 || li.Quantity > MaxQuantity {
				p.add(f+".quantity", "must be from 1 to %d, got %d", MaxQuantity, li.Quantity)
			}
		}
		o.LineItems = r.LineItems
	}
	if a := r.ShippingAddress; a == nil {
		p.add("shipping_address", "required: {\"line1\", \"city\", \"postal_code\", \"country_code\"}")
	} else {
		for _, f := range []struct {
			name     string
			v        *string
			required bool
		}{
			{"line1", &a.Line1, true}, {"line2", &a.Line2, false}, {"city", &a.City, true},
			{"region", &a.Region, false}, {"postal_code", &a.PostalCode, true}, {"country_code", &a.CountryCode, true},
		} {
			*f.v = strings.TrimSpace(*f.v)
			switch {
			case f.required && *f.v == "":
				p.add("shipping_address."+f.name, "required")
			case len(*f.v) > maxTextLen:
				p.add("shipping_address."+f.name, "at most %d characters", maxTextLen)
			}
		}
		if a.CountryCode != "" {
			a.CountryCode = strings.ToUpper(a.CountryCode)
			if !countryPattern.MatchString(a.CountryCode) {
				p.add("shipping_address.country_code", "%q is not an ISO 3166-1 alpha-2 code (e.g. \"NL\")", a.CountryCode)
			}
		}
		o.ShippingAddress = *a
	}
	switch {
	case r.Total == nil && r.Currency != nil:
		p.add("total", "required with currency")
	case r.Total != nil && r.Currency == nil:
		p.add("currency", "required with total")
	case r.Total != nil:
		if !amountPattern.MatchString(*r.Total) {
			p.add("total", "%q is not an amount: digits with at most 2 decimals, as a string (\"84.50\")", *r.Total)
		} else {
			o.Total = *r.Total
		}
		c := strings.ToUpper(*r.Currency)
		if !currencyPattern.MatchString(c) {
			p.add("currency", "%q is not an ISO 4217 code (e.g. \"EUR\")", *r.Currency)
		} else {
			o.Currency = c
		}
	}
	return o, p
}

func (s *service) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /orders", s.place)
	mux.HandleFunc("GET /orders", s.list)
	mux.HandleFunc("GET /orders/{id}", s.get)
	mux.HandleFunc("POST /orders/{id}/cancel", s.cancel)
}

func (s *service) place(w http.ResponseWriter, r *http.Request) {
	var req placeRequest
	if err := platform.DecodeJSON(r, &req); err != nil {
		platform.WriteErr(w, http.StatusBadRequest, err)
		return
	}
	o, p := req.validate()
	if len(p) > 0 {
		p.write(w)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 {
		platform.WriteError(w, http.StatusBadRequest, "Idempotency-Key", "Idempotency-Key: at most 200 characters")
		return
	}
	id, err := uuid.NewV7()
	if err != nil {
		platform.WriteError(w, http.StatusInternalServerError, "", "order: "+err.Error())
		return
	}
	now := s.now()
	o.ID = "ord-" + id.String()
	o.CreatedAt = now
	o.Status = StatusCreated
	o.TraceID = platform.TraceID(r.Context())
	o.TraceParent = kafka.TraceFromContext(r.Context()).String()
	o.advance(StatusCreated, "POST /orders", now)
	ev, err := createdEvent(o)
	if err != nil {
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	ctx := r.Context()
	var existing *Order
	err = s.db.Update(func(tx *bbolt.Tx) error {
		if key != "" {
			if prev := lookup(tx, bucketIdempotency, key); prev != "" {
				var err error
				existing, err = getOrder(tx, prev)
				return err
			}
			if err := tx.Bucket(bucketIdempotency).Put([]byte(key), []byte(o.ID)); err != nil {
				return err
			}
		}
		if err := putOrder(tx, o); err != nil {
			return err
		}
		// Sent before the transaction commits: see the package doc.
		if _, err := s.created.Send(ctx, ev); err != nil {
			return &sendError{err}
		}
		return nil
	})
	switch {
	case errors.As(err, new(*sendError)):
		platform.Logger(ctx).ErrorContext(ctx, "order not placed: OrderCreated not sent", "err", err)
		platform.WriteError(w, http.StatusServiceUnavailable, "", "order: the order could not be published, nothing was stored; retry: "+err.Error())
		return
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", "order: "+err.Error())
		return
	case existing != nil:
		platform.WriteJSON(w, http.StatusOK, existing)
		return
	}
	s.metrics.placed.Inc()
	platform.Logger(ctx).InfoContext(ctx, "order placed", "order_id", o.ID, "customer_id", o.CustomerID, "line_items", len(o.LineItems))
	w.Header().Set("Location", "/orders/"+o.ID)
	platform.WriteJSON(w, http.StatusCreated, o)
}

type sendError struct{ err error }

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// createdEvent is the OrderCreated of o.
func createdEvent(o *Order) (*orderevents.OrderCreatedV2, error) {
	ev := &orderevents.OrderCreatedV2{
		OrderID: o.ID, CustomerID: o.CustomerID, CreatedAt: o.CreatedAt,
		ShippingAddress: &commonevents.AddressV1{
			Line1: o.ShippingAddress.Line1, Line2: optional(o.ShippingAddress.Line2), City: o.ShippingAddress.City,
			Region: optional(o.ShippingAddress.Region), PostalCode: o.ShippingAddress.PostalCode,
			CountryCode: o.ShippingAddress.CountryCode,
		},
	}
	for _, li := range o.LineItems {
		ev.LineItems = append(ev.LineItems, orderevents.LineItem{SKU: li.SKU, Quantity: li.Quantity})
	}
	if o.Total != "" {
		total, ok := new(big.Rat).SetString(o.Total)
		if !ok {
			return nil, fmt.Errorf("order: total %q", o.Total)
		}
		ev.Total, ev.Currency = total, &o.Currency
	}
	return ev, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *service) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var o *Order
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		o, err = getOrder(tx, id)
		return err
	})
	switch {
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
	case o == nil:
		platform.WriteError(w, http.StatusNotFound, "", "order: no order "+id)
	default:
		platform.WriteJSON(w, http.StatusOK, o)
	}
}

func (s *service) list(w http.ResponseWriter, r *http.Request) {
	customer := r.URL.Query().Get("customer_id")
	if customer == "" {
		customer = r.URL.Query().Get("customer")
	}
	orders := []*Order{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		if customer == "" {
			return tx.Bucket(bucketOrders).ForEach(func(k, _ []byte) error {
				if len(orders) == maxListed {
					return nil
				}
				o, err := getOrder(tx, string(k))
				if o != nil {
					orders = append(orders, o)
				}
				return err
			})
		}
		prefix := customerKey(customer, "")
		c := tx.Bucket(bucketByCustomer).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(orders) < maxListed; k, _ = c.Next() {
			o, err := getOrder(tx, string(k[len(prefix):]))
			if err != nil {
				return err
			}
			if o != nil {
				orders = append(orders, o)
			}
		}
		return nil
	})
	if err != nil {
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	platform.WriteJSON(w, http.StatusOK, map[string]any{"orders": orders})
}

type cancelRequest struct {
	Reason string `json:"reason"`
}

func (s *service) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	// The body is optional: none (or an empty one) cancels at the
	// customer's request.
	var req cancelRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, platform.MaxBodyBytes+1))
	if err != nil {
		platform.WriteError(w, http.StatusBadRequest, "", "order: reading the body: "+err.Error())
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := platform.DecodeJSON(r, &req); err != nil {
			platform.WriteErr(w, http.StatusBadRequest, err)
			return
		}
	}
	reason := orderevents.CancellationReasonCustomerRequest
	if req.Reason != "" {
		reason = orderevents.CancellationReason(strings.ToUpper(req.Reason))
		if !reason.Valid() || reason == orderevents.CancellationReasonUnknown {
			var names []string
			for _, s := range orderevents.CancellationReasonSymbols[1:] {
				names = append(names, string(s))
			}
			platform.WriteError(w, http.StatusBadRequest, "reason", fmt.Sprintf("reason: %q is not one of %s", req.Reason, strings.Join(names, ", ")))
			return
		}
	}
	ctx := r.Context()
	now := s.now()
	var (
		o        *Order
		conflict string
	)
	err = s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		if o, err = getOrder(tx, id); err != nil || o == nil {
			return err
		}
		// The cancellation continues the trace of the order.
		if tp, err := envelope.ParseTraceParent(o.TraceParent); err == nil {
			ctx = kafka.ContextWithTrace(ctx, tp)
		}
		if !cancellable(o.Status) {
			conflict = fmt.Sprintf("order: order %s is %s: it can no longer be cancelled", id, o.Status)
			return nil
		}
		o.Cancellation = &Cancellation{Reason: string(reason), CancelledAt: now}
		o.advance(StatusCancelled, "POST /orders/{id}/cancel", now)
		o.Status = StatusCancelled
		o.History[len(o.History)-1].Status = StatusCancelled
		if err := putOrder(tx, o); err != nil {
			return err
		}
		if _, err := s.cancelled.Send(ctx, &orderevents.OrderCancelledV1{OrderID: id, Reason: reason, CancelledAt: now}); err != nil {
			return &sendError{err}
		}
		return nil
	})
	switch {
	case errors.As(err, new(*sendError)):
		platform.WriteError(w, http.StatusServiceUnavailable, "", "order: the cancellation could not be published, nothing changed; retry: "+err.Error())
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", "order: "+err.Error())
	case o == nil:
		platform.WriteError(w, http.StatusNotFound, "", "order: no order "+id)
	case conflict != "":
		platform.WriteError(w, http.StatusConflict, "", conflict)
	default:
		s.metrics.cancelled.Inc()
		platform.Logger(ctx).InfoContext(ctx, "order cancelled", "order_id", id, "reason", reason)
		platform.WriteJSON(w, http.StatusOK, o)
	}
}

// now is the service's clock: UTC, milliseconds (what the events carry).
func (s *service) now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
