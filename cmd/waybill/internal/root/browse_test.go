package root_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
)

// repoSchemas is the repository's own schemas/, the richest catalog there is.
const repoSchemas = "../../../../schemas"

const (
	createdSubj   = "order-events-waybill.orders.OrderCreated"
	cancelledSubj = "order-events-waybill.orders.OrderCancelled"
	addressSubj   = "waybill.common.Address"
	alertSubj     = "alert-events-waybill.alerts.AlertRaised"
)

// seed pushes the repository's schemas/ to the registry at url, as
// `waybill registry push` does, and returns a client for it.
func seed(t *testing.T, url string, username, password string) *registry.Client {
	t.Helper()
	ctx := context.Background()
	c, err := registry.New(registry.Config{URL: url, Username: username, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(os.DirFS(repoSchemas))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := registry.PlanSync(ctx, c, cat)
	if err != nil {
		t.Fatal(err)
	}
	results, err := registry.Apply(ctx, c, plan)
	if err != nil || !registry.Passed(plan, results) {
		t.Fatalf("seeding the registry: %v %v", err, results)
	}
	return c
}

// breakCancelled registers a version 2 of OrderCancelled that the level
// would have refused: a field added without a default (new readers fail) and
// one removed without a default (old readers fail). The level is lowered to
// NONE for it and then set to BACKWARD, as happens when a team relaxes the
// rules for a day.
func breakCancelled(t *testing.T, c *registry.Client) {
	t.Helper()
	ctx := context.Background()
	v1, err := c.Version(ctx, cancelledSubj, 1)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(v1.Schema), &doc); err != nil {
		t.Fatal(err)
	}
	var fields []any
	for _, f := range doc["fields"].([]any) {
		if f.(map[string]any)["name"] != "reason" {
			fields = append(fields, f)
		}
	}
	doc["fields"] = append(fields, map[string]any{"name": "priority", "type": "int"})
	text, _ := json.Marshal(doc)
	if err := c.SetCompatibility(ctx, cancelledSubj, compat.None); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, cancelledSubj, string(text), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.SetCompatibility(ctx, cancelledSubj, compat.Backward); err != nil {
		t.Fatal(err)
	}
}

func id(t *testing.T, c *registry.Client, subject string, v int) string {
	t.Helper()
	sv, err := c.Version(context.Background(), subject, v)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(sv.ID)
}

func TestRegistryBrowse(t *testing.T) {
	url := registryURL(t)
	c := seed(t, url, "", "")
	breakCancelled(t, c)
	createdV2 := id(t, c, createdSubj, 2)
	addressV1 := id(t, c, addressSubj, 1)
	shipmentV1 := id(t, c, "shipment-events-waybill.shipments.ShipmentCreated", 1)
	alertV2 := id(t, c, alertSubj, 2)
	cancelledV2 := id(t, c, cancelledSubj, 2)

	tests := []struct {
		name string
		args []string
		code int
		// stdout must contain these, in this order; absent must not be there.
		stdout, absent []string
		// rows must be lines of stdout, with runs of spaces as one.
		rows   []string
		stderr string
	}{
		{
			name: "ls with the catalog",
			args: []string{"registry", "ls", "--url", url, "--schemas", repoSchemas},
			rows: []string{
				"SUBJECT VERSIONS LATEST ID LEVEL TOPIC OWNER",
				alertSubj + " 2 v2 " + alertV2 + " FULL_TRANSITIVE alert-events operations-team",
				cancelledSubj + " 2 v2 " + cancelledV2 + " BACKWARD order-events orders-team",
				createdSubj + " 2 v2 " + createdV2 + " BACKWARD_TRANSITIVE order-events orders-team",
				addressSubj + " 1 v1 " + addressV1 + " FULL_TRANSITIVE - platform-team",
				"9 subjects in " + url,
			},
		},
		{
			name:   "ls by prefix, without a catalog",
			args:   []string{"registry", "ls", "--url", url, "--prefix", "order-events-"},
			rows:   []string{createdSubj + " 2 v2 " + createdV2 + " BACKWARD_TRANSITIVE - -", "2 subjects in " + url},
			absent: []string{"alert-events", addressSubj, "orders-team"},
		},
		{
			name:   "ls with a prefix nothing has",
			args:   []string{"registry", "ls", "--url", url, "--prefix", "nothing"},
			stdout: []string{`no subjects starting with "nothing" in ` + url},
		},
		{
			name: "show the latest version",
			args: []string{"registry", "show", createdSubj, "--url", url, "--schemas", repoSchemas},
			stdout: []string{
				createdSubj + " version 2 (latest)",
				"ID:", createdV2,
				"Versions:", "1, 2",
				"Level:", "BACKWARD_TRANSITIVE",
				"Event:", "waybill.orders.OrderCreated",
				"Topic:", "order-events (key order_id)",
				"Owner:", "orders-team",
				"Producers:", "order-service",
				"Consumers:", "warehouse-service, shipment-service, notification-service",
				"References:", "waybill.common.Address: waybill.common.Address version 1",
				"Referenced by:", "(none)",
				"Fields:", "FIELD", "TYPE", "DEFAULT", "DOC",
				"line_items", "array<LineItem>",
				"line_items.quantity", "int",
				"created_at", "long (timestamp-millis)",
				"shipping_address", "[null, Address]", "null",
				"shipping_address.city", "string",
				"total", "[null, bytes (decimal(12,2))]",
				"Schema:", "  {\n", `    "type": "record",`, `    "name": "waybill.orders.OrderCreated",`,
			},
		},
		{
			name:   "show a version by number",
			args:   []string{"registry", "show", createdSubj, "1", "--url", url},
			stdout: []string{createdSubj + " version 1\n", "Versions:", "1, 2", "References:", "(none)", "order_id"},
			absent: []string{"(latest)", "shipping_address", "Event:"},
		},
		{
			name: "show what references a shared type",
			args: []string{"registry", "show", addressSubj, "latest", "--url", url},
			stdout: []string{
				addressSubj + " version 1 (latest)",
				"Level:", "FULL_TRANSITIVE",
				"Referenced by:", "ID " + createdV2 + ": " + createdSubj + " version 2",
				"ID " + shipmentV1 + ": shipment-events-waybill.shipments.ShipmentCreated version 1",
				"postal_code",
			},
		},
		{
			name:   "show an unknown subject",
			args:   []string{"registry", "show", "no-such-subject", "--url", url},
			code:   2,
			stderr: `waybill: registry show: subject "no-such-subject" not found in ` + url,
		},
		{
			name:   "show an unknown version",
			args:   []string{"registry", "show", createdSubj, "7", "--url", url},
			code:   2,
			stderr: `waybill: registry show: subject "` + createdSubj + `" has no version 7 (its versions: 1, 2)`,
		},
		{
			name:   "show a version that is not a number",
			args:   []string{"registry", "show", createdSubj, "newest", "--url", url},
			code:   2,
			stderr: `waybill: registry show: version "newest": want a number from 1, or latest`,
		},
		{
			name: "diff: only safe changes",
			args: []string{"registry", "diff", createdSubj, "1", "2", "--url", url},
			stdout: []string{
				createdSubj + ": version 1 (ID ", ") -> version 2 (ID " + createdV2 + "), level BACKWARD_TRANSITIVE",
				"safe", "FIELD_ADDED", "shipping_address", "[null, Address]",
				"safe", "FIELD_ADDED", "total", "[null, bytes (decimal(12,2))]",
				"0 break readers BACKWARD_TRANSITIVE protects",
			},
			absent: []string{"\n! "},
		},
		{
			name: "diff: a break the level protects exits 1",
			args: []string{"registry", "diff", cancelledSubj, "1", "latest", "--url", url},
			code: 1,
			stdout: []string{
				cancelledSubj + ": version 1 (ID ", "-> version 2 (ID ", "level BACKWARD",
				"  breaks old readers", "FIELD_REMOVED", "reason", "(not checked at BACKWARD)",
				"! breaks new readers", "FIELD_ADDED", "priority", "int", "READER_FIELD_MISSING_DEFAULT_VALUE",
				"2 changes; 1 breaks readers BACKWARD protects (marked !)",
			},
		},
		{
			name: "diff the other way round: the same fields, the other readers",
			args: []string{"registry", "diff", cancelledSubj, "2", "1", "--url", url},
			code: 1,
			stdout: []string{
				"! breaks new readers", "FIELD_ADDED", "reason",
				"  breaks old readers", "FIELD_REMOVED", "priority",
			},
		},
		{
			name:   "diff of a version with itself",
			args:   []string{"registry", "diff", createdSubj, "2", "latest", "--url", url},
			stdout: []string{"no structural changes"},
		},
		{
			name:   "diff with a missing version",
			args:   []string{"registry", "diff", createdSubj, "1", "3", "--url", url},
			code:   2,
			stderr: `waybill: registry diff: subject "` + createdSubj + `" has no version 3 (its versions: 1, 2)`,
		},
		{
			name:   "diff with too few arguments",
			args:   []string{"registry", "diff", createdSubj, "1", "--url", url},
			code:   2,
			stderr: "waybill: waybill registry diff: want SUBJECT V1 V2, got 2 arguments",
		},
		{
			name: "id: the schema and who uses it",
			args: []string{"registry", "id", addressV1, "--url", url},
			stdout: []string{
				"Schema ID " + addressV1, "Used by:", "  " + addressSubj + " version 1",
				"Schema:", `    "name": "waybill.common.Address",`,
			},
			absent: []string{"References:"},
		},
		{
			name: "id with references",
			args: []string{"registry", "id", createdV2, "--url", url},
			stdout: []string{
				"Schema ID " + createdV2, "  " + createdSubj + " version 2",
				"References:", "  waybill.common.Address: waybill.common.Address version 1",
			},
		},
		{
			name:   "id unknown",
			args:   []string{"registry", "id", "999", "--url", url},
			code:   2,
			stderr: "waybill: registry id: no schema with ID 999 in " + url,
		},
		{
			name:   "id not a number",
			args:   []string{"registry", "id", "seven", "--url", url},
			code:   2,
			stderr: `waybill: registry id: "seven" is not a schema ID (a number)`,
		},
		{
			name:   "a format the browsing commands do not write",
			args:   []string{"registry", "ls", "--url", url, "--format", "markdown"},
			code:   2,
			stderr: "waybill: registry ls: --format markdown: want text or json",
		},
		{
			name:   "a --schemas that is not there",
			args:   []string{"registry", "ls", "--url", url, "--schemas", "no/such/dir"},
			code:   2,
			stderr: `waybill: registry ls: schemas directory "no/such/dir": no such file or directory`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := waybill(t, "", tc.args...)
			checkStderr(t, code, stderr)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			rest := stdout
			for _, want := range tc.stdout {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("stdout lacks %q (in order)\nstdout:\n%s", want, stdout)
				}
				rest = rest[i+len(want):]
			}
			lines := map[string]bool{}
			for _, l := range strings.Split(stdout, "\n") {
				lines[strings.Join(strings.Fields(l), " ")] = true
			}
			for _, want := range tc.rows {
				if !lines[want] {
					t.Errorf("stdout lacks the line %q\nstdout:\n%s", want, stdout)
				}
			}
			for _, no := range tc.absent {
				if strings.Contains(stdout, no) {
					t.Errorf("stdout has %q\nstdout:\n%s", no, stdout)
				}
			}
			if tc.stderr != "" && strings.TrimSpace(stderr) != tc.stderr {
				t.Errorf("stderr %q, want %q", strings.TrimSpace(stderr), tc.stderr)
			}
		})
	}
}

