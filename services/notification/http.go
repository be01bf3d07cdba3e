package notification

import (
	"encoding/json"
	"net/http"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/services/platform"
)

func (s *service) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /notifications", s.listNotifications)
}

// listNotifications returns a customer's messages in the order they were
// sent
// (?customer= is required; ?order_id= narrows them to one order).
func (s *service) listNotifications(w http.ResponseWriter, r *http.Request) {
	customer, orderID := r.URL.Query().Get("customer"), r.URL.Query().Get("order_id")
	if customer == "" {
		platform.WriteError(w, http.StatusBadRequest, "customer", "customer: the customer ID is required (?customer=...)")
		return
	}
	list := []*Message{}
	prefix := []byte(customer + "\x00")
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketMessages).Cursor()
		for k, v := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			m := new(Message)
			if err := json.Unmarshal(v, m); err != nil {
				return err
			}
			if orderID == "" || m.OrderID == orderID {
				list = append(list, m)
			}
		}
		return nil
	})
	if err != nil {
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	platform.WriteJSON(w, http.StatusOK, map[string]any{"customer": customer, "notifications": list})
}
