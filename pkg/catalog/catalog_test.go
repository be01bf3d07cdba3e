package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
)

func TestLoad(t *testing.T) {
	c, err := catalog.Load(os.DirFS("testdata/good"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	address := []catalog.Reference{{Name: "waybill.common.Address", Subject: "waybill.common.Address", Version: 1}}
	want := &catalog.Catalog{
		Topics: []catalog.Topic{
			{Name: "order-events", Partitions: 3, Retention: "7d", CleanupPolicy: "delete"},
			{Name: "shipment-events", Partitions: 3, Retention: "infinite", CleanupPolicy: "delete"},
		},
		Events: []*catalog.Event{
			{
				FullName: "waybill.orders.OrderCancelled", Name: "OrderCancelled", Domain: "orders", Dir: "orders/OrderCancelled",
				Topic: "order-events", Key: "order_id", Owner: "orders-team", Description: "An order was cancelled.",
				Compatibility: compat.BackwardTransitive,
				Producers:     []string{"order-service"},
				Versions:      []*catalog.Version{{Number: 1, File: "orders/OrderCancelled/v1.avsc"}},
			},
			{
				FullName: "waybill.orders.OrderCreated", Name: "OrderCreated", Domain: "orders", Dir: "orders/OrderCreated",
				Topic: "order-events", Key: "order_id", Owner: "orders-team", Description: "A customer placed an order.",
				Compatibility: compat.BackwardTransitive,
				Producers:     []string{"order-service"},
				Consumers:     []string{"warehouse-service", "notification-service"},
				Versions: []*catalog.Version{
					{Number: 1, File: "orders/OrderCreated/v1.avsc"},
					// Pinned in catalog.yaml to Address v1, though v2 exists.
					{Number: 2, File: "orders/OrderCreated/v2.avsc", References: address},
				},
			},
			{
				FullName: "waybill.shipments.ShipmentCreated", Name: "ShipmentCreated", Domain: "shipments", Dir: "shipments/ShipmentCreated",
				Topic: "shipment-events", Key: "shipment_id", Owner: "shipping-team", Description: "A shipment was booked.",
				Compatibility: compat.Full, // written "full": levels ignore case
				Producers:     []string{"shipment-service"},
				Consumers:     []string{"order-service"},
				Versions: []*catalog.Version{
					// Not pinned: the latest Address.
					{Number: 1, File: "shipments/ShipmentCreated/v1.avsc", References: []catalog.Reference{
						{Name: "waybill.common.Address", Subject: "waybill.common.Address", Version: 2},
					}},
				},
			},
		},
		Shared: []*catalog.Event{{
			FullName: "waybill.common.Address", Name: "Address", Domain: "common", Dir: "common/Address",
			Owner: "platform-team", Description: "A postal address.", Compatibility: compat.FullTransitive,
			Versions: []*catalog.Version{
				{Number: 1, File: "common/Address/v1.avsc"},
				{Number: 2, File: "common/Address/v2.avsc"},
			},
		}},
		Lint: compat.LintConfig{Use: []string{"DEFAULT"}, Except: []string{"FIELD_DOC"}},
	}
	ignore := cmpopts.IgnoreFields(catalog.Version{}, "Text", "Schema", "Example")
	if diff := cmp.Diff(want, c, ignore, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}

	for _, e := range append(c.Events, c.Shared...) {
		for _, v := range e.Versions {
			if v.Schema == nil || v.Schema.Name != e.FullName || len(v.Text) == 0 {
				t.Errorf("%s: schema not loaded", v.File)
			}
		}
	}
	created := c.Event("waybill.orders.OrderCreated")
	if got := string(created.Versions[0].Example); !strings.Contains(got, `"order_id": "o-1"`) {
		t.Errorf("OrderCreated v1 example = %q, want the content of examples/orders/OrderCreated/v1.json", got)
	}
	if created.Versions[1].Example != nil {
		t.Errorf("OrderCreated v2 has an example, but there is no file for it")
	}
	if got, want := created.Subject(), "order-events-waybill.orders.OrderCreated"; got != want {
		t.Errorf("Subject() = %q, want %q", got, want)
	}
	if got, want := c.Event("waybill.common.Address").Subject(), "waybill.common.Address"; got != want {
		t.Errorf("shared Subject() = %q, want %q", got, want)
	}
	if got := created.Latest().Number; got != 2 {
		t.Errorf("Latest().Number = %d, want 2", got)
	}
	if c.Event("waybill.orders.Nope") != nil {
		t.Errorf("Event of an unknown name is not nil")
	}
}

// TestLoadSharedChain loads shared types that use each other, listed before
// what they use, and an event using both.
func TestLoadSharedChain(t *testing.T) {
	c, err := catalog.Load(os.DirFS("testdata/shared-chain"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ref := func(name string) catalog.Reference {
		return catalog.Reference{Name: name, Subject: name, Version: 1}
	}
	for _, tc := range []struct {
		name string
		want []catalog.Reference
	}{
		{"waybill.common.Address", []catalog.Reference{ref("waybill.common.CountryCode")}},
		{"waybill.common.CountryCode", nil},
		{"waybill.orders.OrderCreated", []catalog.Reference{ref("waybill.common.Address"), ref("waybill.common.CountryCode")}},
	} {
		got := c.Event(tc.name).Latest().References
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s references (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestTopicRetentionMillis(t *testing.T) {
	for _, tc := range []struct {
		retention string
		want      int64
	}{
		{"7d", 7 * 24 * 3600 * 1000},
		{"12h", 12 * 3600 * 1000},
		{"2w", 14 * 24 * 3600 * 1000},
		{"500ms", 500},
		{"infinite", -1},
		{"7 days", 0},
		{"", 0},
	} {
		if got := (catalog.Topic{Retention: tc.retention}).RetentionMillis(); got != tc.want {
			t.Errorf("RetentionMillis(%q) = %d, want %d", tc.retention, got, tc.want)
		}
	}
}

// problem is an expected problem: Msg need only be a part of the message.
type problem = catalog.Problem

func TestLoadProblems(t *testing.T) {
	const yml = "catalog.yaml"
	for _, tc := range []struct {
		dir  string
		want []problem
	}{
		{"version-gap", []problem{
			{yml, 48, 3, "/events/waybill.orders.OrderShipped", "has no schema: want orders/OrderShipped/v1.avsc"},
			{"orders/OrderCreated/v4.avsc", 0, 0, "", "v2.avsc and v3.avsc are missing: versions run from v1 without gaps"},
		}},
		{"missing-key", []problem{
			{"orders/OrderCreated/v2.avsc", 6, 13, "/fields", "no field order_id, the key of waybill.orders.OrderCreated"},
		}},
		{"key-not-string", []problem{
			{"orders/OrderCancelled/v1.avsc", 9, 15, "/fields/0/type", "the key field order_id must be a string, not a union"},
			{"orders/OrderCreated/v1.avsc", 9, 15, "/fields/0/type", "the key field order_id must be a string, not long"},
		}},
		{"stray-files", []problem{
			{"common/Money/v1.avsc", 0, 0, "", "schema not in the catalog: add waybill.common.Money under shared"},
			{"examples/OrderCreated.json", 0, 0, "", "misplaced example"},
			{"examples/orders/OrderCreated/v9.json", 0, 0, "", "there is no orders/OrderCreated/v9.avsc"},
			{"examples/orders/OrderShipped/v1.json", 0, 0, "", "example of a type not in the catalog"},
			{"orders/OrderCreated/latest.avsc", 0, 0, "", "misplaced schema file"},
			{"orders/OrderShipped/v1.avsc", 0, 0, "", "schema not in the catalog: add waybill.orders.OrderShipped under events"},
			{"orphan.avsc", 0, 0, "", "misplaced schema file"},
		}},
		{"bad-json", []problem{
			{"orders/OrderCancelled/v1.avsc", 16, 5, "", "invalid JSON: invalid character '}'"},
			{"orders/OrderCreated/v2.avsc", 14, 7, "", `invalid JSON: invalid character '"' after object key:value pair`},
		}},
		{"bad-schema", []problem{
			{"orders/OrderCancelled/v1.avsc", 14, 15, "/fields/1/type", `"waybill.orders.strin"`},
		}},
		{"unresolved-reference", []problem{
			{"orders/OrderCreated/v2.avsc", 19, 24, "/fields/2/type/1", `undefined name "waybill.common.Adress" (neither defined in this file nor a shared type in catalog.yaml)`},
		}},
		{"broken-shared", []problem{
			{"common/Address/v2.avsc", 2, 11, "/type", `"recrod"`},
			// ShipmentCreated means the latest Address, which does not parse;
			// OrderCreated v2 pins v1 and loads.
			{"shipments/ShipmentCreated/v1.avsc", 14, 15, "/fields/1/type", "(the shared type's common/Address/v2.avsc does not parse)"},
		}},
		{"unknown-topic", []problem{
			{yml, 40, 12, "/events/waybill.shipments.ShipmentCreated/topic", `unknown topic "shipments" (topics: order-events, shipment-events)`},
		}},
		{"name-mismatch", []problem{
			{"orders/OrderCancelled/v1.avsc", 3, 11, "/name", "the schema defines waybill.orders.OrderCanceled, but its catalog entry and directory are waybill.orders.OrderCancelled"},
			{"shipments/ShipmentCreated/v1.avsc", 1, 1, "/", "an event schema must be a record, not enum"},
		}},
		{"inline-shared", []problem{
			{"orders/OrderCreated/v2.avsc", 23, 19, "/fields/2/type/1/name", `"waybill.common.Address" is already defined by a referenced schema`},
		}},
		{"pins", []problem{
			{yml, 30, 12, "/events/waybill.orders.OrderCreated/references/v1/waybill.common.Address", "but orders/OrderCreated/v1.avsc does not use it"},
			{yml, 31, 12, "/events/waybill.orders.OrderCreated/references/v2/waybill.common.Address", "pins waybill.common.Address version 3, but there is no common/Address/v3.avsc"},
			{yml, 31, 39, "/events/waybill.orders.OrderCreated/references/v2/waybill.common.Money", "pins waybill.common.Money, which is not a shared type"},
			{yml, 32, 12, "/events/waybill.orders.OrderCreated/references/v7/waybill.common.Address", "there is no orders/OrderCreated/v7.avsc"},
			{yml, 33, 7, "/events/waybill.orders.OrderCreated/references/latest", `invalid version "latest"`},
		}},
		{"no-catalog", []problem{
			{yml, 0, 0, "", "cannot read the catalog"},
		}},
		{"bad-examples", []problem{
			{"examples/orders/OrderCancelled/v1.json", 2, 1, "", "unexpected data after the example"},
			{"examples/orders/OrderCreated/v1.json", 3, 28, "", "invalid JSON: invalid character 'O'"},
			{"examples/orders/OrderCreated/v2.json", 1, 1, "", "an example is a JSON object"},
		}},
		{"yaml-syntax", []problem{
			{yml, 35, 0, "", "invalid YAML: did not find expected ',' or ']'"},
		}},
		{"bad-catalog", []problem{
			{yml, 3, 17, "/topics/order-events/partitions", "partitions must be at least 1, not 0"},
			{yml, 4, 16, "/topics/order-events/retention", `invalid retention "7 days"`},
			{yml, 5, 21, "/topics/order-events/cleanup_policy", `invalid cleanup_policy "compacted"`},
			{yml, 7, 17, "/topics/shipment-events/partitions", `must be an integer, not "three"`},
			{yml, 10, 5, "/topics/shipment-events/replicas", `unknown key "replicas"`},
			{yml, 13, 18, "/lint/use/1", `unknown lint rule or category "NO_SUCH_RULE"`},
			{yml, 15, 1, "/owners", `unknown key "owners" (want one of topics, lint, shared, events)`},
			{yml, 18, 3, "/shared/waybill.orders.Address", "a shared type's namespace must be waybill.common, not waybill.orders"},
			{yml, 21, 3, "/shared/waybill.common.Address", "missing owner"},
			{yml, 27, 10, "/events/waybill.orders.OrderCreated/key", "must be a string, not int 5"},
			{yml, 28, 20, "/events/waybill.orders.OrderCreated/compatibility", `unknown compatibility level "BACKWARDS"`},
			{yml, 30, 5, "/events/waybill.orders.OrderCreated/owners", `unknown key "owners"`},
			{yml, 31, 16, "/events/waybill.orders.OrderCreated/producers", "needs at least one producer"},
			{yml, 32, 17, "/events/waybill.orders.OrderCreated/consumers/0", `invalid service name "Warehouse_Service"`},
			{yml, 32, 58, "/events/waybill.orders.OrderCreated/consumers/2", "notification-service is listed twice"},
			{yml, 34, 3, "/events/waybill.orders.OrderCancelled", "missing owner"},
			{yml, 34, 3, "/events/waybill.orders.OrderCancelled", "missing description"},
			{yml, 38, 3, "/events/waybill.orders.OrderCancelled", `"waybill.orders.OrderCancelled" is already defined at line 34`},
			{yml, 40, 3, "/events/waybill.Shipments.shipmentCreated", "invalid full name"},
			{yml, 42, 3, "/events/waybill.common.Thing", "waybill.common is the namespace of shared types"},
			// Its entry is invalid, so nothing accounts for the file.
			{"shipments/ShipmentCreated/v1.avsc", 0, 0, "", "schema not in the catalog"},
		}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			c, err := catalog.Load(os.DirFS(filepath.Join("testdata", tc.dir)))
			if c == nil {
				t.Fatal("Load returned a nil catalog")
			}
			var got catalog.Problems
			if !errors.As(err, &got) {
				t.Fatalf("Load error = %v, want Problems", err)
			}
			// Compare messages by the part the test names.
			got = append(catalog.Problems(nil), got...)
			for i := range got {
				if i < len(tc.want) && strings.Contains(got[i].Msg, tc.want[i].Msg) {
					got[i].Msg = tc.want[i].Msg
				}
			}
			if diff := cmp.Diff(catalog.Problems(tc.want), got); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s\nerror:\n%v", diff, err)
			}
		})
	}
}

// TestLoadPartial checks that a catalog with problems still holds what could
// be loaded.
func TestLoadPartial(t *testing.T) {
	c, err := catalog.Load(os.DirFS("testdata/broken-shared"))
	if err == nil {
		t.Fatal("Load: no error")
	}
	ev := c.Event("waybill.orders.OrderCreated")
	if ev == nil || len(ev.Versions) != 2 || ev.Latest().Schema == nil {
		t.Fatalf("OrderCreated not loaded: %+v", ev)
	}
	sc := c.Event("waybill.shipments.ShipmentCreated")
	if sc == nil || len(sc.Versions) != 1 || sc.Versions[0].Schema != nil {
		t.Fatalf("ShipmentCreated: want its version listed, without a schema: %+v", sc)
	}
}

func TestProblemsError(t *testing.T) {
	ps := catalog.Problems{
		{File: "catalog.yaml", Line: 3, Column: 5, Path: "/topics/x", Msg: "bad"},
		{File: "orders/A/v2.avsc", Line: 4, Msg: "worse"},
		{File: "orders/A/v3.avsc", Msg: "worst"},
	}
	want := "catalog: catalog.yaml:3:5: /topics/x: bad\n" +
		"catalog: orders/A/v2.avsc:4: worse\n" +
		"catalog: orders/A/v3.avsc: worst"
	if got := ps.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func ExampleLoad() {
	c, err := catalog.Load(os.DirFS("testdata/good"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range c.Events {
		latest := e.Latest()
		fmt.Printf("%s v%d %s key=%s\n", e.Subject(), latest.Number, e.Compatibility, e.Key)
		for _, r := range latest.References {
			fmt.Printf("  uses %s v%d\n", r.Subject, r.Version)
		}
	}
	// Output:
	// order-events-waybill.orders.OrderCancelled v1 BACKWARD_TRANSITIVE key=order_id
	// order-events-waybill.orders.OrderCreated v2 BACKWARD_TRANSITIVE key=order_id
	//   uses waybill.common.Address v1
	// shipment-events-waybill.shipments.ShipmentCreated v1 FULL key=shipment_id
	//   uses waybill.common.Address v2
}

func ExampleProblems() {
	_, err := catalog.Load(os.DirFS("testdata/unknown-topic"))
	var problems catalog.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Printf("%s:%d:%d: %s\n", p.File, p.Line, p.Column, p.Msg)
		}
	}
	// Output:
	// catalog.yaml:40:12: unknown topic "shipments" (topics: order-events, shipment-events)
}
