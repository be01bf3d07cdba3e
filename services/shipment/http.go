package shipment

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/services/platform"
)

// routes adds the HTTP API to mux.
func (s *service) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /shipments/{id}", s.getShipment)
	mux.HandleFunc("GET /shipments", s.listShipments)
	mux.HandleFunc("POST /shipments/{id}/delay", s.delayShipment)
}

func (s *service) getShipment(w http.ResponseWriter, r *http.Request) {
	var sh *Shipment
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		sh, err = get[Shipment](tx, bucketShipments, r.PathValue("id"))
		return err
	})
	switch {
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
	case sh == nil:
		platform.WriteError(w, http.StatusNotFound, "", "shipment "+r.PathValue("id")+" not found")
	default:
		platform.WriteJSON(w, http.StatusOK, sh)
	}
}

// listShipments lists the shipments, oldest first; ?order_id= and ?status=
// filter them.
func (s *service) listShipments(w http.ResponseWriter, r *http.Request) {
	orderID, status := r.URL.Query().Get("order_id"), r.URL.Query().Get("status")
	list := []*Shipment{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketShipments).ForEach(func(k, v []byte) error {
			sh := new(Shipment)
			if err := json.Unmarshal(v, sh); err != nil {
				return err
			}
			if (orderID == "" || sh.OrderID == orderID) && (status == "" || sh.Status == status) {
				list = append(list, sh)
			}
			return nil
		})
	})
	if err != nil {
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].CreatedAt.Before(list[j].CreatedAt) })
	platform.WriteJSON(w, http.StatusOK, map[string]any{"shipments": list})
}

var errNotActive = errors.New("shipment: not on its way")

// delayShipment is the delay demo's hook: the shipment is held IN_TRANSIT
// until it is past its ETA, so it raises its DELAY alert, and then goes on.
func (s *service) delayShipment(w http.ResponseWriter, r *http.Request) {
	var sh *Shipment
	err := s.db.Update(func(tx *bbolt.Tx) (err error) {
		sh, err = get[Shipment](tx, bucketShipments, r.PathValue("id"))
		if err != nil || sh == nil {
			return err
		}
		if !sh.active() || sh.Status == string(shipmentevents.ShipmentStatusV2OutForDelivery) {
			return errNotActive // the hold is IN_TRANSIT: too late once out for delivery
		}
		sh.HeldForDelay = true
		return putShipment(tx, sh)
	})
	switch {
	case errors.Is(err, errNotActive):
		platform.WriteError(w, http.StatusConflict, "", "shipment "+sh.ID+" is "+sh.Status+": too late to delay it")
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
	case sh == nil:
		platform.WriteError(w, http.StatusNotFound, "", "shipment "+r.PathValue("id")+" not found")
	default:
		platform.Logger(r.Context()).Info("shipment held for the delay demo", "shipment_id", sh.ID, "eta", sh.ETA)
		platform.WriteJSON(w, http.StatusAccepted, sh)
	}
}
