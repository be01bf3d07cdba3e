package registry_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// TestRegisterCheckOrder: each case sets up a registry where two checks of
// the register sequence would fail, and the earlier one must answer.
func TestRegisterCheckOrder(t *testing.T) {
	withID := func(schema string, id int) string {
		return fmt.Sprintf(`{"schema":%s,"id":%d}`, q(schema), id)
	}
	withVersion := func(schema string, version int) string {
		return fmt.Sprintf(`{"schema":%s,"version":%d}`, q(schema), version)
	}
	cases := []struct {
		name  string
		setup []step
		req   string
		path  string
		// status and want (a body) or code.
		status int
		want   string
		code   int
	}{
		{
			name:   "1 before 2: re-registering works in READONLY",
			setup:  []step{{method: "PUT", path: "/mode", body: `{"mode":"READONLY"}`}},
			req:    schemaBody(orderV1),
			status: 200, want: `{"id":1}`,
		},
		{
			name:   "1 before 2: and in READONLY_OVERRIDE",
			setup:  []step{{method: "PUT", path: "/mode", body: `{"mode":"READONLY_OVERRIDE"}`}},
			req:    schemaBody(orderV1),
			status: 200, want: `{"id":1}`,
		},
		{
			name:   "1 before 2: re-registering with the ID it has works in READWRITE",
			req:    withID(orderV1, 1),
			status: 200, want: `{"id":1}`,
		},
		{
			name:   "2 before 4: READONLY refuses an invalid schema with 42205",
			setup:  []step{{method: "PUT", path: "/mode", body: `{"mode":"READONLY"}`}},
			req:    schemaBody(`{"type":"record","name":"X"}`),
			status: 422, code: 42205,
		},
		{
			name:   "2 before 6: READONLY refuses an incompatible schema with 42205",
			setup:  []step{{method: "PUT", path: "/mode/s", body: `{"mode":"READONLY"}`}},
			req:    schemaBody(orderBad),
			status: 422, code: 42205,
		},
		{
			name:   "2: an explicit id outside IMPORT",
			req:    withID(orderV2, 7),
			status: 422, code: 42205,
		},
		{
			name:   "2: no id in IMPORT",
			setup:  []step{{method: "PUT", path: "/mode?force=true", body: `{"mode":"IMPORT"}`}},
			req:    schemaBody(orderV2),
			status: 422, code: 42205,
		},
		{
			name:   "4: an invalid schema",
			req:    schemaBody(`{"type":"record","name":"X"}`),
			status: 422, code: 42201,
		},
		{
			name:   "4: not JSON in the schema",
			req:    schemaBody(`{"type":`),
			status: 422, code: 42201,
		},
		{
			name:   "4: a schema type this registry does not store",
			req:    `{"schema":"syntax = \"proto3\";","schemaType":"PROTOBUF"}`,
			status: 422, code: 42201,
		},
		{
			name:   "4 before 6: invalid beats incompatible",
			req:    schemaBody(`{"type":"record","name":"shop.Order","fields":[{"name":"id"}]}`),
			status: 422, code: 42201,
		},
		{
			name:   "6 before 7: incompatible beats a wrong version",
			req:    withVersion(orderBad, 5),
			status: 409, code: 409,
		},
		{
			name:   "7: a version that is not the next one",
			req:    withVersion(orderV2, 5),
			status: 422, code: 42201,
		},
		{
			name:   "7: the next version, given explicitly",
			req:    withVersion(orderV2, 2),
			status: 200, want: `{"id":2}`,
		},
		{
			name:   "3: the next version counts soft-deleted versions",
			setup:  []step{{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV2)}, {method: "DELETE", path: "/subjects/s/versions/2"}},
			req:    withVersion(orderV2, 3),
			status: 200, want: `{"id":2}`,
		},
		{
			name:   "5: the same schema in another subject keeps its ID",
			setup:  []step{{method: "POST", path: "/subjects/t/versions", body: schemaBody(orderV2)}},
			req:    schemaBody(orderV2),
			status: 200, want: `{"id":2}`,
		},
		{
			name: "6 skipped in IMPORT; 8: an explicit id bound to another schema",
			setup: []step{
				{method: "PUT", path: "/mode?force=true", body: `{"mode":"IMPORT"}`},
			},
			req:    withID(orderBad, 1),
			status: 422, code: 42205,
		},
		{
			name:   "6 skipped in IMPORT",
			setup:  []step{{method: "PUT", path: "/mode/s?force=true", body: `{"mode":"IMPORT"}`}},
			req:    withID(orderBad, 9),
			status: 200, want: `{"id":9}`,
		},
		{
			name:   "an empty schema reuses the latest one",
			req:    `{"schema":""}`,
			status: 200, want: `{"id":1}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.register("s", orderV1)
			for _, s := range c.setup {
				e.must(s.method, s.path, s.body)
			}
			path := c.path
			if path == "" {
				path = "/subjects/s/versions"
			}
			e.run(t, []step{{method: "POST", path: path, body: c.req, status: c.status, want: c.want, code: c.code}})
		})
	}
}

func TestEmptySchemaWithoutVersions(t *testing.T) {
	e := newEnv(t)
	e.run(t, []step{{method: "POST", path: "/subjects/s/versions", body: `{"schema":"  "}`, status: 422, code: 42201}})
}

func TestImport(t *testing.T) {
	e := newEnv(t)
	e.register("live", orderV1)
	e.register("gone", orderV2)
	e.must("DELETE", "/subjects/gone", "")
	e.run(t, []step{
		// Live schemas exist: IMPORT needs force.
		{method: "PUT", path: "/mode", body: `{"mode":"IMPORT"}`, status: 422, code: 42205},
		{method: "PUT", path: "/mode/live", body: `{"mode":"IMPORT"}`, status: 422, code: 42205},
		// A subject with soft-deleted versions only may enter IMPORT: they
		// are cleared, so imported versions can take their numbers.
		{method: "PUT", path: "/mode/gone", body: `{"mode":"IMPORT"}`, status: 200, want: `{"mode":"IMPORT"}`},
		{method: "GET", path: "/subjects/gone/versions?deleted=true", status: 404, code: 40401},
		{method: "POST", path: "/subjects/gone/versions", body: `{"schema":` + q(orderBad) + `,"id":100,"version":5}`, status: 200, want: `{"id":100}`},
		{method: "POST", path: "/subjects/gone/versions", body: `{"schema":` + q(orderV1) + `,"id":50,"version":2}`, status: 200, want: `{"id":50}`},
		{method: "GET", path: "/subjects/gone/versions", status: 200, want: `[2,5]`},
		{method: "GET", path: "/subjects/gone/versions/latest", status: 200, want: `{"subject":"gone","version":5,"id":100,"schema":` + q(compact(t, orderBad)) + `}`},
		// IDs are still global in IMPORT: orderV1 now has two, its old one
		// and 50.
		{method: "GET", path: "/schemas/ids/50/subjects", status: 200, want: `["gone"]`},
		// An explicit version that exists (live) is not overwritten.
		{method: "POST", path: "/subjects/gone/versions", body: `{"schema":` + q(orderV2) + `,"id":101,"version":5}`, status: 422, code: 42205},
		// Back to READWRITE: new IDs continue after the highest.
		{method: "DELETE", path: "/mode/gone", status: 200},
		{method: "POST", path: "/subjects/gone/versions", body: `{"schema":` + q(`{"type":"record","name":"shop.Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"n","type":"int","default":1}]}`) + `}`, status: 200, want: `{"id":101}`},
		{method: "GET", path: "/subjects/gone/versions", status: 200, want: `[2,5,6]`},
	})
}

// TestConcurrentRegistration: 50 clients registering the same schema get one
// ID, and the log holds one record; 50 registering different schemas get 50.
func TestConcurrentRegistration(t *testing.T) {
	e := newEnv(t)
	const n = 50
	ids := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := e.do("POST", "/subjects/conc-value/versions", schemaBody(orderV1))
			var out struct{ ID int }
			if err := json.Unmarshal([]byte(body), &out); status != 200 || err != nil {
				t.Errorf("register: %d %s", status, body)
			}
			ids[i] = out.ID
		}()
	}
	wg.Wait()
	for i, id := range ids {
		if id != ids[0] {
			t.Fatalf("client %d got ID %d, client 0 ID %d", i, id, ids[0])
		}
	}
	if recs := e.log.Records(); len(recs) != 1 {
		t.Errorf("the log holds %d records, want 1", len(recs))
	}

	seen := map[int]bool{}
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			schema := fmt.Sprintf(`{"type":"record","name":"R%d","fields":[]}`, i)
			status, body := e.do("POST", fmt.Sprintf("/subjects/s%d/versions", i), schemaBody(schema))
			var out struct{ ID int }
			if err := json.Unmarshal([]byte(body), &out); status != 200 || err != nil {
				t.Errorf("register: %d %s", status, body)
			}
			mu.Lock()
			seen[out.ID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(seen) != n || seen[ids[0]] {
		t.Errorf("%d distinct schemas got %d IDs (%v)", n, len(seen), seen)
	}
}

// TestReregisterSoftDeleted: a schema soft-deleted from a subject and
// registered again gets a new version with its ID, and the old version is
// dropped, as Confluent does.
func TestReregisterSoftDeleted(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.must("DELETE", "/subjects/s/versions/1", "")
	if id := e.register("s", orderV1); id != 1 {
		t.Fatalf("ID %d, want 1", id)
	}
	e.run(t, []step{
		{method: "GET", path: "/subjects/s/versions?deleted=true", status: 200, want: `[2]`},
	})
	recs := e.log.Records()
	last := recs[len(recs)-1]
	if last.Value != nil || string(last.Key) != string(schemalog.SchemaKey("s", 1)) {
		t.Errorf("last record %s => %s, want a tombstone of version 1", last.Key, last.Value)
	}
}
