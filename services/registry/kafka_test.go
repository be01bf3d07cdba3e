package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waybill/waybill/services/registry"
)

// newKafkaCluster starts an in-process Kafka (kfake) with the schemas topic
// created as compacted, tombstones dropped by the first compaction.
func newKafkaCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// newKafkaEnv starts a registry on the cluster's `_schemas` topic.
func newKafkaEnv(t testing.TB, c *kfake.Cluster, instance string) *env {
	t.Helper()
	log, err := registry.KafkaLog(registry.KafkaConfig{Brokers: c.ListenAddrs(), InstanceID: instance, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := registry.New(ctx, registry.Config{Log: log, Logger: quietLogger(), WriteTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(func() {
		srv.Close()
		_ = reg.Close()
	})
	return &env{t: t, srv: srv, reg: reg}
}

// eventually retries a step until it passes: another instance sees a write
// once it has read it from the topic.
func (e *env) eventually(t *testing.T, s step) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := e.do(s.method, s.path, s.body)
		if status == s.status && (s.want == "" || body == s.want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %d %s, want %d %s", s.method, s.path, status, body, s.status, s.want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKafkaTwoInstances: two registries on one topic, taking writes
// concurrently, never give one ID to two different schemas, and give one
// schema one ID.
func TestKafkaTwoInstances(t *testing.T) {
	c := newKafkaCluster(t)
	a, b := newKafkaEnv(t, c, "a"), newKafkaEnv(t, c, "b")
	const n = 12
	type result struct {
		schema string
		id     int
	}
	results := make(chan result, 4*n)
	var wg sync.WaitGroup
	for i := range n {
		for j, e := range []*env{a, b} {
			wg.Add(2)
			go func() {
				defer wg.Done()
				schema := fmt.Sprintf(`{"type":"record","name":"R%d_%d","fields":[]}`, i, j)
				status, body := e.do("POST", fmt.Sprintf("/subjects/s%d-%d/versions", i, j), schemaBody(schema))
				var out struct{ ID int }
				if err := json.Unmarshal([]byte(body), &out); status != 200 || err != nil {
					t.Errorf("register: %d %s", status, body)
				}
				results <- result{schema, out.ID}
			}()
			go func() {
				defer wg.Done()
				status, body := e.do("POST", "/subjects/shared-value/versions", schemaBody(orderV1))
				var out struct{ ID int }
				if err := json.Unmarshal([]byte(body), &out); status != 200 || err != nil {
					t.Errorf("register shared: %d %s", status, body)
				}
				results <- result{orderV1, out.ID}
			}()
		}
	}
	wg.Wait()
	close(results)
	byID := map[int]string{}
	bySchema := map[string]int{}
	for r := range results {
		if s, ok := byID[r.id]; ok && s != r.schema {
			t.Errorf("ID %d given to %s and %s", r.id, s, r.schema)
		}
		if id, ok := bySchema[r.schema]; ok && id != r.id {
			t.Errorf("%s got IDs %d and %d", r.schema, id, r.id)
		}
		byID[r.id], bySchema[r.schema] = r.schema, r.id
	}
	if len(byID) != 2*n+1 {
		t.Errorf("%d IDs for %d schemas", len(byID), 2*n+1)
	}
	// Each instance reads the other's writes.
	for id := range byID {
		for _, e := range []*env{a, b} {
			e.eventually(t, step{method: "GET", path: fmt.Sprintf("/schemas/ids/%d", id), status: 200})
		}
	}
	a.eventually(t, step{method: "GET", path: "/subjects/shared-value/versions", status: 200, want: `[1]`})
	b.eventually(t, step{method: "GET", path: "/subjects/shared-value/versions", status: 200, want: `[1]`})
}

// TestKafkaRestart: the state comes back from the topic after a broker
// restart (DataDir) and a compaction; a permanent delete stays deleted, and
// IDs go on where they were.
func TestKafkaRestart(t *testing.T) {
	dir := t.TempDir()
	c := newKafkaCluster(t, kfake.DataDir(dir))
	if err := c.CreateTopic("_schemas", 1, map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "0"}); err != nil {
		t.Fatal(err)
	}
	e := newKafkaEnv(t, c, "first")
	e.register("gone-value", orderV1)
	e.register("s", orderV2)
	e.register("s", `{"type":"record","name":"shop.Order","fields":[{"name":"id","type":"string"},{"name":"total","type":"long","default":0},{"name":"n","type":"int","default":1}]}`)
	e.must("PUT", "/config/s", `{"compatibility":"FULL"}`)
	e.must("DELETE", "/subjects/gone-value", "")
	e.must("DELETE", "/subjects/gone-value?permanent=true", "")
	e.must("DELETE", "/subjects/s/versions/1", "")
	e.must("PUT", "/config", `{"compatibility":"NONE"}`)
	_ = e.reg.Close()
	c.Compact()
	c.Close()

	c2 := newKafkaCluster(t, kfake.DataDir(dir))
	c2.Compact()
	e2 := newKafkaEnv(t, c2, "second")
	e2.run(t, []step{
		{method: "GET", path: "/subjects?deleted=true", status: 200, want: `["s"]`},
		{method: "GET", path: "/subjects/s/versions?deleted=true", status: 200, want: `[1,2]`},
		{method: "GET", path: "/subjects/s/versions", status: 200, want: `[2]`},
		{method: "GET", path: "/config/s", status: 200, want: `{"compatibilityLevel":"FULL"}`},
		{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"NONE"}`},
		{method: "GET", path: "/schemas/ids/1", status: 404, code: 40403},
		{method: "GET", path: "/schemas/ids/3", status: 200},
		{method: "POST", path: "/subjects/t/versions", body: schemaBody(`"string"`), status: 200, want: `{"id":4}`},
	})
}

// TestKafkaOutageDuringWrite: the broker stops acknowledging commits in the
// middle of a registration. The client gets 50002 (the write timed out) and
// no version appears, on this instance or after a restart; once the broker
// answers again, the same registration succeeds with the next ID.
func TestKafkaOutageDuringWrite(t *testing.T) {
	c := newKafkaCluster(t)
	log, err := registry.KafkaLog(registry.KafkaConfig{Brokers: c.ListenAddrs(), InstanceID: "outage", Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := registry.New(ctx, registry.Config{Log: log, Logger: quietLogger(), WriteTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	defer func() { srv.Close(); _ = reg.Close() }()
	e := &env{t: t, srv: srv, reg: reg}
	e.register("s", orderV1)

	fault := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, TopLevel: true, Err: kerr.CoordinatorNotAvailable, Count: -1})
	e.run(t, []step{
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV2), status: 500, code: 50002},
		{method: "GET", path: "/subjects/s/versions", status: 200, want: `[1]`},
	})
	fault.Remove()
	e.run(t, []step{
		{method: "GET", path: "/subjects/s/versions", status: 200, want: `[1]`},
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV2), status: 200, want: `{"id":2}`},
	})
	// A fresh instance replaying the topic sees exactly the same.
	e2 := newKafkaEnv(t, c, "after-outage")
	e2.run(t, []step{
		{method: "GET", path: "/subjects/s/versions", status: 200, want: `[1,2]`},
		{method: "GET", path: "/schemas/ids/3", status: 404, code: 40403},
	})
}
