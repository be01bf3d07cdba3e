package envelope_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
)

// rawBody is an AvroAppender of an already encoded body.
type rawBody []byte

func (b rawBody) AppendAvro(dst []byte) ([]byte, error) { return append(dst, b...), nil }

// failingBody fails after appending a few bytes.
type failingBody struct{}

var errBody = errors.New("no such line item")

func (failingBody) AppendAvro(dst []byte) ([]byte, error) { return append(dst, 1, 2, 3), errBody }

const (
	tSource  = "order-service"
	tType    = "waybill.orders.OrderCreated"
	tVersion = 2
	tID      = uint32(7)
)

func traceOf(t testing.TB, s string) envelope.TraceParent {
	t.Helper()
	tp, err := envelope.ParseTraceParent(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// encodeBoth encodes f with body through a Template and through
// EncodeInto, each into a Message that held m0 before.
func encodeBoth(t *testing.T, tmpl *envelope.Template, f envelope.Fields, body []byte) (got, want envelope.Message, gotErr, wantErr error) {
	t.Helper()
	gotErr = tmpl.EncodeInto(&got, f, rawBody(body))
	wantErr = envelope.EncodeInto(&want, envelope.Envelope{
		ID: f.ID, Source: tSource, Type: tType, Time: f.Time, Subject: f.Subject,
		EventVersion: tVersion, TraceParent: f.TraceParent, SchemaID: tID, Body: body,
	})
	return got, want, gotErr, wantErr
}

// sameMessage compares key, value and headers (names, order and bytes).
func sameMessage(t *testing.T, got, want envelope.Message) {
	t.Helper()
	// What Kafka sees; the buffers behind them are laid out differently.
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(envelope.Message{})); diff != "" {
		t.Errorf("Template.EncodeInto differs from EncodeInto (-EncodeInto +Template):\n%s", diff)
	}
}

// TestTemplateDifferential: for the same fields and body, a Template's
// message is exactly EncodeInto's, and Decode returns the same Envelope.
func TestTemplateDifferential(t *testing.T) {
	tmpl, err := envelope.NewTemplate(tSource, tType, tVersion, tID)
	if err != nil {
		t.Fatal(err)
	}
	tp := traceOf(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	order, err := benchOrder().AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	const id = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	ts := time.Date(2026, 11, 22, 9, 30, 15, 123456000, time.UTC)
	tests := []struct {
		name string
		f    envelope.Fields
		body []byte
	}{
		{"order", envelope.Fields{Subject: "ord-20250314-0002", ID: id, Time: ts, TraceParent: tp}, order},
		{"empty body", envelope.Fields{Subject: "ord-42", ID: id, Time: ts, TraceParent: tp}, nil},
		{"whole second", envelope.Fields{Subject: "ord-42", ID: id, Time: ts.Truncate(time.Second), TraceParent: tp}, []byte{2, 'h', 'i'}},
		{"one nanosecond", envelope.Fields{Subject: "ord-42", ID: id, Time: ts.Truncate(time.Second).Add(1), TraceParent: tp}, order},
		{"all nine digits", envelope.Fields{Subject: "ord-42", ID: id, Time: ts.Add(789), TraceParent: tp}, order},
		{"local zone", envelope.Fields{Subject: "ord-42", ID: id, Time: ts.In(time.FixedZone("CET", 3600)), TraceParent: tp}, order},
		{"year 0", envelope.Fields{Subject: "ord-42", ID: id, Time: time.Date(0, 1, 1, 0, 0, 0, 5, time.UTC), TraceParent: tp}, order},
		{"year 9999", envelope.Fields{Subject: "ord-42", ID: id, Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), TraceParent: tp}, order},
		{"before 1970", envelope.Fields{Subject: "ord-42", ID: id, Time: time.Date(1969, 12, 31, 23, 59, 59, 100, time.UTC), TraceParent: tp}, order},
		{"unicode subject", envelope.Fields{Subject: "ордер-42 ✓", ID: "ïd", Time: ts, TraceParent: tp}, order},
		{"unsampled", envelope.Fields{Subject: "ord-42", ID: id, Time: ts, TraceParent: traceOf(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")}, order},
		{"large body", envelope.Fields{Subject: "ord-42", ID: id, Time: ts, TraceParent: tp}, bytes.Repeat([]byte{0xab}, 5000)},
		{"long subject", envelope.Fields{Subject: strings.Repeat("k", 3000), ID: id, Time: ts, TraceParent: tp}, order},
	}
	var got, want envelope.Message // reused across cases, as a producer does
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotErr, wantErr error
			gotErr = tmpl.EncodeInto(&got, tt.f, rawBody(tt.body))
			wantErr = envelope.EncodeInto(&want, envelope.Envelope{
				ID: tt.f.ID, Source: tSource, Type: tType, Time: tt.f.Time, Subject: tt.f.Subject,
				EventVersion: tVersion, TraceParent: tt.f.TraceParent, SchemaID: tID, Body: tt.body,
			})
			if gotErr != nil || wantErr != nil {
				t.Fatalf("Template: %v, EncodeInto: %v", gotErr, wantErr)
			}
			sameMessage(t, got, want)
			e, err := envelope.Decode(got)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			e2, err := envelope.Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(e2, e); diff != "" {
				t.Errorf("decoded (-EncodeInto +Template):\n%s", diff)
			}
		})
	}
}

// TestTemplateGenerated: with ID, time and trace left zero the Template
// makes a UUIDv7, the current time and a new trace, as EncodeInto does;
// Decode accepts the message; the IDs of successive events increase.
func TestTemplateGenerated(t *testing.T) {
	tmpl, err := envelope.NewTemplate(tSource, tType, tVersion, tID)
	if err != nil {
		t.Fatal(err)
	}
	v := benchOrder()
	body, err := v.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	var m envelope.Message
	var last string
	for i := range 100 {
		before := time.Now()
		if err := tmpl.EncodeInto(&m, envelope.Fields{Subject: v.OrderID}, v); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		e, err := envelope.Decoder{KnownType: envelope.KnownTypes(tType)}.Decode(m)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if !bytes.Equal(e.Body, body) || e.SchemaID != tID || e.Source != tSource || e.Type != tType ||
			e.EventVersion != tVersion || e.Subject != v.OrderID || e.TraceParent.IsZero() {
			t.Fatalf("decoded %+v", e)
		}
		u, err := uuid.Parse(e.ID)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("ID %s: version %v variant %v err %v", e.ID, u.Version(), u.Variant(), err)
		}
		if e.ID <= last {
			t.Fatalf("event %d: ID %s not after %s", i, e.ID, last)
		}
		last = e.ID
		// The Template's clock is the wall clock up to a step of it within
		// the last millisecond; none is expected here.
		const slack = time.Millisecond
		if e.Time.Before(before.Add(-slack)) || e.Time.After(after.Add(slack)) {
			t.Fatalf("ce_time %v not in [%v, %v]", e.Time, before, after)
		}
		if sec, _ := u.Time().UnixTime(); sec < before.Unix()-1 || sec > after.Unix()+1 {
			t.Fatalf("ID time %d s, want about %d", sec, before.Unix())
		}
	}
}

