package serde_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
)

// A hand-written test event, standing in for generated types: a parcel,
// v1 and v2 (v2 adds a field with a default: BACKWARD and FORWARD
// compatible), with a reference to a shared Money record.
const (
	topic        = "parcel-events"
	parcelName   = "waybill.test.Parcel"
	subject      = topic + "-" + parcelName
	moneySubject = "waybill.test.Money"

	moneyText = `{"type": "record", "name": "Money", "namespace": "waybill.test", "fields": [
  {"name": "amount", "type": "long"},
  {"name": "currency", "type": "string"}]}`
	parcelV1Text = `{"type": "record", "name": "Parcel", "namespace": "waybill.test", "fields": [
  {"name": "id", "type": "string"},
  {"name": "weight", "type": "int"},
  {"name": "cost", "type": "waybill.test.Money"}]}`
	parcelV2Text = `{"type": "record", "name": "Parcel", "namespace": "waybill.test", "fields": [
  {"name": "id", "type": "string"},
  {"name": "weight", "type": "int"},
  {"name": "cost", "type": "waybill.test.Money"},
  {"name": "note", "type": ["null", "string"], "default": null},
  {"name": "priority", "type": "int", "default": 3}]}`
	// v3 drops id, which v2 needs and has no default for.
	parcelV3Text = `{"type": "record", "name": "Parcel", "namespace": "waybill.test", "fields": [
  {"name": "weight", "type": "int"},
  {"name": "cost", "type": "waybill.test.Money"}]}`
)

var moneyRef = []events.Reference{{Name: "waybill.test.Money", Subject: moneySubject, Version: 1}}

func parse(t testing.TB, text string) avro.Schema {
	cache := &avro.SchemaCache{}
	if _, err := avro.ParseWithCache(moneyText, "", cache); err != nil {
		t.Fatal(err)
	}
	s, err := avro.ParseWithCache(text, "", cache)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var schemaV1, schemaV2 avro.Schema

func init() {
	schemaV1 = parse(nopTB{}, parcelV1Text)
	schemaV2 = parse(nopTB{}, parcelV2Text)
}

type nopTB struct{ testing.TB }

func (nopTB) Fatal(args ...any) { panic(args) }

type Money struct {
	Amount   int64  `avro:"amount"`
	Currency string `avro:"currency"`
}

type ParcelV1 struct {
	ID     string `avro:"id"`
	Weight int32  `avro:"weight"`
	Cost   Money  `avro:"cost"`
}

func (*ParcelV1) EventType() string              { return parcelName }
func (*ParcelV1) EventVersion() int              { return 1 }
func (*ParcelV1) Subject() string                { return subject }
func (*ParcelV1) Topic() string                  { return topic }
func (p *ParcelV1) Key() string                  { return p.ID }
func (*ParcelV1) Schema() avro.Schema            { return schemaV1 }
func (*ParcelV1) SchemaText() string             { return parcelV1Text }
func (*ParcelV1) References() []events.Reference { return moneyRef }
func (p *ParcelV1) UnmarshalAvro(b []byte) error { return avro.Unmarshal(schemaV1, b, p) }
func (p *ParcelV1) AppendAvro(dst []byte) ([]byte, error) {
	// By hand, as generated code encodes: no reflection.
	dst = appendString(dst, p.ID)
	dst = appendLong(dst, int64(p.Weight))
	return p.Cost.appendAvro(dst), nil
}

type ParcelV2 struct {
	ID       string  `avro:"id"`
	Weight   int32   `avro:"weight"`
	Cost     Money   `avro:"cost"`
	Note     *string `avro:"note"`
	Priority int32   `avro:"priority"`
}

func (*ParcelV2) EventType() string              { return parcelName }
func (*ParcelV2) EventVersion() int              { return 2 }
func (*ParcelV2) Subject() string                { return subject }
func (*ParcelV2) Topic() string                  { return topic }
func (p *ParcelV2) Key() string                  { return p.ID }
func (*ParcelV2) Schema() avro.Schema            { return schemaV2 }
func (*ParcelV2) SchemaText() string             { return parcelV2Text }
func (*ParcelV2) References() []events.Reference { return moneyRef }
func (p *ParcelV2) UnmarshalAvro(b []byte) error { return avro.Unmarshal(schemaV2, b, p) }
func (p *ParcelV2) AppendAvro(dst []byte) ([]byte, error) {
	dst = appendString(dst, p.ID)
	dst = appendLong(dst, int64(p.Weight))
	dst = p.Cost.appendAvro(dst)
	if p.Note == nil {
		dst = appendLong(dst, 0)
	} else {
		dst = appendString(appendLong(dst, 1), *p.Note)
	}
	return appendLong(dst, int64(p.Priority)), nil
}

func (m *Money) appendAvro(dst []byte) []byte {
	return appendString(appendLong(dst, m.Amount), m.Currency)
}

func appendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

func appendString(dst []byte, s string) []byte {
	return append(appendLong(dst, int64(len(s))), s...)
}

var (
	_ events.Event = (*ParcelV1)(nil)
	_ events.Event = (*ParcelV2)(nil)
)

// counter counts the requests that reach the registry: real traffic,
// observed on the way.
type counter struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// env is Waybill's registry on httptest, seeded with Money v1 and Parcel v1
// and v2, and a client for it that counts its requests.
type env struct {
	hs     *httptest.Server
	client *registry.Client
	count  *counter
	ids    map[string]int // "money", "v1", "v2"
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv, err := server.New(context.Background(), server.Config{Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	cnt := &counter{next: http.DefaultTransport}
	c, err := registry.New(registry.Config{URL: hs.URL, Transport: cnt})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{hs: hs, client: c, count: cnt, ids: map[string]int{}}
	ctx := context.Background()
	refs := []registry.Reference{registry.Reference(moneyRef[0])}
	for _, s := range []struct {
		name, subject, text string
		refs                []registry.Reference
	}{
		{"money", moneySubject, moneyText, nil},
		{"v1", subject, parcelV1Text, refs},
		{"v2", subject, parcelV2Text, refs},
	} {
		id, err := c.Register(ctx, s.subject, s.text, s.refs)
		if err != nil {
			t.Fatalf("registering %s: %v", s.name, err)
		}
		e.ids[s.name] = id
	}
	cnt.n.Store(0)
	return e
}

func str(s string) *string { return &s }

var schemaV3 = parse(nopTB{}, parcelV3Text)

// ParcelV3 drops id: v2 cannot read it.
type ParcelV3 struct {
	Weight int32 `avro:"weight"`
	Cost   Money `avro:"cost"`
}

func (*ParcelV3) EventType() string              { return parcelName }
func (*ParcelV3) EventVersion() int              { return 3 }
func (*ParcelV3) Subject() string                { return subject }
func (*ParcelV3) Topic() string                  { return topic }
func (*ParcelV3) Key() string                    { return "" }
func (*ParcelV3) Schema() avro.Schema            { return schemaV3 }
func (*ParcelV3) SchemaText() string             { return parcelV3Text }
func (*ParcelV3) References() []events.Reference { return moneyRef }
func (p *ParcelV3) UnmarshalAvro(b []byte) error { return avro.Unmarshal(schemaV3, b, p) }
func (p *ParcelV3) AppendAvro(dst []byte) ([]byte, error) {
	return p.Cost.appendAvro(appendLong(dst, int64(p.Weight))), nil
}
