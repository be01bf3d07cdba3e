package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/waybill/waybill/services/registry"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

const benchSchema = `{"type":"record","name":"Shipment","namespace":"bench","fields":[{"name":"shipment_id","type":"string"},{"name":"order_id","type":"string"},{"name":"carrier","type":"string"},{"name":"created_at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`

// BenchmarkGetSchemaByID is GET /schemas/ids/{id} through the handler (no
// network), with BenchmarkFixedBody, a bare handler writing the same body,
// as the baseline. `make bench-registry` compares the two over loopback
// with wrk.
func BenchmarkGetSchemaByID(b *testing.B) {
	e := newEnv(b)
	id := e.register("bench-value", benchSchema)
	path := fmt.Sprintf("/schemas/ids/%d", id)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", path, nil)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			w.code = 0
			e.reg.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
	})
}

func BenchmarkFixedBody(b *testing.B) {
	e := newEnv(b)
	id := e.register("bench-value", benchSchema)
	body := []byte(e.must("GET", fmt.Sprintf("/schemas/ids/%d", id), ""))
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(body)
	})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/schemas/ids/1", nil)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler rather than a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	w.code = code
}
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}

// BenchmarkReplay10k replays a log of 10,000 distinct schemas (one subject
// each) into a new server: the in-memory part of a restart.
func BenchmarkReplay10k(b *testing.B) {
	records := make([]schemalog.Record, 10000)
	for i := range records {
		subject := fmt.Sprintf("bench-%d-value", i)
		schema := fmt.Sprintf(`{"type":"record","name":"R%d","namespace":"bench","fields":[{"name":"id","type":"string"},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"n","type":"int","default":%d}]}`, i, i)
		records[i] = schemalog.Record{
			Key:   schemalog.SchemaKey(subject, 1),
			Value: schemalog.Value(schemalog.SchemaValue{Subject: subject, Version: 1, ID: i + 1, Schema: schema}),
		}
	}
	b.ResetTimer()
	for b.Loop() {
		reg, err := registry.New(context.Background(), registry.Config{Log: schemalog.NewMemory(records...), Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		_ = reg.Close()
	}
}
