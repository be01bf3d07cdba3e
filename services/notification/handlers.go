package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/waybill/waybill/pkg/events/alertevents"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/dedup"
	"github.com/waybill/waybill/services/platform"
)

// The service's buckets in the bbolt file it shares with the de-duplication
// store:
//
//	notification.orders     order_id    -> customer_id
//	notification.shipments  shipment_id -> order_id
//	notification.messages   "<customer_id> NUL <sent_at, 20-digit Unix ns> NUL <message id>"
//	                        -> Message (JSON): a customer's messages in order
//	notification.ids        message id  -> its key in notification.messages,
//	                        or "" while pending: one message per ID
//	notification.cancelled  order_id    -> "" for the cancelled orders
//	notification.pending    message id  -> Message whose customer is not
//	                        known yet (its OrderCreated or ShipmentCreated
//	                        not read yet: the topics are read independently)
var (
	bucketOrders    = []byte("notification.orders")
	bucketShipments = []byte("notification.shipments")
	bucketMessages  = []byte("notification.messages")
	bucketIDs       = []byte("notification.ids")
	bucketPending   = []byte("notification.pending")
	bucketCancelled = []byte("notification.cancelled")
)

type service struct {
	db     *bbolt.DB
	logger *slog.Logger
	sent   *prometheus.CounterVec
}

func newService(db *bbolt.DB, logger *slog.Logger, r prometheus.Registerer) (*service, error) {
	err := db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketOrders, bucketShipments, bucketMessages, bucketIDs, bucketPending, bucketCancelled} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("notification: bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s := &service{db: db, logger: logger, sent: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "waybill_notifications_total", Help: "Messages recorded for customers, by kind.",
	}, []string{"kind"})}
	if err := r.Register(s.sent); err != nil {
		return nil, fmt.Errorf("notification: %w", err)
	}
	return s, nil
}

func (s *service) register(c *consumer.Consumer) {
	orderevents.HandleOrderCreated(c, s.onOrderCreated)
	orderevents.HandleOrderCancelled(c, s.onOrderCancelled)
	shipmentevents.HandleShipmentCreated(c, s.onShipmentCreated)
	// Version 1, while shipment-service writes version 2: this service
	// only tells customers of OUT_FOR_DELIVERY and DELIVERED, which v1 has;
	// a RETURNED written with v2 reads as UNKNOWN here, and is ignored.
	shipmentevents.HandleShipmentStatusChangedV1(c, s.onStatusChanged)
	alertevents.HandleAlertRaised(c, s.onAlertRaised)
}

func txOf(ctx context.Context) (*bbolt.Tx, error) {
	tx := dedup.Tx(ctx)
	if tx == nil {
		return nil, errors.New("notification: handler runs outside a bbolt de-duplication transaction (the consumer needs dedup.OpenBolt)")
	}
	return tx, nil
}

func (s *service) onOrderCreated(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCreatedV2) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketOrders).Put([]byte(ev.OrderID), []byte(ev.CustomerID)); err != nil {
		return err
	}
	if err := s.record(ctx, tx, m, orderCreatedMessage(ev)); err != nil {
		return err
	}
	return s.flush(tx)
}

func (s *service) onOrderCancelled(ctx context.Context, m consumer.Meta, ev *orderevents.OrderCancelledV1) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketCancelled).Put([]byte(ev.OrderID), nil); err != nil {
		return err
	}
	return s.record(ctx, tx, m, orderCancelledMessage(ev))
}

func (s *service) onShipmentCreated(ctx context.Context, m consumer.Meta, ev *shipmentevents.ShipmentCreatedV1) error {
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketShipments).Put([]byte(ev.ShipmentID), []byte(ev.OrderID)); err != nil {
		return err
	}
	if tx.Bucket(bucketCancelled).Get([]byte(ev.OrderID)) != nil {
		// Booked while the cancellation was on its way: the shipment
		// service cancels it before pick-up; the customer was told the
		// order is cancelled, and is not told it ships.
		platform.Logger(ctx).Info("no notification: shipment of a cancelled order", "order_id", ev.OrderID, "shipment_id", ev.ShipmentID)
	} else if err := s.record(ctx, tx, m, shipmentCreatedMessage(ev)); err != nil {
		return err
	}
	return s.flush(tx)
}

