package registry_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestEmptyRegistry(t *testing.T) {
	e := newEnv(t)
	e.run(t, []step{
		{method: "GET", path: "/", status: 200, want: `{}`},
		{method: "HEAD", path: "/subjects", status: 200},
		{method: "GET", path: "/subjects", status: 200, want: `[]`},
		{method: "GET", path: "/subjects?deleted=true", status: 200, want: `[]`},
		{method: "GET", path: "/schemas", status: 200, want: `[]`},
		{method: "GET", path: "/schemas/types", status: 200, want: `["AVRO"]`},
		{method: "GET", path: "/contexts", status: 200, want: `["."]`},
		{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"BACKWARD"}`},
		{method: "GET", path: "/mode", status: 200, want: `{"mode":"READWRITE"}`},
		{method: "GET", path: "/schemas/ids/1", status: 404, code: 40403},
		{method: "GET", path: "/schemas/ids/1/schema", status: 404, code: 40403},
		{method: "GET", path: "/schemas/ids/1/subjects", status: 404, code: 40403},
		{method: "GET", path: "/schemas/ids/1/versions", status: 404, code: 40403},
		{method: "GET", path: "/schemas/ids/abc", status: 404, code: 404},
		{method: "GET", path: "/subjects/s/versions", status: 404, code: 40401},
		{method: "GET", path: "/subjects/s/versions/1", status: 404, code: 40401},
		{method: "GET", path: "/subjects/s/versions/latest", status: 404, code: 40401},
		{method: "GET", path: "/subjects/s/versions/1/schema", status: 404, code: 40401},
		{method: "GET", path: "/subjects/s/versions/1/referencedby", status: 404, code: 40401},
		{method: "GET", path: "/config/s", status: 404, code: 40408},
		{method: "GET", path: "/config/s?defaultToGlobal=true", status: 200, want: `{"compatibilityLevel":"BACKWARD"}`},
		{method: "GET", path: "/mode/s", status: 404, code: 40409},
		{method: "GET", path: "/mode/s?defaultToGlobal=true", status: 200, want: `{"mode":"READWRITE"}`},
		{method: "DELETE", path: "/subjects/s", status: 404, code: 40401},
		{method: "DELETE", path: "/subjects/s?permanent=true", status: 404, code: 40401},
		{method: "DELETE", path: "/subjects/s/versions/1", status: 404, code: 40401},
		{method: "DELETE", path: "/config/s", status: 404, code: 40401},
		{method: "DELETE", path: "/mode/s", status: 404, code: 40401},
		{method: "POST", path: "/subjects/s", body: schemaBody(orderV1), status: 404, code: 40401},
		{method: "POST", path: "/compatibility/subjects/s/versions/latest", body: schemaBody(orderV1), status: 200, want: `{"is_compatible":true}`},
		{method: "POST", path: "/compatibility/subjects/s/versions/latest?verbose=true", body: schemaBody(orderV1), status: 200, want: `{"is_compatible":true,"messages":[]}`},
		{method: "POST", path: "/compatibility/subjects/s/versions/1", body: schemaBody(orderV1), status: 404, code: 40402},
		{method: "POST", path: "/compatibility/subjects/s/versions", body: schemaBody(orderV1), status: 200, want: `{"is_compatible":true}`},
	})
}

func TestBadVersions(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	for _, v := range []string{"0", "abc", "2147483648", "-2", "1.5", "", "%20"} {
		for _, path := range []string{
			"/subjects/s/versions/" + v,
			"/subjects/s/versions/" + v + "/schema",
			"/subjects/s/versions/" + v + "/referencedby",
		} {
			if v == "" {
				continue // that is /subjects/s/versions, another endpoint
			}
			status, body := e.do("GET", path, "")
			if status != 422 || errCode(body) != 42202 {
				t.Errorf("GET %s: %d %s, want 422 42202", path, status, body)
			}
		}
		if v == "" {
			continue
		}
		status, body := e.do("DELETE", "/subjects/s/versions/"+v, "")
		if status != 422 || errCode(body) != 42202 {
			t.Errorf("DELETE version %q: %d %s, want 422 42202", v, status, body)
		}
		status, body = e.do("POST", "/compatibility/subjects/s/versions/"+v, schemaBody(orderV2))
		if status != 422 || errCode(body) != 42202 {
			t.Errorf("compatibility version %q: %d %s, want 422 42202", v, status, body)
		}
	}
	// The valid forms.
	for _, v := range []string{"1", "latest", "LATEST", "-1", "2147483647"} {
		status, body := e.do("GET", "/subjects/s/versions/"+v, "")
		want := 200
		if v == "2147483647" {
			want = 404
		}
		if status != want {
			t.Errorf("GET version %q: %d %s, want %d", v, status, body, want)
		}
	}
}

func TestRegisterAndRead(t *testing.T) {
	e := newEnv(t)
	v1, v2 := compact(t, orderV1), compact(t, orderV2)
	full := func(subject string, version, id int, schema string) string {
		return fmt.Sprintf(`{"subject":%q,"version":%d,"id":%d,"schema":%s}`, subject, version, id, q(schema))
	}
	e.run(t, []step{
		{method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1), status: 200, want: `{"id":1}`},
		// Idempotent.
		{method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1), status: 200, want: `{"id":1}`},
		// The same text with other whitespace is the same schema.
		{method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(strings.ReplaceAll(orderV1, ",", " ,\n ")), status: 200, want: `{"id":1}`},
		// IDs are global: the same schema in another subject keeps its ID.
		{method: "POST", path: "/subjects/other-value/versions", body: schemaBody(orderV1), status: 200, want: `{"id":1}`},
		{method: "GET", path: "/schemas/ids/1", status: 200, want: `{"schema":` + q(v1) + `}`},
		{method: "GET", path: "/schemas/ids/1?fetchMaxId=true", status: 200, want: `{"schema":` + q(v1) + `,"maxId":1}`},
		{method: "GET", path: "/schemas/ids/1?subject=other-value", status: 200, want: `{"schema":` + q(v1) + `}`},
		{method: "GET", path: "/schemas/ids/1?subject=nope", status: 404, code: 40403},
		{method: "GET", path: "/schemas/ids/1/schema", status: 200, want: v1},
		{method: "GET", path: "/schemas/ids/1/subjects", status: 200, want: `["orders-value","other-value"]`},
		{method: "GET", path: "/schemas/ids/1/versions", status: 200, want: `[{"subject":"orders-value","version":1},{"subject":"other-value","version":1}]`},
		{method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV2), status: 200, want: `{"id":2}`},
		{method: "GET", path: "/subjects/orders-value/versions", status: 200, want: `[1,2]`},
		{method: "GET", path: "/subjects/orders-value/versions/1", status: 200, want: full("orders-value", 1, 1, v1)},
		{method: "GET", path: "/subjects/orders-value/versions/latest", status: 200, want: full("orders-value", 2, 2, v2)},
		{method: "GET", path: "/subjects/orders-value/versions/-1", status: 200, want: full("orders-value", 2, 2, v2)},
		{method: "GET", path: "/subjects/orders-value/versions/2/schema", status: 200, want: v2},
		{method: "GET", path: "/subjects/orders-value/versions/3", status: 404, code: 40402},
		{method: "GET", path: "/subjects/orders-value/versions/1/referencedby", status: 200, want: `[]`},
		// Re-registering an older schema returns its version; it does not
		// become the latest.
		{method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1), status: 200, want: `{"id":1}`},
		{method: "GET", path: "/subjects/orders-value/versions/latest", status: 200, want: full("orders-value", 2, 2, v2)},
		// Lookup.
		{method: "POST", path: "/subjects/orders-value", body: schemaBody(orderV1), status: 200, want: full("orders-value", 1, 1, v1)},
		{method: "POST", path: "/subjects/orders-value", body: schemaBody(orderBad), status: 404, code: 40403},
		{method: "POST", path: "/subjects/orders-value", body: schemaBody(`{"type":"nope"}`), status: 422, code: 42201},
		{method: "POST", path: "/subjects/nope", body: schemaBody(orderV1), status: 404, code: 40401},
		// Subjects.
		{method: "GET", path: "/subjects", status: 200, want: `["orders-value","other-value"]`},
		{method: "GET", path: "/subjects?subjectPrefix=ord", status: 200, want: `["orders-value"]`},
		{method: "GET", path: "/schemas?subjectPrefix=orders&latestOnly=true", status: 200, want: `[` + full("orders-value", 2, 2, v2) + `]`},
		{method: "GET", path: "/schemas?limit=1&offset=1", status: 200, want: `[` + full("orders-value", 2, 2, v2) + `]`},
		// Incompatible: 409, the findings in the message.
		{method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderBad), status: 409, code: 409},
		{method: "POST", path: "/compatibility/subjects/orders-value/versions", body: schemaBody(orderBad), status: 200, want: `{"is_compatible":false}`},
		{method: "POST", path: "/compatibility/subjects/orders-value/versions/1", body: schemaBody(orderV2), status: 200, want: `{"is_compatible":true}`},
		{method: "POST", path: "/compatibility/subjects/orders-value/versions/latest", body: schemaBody(`{"type":"nope"}`), status: 422, code: 42201},
		{method: "POST", path: "/compatibility/subjects/orders-value/versions/latest?verbose=true", body: schemaBody(`{"type":"nope"}`), status: 200},
		{method: "POST", path: "/compatibility/subjects/orders-value/versions/3", body: schemaBody(orderV2), status: 404, code: 40402},
	})
}

func TestIncompatibleMessages(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.register("s", orderV2)
	e.must("PUT", "/config/s", `{"compatibility":"BACKWARD_TRANSITIVE"}`)
	status, body := e.do("POST", "/subjects/s/versions", schemaBody(orderBad))
	want := `{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"s\", details: [` +
		`reading version 1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: reader field \"qty\" is not in the writer's shop.Order and has no default value, ` +
		`reading version 2: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: reader field \"qty\" is not in the writer's shop.Order and has no default value]"}`
	if status != 409 || body != want {
		t.Errorf("register: %d\n got %s\nwant %s", status, body, want)
	}
	body = e.must("POST", "/compatibility/subjects/s/versions?verbose=true", schemaBody(orderBad))
	want = `{"is_compatible":false,"messages":[` +
		`"reading version 1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: reader field \"qty\" is not in the writer's shop.Order and has no default value",` +
		`"reading version 2: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: reader field \"qty\" is not in the writer's shop.Order and has no default value"]}`
	if body != want {
		t.Errorf("verbose:\n got %s\nwant %s", body, want)
	}
	// Against one version, at the subject's level.
	body = e.must("POST", "/compatibility/subjects/s/versions/2?verbose=true", schemaBody(orderBad))
	if !strings.Contains(body, "reading version 2:") || strings.Contains(body, "reading version 1:") {
		t.Errorf("against version 2: %s", body)
	}
	// An invalid schema under verbose is an answer, not an error.
	body = e.must("POST", "/compatibility/subjects/s/versions?verbose=true", schemaBody(`{"type":"record"}`))
	if !strings.HasPrefix(body, `{"is_compatible":false,"messages":["Invalid schema: `) {
		t.Errorf("invalid schema, verbose: %s", body)
	}
	// NONE checks nothing.
	e.must("PUT", "/config/s", `{"compatibility":"NONE"}`)
	if id := e.register("s", orderBad); id != 3 {
		t.Errorf("under NONE: id %d", id)
	}
}

// TestSameSchema: "the same schema" is the same compact JSON with the same
// references, not the same Parsing Canonical Form: a doc makes another
// schema (another ID, another version), as in Confluent's registry.
func TestSameSchema(t *testing.T) {
	e := newEnv(t)
	withDoc := `{"type":"record","name":"Order","namespace":"shop","doc":"An order.","fields":[{"name":"id","type":"string"}]}`
	a := e.register("s", orderV1)
	b := e.register("s", withDoc)
	if a == b {
		t.Fatalf("a doc did not make another schema: both ID %d", a)
	}
	e.run(t, []step{
		{method: "GET", path: "/subjects/s/versions", status: 200, want: `[1,2]`},
		{method: "POST", path: "/subjects/s", body: schemaBody(withDoc), status: 200, want: fmt.Sprintf(`{"subject":"s","version":2,"id":%d,"schema":%s}`, b, q(compact(t, withDoc)))},
	})
}

func TestConfigAndMode(t *testing.T) {
	e := newEnv(t)
	e.register("s", orderV1)
	e.run(t, []step{
		{method: "PUT", path: "/config", body: `{"compatibility":"full"}`, status: 200, want: `{"compatibility":"FULL"}`},
		{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"FULL"}`},
		{method: "PUT", path: "/config", body: `{"compatibility":"SIDEWAYS"}`, status: 422, code: 42203},
		{method: "PUT", path: "/config", body: `{}`, status: 422, code: 42203},
		{method: "PUT", path: "/config", body: `{"compatibility":7}`, status: 400, code: 400},
		{method: "PUT", path: "/config/s", body: `{"compatibility":"NONE","normalize":true}`, status: 200, want: `{"compatibility":"NONE"}`},
		{method: "GET", path: "/config/s", status: 200, want: `{"compatibilityLevel":"NONE"}`},
		{method: "GET", path: "/config/other?defaultToGlobal=true", status: 200, want: `{"compatibilityLevel":"FULL"}`},
		{method: "PUT", path: "/config/bad%01subject", body: `{"compatibility":"NONE"}`, status: 422, code: 42208},
		{method: "DELETE", path: "/config/s", status: 200, want: `{"compatibilityLevel":"NONE"}`},
		{method: "GET", path: "/config/s", status: 404, code: 40408},
		{method: "DELETE", path: "/config", status: 200, want: `{"compatibilityLevel":"FULL"}`},
		{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"BACKWARD"}`},

		{method: "PUT", path: "/mode", body: `{"mode":"readonly"}`, status: 200, want: `{"mode":"READONLY"}`},
		{method: "GET", path: "/mode", status: 200, want: `{"mode":"READONLY"}`},
		{method: "PUT", path: "/mode", body: `{"mode":"READ_SOMETIMES"}`, status: 422, code: 42204},
		{method: "PUT", path: "/mode", body: `{}`, status: 422, code: 42204},
		// Read-only: a new schema is refused, re-registering works.
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV2), status: 422, code: 42205},
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV1), status: 200, want: `{"id":1}`},
		{method: "DELETE", path: "/subjects/s/versions/1", status: 422, code: 42205},
		// A subject mode beats a global READONLY...
		{method: "PUT", path: "/mode/s", body: `{"mode":"READWRITE"}`, status: 200, want: `{"mode":"READWRITE"}`},
		{method: "GET", path: "/mode/s", status: 200, want: `{"mode":"READWRITE"}`},
		{method: "GET", path: "/mode/t?defaultToGlobal=true", status: 200, want: `{"mode":"READONLY"}`},
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderV2), status: 200, want: `{"id":2}`},
		{method: "POST", path: "/subjects/t/versions", body: schemaBody(orderV2), status: 422, code: 42205},
		// ...but not a global READONLY_OVERRIDE.
		{method: "PUT", path: "/mode", body: `{"mode":"READONLY_OVERRIDE"}`, status: 200, want: `{"mode":"READONLY_OVERRIDE"}`},
		{method: "GET", path: "/mode/s?defaultToGlobal=true", status: 200, want: `{"mode":"READONLY_OVERRIDE"}`},
		{method: "PUT", path: "/config/s", body: `{"compatibility":"NONE"}`, status: 200},
		{method: "POST", path: "/subjects/s/versions", body: schemaBody(orderBad), status: 422, code: 42205},
		{method: "DELETE", path: "/subjects/s", status: 422, code: 42205},
		{method: "DELETE", path: "/mode/s", status: 200, want: `{"mode":"READWRITE"}`},
		{method: "GET", path: "/mode/s", status: 404, code: 40409},
		{method: "PUT", path: "/mode", body: `{"mode":"READWRITE"}`, status: 200},
		{method: "PUT", path: "/mode/bad%00", body: `{"mode":"READWRITE"}`, status: 422, code: 42208},
	})
}