// TestTemplateErrors: a Template refuses what EncodeInto refuses, with the
// same error, and leaves m empty; NewTemplate refuses a bad source, type or
// version with EncodeInto's error.
func TestTemplateErrors(t *testing.T) {
	tmpl, err := envelope.NewTemplate(tSource, tType, tVersion, tID)
	if err != nil {
		t.Fatal(err)
	}
	ok := envelope.Fields{Subject: "ord-42"}
	for _, tt := range []struct {
		name string
		edit func(*envelope.Fields)
	}{
		{"no subject", func(f *envelope.Fields) { f.Subject = "" }},
		{"subject not UTF-8", func(f *envelope.Fields) { f.Subject = "ord-\xff" }},
		{"long subject not UTF-8 at the end", func(f *envelope.Fields) { f.Subject = "ord-20250314-000\xff" }},
		{"long subject not UTF-8 at the start", func(f *envelope.Fields) { f.Subject = "\xe2\x82ord-20250314-0002" }},
		{"long ID not UTF-8", func(f *envelope.Fields) { f.ID = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5\xc3" }},
		{"ID not UTF-8, no subject", func(f *envelope.Fields) { f.ID, f.Subject = "\xc3", "" }},
		{"ID not UTF-8, bad trace", func(f *envelope.Fields) {
			f.ID, f.TraceParent = "\xc3", envelope.TraceParent{TraceID: [16]byte{1}}
		}},
		{"ID not UTF-8", func(f *envelope.Fields) { f.ID = "\xc3" }},
		{"ID and subject bad", func(f *envelope.Fields) { f.ID, f.Subject = "\xc3", "\xff" }},
		{"year 10000", func(f *envelope.Fields) { f.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"year -1", func(f *envelope.Fields) { f.Time = time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC) }},
		{"zero trace ID", func(f *envelope.Fields) { f.TraceParent = envelope.TraceParent{SpanID: [8]byte{1}, Flags: 1} }},
		{"zero span ID", func(f *envelope.Fields) { f.TraceParent = envelope.TraceParent{TraceID: [16]byte{1}} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := ok
			tt.edit(&f)
			got, want := envelope.Message{}, envelope.Message{}
			if err := tmpl.EncodeInto(&got, ok, rawBody{1}); err != nil { // m held a message before
				t.Fatal(err)
			}
			gotErr := tmpl.EncodeInto(&got, f, rawBody{1})
			wantErr := envelope.EncodeInto(&want, envelope.Envelope{
				ID: f.ID, Source: tSource, Type: tType, Time: f.Time, Subject: f.Subject,
				EventVersion: tVersion, TraceParent: f.TraceParent, SchemaID: tID, Body: []byte{1},
			})
			if wantErr == nil {
				t.Fatal("EncodeInto accepted it")
			}
			if diff := cmp.Diff(wantErr, gotErr); diff != "" {
				t.Errorf("error (-EncodeInto +Template):\n%s", diff)
			}
			if got.Key != nil || got.Value != nil || got.Headers != nil {
				t.Errorf("m not left empty: %+v", got)
			}
		})
	}

	for _, tt := range []struct {
		name, source, typ string
		version           int
	}{
		{"no source", "", tType, 1},
		{"source not UTF-8", "svc\xff", tType, 1},
		{"no type", tSource, "", 1},
		{"type not a name", tSource, "waybill..Order", 1},
		{"version 0", tSource, tType, 0},
		{"version too large", tSource, tType, 1_000_000_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, gotErr := envelope.NewTemplate(tt.source, tt.typ, tt.version, tID)
			wantErr := envelope.EncodeInto(new(envelope.Message), envelope.Envelope{
				Source: tt.source, Type: tt.typ, Subject: "ord-42", EventVersion: tt.version, SchemaID: tID,
			})
			if tmpl != nil || wantErr == nil {
				t.Fatalf("NewTemplate: %v, EncodeInto: %v", tmpl, wantErr)
			}
			if diff := cmp.Diff(wantErr, gotErr); diff != "" {
				t.Errorf("error (-EncodeInto +NewTemplate):\n%s", diff)
			}
		})
	}

	t.Run("body fails", func(t *testing.T) {
		var m envelope.Message
		err := tmpl.EncodeInto(&m, ok, failingBody{})
		if !errors.Is(err, errBody) || !strings.HasPrefix(err.Error(), "envelope: ") || !strings.Contains(err.Error(), tType) {
			t.Errorf("error %v", err)
		}
		if m.Key != nil || m.Value != nil || m.Headers != nil {
			t.Errorf("m not left empty: %+v", m)
		}
	})
}

// TestTemplateShared: the six static header values are the Template's
// memory, shared by its messages and capped so that appending to one cannot
// write into the next; the per-event values are the message's own.
func TestTemplateShared(t *testing.T) {
	tmpl, err := envelope.NewTemplate(tSource, tType, tVersion, tID)
	if err != nil {
		t.Fatal(err)
	}
	var a, b envelope.Message
	if err := tmpl.EncodeInto(&a, envelope.Fields{Subject: "ord-1"}, rawBody{2, 'h', 'i'}); err != nil {
		t.Fatal(err)
	}
	if err := tmpl.EncodeInto(&b, envelope.Fields{Subject: "ord-2"}, rawBody{2, 'h', 'o'}); err != nil {
		t.Fatal(err)
	}
	static := map[string]bool{
		envelope.HeaderSpecVersion: true, envelope.HeaderSource: true, envelope.HeaderType: true,
		envelope.HeaderContentType: true, envelope.HeaderEnvelope: true, envelope.HeaderEventVersion: true,
	}
	for i := range a.Headers {
		ha, hb := a.Headers[i], b.Headers[i]
		if len(ha.Value) != cap(ha.Value) {
			t.Errorf("%s: len %d cap %d", ha.Key, len(ha.Value), cap(ha.Value))
		}
		same := unsafe.SliceData(ha.Value) == unsafe.SliceData(hb.Value)
		if same != static[ha.Key] {
			t.Errorf("%s: shared between messages %v, want %v", ha.Key, same, static[ha.Key])
		}
	}
	if len(a.Key) != cap(a.Key) || len(a.Value) != cap(a.Value) {
		t.Errorf("key or value not capped")
	}
}

// TestTemplateConcurrent: one Template, many goroutines (run with -race):
// every ID is unique and each goroutine's IDs increase.
func TestTemplateConcurrent(t *testing.T) {
	tmpl, err := envelope.NewTemplate(tSource, tType, tVersion, tID)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 500
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var m envelope.Message
			for range each {
				if err := tmpl.EncodeInto(&m, envelope.Fields{Subject: "ord-42"}, rawBody{2, 'h', 'i'}); err != nil {
					t.Error(err)
					return
				}
				id, _ := m.Header(envelope.HeaderID)
				ids[w] = append(ids[w], string(id))
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range ids {
		for i, id := range list {
			if seen[id] {
				t.Fatalf("duplicate ID %s", id)
			}
			seen[id] = true
			if i > 0 && id <= list[i-1] {
				t.Fatalf("ID %s after %s", id, list[i-1])
			}
		}
	}
}

// TestTemplateAllocs: once the Message's buffer has grown, encoding an event
// through a Template allocates nothing, even when it makes the ID, time and
// trace.
func TestTemplateAllocs(t *testing.T) {
	tmpl, err := envelope.NewTemplate(tSource, orderevents.OrderCreatedEventType, tVersion, tID)
	if err != nil {
		t.Fatal(err)
	}
	v := benchOrder()
	parent := traceOf(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	var m envelope.Message
	n := testing.AllocsPerRun(200, func() {
		if err := tmpl.EncodeInto(&m, envelope.Fields{Subject: v.OrderID, TraceParent: parent.Child()}, v); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("Template.EncodeInto: %v allocations per event", n)
	}
	var back orderevents.OrderCreatedV2
	e, err := envelope.Decode(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.UnmarshalAvro(e.Body); err != nil || back.OrderID != v.OrderID || len(back.LineItems) != 3 {
		t.Errorf("decoded %+v, %v", back, err)
	}
	if e.TraceParent.TraceID != parent.TraceID || e.TraceParent.SpanID == parent.SpanID {
		t.Errorf("traceparent %v is not a child of %v", e.TraceParent, parent)
	}
}

// FuzzTemplate: for any fields and body, a Template and EncodeInto give the
// same message or the same error.
func FuzzTemplate(f *testing.F) {
	f.Add("ord-42", "", int64(1763803815), int64(123456000), []byte("\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36\x00\xf0\x67\xaa\x0b\xa9\x02\xb7\x01"), []byte{2, 'h', 'i'})
	f.Add("", "x", int64(0), int64(0), []byte{}, []byte{})
	f.Add("ord-\xff", "id", int64(-62167219201), int64(1), []byte{1}, []byte{0})
	f.Add("ord", "\xc3", int64(253402300799), int64(999999999), make([]byte, 25), []byte{})
	f.Add("ord", "", int64(-62135596800), int64(0), []byte{}, []byte{})
	tmpl, err := envelope.NewTemplate(tSource, tType, tVersion, tID)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, subject, id string, sec, nsec int64, trace, body []byte) {
		fields := envelope.Fields{Subject: subject, ID: id, Time: time.Unix(sec, nsec)}
		if len(trace) >= 25 {
			copy(fields.TraceParent.TraceID[:], trace)
			copy(fields.TraceParent.SpanID[:], trace[16:])
			fields.TraceParent.Flags = trace[24]
		}
		// A made trace or ID differs between the two (TestTemplateGenerated
		// covers them).
		if fields.TraceParent.IsZero() {
			fields.TraceParent = traceOf(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		}
		if id == "" {
			fields.ID = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
		}
		if fields.Time.IsZero() { // time.Unix(-62135596800, 0), year 1
			fields.Time = time.Unix(1763803815, 0)
		}
		got, want, gotErr, wantErr := encodeBoth(t, tmpl, fields, body)
		if diff := cmp.Diff(wantErr, gotErr); diff != "" {
			t.Fatalf("error (-EncodeInto +Template):\n%s", diff)
		}
		if wantErr != nil {
			return
		}
		sameMessage(t, got, want)
		if _, err := envelope.Decode(got); err != nil {
			t.Fatalf("Decode: %v", err)
		}
	})
}
