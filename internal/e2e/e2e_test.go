package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/internal/demo"
	"github.com/waybill/waybill/internal/devstack"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/shipmentevents"
	"github.com/waybill/waybill/pkg/events/warehouseevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/services/alert"
	"github.com/waybill/waybill/services/notification"
	"github.com/waybill/waybill/services/order"
	"github.com/waybill/waybill/services/platform"
	"github.com/waybill/waybill/services/platform/platformtest"
	"github.com/waybill/waybill/services/shipment"
	"github.com/waybill/waybill/services/warehouse"
)

const schemas = "../../schemas"

// step is the shipment service's time between two statuses: a journey of
// about a second and a half.
const step = 300 * time.Millisecond

// TestEndToEnd runs the stack of `waybill dev` with the warehouse service
// outside it (run here, so it can be stopped and started again), and checks
// in turn: the demo's script and the messages its customers got; a corrupt
// record on shipment-events; a warehouse restarted while orders arrive.
func TestEndToEnd(t *testing.T) {
	ctx := t.Context()
	logger := platformtest.Logger()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	s, err := devstack.Start(sctx, devstack.Config{
		Dir:          t.TempDir(),
		Schemas:      schemas,
		KafkaAddr:    "127.0.0.1:0",
		RegistryAddr: "127.0.0.1:0",
		ServicesAddr: "127.0.0.1:0",
		Services: []devstack.Service{
			order.Service(),
			platform.Service(shipment.Name, shipment.Options{Step: step}.Setup),
			alert.Service(),
			notification.Service(),
		},
		Logger: logger,
	})
	if err != nil {
		t.Fatalf("devstack.Start: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Close(cctx); err != nil {
			t.Errorf("closing the stack: %v", err)
		}
	})

	wh := startWarehouse(t, s, "127.0.0.1:0")
	urls := map[string]string{warehouse.Name: wh.url}
	for _, svc := range s.Services() {
		urls[svc.Name] = svc.URL
	}
	c := &demo.Client{URLs: urls}

	t.Run("script", func(t *testing.T) { testScript(t, c, urls) })
	t.Run("corrupt event", func(t *testing.T) { testCorruptEvent(t, s, c) })
	t.Run("warehouse restart", func(t *testing.T) { testWarehouseRestart(t, s, c, wh) })
	wh.stop(t)
	select {
	case <-s.Done():
		t.Errorf("the stack stopped by itself: %v", s.Err())
	default:
	}
}

