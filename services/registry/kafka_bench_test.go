package registry_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/services/registry"
)

// BenchmarkKafkaRestart10k registers 10,000 distinct schemas through the HTTP
// API on Kafka storage (the in-process broker, with a data directory),
// restarts the broker, and times what a restart of the registry costs: a new
// Kafka log plus registry.New, which returns once the whole topic has been
// replayed and the registry can serve. The goal is under 2 s.
// Registering takes half a minute (one transaction per schema), so `make
// bench` skips it: run `make bench-restart`.
func BenchmarkKafkaRestart10k(b *testing.B) {
	const n = 10000
	dir := b.TempDir()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	if err := c.CreateTopic("_schemas", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		b.Fatal(err)
	}
	e := newKafkaEnv(b, c, "writer")
	e.must("PUT", "/config", `{"compatibility":"NONE"}`)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				schema := fmt.Sprintf(`{"type":"record","name":"R%d","namespace":"bench","fields":[{"name":"id","type":"string"},{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"n","type":"int","default":%d}]}`, i, i)
				if status, body := e.do("POST", fmt.Sprintf("/subjects/bench-%d-value/versions", i), schemaBody(schema)); status != 200 {
					b.Errorf("register %d: %d %s", i, status, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	registered := time.Since(start)
	_ = e.reg.Close()
	c.Close()

	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	defer c2.Close()
	b.ResetTimer()
	for b.Loop() {
		log, err := registry.KafkaLog(registry.KafkaConfig{Brokers: c2.ListenAddrs(), InstanceID: "restart", Timeout: 30 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		reg, err := registry.New(context.Background(), registry.Config{Log: log, Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		// The last schema registered is served: the replay is complete.
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/subjects/bench-%d-value/versions/1", n-1), nil))
		if rec.Code != 200 {
			b.Fatalf("after the restart: %d %s", rec.Code, rec.Body)
		}
		_ = reg.Close()
	}
	// After the loop: ResetTimer drops metrics reported before it.
	b.ReportMetric(registered.Seconds(), "register-10k-s")
}