// TestRegistryBrowseJSON reads what --format json gives scripts.
func TestRegistryBrowseJSON(t *testing.T) {
	url := registryURL(t)
	c := seed(t, url, "", "")
	breakCancelled(t, c)
	run := func(code int, out any, args ...string) {
		t.Helper()
		got, stdout, stderr := waybill(t, "", append(args, "--url", url, "--format", "json")...)
		checkStderr(t, got, stderr)
		if got != code {
			t.Fatalf("%v: exit code %d, want %d\n%s%s", args, got, code, stdout, stderr)
		}
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stdout)
		}
	}

	var ls struct {
		Registry string
		Subjects []struct {
			Subject, Event, Topic, Owner, Compatibility string
			CompatibilitySource                         string `json:"compatibility_source"`
			Versions                                    int
			LatestVersion                               int `json:"latest_version"`
			LatestID                                    int `json:"latest_id"`
		}
	}
	run(0, &ls, "registry", "ls", "--schemas", repoSchemas)
	if ls.Registry != url || len(ls.Subjects) != 9 {
		t.Fatalf("ls: %+v", ls)
	}
	createdID, _ := strconv.Atoi(id(t, c, createdSubj, 2))
	for _, s := range ls.Subjects {
		if s.Subject != createdSubj {
			continue
		}
		if s.Versions != 2 || s.LatestVersion != 2 || s.LatestID != createdID || s.Compatibility != "BACKWARD_TRANSITIVE" ||
			s.CompatibilitySource != "subject" || s.Topic != "order-events" || s.Owner != "orders-team" || s.Event != "waybill.orders.OrderCreated" {
			t.Errorf("ls: %+v", s)
		}
	}

	var show struct {
		Subject    string
		Version    int
		ID         int
		Versions   []int
		References []registry.Reference
		Fields     []struct{ Field, Type, Doc string }
		Schema     map[string]any
	}
	run(0, &show, "registry", "show", createdSubj)
	if show.Version != 2 || show.ID != createdID || len(show.Versions) != 2 || len(show.References) != 1 ||
		show.Schema["name"] != "waybill.orders.OrderCreated" || len(show.Fields) < 10 {
		t.Errorf("show: %+v", show)
	}

	var diff struct {
		Compatibility string
		Breaking      int
		Changes       []struct {
			compat.Change
			Protected bool `json:"breaks_protected_readers"`
		}
	}
	run(1, &diff, "registry", "diff", cancelledSubj, "1", "2")
	if diff.Compatibility != "BACKWARD" || diff.Breaking != 1 || len(diff.Changes) != 2 {
		t.Fatalf("diff: %+v", diff)
	}
	removed, added := diff.Changes[0], diff.Changes[1]
	if removed.Kind != compat.ChangeFieldRemoved || removed.Field != "reason" || removed.Consequence != compat.BreaksOldReaders || removed.Protected ||
		added.Kind != compat.ChangeFieldAdded || added.Field != "priority" || added.Consequence != compat.BreaksNewReaders || !added.Protected ||
		!strings.Contains(added.Detail, "READER_FIELD_MISSING_DEFAULT_VALUE") {
		t.Errorf("diff: %+v", diff.Changes)
	}

	var byID struct {
		ID     int
		UsedBy []registry.SubjectVersion `json:"used_by"`
		Schema map[string]any
	}
	run(0, &byID, "registry", "id", strconv.Itoa(createdID))
	if byID.ID != createdID || len(byID.UsedBy) != 1 || byID.UsedBy[0] != (registry.SubjectVersion{Subject: createdSubj, Version: 2}) {
		t.Errorf("id: %+v", byID)
	}
}

