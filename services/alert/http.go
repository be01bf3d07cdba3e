package alert

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/services/platform"
)

func (s *service) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /alerts", s.listAlerts)
	mux.HandleFunc("GET /alerts/{id}", s.getAlert)
	mux.HandleFunc("POST /alerts/{id}/resolve", s.resolveAlert)
}

// listAlerts lists the alerts, newest first: ?open=true only the open ones,
// ?open=false only the resolved ones; ?entity_id= and ?type= filter further.
func (s *service) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var open *bool
	if v := q.Get("open"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			platform.WriteError(w, http.StatusBadRequest, "open", "open: want true or false, got "+strconv.Quote(v))
			return
		}
		open = &b
	}
	list := []*Alert{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketAlerts).ForEach(func(_, v []byte) error {
			a := new(Alert)
			if err := json.Unmarshal(v, a); err != nil {
				return err
			}
			switch {
			case a.RaisedAt == nil: // resolved before its AlertRaised was read
			case open != nil && *open != (a.Status == StatusOpen):
			case q.Get("entity_id") != "" && q.Get("entity_id") != a.EntityID:
			case q.Get("type") != "" && q.Get("type") != a.Type:
			default:
				list = append(list, a)
			}
			return nil
		})
	})
	if err != nil {
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	slices.SortStableFunc(list, func(a, b *Alert) int { return compareTime(b.RaisedAt, a.RaisedAt) })
	platform.WriteJSON(w, http.StatusOK, map[string]any{"alerts": list})
}

func (s *service) getAlert(w http.ResponseWriter, r *http.Request) {
	var a *Alert
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		a, err = getAlert(tx, r.PathValue("id"))
		return err
	})
	switch {
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
	case a == nil || a.RaisedAt == nil:
		platform.WriteError(w, http.StatusNotFound, "", "alert "+r.PathValue("id")+" not found")
	default:
		platform.WriteJSON(w, http.StatusOK, a)
	}
}

var errResolved = errors.New("alert: already resolved")

// resolveAlert closes an alert by hand (an operator dealt with it), with an
// optional {"resolution": "..."}, and sends its AlertResolved.
func (s *service) resolveAlert(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Resolution string `json:"resolution"`
	}
	if r.ContentLength != 0 {
		if err := platform.DecodeJSON(r, &body); err != nil {
			platform.WriteErr(w, http.StatusBadRequest, err)
			return
		}
	}
	if body.Resolution == "" {
		body.Resolution = "Resolved by an operator."
	}
	var a *Alert
	err := s.db.Update(func(tx *bbolt.Tx) (err error) {
		a, err = getAlert(tx, r.PathValue("id"))
		switch {
		case err != nil || a == nil || a.RaisedAt == nil:
			a = nil
			return err
		case a.Status == StatusResolved:
			return errResolved
		}
		ctx, cancel := context.WithTimeout(r.Context(), sendTimeout)
		defer cancel()
		return s.resolve(ctx, tx, a, body.Resolution)
	})
	switch {
	case errors.Is(err, errResolved):
		platform.WriteError(w, http.StatusConflict, "", "alert "+a.ID+" is resolved already")
	case err != nil:
		platform.WriteError(w, http.StatusInternalServerError, "", err.Error())
	case a == nil:
		platform.WriteError(w, http.StatusNotFound, "", "alert "+r.PathValue("id")+" not found")
	default:
		platform.WriteJSON(w, http.StatusOK, a)
	}
}
