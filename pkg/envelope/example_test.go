package envelope_test

import (
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
)

func ExampleEncode() {
	m, err := envelope.Encode(envelope.Envelope{
		// ID (a new UUIDv7), Time (now) and TraceParent (a new trace) are
		// filled in when left zero; fixed here for the output.
		ID:           "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		Source:       "order-service",
		Type:         "waybill.orders.OrderCreated",
		Time:         time.Date(2026, 11, 22, 9, 30, 15, 0, time.UTC),
		Subject:      "ord-42",
		EventVersion: 2,
		SchemaID:     7,
		Body:         []byte{0x02, 'h', 'i'},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("key %s\nvalue % x\n", m.Key, m.Value)
	for _, h := range m.Headers[:9] { // the last is the new traceparent
		fmt.Printf("%s: %s\n", h.Key, h.Value)
	}
	// Output:
	// key ord-42
	// value 00 00 00 00 07 02 68 69
	// ce_specversion: 1.0
	// ce_id: 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b
	// ce_source: order-service
	// ce_type: waybill.orders.OrderCreated
	// ce_time: 2026-11-22T09:30:15Z
	// ce_subject: ord-42
	// content-type: application/avro
	// waybill_envelope: 1
	// waybill_event_version: 2
}

func ExampleDecoder_Decode() {
	in, _ := envelope.Encode(envelope.Envelope{
		Source: "order-service", Type: "waybill.orders.OrderCreated", Subject: "ord-42",
		EventVersion: 2, SchemaID: 7, Body: []byte{0x02, 'h', 'i'},
	})
	d := envelope.Decoder{KnownType: envelope.KnownTypes("waybill.orders.OrderCreated")}
	e, err := d.Decode(in)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Type, "v", e.EventVersion, "for", e.Subject, "schema ID", e.SchemaID)

	// A damaged record: route it to the dead-letter topic with its reason.
	in.Value = []byte(`{"order_id":"ord-42"}`)
	_, err = d.Decode(in)
	code, reason := envelope.Reason(err)
	fmt.Println(errors.Is(err, envelope.ErrUnknownMagicByte), code, "|", reason)
	// Output:
	// waybill.orders.OrderCreated v 2 for ord-42 schema ID 7
	// true unknown-magic-byte | unknown magic byte 0x7b (want 0x00)
}

func ExampleError() {
	_, err := envelope.Decode(envelope.Message{
		Key:     []byte("ord-42"),
		Value:   []byte{0, 0, 0, 0, 7},
		Headers: []envelope.Header{{Key: "waybill_envelope", Value: []byte("1")}},
	})
	var e *envelope.Error
	if errors.As(err, &e) && errors.Is(err, envelope.ErrMissingHeader) {
		fmt.Println(e.Header)
	}
	fmt.Println(err)
	// Output:
	// ce_specversion
	// envelope: required header ce_specversion is missing
}

func ExampleAppendWire() {
	buf := make([]byte, 0, 64) // reused from message to message
	buf = envelope.AppendWire(buf[:0], 7, nil)
	buf = append(buf, 0x02, 'h', 'i') // the Avro body, e.g. ev.AppendAvro(buf)
	id, body, err := envelope.ParseWire(buf)
	fmt.Printf("% x | %d % x %v\n", buf, id, body, err)
	// Output: 00 00 00 00 07 02 68 69 | 7 02 68 69 <nil>
}

func ExampleTraceParent_Child() {
	in, _ := envelope.ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	out := in.Child() // the event this consumer produces in reaction: same trace, new span
	fmt.Println(out.TraceID == in.TraceID, out.SpanID != in.SpanID, out.String()[:36])

	none := envelope.TraceParent{}     // the received event carried no traceparent
	fmt.Println(none.Child().IsZero()) // so Child starts a new trace
	// Output:
	// true true 00-4bf92f3577b34da6a3ce929d0e0e4736-
	// false
}

func ExampleDeadLetter() {
	in := envelope.Message{Key: []byte("ord-42"), Value: []byte("not an envelope")}
	if _, err := envelope.Decode(in); err != nil {
		out := envelope.DeadLetter(in, err) // produce to the dead-letter topic
		for _, h := range out.Headers {
			fmt.Printf("%s: %s\n", h.Key, h.Value)
		}
	}
	// Output:
	// waybill_dlq_code: missing-header
	// waybill_dlq_reason: required header waybill_envelope is missing
}

func ExampleTemplate() {
	// Once per producer, event type and version, with the schema ID the
	// serde looked up (serde.Writer.SchemaID).
	tmpl, err := envelope.NewTemplate("order-service", orderevents.OrderCreatedEventType, 2, 7)
	if err != nil {
		panic(err)
	}

	// Per event, into a Message reused from event to event: the body is
	// encoded in place, after the wire header.
	ev := &orderevents.OrderCreatedV2{
		OrderID: "ord-42", CustomerID: "cus-7",
		LineItems: []orderevents.LineItem{{SKU: "SKU-MUG-350", Quantity: 1}},
		CreatedAt: time.Date(2026, 11, 22, 9, 30, 15, 0, time.UTC), Total: big.NewRat(1250, 100),
	}
	parent, _ := envelope.ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	var m envelope.Message
	err = tmpl.EncodeInto(&m, envelope.Fields{
		Subject: ev.OrderID,
		// A new UUIDv7 and the current time when left zero; fixed here for
		// the output. A producer passes the incoming trace's Child().
		ID:          "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		Time:        time.Date(2026, 11, 22, 9, 30, 15, 250_000_000, time.UTC),
		TraceParent: parent,
	}, ev)
	if err != nil {
		panic(err)
	}
	fmt.Printf("key %s\nvalue % x ... (%d bytes)\n", m.Key, m.Value[:5], len(m.Value))
	for _, h := range m.Headers {
		fmt.Printf("%s: %s\n", h.Key, h.Value)
	}
	// Output:
	// key ord-42
	// value 00 00 00 00 07 ... (46 bytes)
	// ce_specversion: 1.0
	// ce_id: 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b
	// ce_source: order-service
	// ce_type: waybill.orders.OrderCreated
	// ce_time: 2026-11-22T09:30:15.25Z
	// ce_subject: ord-42
	// content-type: application/avro
	// waybill_envelope: 1
	// waybill_event_version: 2
	// traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}
