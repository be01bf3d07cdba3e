package registry_test

import (
	"fmt"
	"testing"

	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// refBody registers customer referencing common.Address version 1.
var refBody = `{"schema":` + q(customer) + `,"references":[{"name":"common.Address","subject":"common.Address","version":1}]}`

// TestDeleteVersionOrder: 42202 invalid version; 40406 soft-deleted already
// and not permanent; 40401/40402 not found; 42205 read-only; 42206
// referenced; 40407 permanent on a live version. Each case has the next
// check failing too.
func TestDeleteVersionOrder(t *testing.T) {
	readOnly := step{method: "PUT", path: "/mode/common.Address", body: `{"mode":"READONLY"}`}
	cases := []struct {
		name   string
		setup  []step
		path   string
		status int
		code   int
	}{
		{"42202 before 40401", nil, "/subjects/nope/versions/0", 422, 42202},
		{"40406 before 42205", []step{{method: "POST", path: "/subjects/common.Address/versions", body: schemaBody(`{"type":"record","name":"common.Address","fields":[{"name":"street","type":"string"},{"name":"n","type":"int","default":0}]}`)}, {method: "DELETE", path: "/subjects/common.Address/versions/2"}, readOnly}, "/subjects/common.Address/versions/2", 404, 40406},
		{"40401 before 42205", []step{readOnly}, "/subjects/nope/versions/1", 404, 40401},
		{"40402 before 42205", []step{readOnly}, "/subjects/common.Address/versions/9", 404, 40402},
		{"42205 before 42206", []step{readOnly}, "/subjects/common.Address/versions/1", 422, 42205},
		{"42206 before 40407", nil, "/subjects/common.Address/versions/1?permanent=true", 422, 42206},
		{"42206 on latest", nil, "/subjects/common.Address/versions/latest", 422, 42206},
		{"40407", []step{{method: "DELETE", path: "/subjects/customers-value/versions/1"}}, "/subjects/common.Address/versions/1?permanent=true", 404, 40407},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.register("common.Address", address)
			e.must("POST", "/subjects/customers-value/versions", refBody)
			for _, s := range c.setup {
				e.must(s.method, s.path, s.body)
			}
			e.run(t, []step{{method: "DELETE", path: c.path, status: c.status, code: c.code}})
		})
	}
}

// TestDeleteSubjectOrder: 40401 unknown; 40404 soft-deleted already and not
// permanent; 42205 read-only; then per version 42206 referenced and 40405
// permanent while live.
func TestDeleteSubjectOrder(t *testing.T) {
	readOnly := step{method: "PUT", path: "/mode", body: `{"mode":"READONLY"}`}
	cases := []struct {
		name   string
		setup  []step
		path   string
		status int
		code   int
	}{
		{"40401 before 42205", []step{readOnly}, "/subjects/nope", 404, 40401},
		{"40404 before 42205", []step{{method: "DELETE", path: "/subjects/other"}, readOnly}, "/subjects/other", 404, 40404},
		{"42205 before 42206", []step{readOnly}, "/subjects/common.Address", 422, 42205},
		{"42206 before 40405", nil, "/subjects/common.Address?permanent=true", 422, 42206},
		{"42206", nil, "/subjects/common.Address", 422, 42206},
		{"40405", nil, "/subjects/other?permanent=true", 404, 40405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.register("common.Address", address)
			e.must("POST", "/subjects/customers-value/versions", refBody)
			e.register("other", orderV1)
			for _, s := range c.setup {
				e.must(s.method, s.path, s.body)
			}
			e.run(t, []step{{method: "DELETE", path: c.path, status: c.status, code: c.code}})
		})
	}
}