// TestRegistryBrowseDeleted lists soft-deleted subjects and versions only
// when asked.
func TestRegistryBrowseDeleted(t *testing.T) {
	url := registryURL(t)
	c := seed(t, url, "", "")
	ctx := context.Background()
	if err := c.DeleteSubject(ctx, cancelledSubj, false); err != nil {
		t.Fatal(err)
	}
	alertV2 := id(t, c, alertSubj, 2)
	if err := c.DeleteVersion(ctx, alertSubj, 1); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := waybill(t, "", "registry", "ls", "--url", url)
	checkStderr(t, code, stderr)
	if code != 0 || strings.Contains(stdout, cancelledSubj) || strings.Contains(stdout, "deleted") || !strings.Contains(stdout, "8 subjects") {
		t.Errorf("ls: exit %d\n%s", code, stdout)
	}
	code, stdout, stderr = waybill(t, "", "registry", "ls", "--url", url, "--deleted")
	checkStderr(t, code, stderr)
	collapsed := strings.Join(strings.Fields(stdout), " ")
	for _, want := range []string{cancelledSubj + " (deleted) 0 (+1 deleted) v1 ", alertSubj + " 1 (+1 deleted) v2 " + alertV2 + " ", "9 subjects"} {
		if !strings.Contains(collapsed, want) {
			t.Errorf("ls --deleted lacks %q\n%s", want, stdout)
		}
	}
	code, _, stderr = waybill(t, "", "registry", "show", cancelledSubj, "--url", url)
	checkStderr(t, code, stderr)
	if want := `waybill: registry show: subject "` + cancelledSubj + `" is soft-deleted (registry ls --deleted lists it)`; code != 2 || strings.TrimSpace(stderr) != want {
		t.Errorf("show a deleted subject: exit %d, %q", code, stderr)
	}
}

