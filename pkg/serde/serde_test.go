package serde_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

var (
	p1 = &ParcelV1{ID: "P-1", Weight: 1200, Cost: Money{Amount: 995, Currency: "EUR"}}
	p2 = &ParcelV2{ID: "P-2", Weight: 800, Cost: Money{Amount: 1500, Currency: "GBP"}, Note: str("fragile"), Priority: 1}
)

func TestSerializeWireFormat(t *testing.T) {
	e := newEnv(t)
	s := serde.New(e.client)
	ctx := context.Background()
	value, id, err := s.Serialize(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	if int(id) != e.ids["v1"] {
		t.Errorf("schema ID %d, want v1's %d", id, e.ids["v1"])
	}
	body, _ := p1.AppendAvro(nil)
	want := append([]byte{0, 0, 0, 0, 0}, body...)
	binary.BigEndian.PutUint32(want[1:5], id)
	if string(value) != string(want) {
		t.Errorf("value % x, want % x", value, want)
	}
}

func TestRoundTripAndResolution(t *testing.T) {
	e := newEnv(t)
	s := serde.New(e.client)
	ctx := context.Background()
	v1, _, err := s.Serialize(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	v2, _, err := s.Serialize(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh Serde, so the writers come from the registry by ID.
	d := serde.New(e.client)

	// Same version: the fast path.
	var same ParcelV1
	if err := d.Deserialize(ctx, v1, &same); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p1, &same); diff != "" {
		t.Errorf("v1 -> v1 (-want +got):\n%s", diff)
	}
	// v1 written, v2 read (BACKWARD): the defaults fill in.
	var up ParcelV2
	if err := d.Deserialize(ctx, v1, &up); err != nil {
		t.Fatal(err)
	}
	wantUp := &ParcelV2{ID: p1.ID, Weight: p1.Weight, Cost: p1.Cost, Priority: 3}
	if diff := cmp.Diff(wantUp, &up); diff != "" {
		t.Errorf("v1 -> v2 (-want +got):\n%s", diff)
	}
	// v2 written, v1 read (FORWARD): the new fields are skipped.
	var down ParcelV1
	if err := d.Deserialize(ctx, v2, &down); err != nil {
		t.Fatal(err)
	}
	wantDown := &ParcelV1{ID: p2.ID, Weight: p2.Weight, Cost: p2.Cost}
	if diff := cmp.Diff(wantDown, &down); diff != "" {
		t.Errorf("v2 -> v1 (-want +got):\n%s", diff)
	}
	var same2 ParcelV2
	if err := d.Deserialize(ctx, v2, &same2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p2, &same2); diff != "" {
		t.Errorf("v2 -> v2 (-want +got):\n%s", diff)
	}
}

func TestCacheHits(t *testing.T) {
	e := newEnv(t)
	s := serde.New(e.client)
	ctx := context.Background()
	v1, _, err := s.Serialize(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count.n.Load(); n != 1 {
		t.Errorf("first Serialize made %d requests, want 1 (the lookup)", n)
	}
	for range 100 {
		if _, _, err := s.Serialize(ctx, p1); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count.n.Load(); n != 1 {
		t.Errorf("101 Serializes made %d requests, want 1", n)
	}
	// The Serde that wrote v1 knows its schema: reading it back costs nothing.
	var got ParcelV1
	if err := s.Deserialize(ctx, v1, &got); err != nil {
		t.Fatal(err)
	}
	if n := e.count.n.Load(); n != 1 {
		t.Errorf("after reading its own v1: %d requests, want 1", n)
	}

	// A consumer: the writer's schema by ID and its reference, once.
	e.count.n.Store(0)
	d := serde.New(e.client)
	var up ParcelV2
	for range 100 {
		if err := d.Deserialize(ctx, v1, &up); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count.n.Load(); n != 2 {
		t.Errorf("100 Deserializes made %d requests, want 2 (schema by ID, its reference)", n)
	}
}

func TestOutageAfterWarmUp(t *testing.T) {
	e := newEnv(t)
	s := serde.New(e.client)
	d := serde.New(e.client)
	ctx := context.Background()
	v1, _, err := s.Serialize(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	var up ParcelV2
	if err := d.Deserialize(ctx, v1, &up); err != nil {
		t.Fatal(err)
	}
	e.hs.Close() // the registry goes away

	for range 10 {
		if _, _, err := s.Serialize(ctx, p1); err != nil {
			t.Fatalf("Serialize after the outage: %v", err)
		}
		if err := d.Deserialize(ctx, v1, &up); err != nil {
			t.Fatalf("Deserialize after the outage: %v", err)
		}
	}
	// What was not cached fails, saying the registry cannot be reached.
	_, _, err = s.Serialize(ctx, p2)
	var te *registry.TransportError
	if !errors.As(err, &te) {
		t.Errorf("Serialize of an uncached type in an outage: %v, want a *registry.TransportError", err)
	}
	var se *serde.SchemaError
	if !errors.As(err, &se) || se.Subject != subject || se.Version != 2 {
		t.Errorf("Serialize of an uncached type in an outage: %v, want a *serde.SchemaError naming v2", err)
	}
}

func TestUnknownSchemaID(t *testing.T) {
	e := newEnv(t)
	d := serde.New(e.client)
	value := []byte{0, 0, 0, 0x03, 0xe7, 2, 'x'} // ID 999
	err := d.Deserialize(context.Background(), value, new(ParcelV1))
	if !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Errorf("unknown ID: %v, want registry.ErrSchemaNotFound", err)
	}
	var ue *serde.UnknownSchemaError
	if !errors.As(err, &ue) || ue.ID != 999 {
		t.Errorf("unknown ID: %v, want a *serde.UnknownSchemaError for 999", err)
	}
	if code, _ := envelope.Reason(err); code != string(envelope.ErrUnknownSchemaID) {
		t.Errorf("unknown ID: dead-letter code %q, want %q", code, envelope.ErrUnknownSchemaID)
	}
}

func TestWireErrors(t *testing.T) {
	d := serde.New(newEnv(t).client)
	for _, tc := range []struct {
		value []byte
		want  error
	}{
		{nil, envelope.ErrNoMagicByte},
		{[]byte{0, 0, 0, 1}, envelope.ErrShortValue},
		{[]byte{1, 0, 0, 0, 1, 2}, envelope.ErrUnknownMagicByte},
	} {
		err := d.Deserialize(context.Background(), tc.value, new(ParcelV1))
		if !errors.Is(err, tc.want) {
			t.Errorf("% x: %v, want %v", tc.value, err, tc.want)
		}
	}
}

func TestIncompatibleWriter(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.client.SetCompatibility(ctx, subject, compat.None); err != nil {
		t.Fatal(err)
	}
	value, _, err := serde.New(e.client, serde.AutoRegister()).Serialize(ctx, &ParcelV3{Weight: 256, Cost: Money{1, "EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	var v3 ParcelV3
	if err := serde.New(e.client).Deserialize(ctx, value, &v3); err != nil || v3.Weight != 256 {
		t.Fatalf("v3 as v3: %+v, %v", v3, err)
	}
	d := serde.New(e.client)
	err = d.Deserialize(ctx, value, new(ParcelV2))
	var ie *serde.IncompatibleError
	if !errors.As(err, &ie) {
		t.Fatalf("v3 read as v2: %v, want a *serde.IncompatibleError", err)
	}
	msg := err.Error()
	for _, want := range []string{subject + " v2", "v3", "schema ID"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not name %q", msg, want)
		}
	}
	// The verdict is cached too.
	n := e.count.n.Load()
	if err := d.Deserialize(ctx, value, new(ParcelV2)); !errors.As(err, &ie) {
		t.Errorf("again: %v", err)
	}
	if got := e.count.n.Load(); got != n {
		t.Errorf("the second read made %d requests, want 0", got-n)
	}
}

func TestLookupOnlyByDefault(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.client.DeleteSubject(ctx, subject, false); err != nil {
		t.Fatal(err)
	}
	_, _, err := serde.New(e.client).Serialize(ctx, p2)
	var se *serde.SchemaError
	if !errors.As(err, &se) || !errors.Is(err, registry.ErrSubjectNotFound) {
		t.Fatalf("Serialize without the subject: %v, want a *serde.SchemaError, ErrSubjectNotFound", err)
	}
	if !strings.Contains(err.Error(), "AutoRegister") {
		t.Errorf("%q does not suggest AutoRegister", err)
	}
	value, id, err := serde.New(e.client, serde.AutoRegister()).Serialize(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	var got ParcelV2
	if err := serde.New(e.client).Deserialize(ctx, value, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p2, &got); diff != "" {
		t.Errorf("auto-registered (ID %d) round trip (-want +got):\n%s", id, diff)
	}
}

func TestWriter(t *testing.T) {
	e := newEnv(t)
	s := serde.New(e.client)
	ctx := context.Background()
	w, err := serde.NewWriter(ctx, s, p2)
	if err != nil {
		t.Fatal(err)
	}
	if int(w.SchemaID()) != e.ids["v2"] {
		t.Errorf("Writer's ID %d, want %d", w.SchemaID(), e.ids["v2"])
	}
	n := e.count.n.Load()
	got, err := w.Append(nil, p2)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := s.Serialize(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("Writer: % x, Serialize: % x", got, want)
	}
	if m := e.count.n.Load(); m != n {
		t.Errorf("Append and a warm Serialize made %d requests", m-n)
	}
	if _, err := serde.NewWriter(ctx, serde.New(e.client), &ParcelV3{}); !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Errorf("NewWriter of an unregistered schema: %v, want ErrSchemaNotFound", err)
	}
}

func TestUndecodableBody(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	value, _, err := serde.New(e.client).Serialize(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	for name, into := range map[string]events.Event{"same version": new(ParcelV1), "resolved": new(ParcelV2)} {
		err := serde.New(e.client).Deserialize(ctx, value[:len(value)-2], into)
		var de *serde.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, envelope.ErrUndecodableBody) {
			t.Errorf("%s: truncated body: %v, want a *serde.DecodeError of kind %s", name, err, envelope.ErrUndecodableBody)
		}
	}
}

// Many goroutines warming and using one Serde at once (run with -race).
func TestConcurrent(t *testing.T) {
	e := newEnv(t)
	s := serde.New(e.client)
	ctx := context.Background()
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			defer func() { done <- err }()
			for i := range 50 {
				var value []byte
				if (g+i)%2 == 0 {
					value, _, err = s.Serialize(ctx, p1)
				} else {
					value, _, err = s.Serialize(ctx, p2)
				}
				if err != nil {
					return
				}
				if err = s.Deserialize(ctx, value, new(ParcelV2)); err != nil {
					return
				}
				if err = s.Deserialize(ctx, value, new(ParcelV1)); err != nil {
					return
				}
			}
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	// One lookup per version; the schemas looked up are the writers'
	// schemas, so reading needs no request of its own.
	if n := e.count.n.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (one lookup per version)", n)
	}
}
