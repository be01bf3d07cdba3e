package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// Subjects the tests add to the repository's.
const (
	parcelSubject  = "parcel-events-value"  // level NONE, version 2 breaks readers of version 1
	oddSubject     = "odd/name with space"  // needs escaping in a path
	retiredSubject = "retired-events-value" // soft-deleted
)

// addExtra registers the test's own subjects next to the repository's.
func addExtra(t testing.TB, url string) {
	t.Helper()
	c := client(t, url)
	ctx := context.Background()
	if err := c.SetCompatibility(ctx, parcelSubject, "NONE"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"testdata/breaking/v1.avsc", "testdata/breaking/v2.avsc"} {
		if _, err := c.Register(ctx, parcelSubject, read(t, f), nil); err != nil {
			t.Fatal(err)
		}
	}
	odd := `{"type":"record","name":"Odd","namespace":"waybill.test","fields":[{"name":"id","type":"string"}]}`
	if _, err := c.Register(ctx, oddSubject, odd, nil); err != nil {
		t.Fatal(err)
	}
	retired := `{"type":"record","name":"Retired","namespace":"waybill.test","fields":[{"name":"id","type":"long"}]}`
	if _, err := c.Register(ctx, retiredSubject, retired, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSubject(ctx, retiredSubject, false); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func subjectPath(subject string) string { return "/subjects/" + url.PathEscape(subject) }

// addressRefs are the references of OrderCreated version 2, as the form
// takes them.
const addressRefs = `[{"name":"waybill.common.Address","subject":"waybill.common.Address","version":1}]`

func checkPath(subject, schema, refs string) string {
	return subjectPath(subject) + "/check?" + url.Values{"schema": {schema}, "references": {refs}}.Encode()
}

// TestPages renders every page against Waybill's registry server, seeded
// from the repository's schemas through the sync, and checks what each
// page says.
func TestPages(t *testing.T) {
	reg, cat := seeded(t)
	addExtra(t, reg.URL)
	u := newUI(t, reg.URL, cat)
	c := client(t, reg.URL)
	v2, err := c.Version(context.Background(), createdSubject, 2)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(v2.ID)
	created := subjectPath(createdSubject)

	tests := []struct {
		name     string
		path     string
		status   int
		want     []string // in the page's text
		wantHTML []string // in its HTML
		notWant  []string // not in its text
	}{
		{
			name: "subjects", path: "/", status: 200,
			want: []string{"11 of 11 subjects", "global level BACKWARD", createdSubject, addressSubject, parcelSubject,
				"order-events-waybill.orders.OrderCreated BACKWARD_TRANSITIVE 2 " + id + " order-events orders-team",
				parcelSubject + " NONE 2", oddSubject + " BACKWARD (global) 1"},
			wantHTML: []string{`href="/subjects/odd%2Fname%20with%20space"`, `href="/topics/order-events"`, `href="/ids/` + id + `"`},
			notWant:  []string{retiredSubject},
		},
		{
			name: "subjects with soft-deleted ones", path: "/?deleted=1", status: 200,
			want: []string{"12 of 12 subjects (soft-deleted ones included)", retiredSubject + " soft-deleted", "Hide soft-deleted subjects"},
		},
		{
			name: "search by subject name, any case", path: "/?q=ORDER&by=subject", status: 200,
			want:    []string{"2 of 11 subjects", createdSubject, "order-events-waybill.orders.OrderCancelled"},
			notWant: []string{addressSubject, parcelSubject},
		},
		{
			name: "search by field name", path: "/?q=city&by=field", status: 200,
			want:    []string{"1 of 11 subjects", addressSubject + " field city in version 1"},
			notWant: []string{"OrderCancelled"},
		},
		{
			name: "search by record name", path: "/?q=lineitem&by=field", status: 200,
			want: []string{createdSubject + " type waybill.orders.LineItem in version 2"},
		},
		{
			name: "search by nested field path", path: "/?q=line_items.sku&by=field", status: 200,
			want: []string{createdSubject + " field line_items.sku in version 2"},
		},
		{
			name: "search by a field only an old version has", path: "/?q=carrier&by=field", status: 200,
			want: []string{parcelSubject + " field carrier in version 2"},
		},
		{
			name: "search by field, nothing found", path: "/?q=no_such_field&by=field", status: 200,
			want: []string{"0 of 11 subjects", "No subject matches", "Search soft-deleted subjects too"},
		},
		{
			name: "search by schema ID", path: "/?q=" + id + "&by=id", status: 200,
			want:     []string{"Schema ID " + id, "is used by 1 subject version", createdSubject + " version 2 order-events orders-team"},
			wantHTML: []string{`href="` + created + `/versions/2"`},
		},
		{
			name: "search by an unknown schema ID", path: "/?q=9999&by=id", status: 200,
			want: []string{"No schema has ID 9999. (registry error code 40403)"},
		},
		{
			name: "search by a schema ID that is not a number", path: "/?q=abc&by=id", status: 200,
			want: []string{`A schema ID is a whole number, such as 42; "abc" is not one.`},
		},
		{
			name: "search by an unknown mode", path: "/?q=x&by=colour", status: 400,
			want: []string{"Bad request", `by="colour": search by subject, field or id`},
		},
		{
			name: "subject", path: created, status: 200,
			want: []string{"Compatibility level BACKWARD_TRANSITIVE", "Mode READWRITE", "Versions 2 · latest version 2",
				"Topic order-events", "Key field order_id", "Owner orders-team", "Produced by order-service",
				"Consumed by warehouse-service, shipment-service, notification-service",
				"A customer placed an order; the warehouse reserves stock for it.",
				"version 2 " + id + " unknown 1 diff with version 1", "version 1 ", "first version"},
			wantHTML: []string{`href="` + created + `/diff?from=1&amp;to=2"`, `href="` + created + `/check"`},
		},
		{
			name: "a soft-deleted subject", path: subjectPath(retiredSubject), status: 200,
			want: []string{retiredSubject + " soft-deleted", "version 1 soft-deleted"},
		},
		{
			name: "a subject whose name needs escaping", path: subjectPath(oddSubject), status: 200,
			want: []string{"Subjects › " + oddSubject, "Compatibility level BACKWARD (global)"},
		},
		{
			name: "an unknown subject", path: subjectPath("no-such-subject"), status: 404,
			want: []string{"Not found in the registry", "Subject 'no-such-subject' not found.", "Registry error code 40401",
				"Request GET " + reg.URL + "/subjects/no-such-subject/versions"},
		},
		{
			name: "version", path: created + "/versions/2", status: 200,
			want: []string{createdSubject + " version 2 latest", "Schema ID " + id, "Registered unknown",
				"shipping_address null | waybill.common.Address null Where the order is to be delivered",
				"created_at long (timestamp-millis) none", "total null | bytes (decimal(12, 2)) null",
				"line_items array< record LineItem > none", "line_items.quantity int none",
				"References waybill.common.Address : waybill.common.Address version 1", "No schema references this version.",
				`"name": "order_id"`},
			wantHTML: []string{`href="/subjects/waybill.common.Address/versions/1"`, `href="` + created + `/diff?from=1&amp;to=2"`, `id="type-waybill.orders.LineItem"`},
		},
		{
			name: "the latest version", path: created + "/versions/latest", status: 200,
			want: []string{createdSubject + " version 2 latest"},
		},
		{
			name: "a shared type's version, and what references it", path: subjectPath(addressSubject) + "/versions/1", status: 200,
			want: []string{"This version references no other schema.", "Referenced by " + createdSubject + " version 2 (ID " + id + ")",
				"shipment-events-waybill.shipments.ShipmentCreated version 1"},
		},
		{
			name: "a version's text is escaped", path: subjectPath(parcelSubject) + "/versions/2", status: 200,
			want:     []string{"Weight in grams, as text <b>now</b>."},
			wantHTML: []string{"as text &lt;b&gt;now&lt;/b&gt;."},
		},
		{
			name: "a soft-deleted version", path: subjectPath(retiredSubject) + "/versions/1", status: 200,
			want: []string{retiredSubject + " version 1 soft-deleted"},
		},
		{
			name: "a version that is not a number", path: created + "/versions/two", status: 400,
			want: []string{`"two" is not a version`},
		},
		{
			name: "a version the subject does not have", path: created + "/versions/99", status: 404,
			want: []string{"Registry error code 40402"},
		},
		{
			name: "diff of consecutive versions", path: created + "/diff", status: 200,
			want: []string{createdSubject + ": version 1 → version 2", "Compatible at BACKWARD_TRANSITIVE",
				"4 changes, 0 refused at BACKWARD_TRANSITIVE", "safe allowed FIELD_ADDED shipping_address /fields/4 [null, Address]",
				"safe allowed DOC_CHANGED"},
		},
		{
			name: "diff that breaks readers, at the subject's level", path: subjectPath(parcelSubject) + "/diff?from=1&to=2", status: 200,
			want: []string{"Compatible at NONE", "breaks old and new readers allowed (not checked at NONE) TYPE_CHANGED weight_grams",
				"SYMBOL_REMOVED", "FIELD_ADDED carrier"},
			notWant: []string{"refused TYPE_CHANGED"},
		},
		{
			name: "diff that breaks readers, at another level", path: subjectPath(parcelSubject) + "/diff?from=1&to=2&level=full", status: 200,
			want: []string{"Not compatible at FULL", "breaks old and new readers refused TYPE_CHANGED weight_grams",
				"breaks new readers refused FIELD_ADDED carrier", "TYPE_MISMATCH"},
		},
		{
			name: "diff backwards", path: subjectPath(parcelSubject) + "/diff?from=2&to=1&level=BACKWARD", status: 200,
			want: []string{parcelSubject + ": version 2 → version 1", "FIELD_REMOVED carrier"},
		},
		{
			name: "diff of a version with itself", path: created + "/diff?from=2&to=2", status: 200,
			want: []string{"The two versions are the same schema (ID " + id + ")."},
		},
		{
			name: "diff with a bad version", path: created + "/diff?from=x", status: 400,
			want: []string{`from="x" is not a version`},
		},
		{
			name: "diff with a bad level", path: created + "/diff?level=SIDEWAYS", status: 400,
			want: []string{`level="SIDEWAYS" is not a compatibility level`},
		},
		{
			name: "diff with a version the subject does not have", path: created + "/diff?from=1&to=9", status: 404,
			want: []string{"Registry error code 40402"},
		},
		{
			name: "check: the empty form starts from the latest version", path: created + "/check", status: 200,
			want:     []string{"live versions 1, 2 at the subject's level, BACKWARD_TRANSITIVE", `"name": "shipping_address"`, `"subject": "waybill.common.Address"`},
			notWant:  []string{"Accepted", "Refused"},
			wantHTML: []string{`<form method="get" action="` + created + `/check"`, `<label for="schema">`},
		},
		{
			name: "check: a compatible candidate", path: checkPath(createdSubject, read(t, "testdata/candidates/compatible.avsc"), addressRefs), status: 200,
			want:    []string{"Accepted compat at BACKWARD_TRANSITIVE No finding", "The registry finds it compatible."},
			notWant: []string{"disagree"},
		},
		{
			name: "check: an incompatible candidate", path: checkPath(createdSubject, read(t, "testdata/candidates/incompatible.avsc"), addressRefs), status: 200,
			want: []string{"Refused compat at BACKWARD_TRANSITIVE",
				`error READER_FIELD_MISSING_DEFAULT_VALUE /fields/7 line 81 BACKWARD_TRANSITIVE: candidate cannot read data written with v1, v2: reader field "coupon_code"`,
				"give the new field a default", "The registry finds it incompatible:",
				`reading version 1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/7`},
			notWant: []string{"disagree"},
		},
		{
			name: "check: a candidate without the references it needs", path: checkPath(createdSubject, read(t, "testdata/candidates/compatible.avsc"), ""), status: 200,
			want:    []string{"Refused: the candidate cannot be checked", "The candidate is not a valid Avro schema", "undefined name \"waybill.common.Address\"", "The registry finds it incompatible: Invalid schema"},
			notWant: []string{"disagree"},
		},
		{
			name: "check: a candidate that is not JSON", path: checkPath(createdSubject, read(t, "testdata/candidates/invalid.avsc"), ""), status: 200,
			want: []string{"Refused: the candidate cannot be checked", "The candidate is not a valid Avro schema: line 2, column 44: invalid character ','", "The registry finds it incompatible: Invalid schema"},
		},
		{
			name: "check: references that are not JSON", path: checkPath(createdSubject, read(t, "testdata/candidates/compatible.avsc"), "Address@1"), status: 200,
			want: []string{"The references are not a JSON array"},
		},
		{
			name: "check: a schema the subject has", path: checkPath(createdSubject, read(t, schemasDir+"/orders/OrderCreated/v2.avsc"), addressRefs), status: 200,
			want: []string{"Accepted This exact schema is already version 2 (ID " + id + " ): registering it again changes nothing."},
		},
		{
			name: "check: a subject at level NONE accepts anything", path: checkPath(parcelSubject, `{"type":"record","name":"Other","fields":[]}`, ""), status: 200,
			want: []string{"Accepted compat at NONE", "The registry finds it compatible."},
		},
		{
			name: "schema ID", path: "/ids/" + id, status: 200,
			want: []string{"Schema ID " + id, "References waybill.common.Address", createdSubject + " version 2 order-events orders-team", `"name": "shipping_address"`},
		},
		{
			name: "an unknown schema ID", path: "/ids/9999", status: 404,
			want: []string{"Registry error code 40403"},
		},
		{
			name: "a schema ID that is not a number", path: "/ids/x", status: 400,
			want: []string{`"x" is not a schema ID`},
		},
		{
			name: "topics", path: "/topics", status: 200,
			want:    []string{"alert-events 2 2 3 90d delete", "order-events 2 2 12 14d delete", "parcel-events 0 1", "retired-events"[:0]},
			notWant: []string{"retired-events"},
		},
		{
			name: "topic", path: "/topics/order-events", status: 200,
			want: []string{"Partitions 12", "OrderCreated " + createdSubject + " version 2 (ID " + id + ") BACKWARD_TRANSITIVE order_id orders-team order-service warehouse-service",
				"OrderCancelled order-events-waybill.orders.OrderCancelled version 1"},
		},
		{
			name: "a topic known from subject names only", path: "/topics/parcel-events", status: 200,
			want: []string{"Subjects", parcelSubject + " version 2"},
		},
		{
			name: "an unknown topic", path: "/topics/nowhere", status: 404,
			want: []string{"No such topic"},
		},
		{
			name: "an unknown page", path: "/no/such/page", status: 404,
			want: []string{"No such page", "The UI has no page at /no/such/page."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(t, u.URL+tc.path)
			txt := text(body)
			if status != tc.status {
				t.Errorf("status %d, want %d: %s", status, tc.status, txt)
			}
			for _, w := range tc.want {
				if !strings.Contains(txt, w) {
					t.Errorf("the page does not say %q:\n%s", w, txt)
				}
			}
			for _, w := range tc.wantHTML {
				if !strings.Contains(body, w) {
					t.Errorf("the page's HTML has no %q:\n%s", w, body)
				}
			}
			for _, w := range tc.notWant {
				if w != "" && strings.Contains(txt, w) {
					t.Errorf("the page says %q:\n%s", w, txt)
				}
			}
		})
	}
}

// TestCheckByPost takes a candidate too large for a URL as a POSTed form.
func TestCheckByPost(t *testing.T) {
	reg, cat := seeded(t)
	u := newUI(t, reg.URL, cat)
	form := url.Values{"schema": {read(t, "testdata/candidates/incompatible.avsc")}, "references": {addressRefs}}
	resp, err := http.PostForm(u.URL+subjectPath(createdSubject)+"/check", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if txt := text(readAll(t, resp)); resp.StatusCode != 200 || !strings.Contains(txt, "Refused compat at BACKWARD_TRANSITIVE") {
		t.Errorf("status %d: %s", resp.StatusCode, txt)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStylesheet: the UI's own stylesheet, nothing from elsewhere.
func TestStylesheet(t *testing.T) {
	reg, _ := seeded(t)
	u := newUI(t, reg.URL, nil)
	resp, err := http.Get(u.URL + "/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	_, body := get(t, u.URL+"/")
	for _, bad := range []string{"http://", "https://", "//cdn"} {
		if i := strings.Index(body, bad); i >= 0 && !strings.Contains(body[max(0, i-40):i], "<code>") {
			t.Errorf("the page loads something from elsewhere: %q", body[max(0, i-60):min(len(body), i+60)])
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != "" {
		t.Errorf("a stylesheet with a CSP header %q", csp)
	}
}

// TestWithoutCatalog: in front of a registry the repository knows nothing
// about, the pages show what the registry has.
func TestWithoutCatalog(t *testing.T) {
	reg, _ := seeded(t)
	addExtra(t, reg.URL)
	u := newUI(t, reg.URL, nil)
	for _, tc := range []struct{ path, want string }{
		{"/", "order-events-waybill.orders.OrderCreated BACKWARD_TRANSITIVE 2"},
		{"/", "no catalog"},
		{subjectPath(createdSubject), "Compatibility level BACKWARD_TRANSITIVE"},
		{"/topics", "parcel-events 0 1"},
		{"/topics/parcel-events", parcelSubject + " version 2"},
	} {
		status, body := get(t, u.URL+tc.path)
		if status != 200 || !strings.Contains(text(body), tc.want) {
			t.Errorf("%s: status %d, want %q in:\n%s", tc.path, status, tc.want, text(body))
		}
	}
	if _, body := get(t, u.URL+"/"); strings.Contains(text(body), "orders-team") {
		t.Error("an owner without a catalog")
	}
}
