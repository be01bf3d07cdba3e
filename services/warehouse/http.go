package warehouse

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/services/platform"
)

// MaxAdjustment bounds the units of one adjustment.
const MaxAdjustment = 1_000_000

var skuPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (s *service) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /stock", s.adjust)
	mux.HandleFunc("GET /stock", s.list)
	mux.HandleFunc("GET /stock/{sku}", s.get)
	mux.HandleFunc("GET /reservations/{order_id}", s.reservation)
}

type adjustRequest struct {
	SKU      *string `json:"sku"`
	Quantity *int64  `json:"quantity"`
	Reason   string  `json:"reason"`
	Note     string  `json:"note"`
}

// AdjustResponse is the answer to POST /stock.
type AdjustResponse struct {
	Stock
	// Filled are the backordered orders the adjustment let the warehouse
	// reserve.
	Filled []string `json:"filled_backorders"`
}

func (s *service) adjust(w http.ResponseWriter, r *http.Request) {
	var req adjustRequest
	if err := platform.DecodeJSON(r, &req); err != nil {
		platform.WriteErr(w, http.StatusBadRequest, err)
		return
	}
	bad := func(field, format string, args ...any) {
		platform.WriteError(w, http.StatusBadRequest, field, field+": "+fmt.Sprintf(format, args...))
	}
	switch {
	case req.SKU == nil || *req.SKU == "":
		bad("sku", "required")
		return
	case !skuPattern.MatchString(*req.SKU):
		bad("sku", "%q is not a SKU: letters, digits, '.', '_' and '-', at most 64", *req.SKU)
		return
	case req.Quantity == nil:
		bad("quantity", "required: the change in units on hand, positive for goods in, negative for goods out")
		return
	case *req.Quantity == 0 || *req.Quantity > MaxAdjustment || *req.Quantity < -MaxAdjustment:
		bad("quantity", "must be from -%d to %d and not 0, got %d", MaxAdjustment, MaxAdjustment, *req.Quantity)
		return
	case len(req.Note) > 500:
		bad("note", "at most 500 characters")
		return
	}
	reason := warehouseevents.AdjustmentReasonV2Received
	switch {
	case req.Reason != "":
		reason = warehouseevents.AdjustmentReasonV2(strings.ToUpper(req.Reason))
		if !reason.Valid() || reason == warehouseevents.AdjustmentReasonV2Unknown {
			var names []string
			for _, r := range warehouseevents.AdjustmentReasonV2Symbols[1:] {
				names = append(names, string(r))
			}
			bad("reason", "%q is not one of %s", req.Reason, strings.Join(names, ", "))
			return
		}
	case *req.Quantity < 0:
		bad("reason", "required for goods out (DAMAGED, LOST, EXPIRED, CYCLE_COUNT, ...)")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 {
		bad("Idempotency-Key", "at most 200 characters")
		return
	}

	ctx := r.Context()
	now := s.clock()
	sku, change := *req.SKU, *req.Quantity
	var (
		resp     AdjustResponse
		replay   []byte
		conflict string
	)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if key != "" {
			if replay = tx.Bucket(bucketIdempotency).Get([]byte(key)); replay != nil {
				replay = append([]byte(nil), replay...)
				return nil
			}
		}
		st, err := getStock(tx, sku)
		if err != nil {
			return err
		}
		if st.OnHand+change < st.Reserved {
			conflict = fmt.Sprintf("warehouse: %s has %d on hand and %d reserved: %d units out would leave too few for the reservations",
				sku, st.OnHand, st.Reserved, -change)
			return nil
		}
		st.OnHand += change
		st.UpdatedAt = now
		if err := putStock(tx, st); err != nil {
			return err
		}
		ev := &warehouseevents.InventoryAdjustedV2{SKU: sku, WarehouseID: s.warehouseID, QuantityChange: int32(change),
			Reason: reason, AdjustedAt: now}
		if req.Note != "" {
			ev.Note = &req.Note
		}
		// Sent before the transaction commits: see the package doc.
		if _, err := s.adjusted.Send(ctx, ev); err != nil {
			return &sendError{err}
		}
		var filled []string
		if change > 0 {
			if filled, err = s.fillBackorders(ctx, tx, now); err != nil {
				return err
			}
		}
		if st, err = getStock(tx, sku); err != nil {
			return err
		}
		resp = AdjustResponse{Stock: *st, Filled: filled}
		if resp.Filled == nil {
			resp.Filled = []string{}
		}
		if key != "" {
			b, err := json.Marshal(resp)
			if err != nil {
				return err
			}
			return tx.Bucket(bucketIdempotency).Put([]byte(key), b)
		}
		return nil
	})
	switch {
	case errors.As(err, new(*sendError)):
		platform.WriteError(w, http.StatusServiceUnavailable, "", "warehouse: the adjustment could not be published, nothing changed; retry: "+err.Error())
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", "warehouse: "+err.Error())
	case replay != nil:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(replay)
	case conflict != "":
		platform.WriteError(w, http.StatusConflict, "quantity", conflict)
	default:
		s.metrics.adjustments.Inc()
		for range resp.Filled {
			s.metrics.orders.WithLabelValues("backorder_filled").Inc()
		}
		platform.Logger(ctx).InfoContext(ctx, "stock adjusted", "sku", sku, "change", change, "reason", reason,
			"on_hand", resp.OnHand, "filled_backorders", len(resp.Filled))
		platform.WriteJSON(w, http.StatusOK, resp)
	}
}

func (s *service) list(w http.ResponseWriter, _ *http.Request) {
	stock := []*Stock{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketStock).ForEach(func(k, _ []byte) error {
			st, err := getStock(tx, string(k))
			if err == nil {
				stock = append(stock, st)
			}
			return err
		})
	})
	if err != nil {
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	platform.WriteJSON(w, http.StatusOK, map[string]any{"warehouse_id": s.warehouseID, "stock": stock})
}

func (s *service) get(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	var st *Stock
	err := s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketStock).Get([]byte(sku)) == nil {
			return nil
		}
		var err error
		st, err = getStock(tx, sku)
		return err
	})
	switch {
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
	case st == nil:
		platform.WriteError(w, http.StatusNotFound, "", "warehouse: no stock of "+sku)
	default:
		platform.WriteJSON(w, http.StatusOK, st)
	}
}

func (s *service) reservation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("order_id")
	var res *Reservation
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		res, err = getReservation(tx, id)
		return err
	})
	switch {
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
	case res == nil:
		platform.WriteError(w, http.StatusNotFound, "", "warehouse: no order "+id)
	default:
		platform.WriteJSON(w, http.StatusOK, res)
	}
}