// TestRegistryBrowseConnection: the registry's URL and credentials come from
// the flags or the environment, and a registry that cannot be reached, or
// refuses the credentials, is exit 2 for every command.
func TestRegistryBrowseConnection(t *testing.T) {
	url := registryURL(t, server.User{Name: "reader", Password: "s3cret", Access: server.ReadWrite})
	seed(t, url, "reader", "s3cret")

	t.Setenv(registry.EnvURL, url)
	t.Setenv(registry.EnvUsername, "reader")
	t.Setenv(registry.EnvPassword, "s3cret")
	code, stdout, stderr := waybill(t, "", "registry", "ls")
	checkStderr(t, code, stderr)
	if code != 0 || !strings.Contains(stdout, "9 subjects in "+url) {
		t.Fatalf("ls from the environment: exit %d\n%s%s", code, stdout, stderr)
	}

	t.Setenv(registry.EnvPassword, "wrong")
	code, _, stderr = waybill(t, "", "registry", "show", createdSubj)
	checkStderr(t, code, stderr)
	if code != 2 || !strings.Contains(stderr, "waybill: registry show: registry: ") {
		t.Errorf("wrong password: exit %d, %q", code, stderr)
	}

	empty := registryURL(t)
	for _, args := range [][]string{
		{"registry", "ls"},
		{"registry", "show", createdSubj},
		{"registry", "diff", createdSubj, "1", "2"},
		{"registry", "id", "1"},
	} {
		t.Setenv(registry.EnvURL, "http://127.0.0.1:1")
		code, _, stderr := waybill(t, "", args...)
		checkStderr(t, code, stderr)
		if code != 2 || !strings.Contains(stderr, "cannot reach http://127.0.0.1:1") {
			t.Errorf("%v unreachable: exit %d, %q", args, code, stderr)
		}
		// --url wins over the environment.
		_, _, stderr = waybill(t, "", append(args, "--url", empty)...)
		if strings.Contains(stderr, "127.0.0.1:1") {
			t.Errorf("%v --url: %q", args, stderr)
		}
	}
}
