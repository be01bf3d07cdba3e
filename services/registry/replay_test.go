package registry_test

import (
	"testing"

	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// javaOrder is orderV1 as Avro Java's Schema.toString() writes it, the text
// Confluent's registry stores.
const javaOrder = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"}]}`

// TestReplayConfluentLog starts from a `_schemas` log written in Confluent's
// formats, the older key forms included, and checks the state it gives.
func TestReplayConfluentLog(t *testing.T) {
	rec := func(key, value string) schemalog.Record {
		r := schemalog.Record{Key: []byte(key)}
		if value != "" {
			r.Value = []byte(value)
		}
		return r
	}
	addr := q(address)
	cust := q(customer)
	log := []schemalog.Record{
		// The older global config key: no subject at all.
		rec(`{"keytype":"CONFIG","magic":0}`, `{"compatibilityLevel":"FULL"}`),
		// A magic 0 SCHEMA key (Confluent before 4.x).
		rec(`{"keytype":"SCHEMA","subject":"a-value","version":1,"magic":0}`, `{"subject":"a-value","version":1,"id":1,"schema":`+q(javaOrder)+`,"deleted":false}`),
		rec(`{"keytype":"SCHEMA","subject":"a-value","version":2,"magic":1}`, `{"subject":"a-value","version":2,"id":2,"schemaType":"AVRO","schema":`+q(orderV2)+`,"deleted":false}`),
		// The same schema under another subject shares its ID.
		rec(`{"keytype":"SCHEMA","subject":"b-value","version":1,"magic":1}`, `{"subject":"b-value","version":1,"id":1,"schema":`+q(javaOrder)+`,"deleted":false}`),
		// ID 1 is bound to another schema: this record is dropped.
		rec(`{"keytype":"SCHEMA","subject":"c-value","version":1,"magic":1}`, `{"subject":"c-value","version":1,"id":1,"schema":`+q(orderBad)+`,"deleted":false}`),
		// A soft delete of a whole subject.
		rec(`{"keytype":"DELETE_SUBJECT","subject":"b-value","magic":0}`, `{"subject":"b-value","version":1}`),
		// Soft-deleted, then cleared.
		rec(`{"keytype":"SCHEMA","subject":"d-value","version":1,"magic":1}`, `{"subject":"d-value","version":1,"id":3,"schema":"\"string\"","deleted":false}`),
		rec(`{"keytype":"SCHEMA","subject":"d-value","version":1,"magic":1}`, `{"subject":"d-value","version":1,"id":3,"schema":"\"string\"","deleted":true}`),
		rec(`{"keytype":"CLEAR_SUBJECT","subject":"d-value","magic":0}`, `{"subject":"d-value"}`),
		// A subject mode and config (values carrying the subject).
		rec(`{"keytype":"MODE","subject":"a-value","magic":0}`, `{"subject":"a-value","mode":"READONLY"}`),
		rec(`{"keytype":"CONFIG","subject":"a-value","magic":0}`, `{"subject":"a-value","compatibilityLevel":"NONE"}`),
		// NOOP records find the end of the log.
		rec(`{"keytype":"NOOP","magic":0}`, ``),
		// Registered, then hard-deleted: its ID is gone, but never reused.
		rec(`{"keytype":"SCHEMA","subject":"e-value","version":1,"magic":1}`, `{"subject":"e-value","version":1,"id":4,"schema":"\"int\"","deleted":true}`),
		rec(`{"keytype":"SCHEMA","subject":"e-value","version":1,"magic":1}`, ``),
		// The newer global config key form, later: it wins.
		rec(`{"keytype":"CONFIG","subject":null,"magic":0}`, `{"compatibilityLevel":"BACKWARD_TRANSITIVE"}`),
		// References.
		rec(`{"keytype":"SCHEMA","subject":"addr","version":1,"magic":1}`, `{"subject":"addr","version":1,"id":6,"schema":`+addr+`,"deleted":false}`),
		rec(`{"keytype":"SCHEMA","subject":"cust","version":1,"magic":1}`, `{"subject":"cust","version":1,"id":7,"references":[{"name":"common.Address","subject":"addr","version":1}],"schema":`+cust+`,"deleted":false}`),
		// A config and a mode deleted with tombstones.
		rec(`{"keytype":"CONFIG","subject":"cust","magic":0}`, `{"compatibilityLevel":"FORWARD"}`),
		rec(`{"keytype":"CONFIG","subject":"cust","magic":0}`, ``),
		rec(`{"keytype":"MODE","subject":"cust","magic":0}`, `{"mode":"IMPORT"}`),
		rec(`{"keytype":"MODE","subject":"cust","magic":0}`, ``),
		// Records this registry cannot read are skipped.
		rec(`not json`, `{}`),
		rec(`{"keytype":"SCHEMA","subject":"f-value","version":1,"magic":1}`, `{not json`),
		rec(`{"keytype":"CONFIG","subject":"g","magic":0}`, `{"compatibilityLevel":"SIDEWAYS"}`),
		rec(`{"keytype":"MODE","subject":"g","magic":0}`, `{"mode":"UPSIDEDOWN"}`),
		// A schema type Waybill does not parse is still served.
		rec(`{"keytype":"SCHEMA","subject":"p-value","version":1,"magic":1}`, `{"subject":"p-value","version":1,"id":8,"schemaType":"PROTOBUF","schema":"syntax = \"proto3\";","deleted":false}`),
	}
	e := newEnv(t, log...)
	e.run(t, []step{
		{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"BACKWARD_TRANSITIVE"}`},
		{method: "GET", path: "/config/a-value", status: 200, want: `{"compatibilityLevel":"NONE"}`},
		{method: "GET", path: "/config/cust", status: 404, code: 40408},
		{method: "GET", path: "/mode/a-value", status: 200, want: `{"mode":"READONLY"}`},
		{method: "GET", path: "/mode/cust", status: 404, code: 40409},
		{method: "GET", path: "/subjects", status: 200, want: `["a-value","addr","cust","p-value"]`},
		{method: "GET", path: "/subjects?deleted=true", status: 200, want: `["a-value","addr","b-value","cust","p-value"]`},
		// The stored text is served as it was stored.
		{method: "GET", path: "/schemas/ids/1", status: 200, want: `{"schema":` + q(javaOrder) + `}`},
		{method: "GET", path: "/schemas/ids/1/versions?deleted=true", status: 200, want: `[{"subject":"a-value","version":1},{"subject":"b-value","version":1}]`},
		{method: "GET", path: "/subjects/c-value/versions", status: 404, code: 40401},
		{method: "GET", path: "/subjects/d-value/versions?deleted=true", status: 404, code: 40401},
		{method: "GET", path: "/schemas/ids/3", status: 404, code: 40403},
		{method: "GET", path: "/schemas/ids/4", status: 404, code: 40403},
		{method: "GET", path: "/subjects/addr/versions/1/referencedby", status: 200, want: `[7]`},
		{method: "GET", path: "/schemas/ids/7", status: 200, want: `{"schema":` + cust + `,"references":[{"name":"common.Address","subject":"addr","version":1}]}`},
		{method: "GET", path: "/schemas/ids/8", status: 200, want: `{"schema":"syntax = \"proto3\";","schemaType":"PROTOBUF"}`},
		// Re-registering a replayed schema, in the Java form or compat's,
		// finds it (in READONLY too).
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(orderV1), status: 200, want: `{"id":1}`},
		{method: "POST", path: "/subjects/a-value", body: schemaBody(javaOrder), status: 200},
		// New IDs come after every ID seen, the hard-deleted ones included.
		{method: "POST", path: "/subjects/h-value/versions", body: schemaBody(`"long"`), status: 200, want: `{"id":9}`},
		{method: "POST", path: "/subjects/h-value/versions", body: schemaBody(`"string"`), status: 409},
	})
}

// TestReplayClearEverySubject replays the CLEAR_SUBJECT without a subject that
// Confluent writes when the global mode goes to IMPORT: every subject's
// soft-deleted versions go, the live ones stay.
func TestReplayClearEverySubject(t *testing.T) {
	rec := func(key, value string) schemalog.Record {
		return schemalog.Record{Key: []byte(key), Value: []byte(value)}
	}
	e := newEnv(t,
		rec(`{"keytype":"SCHEMA","subject":"a","version":1,"magic":1}`, `{"subject":"a","version":1,"id":1,"schema":"\"string\"","deleted":true}`),
		rec(`{"keytype":"SCHEMA","subject":"a","version":2,"magic":1}`, `{"subject":"a","version":2,"id":2,"schema":"\"long\"","deleted":false}`),
		rec(`{"keytype":"SCHEMA","subject":"b","version":1,"magic":1}`, `{"subject":"b","version":1,"id":3,"schema":"\"int\"","deleted":true}`),
		rec(`{"keytype":"CLEAR_SUBJECT","subject":null,"magic":0}`, `{"subject":null}`),
	)
	e.run(t, []step{
		{method: "GET", path: "/subjects?deleted=true", status: 200, want: `["a"]`},
		{method: "GET", path: "/subjects/a/versions?deleted=true", status: 200, want: `[2]`},
		{method: "GET", path: "/schemas/ids/1", status: 404, code: 40403},
		{method: "GET", path: "/schemas/ids/2", status: 200, want: `{"schema":"\"long\""}`},
	})
}