func TestReferences(t *testing.T) {
	e := newEnv(t)
	addrID := e.register("common.Address", address)
	body := `{"schema":` + q(customer) + `,"references":[{"name":"common.Address","subject":"common.Address","version":-1}]}`
	var custID int
	if _, err := fmt.Sscanf(e.must("POST", "/subjects/customers-value/versions", body), `{"id":%d}`, &custID); err != nil {
		t.Fatal(err)
	}
	parsedAddr := mustParse(t, address)
	cust := compact(t, customer, parsedAddr)
	refs := `"references":[{"name":"common.Address","subject":"common.Address","version":1}]`
	e.run(t, []step{
		// version -1 was stored as the concrete version.
		{method: "GET", path: "/subjects/customers-value/versions/1", status: 200,
			want: fmt.Sprintf(`{"subject":"customers-value","version":1,"id":%d,%s,"schema":%s}`, custID, refs, q(cust))},
		{method: "GET", path: fmt.Sprintf("/schemas/ids/%d", custID), status: 200, want: `{"schema":` + q(cust) + `,` + refs + `}`},
		{method: "GET", path: "/subjects/common.Address/versions/1/referencedby", status: 200, want: fmt.Sprintf(`[%d]`, custID)},
		{method: "GET", path: "/subjects/common.Address/versions/latest/referencedby", status: 200, want: fmt.Sprintf(`[%d]`, custID)},
		// Idempotent with the concrete version too, and found by lookup.
		{method: "POST", path: "/subjects/customers-value/versions", body: strings.ReplaceAll(body, "-1", "1"), status: 200, want: fmt.Sprintf(`{"id":%d}`, custID)},
		{method: "POST", path: "/subjects/customers-value", body: body, status: 200},
		// A referenced schema cannot be deleted.
		{method: "DELETE", path: "/subjects/common.Address/versions/1", status: 422, code: 42206},
		{method: "DELETE", path: "/subjects/common.Address", status: 422, code: 42206},
		// Missing or unresolvable references: 42201.
		{method: "POST", path: "/subjects/x/versions", body: schemaBody(customer), status: 422, code: 42201},
		{method: "POST", path: "/subjects/x/versions", body: `{"schema":` + q(customer) + `,"references":[{"name":"common.Address","subject":"common.Address","version":7}]}`, status: 422, code: 42201},
		{method: "POST", path: "/subjects/x/versions", body: `{"schema":` + q(customer) + `,"references":[{"name":"common.Address","subject":"nope","version":-1}]}`, status: 422, code: 42201},
		{method: "POST", path: "/subjects/x/versions", body: `{"schema":` + q(customer) + `,"references":[{"subject":"common.Address","version":1}]}`, status: 422, code: 42201},
		{method: "POST", path: "/subjects/x/versions", body: `{"schema":` + q(customer) + `,"references":[{"name":"common.Address","subject":"common.Address","version":0}]}`, status: 422, code: 42201},
		// Soft-deleting the referrer frees the referenced schema.
		{method: "DELETE", path: "/subjects/customers-value/versions/1", status: 200, want: `1`},
		{method: "GET", path: "/subjects/common.Address/versions/1/referencedby", status: 200, want: `[]`},
		{method: "DELETE", path: "/subjects/common.Address/versions/1", status: 200, want: `1`},
	})
	_ = addrID
}