func (s *service) onStatusChanged(ctx context.Context, m consumer.Meta, ev *shipmentevents.ShipmentStatusChangedV1) error {
	msg := statusMessage(ev)
	if msg == nil {
		return nil
	}
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	return s.record(ctx, tx, m, msg)
}

func (s *service) onAlertRaised(ctx context.Context, m consumer.Meta, ev *alertevents.AlertRaisedV2) error {
	msg := alertMessage(ev)
	if msg == nil {
		return nil // not about a customer's order or parcel, or internal
	}
	tx, err := txOf(ctx)
	if err != nil {
		return err
	}
	return s.record(ctx, tx, m, msg)
}

// record keeps msg for its customer, once per message ID; a message whose
// customer is not known yet waits in notification.pending.
func (s *service) record(ctx context.Context, tx *bbolt.Tx, m consumer.Meta, msg *Message) error {
	if tx.Bucket(bucketIDs).Get([]byte(msg.ID)) != nil {
		return nil // the same message from a re-sent event
	}
	msg.TraceID, msg.EventID = platform.TraceID(ctx), m.ID
	resolve(tx, msg)
	if msg.CustomerID == "" {
		b, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketPending).Put([]byte(msg.ID), b); err != nil {
			return err
		}
		platform.Logger(ctx).Debug("notification waits for its customer", "id", msg.ID, "order_id", msg.OrderID, "shipment_id", msg.ShipmentID)
		return tx.Bucket(bucketIDs).Put([]byte(msg.ID), []byte{})
	}
	return s.deliver(tx, msg)
}

// resolve finds msg's order from its shipment and its customer from its
// order.
func resolve(tx *bbolt.Tx, msg *Message) {
	if msg.OrderID == "" && msg.ShipmentID != "" {
		msg.OrderID = string(tx.Bucket(bucketShipments).Get([]byte(msg.ShipmentID)))
	}
	if msg.CustomerID == "" && msg.OrderID != "" {
		msg.CustomerID = string(tx.Bucket(bucketOrders).Get([]byte(msg.OrderID)))
	}
}

// deliver stores msg under its customer and logs it: the log line is the
// message "sent".
func (s *service) deliver(tx *bbolt.Tx, msg *Message) error {
	msg.finish()
	msg.SentAt = time.Now().UTC()
	key := msg.CustomerID + "\x00" + fmt.Sprintf("%020d", msg.SentAt.UnixNano()) + "\x00" + msg.ID
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketMessages).Put([]byte(key), b); err != nil {
		return err
	}
	if err := tx.Bucket(bucketIDs).Put([]byte(msg.ID), []byte(key)); err != nil {
		return err
	}
	s.sent.WithLabelValues(msg.Kind).Inc()
	s.logger.Info("notification", "customer_id", msg.CustomerID, "order_id", msg.OrderID, "shipment_id", msg.ShipmentID,
		"kind", msg.Kind, "text", msg.Text, "trace_id", msg.TraceID, "event_id", msg.EventID)
	return nil
}

// flush delivers the pending messages whose customer is known now, in the
// order of the events they report.
func (s *service) flush(tx *bbolt.Tx) error {
	pending := tx.Bucket(bucketPending)
	var ready []*Message
	err := pending.ForEach(func(_, v []byte) error {
		msg := new(Message)
		if err := json.Unmarshal(v, msg); err != nil {
			return err
		}
		if resolve(tx, msg); msg.CustomerID != "" {
			ready = append(ready, msg)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(ready, func(a, b *Message) int { return a.At.Compare(b.At) })
	for _, msg := range ready {
		if err := pending.Delete([]byte(msg.ID)); err != nil {
			return err
		}
		if err := s.deliver(tx, msg); err != nil {
			return err
		}
	}
	return nil
}