// testScript runs the demo's script and checks the messages each customer
// got: the ones of its scenario, once each, about its order, each carrying
// the trace of the order's POST.
func testScript(t *testing.T, c *demo.Client, urls map[string]string) {
	outs, err := demo.Script(t.Context(), demo.Config{URLs: urls, Timeout: 60 * time.Second, Step: step})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range outs {
		sc, o := out.Scenario, out.Order
		msgs, err := c.Notifications(t.Context(), sc.CustomerID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, m := range msgs {
			if m.OrderID != o.ID {
				continue
			}
			kinds = append(kinds, m.Kind)
			if m.TraceID != o.TraceID {
				t.Errorf("%s: message %s has trace %s, want the order's %s", sc.Title, m.ID, m.TraceID, o.TraceID)
			}
			if m.CustomerID != sc.CustomerID || m.Text == "" {
				t.Errorf("%s: message %+v", sc.Title, m)
			}
		}
		want := slices.Clone(sc.Kinds)
		if sc.Cancel {
			// The shipment may have been booked before the cancellation
			// reached the shipment service (the topics are read
			// independently): then it is announced, and cancelled.
			if slices.Contains(kinds, "shipment_created") {
				want = append(want, "shipment_created")
			}
		}
		slices.Sort(kinds)
		slices.Sort(want)
		if !slices.Equal(kinds, want) {
			t.Errorf("%s: %s got messages %v, want %v (once each)", sc.Title, sc.CustomerID, kinds, want)
		}
	}
}

// testCorruptEvent writes a record whose value has a bad magic byte, with
// a well-formed envelope's headers, to every partition of shipment-events.
// Each group that reads the topic dead-letters it (code
// unknown-magic-byte), and an order placed after it is delivered: its
// shipment's events pass the corrupt record.
func testCorruptEvent(t *testing.T, s *devstack.Stack, c *demo.Client) {
	ctx := t.Context()
	topic := shipmentevents.ShipmentStatusChangedTopic
	p, err := ck.NewProducer(ptr(s.Config().ConfigMap(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	md, err := p.GetMetadata(&topic, false, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, part := range md.Topics[topic].Partitions {
		m, err := envelope.Encode(envelope.Envelope{
			Source: "e2e-test", Type: shipmentevents.ShipmentStatusChangedEventType, Subject: fmt.Sprintf("shp-corrupt-%d", part.ID),
			EventVersion: shipmentevents.ShipmentStatusChangedV2Version, SchemaID: 1, Body: []byte("not avro"),
		})
		if err != nil {
			t.Fatal(err)
		}
		m.Value[0] = 0x2a // not the wire format's magic byte
		id, _ := m.Header(envelope.HeaderID)
		ids[string(id)] = true
		var headers []ck.Header
		for _, h := range m.Headers {
			headers = append(headers, ck.Header{Key: h.Key, Value: h.Value})
		}
		done := make(chan ck.Event, 1)
		err = p.Produce(&ck.Message{TopicPartition: ck.TopicPartition{Topic: &topic, Partition: part.ID}, Key: m.Key, Value: m.Value, Headers: headers}, done)
		if err != nil {
			t.Fatal(err)
		}
		if dm := (<-done).(*ck.Message); dm.TopicPartition.Error != nil {
			t.Fatalf("producing the corrupt record: %v", dm.TopicPartition.Error)
		}
	}

	// Placed after the corrupt records: its shipment's events come after
	// them on their partition.
	later, err := c.PlaceOrder(ctx, demo.NewOrder{
		CustomerID: "cus-after-corrupt", LineItems: []order.LineItem{{SKU: "SKU-MUG-350", Quantity: 1}},
		ShippingAddress: order.Address{Line1: "Coolsingel 40", City: "Rotterdam", PostalCode: "3011 AD", CountryCode: "NL"},
	})
	if err != nil {
		t.Fatal(err)
	}

	groups := []string{"order-service", "warehouse-service", "alert-service", "notification-service"}
	var letters []kafka.DeadLetter
	platformtest.Eventually(t, 60*time.Second, func() error {
		all, err := kafka.ReadDeadLetters(ctx, s.Config(), topic)
		if err != nil {
			return err
		}
		letters = letters[:0]
		for _, l := range all {
			if ids[l.ID()] {
				letters = append(letters, l)
			}
		}
		if len(letters) < len(ids)*len(groups) {
			return fmt.Errorf("%d dead letters of the %d corrupt records, want one per record and group (%v)", len(letters), len(ids), groups)
		}
		return nil
	})
	byGroup := map[string]int{}
	for _, l := range letters {
		byGroup[l.Group]++
		if l.Code != string(envelope.ErrUnknownMagicByte) || l.Topic != topic || l.Attempts != 0 || l.Message.Value[0] != 0x2a {
			t.Errorf("dead letter %s of group %s: code %q, topic %s, attempts %d, value %q", l.ID(), l.Group, l.Code, l.Topic, l.Attempts, l.Message.Value)
		}
	}
	for _, g := range groups {
		if byGroup[g] != len(ids) {
			t.Errorf("group %s dead-lettered %d corrupt records, want %d (by group: %v)", g, byGroup[g], len(ids), byGroup)
		}
	}

	platformtest.Eventually(t, 60*time.Second, func() error {
		o, err := c.Order(ctx, later.ID)
		if err != nil {
			return err
		}
		msgs, err := c.Notifications(ctx, "cus-after-corrupt")
		if err != nil {
			return err
		}
		if o.Status != order.StatusDelivered || !slices.ContainsFunc(msgs, func(m notification.Message) bool { return m.Kind == "delivered" }) {
			return fmt.Errorf("the order placed after the corrupt records is %s, with %d messages; want DELIVERED, and told", o.Status, len(msgs))
		}
		return nil
	})
}

// testWarehouseRestart places orders at a steady pace while the warehouse
// stops (gracefully, as on SIGTERM) and starts again on the same data
// directory and address. Every order is reserved, once.
func testWarehouseRestart(t *testing.T, s *devstack.Stack, c *demo.Client, wh *warehouseRun) {
	ctx := t.Context()
	const n = 60
	const customer = "cus-restart"
	skus := []string{"SKU-MUG-350", "SKU-TSHIRT-M-BLU", "SKU-SOCKS-L-GRY", "SKU-POSTER-A2"}
	var (
		mu      sync.Mutex
		ids     []string
		placed  atomic.Int32
		whileDn atomic.Int32
		down    atomic.Bool
		errc    = make(chan error, 1)
	)
	go func() {
		defer close(errc)
		for i := range n {
			o, err := c.PlaceOrder(ctx, demo.NewOrder{
				CustomerID: customer, LineItems: []order.LineItem{{SKU: skus[i%len(skus)], Quantity: 1}},
				ShippingAddress: order.Address{Line1: fmt.Sprintf("Prinsengracht %d", i+1), City: "Amsterdam", PostalCode: "1016 GV", CountryCode: "NL"},
			})
			if err != nil {
				errc <- err
				return
			}
			mu.Lock()
			ids = append(ids, o.ID)
			mu.Unlock()
			placed.Add(1)
			if down.Load() {
				whileDn.Add(1)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()

	platformtest.Eventually(t, 30*time.Second, func() error {
		if placed.Load() < n/3 {
			return errors.New("waiting for a third of the orders")
		}
		return nil
	})
	down.Store(true)
	wh.stop(t)
	time.Sleep(500 * time.Millisecond) // orders arrive while it is down
	wh.start(t, s)
	down.Store(false)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d orders, %d placed while the warehouse was down", n, whileDn.Load())
	if whileDn.Load() == 0 {
		t.Errorf("no order was placed while the warehouse was down")
	}

	beyond := []string{order.StatusReserved, order.StatusAwaitingPickup, order.StatusShipped, order.StatusOutForDelivery, order.StatusDelivered}
	platformtest.Eventually(t, 60*time.Second, func() error {
		orders, err := c.CustomerOrders(ctx, customer)
		if err != nil {
			return err
		}
		var late []string
		for _, o := range orders {
			if !slices.Contains(beyond, o.Status) {
				late = append(late, o.ID+" "+o.Status)
			}
		}
		if len(orders) != n || len(late) > 0 {
			return fmt.Errorf("%d orders, %d not reserved yet: %v", len(orders), len(late), late)
		}
		return nil
	})

	reserved := map[string]int{}
	for _, m := range readAll(t, s.Config(), warehouseevents.InventoryReservedTopic) {
		env, err := envelope.Decode(m)
		if err != nil {
			t.Fatalf("warehouse-events: %v", err)
		}
		if env.Type != warehouseevents.InventoryReservedEventType {
			continue
		}
		ev := new(warehouseevents.InventoryReservedV1)
		if err := ev.UnmarshalAvro(env.Body); err != nil {
			t.Fatalf("warehouse-events: InventoryReserved %s: %v", env.ID, err)
		}
		reserved[ev.OrderID]++
	}
	for _, id := range ids {
		if reserved[id] != 1 {
			t.Errorf("order %s: %d InventoryReserved on warehouse-events, want 1", id, reserved[id])
		}
	}
}

// warehouseRun is the warehouse service run by the test, outside the stack.
type warehouseRun struct {
	addr, url string
	cancel    context.CancelFunc
	done      chan error
}

// startWarehouse runs the warehouse service as the stack would
// (platform.FromDevstack's configuration) on addr.
func startWarehouse(t *testing.T, s *devstack.Stack, addr string) *warehouseRun {
	w := &warehouseRun{addr: addr}
	w.start(t, s)
	return w
}

func (w *warehouseRun) start(t *testing.T, s *devstack.Stack) {
	t.Helper()
	ln, err := net.Listen("tcp", w.addr)
	if err != nil {
		t.Fatalf("warehouse: %v", err)
	}
	w.addr = ln.Addr().String()
	w.url = "http://" + w.addr
	cfg := platform.Config{
		Name: warehouse.Name, Kafka: s.Config(), RegistryURL: s.RegistryURL(),
		Dir: filepath.Join(s.Dir(), warehouse.Name), Listener: ln, Logger: platformtest.Logger().With("component", warehouse.Name),
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan error, 1)
	go func() { w.done <- platform.Run(ctx, cfg, warehouse.Options{}.Setup) }()
	platformtest.Eventually(t, 30*time.Second, func() error {
		select {
		case err := <-w.done:
			t.Fatalf("warehouse stopped: %v", err)
		default:
		}
		resp, err := http.Get(w.url + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("warehouse /healthz: %s", resp.Status)
		}
		return nil
	})
}

// stop stops the warehouse as SIGTERM does, and waits for it.
func (w *warehouseRun) stop(t *testing.T) {
	t.Helper()
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("warehouse stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("warehouse did not stop in 30s")
	}
}

// readAll returns every record of topic, from the beginning of each
// partition to its end at the time of the call.
func readAll(t *testing.T, cfg kafka.Config, topic string) []envelope.Message {
	t.Helper()
	cons, err := ck.NewConsumer(ptr(cfg.ConfigMap(map[string]any{
		"group.id": "e2e-readall", "enable.auto.commit": false, "auto.offset.reset": "earliest",
	})))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	md, err := cons.GetMetadata(&topic, false, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var assign []ck.TopicPartition
	end := map[int32]int64{}
	for _, p := range md.Topics[topic].Partitions {
		_, high, err := cons.QueryWatermarkOffsets(topic, p.ID, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		if high > 0 {
			end[p.ID] = high
			assign = append(assign, ck.TopicPartition{Topic: &topic, Partition: p.ID, Offset: ck.OffsetBeginning})
		}
	}
	if len(assign) == 0 {
		return nil
	}
	if err := cons.Assign(assign); err != nil {
		t.Fatal(err)
	}
	var out []envelope.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(end) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("reading %s: partitions %v not read to their end in 30s", topic, end)
		}
		m, ok := cons.Poll(100).(*ck.Message)
		if !ok || m.TopicPartition.Error != nil {
			continue
		}
		em := envelope.Message{Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			em.Headers = append(em.Headers, envelope.Header{Key: h.Key, Value: h.Value})
		}
		out = append(out, em)
		if p := m.TopicPartition.Partition; int64(m.TopicPartition.Offset)+1 >= end[p] {
			delete(end, p)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