func TestNormalize(t *testing.T) {
	e := newEnv(t)
	// Aliases out of order, an explicit default order: the normalized form
	// sorts and drops them.
	a := `{"type":"record","name":"Order","namespace":"shop","aliases":["b","a"],"fields":[{"name":"id","type":"string","order":"ascending"}]}`
	b := `{"fields":[{"type":"string","name":"id"}],"aliases":["b","a"],"name":"shop.Order","type":"record"}`
	status, body := e.do("POST", "/subjects/s/versions?normalize=true", schemaBody(a))
	if status != 200 || body != `{"id":1}` {
		t.Fatalf("register: %d %s", status, body)
	}
	want := `{"name":"shop.Order","type":"record","fields":[{"name":"id","type":"string"}],"aliases":["shop.a","shop.b"]}`
	if got := e.must("GET", "/schemas/ids/1/schema", ""); got != want {
		t.Errorf("stored:\n got %s\nwant %s", got, want)
	}
	e.run(t, []step{
		{method: "POST", path: "/subjects/s?normalize=true", body: schemaBody(b), status: 200},
		{method: "POST", path: "/subjects/s/versions?normalize=true", body: schemaBody(b), status: 200, want: `{"id":1}`},
		// Without normalize, b is another text.
		{method: "POST", path: "/subjects/s", body: schemaBody(b), status: 404, code: 40403},
	})
	// What decides compatibility survives normalizing: defaults, logical
	// types, enum defaults; docs and custom properties too.
	c := `{"type":"record","name":"Order","namespace":"shop","doc":"An order.","fields":[
		{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"When."},
		{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2},"default":"\u0000"},
		{"name":"state","type":{"type":"enum","name":"State","symbols":["NEW","DONE"],"default":"NEW"},"default":"NEW","x-owner":"team-a"},
		{"name":"tags","type":{"type":"array","items":"string"},"default":[]}]}`
	status, body = e.do("POST", "/subjects/c/versions?normalize=true", schemaBody(c))
	if status != 200 {
		t.Fatalf("register: %d %s", status, body)
	}
	want = `{"name":"shop.Order","type":"record","fields":[` +
		`{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"When."},` +
		`{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2},"default":"\u0000"},` +
		`{"name":"state","type":{"name":"shop.State","type":"enum","symbols":["NEW","DONE"],"default":"NEW"},"default":"NEW","x-owner":"team-a"},` +
		`{"name":"tags","type":{"type":"array","items":"string"},"default":[]}],"doc":"An order."}`
	if got := e.must("GET", "/subjects/c/versions/1/schema", ""); got != want {
		t.Errorf("normalized:\n got %s\nwant %s", got, want)
	}
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		method, path, contentType string
		status                    int
	}{
		{"GET", "/nope", ct, 404},
		{"GET", "/subjects/s/versions/1/nope", ct, 404},
		{"GET", "/schemas/ids", ct, 404},
		{"PATCH", "/subjects", ct, 405},
		{"POST", "/subjects", ct, 405},
		{"PUT", "/subjects/s/versions", ct, 405},
		{"DELETE", "/schemas/ids/1", ct, 405},
		{"POST", "/subjects/s/versions", "text/plain", 415},
		{"POST", "/subjects/s/versions", "application/xml", 415},
		{"PUT", "/config", "text/html; charset=utf-8", 415},
	}
	for _, c := range cases {
		status, body := e.doType(c.method, c.path, schemaBody(orderV1), c.contentType)
		if status != c.status || errCode(body) != c.status {
			t.Errorf("%s %s (%s): %d %s, want %d", c.method, c.path, c.contentType, status, body, c.status)
		}
	}
	// Every accepted media type, and none at all.
	for i, typ := range []string{
		"application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json",
		"application/json", "application/json; charset=utf-8", "application/octet-stream", "",
	} {
		subject := fmt.Sprintf("t%d", i)
		if status, body := e.doType("POST", "/subjects/"+subject+"/versions", schemaBody(orderV1), typ); status != http.StatusOK {
			t.Errorf("Content-Type %q: %d %s", typ, status, body)
		}
	}
	// A trailing slash and an encoded slash in a subject.
	e.register("a/b", orderV1)
	e.run(t, []step{
		{method: "GET", path: "/subjects/", status: 200},
		{method: "GET", path: "/subjects/a%2Fb/versions/", status: 200, want: `[1]`},
	})
}