func TestDeleteSubject(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.register("s", orderV2)
	e.must("PUT", "/config/s", `{"compatibility":"NONE"}`)
	e.must("PUT", "/mode/s", `{"mode":"READWRITE"}`)
	e.run(t, []step{
		{method: "DELETE", path: "/subjects/s", status: 200, want: `[1,2]`},
		{method: "GET", path: "/subjects", status: 200, want: `[]`},
		{method: "GET", path: "/subjects?deleted=true", status: 200, want: `["s"]`},
		{method: "GET", path: "/subjects?deletedOnly=true", status: 200, want: `["s"]`},
		{method: "GET", path: "/subjects/s/versions", status: 404, code: 40401},
		{method: "GET", path: "/subjects/s/versions?deleted=true", status: 200, want: `[1,2]`},
		{method: "GET", path: "/subjects/s/versions/1", status: 404, code: 40401},
		{method: "GET", path: "/subjects/s/versions/1?deleted=true", status: 200},
		{method: "GET", path: "/subjects/s/versions/latest", status: 404, code: 40401},
		// Soft delete drops the subject's config and mode.
		{method: "GET", path: "/config/s", status: 404, code: 40408},
		{method: "GET", path: "/mode/s", status: 404, code: 40409},
		// Schemas stay readable by ID.
		{method: "GET", path: "/schemas/ids/1", status: 200},
		{method: "GET", path: "/schemas/ids/1/subjects", status: 200, want: `[]`},
		{method: "GET", path: "/schemas/ids/1/subjects?deleted=true", status: 200, want: `["s"]`},
		{method: "GET", path: "/schemas/ids/2/versions?deleted=true", status: 200, want: `[{"subject":"s","version":2}]`},
		{method: "POST", path: "/subjects/s", body: schemaBody(orderV1), status: 404, code: 40401},
		{method: "POST", path: "/subjects/s?deleted=true", body: schemaBody(orderV1), status: 200},
		// A new version after a soft delete counts the deleted ones.
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderBad), status: 200, want: `{"id":3}`},
		{method: "GET", path: "/subjects/s/versions", status: 200, want: `[3]`},
		{method: "GET", path: "/subjects/s/versions?deletedOnly=true", status: 200, want: `[1,2]`},
		{method: "GET", path: "/subjects?deletedOnly=true", status: 200, want: `[]`},
		{method: "DELETE", path: "/subjects/s/versions/3", status: 200, want: `3`},
		{method: "DELETE", path: "/subjects/s?permanent=true", status: 200, want: `[1,2,3]`},
		{method: "GET", path: "/subjects?deleted=true", status: 200, want: `[]`},
		{method: "GET", path: "/schemas/ids/1", status: 404, code: 40403},
		// A hard-deleted ID is not handed out again.
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV1), status: 200, want: `{"id":4}`},
	})
	// The soft delete is one DELETE_SUBJECT record and tombstones of the
	// config and mode.
	var kinds []string
	for _, r := range e.log.Records() {
		k, err := schemalog.ParseKey(r.Key)
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, fmt.Sprintf("%s/%v", k.KeyType, r.Value == nil))
	}
	want := []string{
		"SCHEMA/false", "SCHEMA/false", "CONFIG/false", "MODE/false",
		"DELETE_SUBJECT/false", "MODE/true", "CONFIG/true", // soft delete
		"SCHEMA/false",                                                     // orderBad, version 3
		"SCHEMA/false",                                                     // version 3 soft-deleted
		"SCHEMA/true", "SCHEMA/true", "SCHEMA/true", "DELETE_SUBJECT/true", // permanent
		"SCHEMA/false",
	}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("records:\n got %v\nwant %v", kinds, want)
	}
}

// TestDeleteLastVersion: soft-deleting the last live version drops the
// subject's config and mode, as a subject delete does.
func TestDeleteLastVersion(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.register("s", orderV2)
	e.must("PUT", "/config/s", `{"compatibility":"NONE"}`)
	e.must("DELETE", "/subjects/s/versions/1", "")
	e.must("GET", "/config/s", "")
	e.must("DELETE", "/subjects/s/versions/2", "")
	e.run(t, []step{{method: "GET", path: "/config/s", status: 404, code: 40408}})
}

// TestTombstoneKeyBytes: writes reuse the exact key bytes the records were
// read with, and a delete tombstones every byte form of a key, so that
// compaction cannot bring a deleted record back.
func TestTombstoneKeyBytes(t *testing.T) {
	// Key forms Confluent's registry has written: magic 0, odd spacing,
	// the global config without a subject and with "subject":null.
	schemaKey := []byte(`{"keytype":"SCHEMA","subject":"s","version":1,"magic":0}`)
	spaced := []byte(`{"keytype": "SCHEMA", "subject": "s", "version": 2, "magic": 1}`)
	oldGlobal := []byte(`{"keytype":"CONFIG","magic":0}`)
	newGlobal := []byte(`{"keytype":"CONFIG","subject":null,"magic":0}`)
	v1 := schemalog.Value(schemalog.SchemaValue{Subject: "s", Version: 1, ID: 1, Schema: orderV1})
	v2 := schemalog.Value(schemalog.SchemaValue{Subject: "s", Version: 2, ID: 2, Schema: orderV2})
	e := newEnv(t,
		schemalog.Record{Key: schemaKey, Value: v1},
		schemalog.Record{Key: spaced, Value: v2},
		schemalog.Record{Key: oldGlobal, Value: []byte(`{"compatibilityLevel":"FULL"}`)},
		schemalog.Record{Key: newGlobal, Value: []byte(`{"compatibilityLevel":"NONE"}`)},
	)
	n := len(e.log.Records())
	e.must("DELETE", "/subjects/s/versions/1", "")
	e.must("DELETE", "/subjects/s/versions/1?permanent=true", "")
	e.must("DELETE", "/subjects/s/versions/2", "")
	e.must("DELETE", "/subjects/s/versions/2?permanent=true", "")
	e.must("DELETE", "/config", "")
	got := e.log.Records()[n:]
	want := []struct {
		key  []byte
		tomb bool
	}{
		{schemaKey, false}, // soft delete: the same key, deleted:true
		{schemaKey, true},
		{spaced, false},
		{spaced, true},
		{oldGlobal, true}, // both forms of the global config
		{newGlobal, true},
	}
	if len(got) != len(want) {
		for _, r := range got {
			t.Logf("%s => %s", r.Key, r.Value)
		}
		t.Fatalf("%d records written, want %d", len(got), len(want))
	}
	for i, w := range want {
		if string(got[i].Key) != string(w.key) || (got[i].Value == nil) != w.tomb {
			t.Errorf("record %d: %s => %s, want key %s (tombstone %v)", i, got[i].Key, got[i].Value, w.key, w.tomb)
		}
	}
	e.run(t, []step{{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"BACKWARD"}`}})
}
