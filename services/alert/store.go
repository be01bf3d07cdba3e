package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/kafka/dedup"
)

// The service's buckets in the bbolt file it shares with the de-duplication
// store:
//
//	alert.alerts  alert_id -> Alert (JSON), open and resolved
//	alert.open    "<ENTITY_TYPE>/<entity_id>/<alert_id>" -> "" for every
//	              open alert, under its entity and, for an alert about an
//	              order's shortage, under each SKU it names (SKU/<sku>/...),
//	              so the event that ends a cause finds its alerts by prefix
//	alert.settled "<ENTITY_TYPE>/<entity_id>" -> resolution, for an order
//	              reserved or cancelled and a shipment delivered: the
//	              cause of a shortage or delay alert about it is gone, so
//	              such an alert read later (the topics are read
//	              independently) is resolved as soon as it is recorded
var (
	bucketAlerts  = []byte("alert.alerts")
	bucketOpen    = []byte("alert.open")
	bucketSettled = []byte("alert.settled")
)

// Alert statuses.
const (
	StatusOpen     = "OPEN"
	StatusResolved = "RESOLVED"
)

// Alert is an alert as the service keeps it and GET /alerts returns it.
type Alert struct {
	ID          string            `json:"alert_id"`
	Status      string            `json:"status"`
	Type        string            `json:"type,omitempty"`
	Severity    string            `json:"severity,omitempty"`
	EntityType  string            `json:"entity_type,omitempty"`
	EntityID    string            `json:"entity_id,omitempty"`
	Description string            `json:"description,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	RaisedAt    *time.Time        `json:"raised_at,omitempty"`
	// RaisedBy is the service that raised it (the AlertRaised's ce_source).
	RaisedBy   string     `json:"raised_by,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	// TraceID is the trace of the AlertRaised, to follow it in the logs.
	TraceID string `json:"trace_id,omitempty"`
	// Restocked counts the units of each of its SKUs received since it was
	// raised (a shortage alert is resolved once they cover the shortfall).
	Restocked map[string]int64 `json:"restocked,omitempty"`
}

func alertFrom(ev *alertevents.AlertRaisedV2) *Alert {
	at := ev.RaisedAt
	return &Alert{
		ID: ev.AlertID, Status: StatusOpen, Type: string(ev.Type), Severity: string(ev.Severity),
		EntityType: string(ev.Entity.EntityType), EntityID: ev.Entity.EntityID, Description: ev.Description,
		Attributes: ev.Attributes, RaisedAt: &at,
	}
}

// skus lists the SKUs an alert is about: its entity when that is a SKU, and
// those named by its attributes (sku, skus, short_skus, missing_skus:
// comma-separated), which is how a shortage alert about an order names
// what is short.
func (a *Alert) skus() []string {
	var out []string
	if a.EntityType == string(alertevents.EntityTypeSKU) {
		out = append(out, a.EntityID)
	}
	for _, k := range []string{"sku", "skus", "short_skus", "missing_skus"} {
		for s := range strings.SplitSeq(a.Attributes[k], ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// covered reports whether the units restocked since the alert cover the
// shortfall of every SKU it names: the "shortfall" attribute
// ("SKU-A:3,SKU-B:1", as the warehouse writes it) when it says, one unit
// otherwise.
func (a *Alert) covered() bool {
	need := map[string]int64{}
	for part := range strings.SplitSeq(a.Attributes["shortfall"], ",") {
		sku, n, ok := strings.Cut(strings.TrimSpace(part), ":")
		if v, err := strconv.ParseInt(n, 10, 64); ok && err == nil {
			need[sku] = v
		}
	}
	for _, sku := range a.skus() {
		if a.Restocked[sku] < max(need[sku], 1) {
			return false
		}
	}
	return true
}

// indexKeys are the alert's keys in alert.open.
func (a *Alert) indexKeys() [][]byte {
	var keys [][]byte
	if a.EntityType != "" {
		keys = append(keys, []byte(a.EntityType+"/"+a.EntityID+"/"+a.ID))
	}
	for _, s := range a.skus() {
		if k := []byte(string(alertevents.EntityTypeSKU) + "/" + s + "/" + a.ID); !slices.ContainsFunc(keys, func(b []byte) bool { return bytes.Equal(b, k) }) {
			keys = append(keys, k)
		}
	}
	return keys
}

func createBuckets(db *bbolt.DB) error {
	return db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketAlerts, bucketOpen, bucketSettled} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("alert: bucket %s: %w", b, err)
			}
		}
		return nil
	})
}

func txOf(ctx context.Context) (*bbolt.Tx, error) {
	tx := dedup.Tx(ctx)
	if tx == nil {
		return nil, errors.New("alert: handler runs outside a bbolt de-duplication transaction (the consumer needs dedup.OpenBolt)")
	}
	return tx, nil
}

func getAlert(tx *bbolt.Tx, id string) (*Alert, error) {
	v := tx.Bucket(bucketAlerts).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	a := new(Alert)
	if err := json.Unmarshal(v, a); err != nil {
		return nil, fmt.Errorf("alert: alert %q: %w", id, err)
	}
	return a, nil
}

// putAlert stores a and keeps alert.open in step with its status.
func putAlert(tx *bbolt.Tx, a *Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("alert: alert %q: %w", a.ID, err)
	}
	if err := tx.Bucket(bucketAlerts).Put([]byte(a.ID), b); err != nil {
		return err
	}
	open := tx.Bucket(bucketOpen)
	for _, k := range a.indexKeys() {
		if a.Status == StatusOpen {
			err = open.Put(k, nil)
		} else {
			err = open.Delete(k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// openAlerts returns the open alerts about an entity (entityType "SKU" finds
// the shortage alerts naming it too), oldest first.
func openAlerts(tx *bbolt.Tx, entityType alertevents.EntityType, entityID string) ([]*Alert, error) {
	prefix := []byte(string(entityType) + "/" + entityID + "/")
	var ids []string
	c := tx.Bucket(bucketOpen).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	var out []*Alert
	for _, id := range ids {
		a, err := getAlert(tx, id)
		if err != nil {
			return nil, err
		}
		if a != nil && a.Status == StatusOpen {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *Alert) int { return compareTime(a.RaisedAt, b.RaisedAt) })
	return out, nil
}

func compareTime(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Compare(*b)
}

// settle records that the causes of shortage or delay alerts about an
// entity are gone, with the resolution to give such an alert read later.
func settle(tx *bbolt.Tx, entityType alertevents.EntityType, entityID, resolution string) error {
	return tx.Bucket(bucketSettled).Put([]byte(string(entityType)+"/"+entityID), []byte(resolution))
}

// settled returns the resolution settle recorded for an entity, if any.
func settled(tx *bbolt.Tx, entityType alertevents.EntityType, entityID string) (string, bool) {
	v := tx.Bucket(bucketSettled).Get([]byte(string(entityType) + "/" + entityID))
	return string(v), v != nil
}
