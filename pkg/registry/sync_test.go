package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
)

// actions summarizes a plan's actions, one string each, in order.
func actions(p *registry.Plan) []string {
	var out []string
	for _, a := range p.Actions {
		switch a.Kind {
		case registry.SetCompatibility:
			out = append(out, fmt.Sprintf("level %s %s->%s", a.Subject, a.From, a.Level))
		case registry.Register:
			s := fmt.Sprintf("register %s v%d", a.Subject, a.Version)
			for _, r := range a.References {
				s += fmt.Sprintf(" ref{%s %s %d}", r.Name, r.Subject, r.Version)
			}
			out = append(out, s)
		default:
			out = append(out, fmt.Sprintf("%s %s v%d", a.Kind, a.Subject, a.Version))
		}
	}
	return out
}

// drift summarizes a plan's drift.
func drift(p *registry.Plan) []string {
	var out []string
	for _, d := range p.Drift {
		out = append(out, fmt.Sprintf("%s %s v%d %s", d.Kind, d.Subject, d.Version, d.Path))
	}
	return out
}

func TestFirstPushRegistersEverythingThenNothing(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	dir := schemas(t)

	plan := push(t, c, dir)
	want := []string{
		"level " + addressSubject + " ->FULL_TRANSITIVE",
		"level " + cancelledSubject + " ->BACKWARD_TRANSITIVE",
		"level " + createdSubject + " ->BACKWARD_TRANSITIVE",
		"register " + addressSubject + " v1",
		"register " + cancelledSubject + " v1",
		"register " + createdSubject + " v1",
		"register " + createdSubject + " v2 ref{waybill.common.Address waybill.common.Address 1}",
	}
	if diff := cmp.Diff(want, actions(plan)); diff != "" {
		t.Errorf("first plan (-want +got):\n%s", diff)
	}
	if len(plan.Drift) != 0 {
		t.Errorf("drift on an empty registry: %v", drift(plan))
	}

	// What the registry holds now.
	for subject, level := range map[string]compat.Level{addressSubject: compat.FullTransitive, createdSubject: compat.BackwardTransitive} {
		got, err := c.SubjectCompatibility(ctx, subject)
		if err != nil || got != level {
			t.Errorf("level of %s = %q, %v; want %s", subject, got, err, level)
		}
	}
	v2, err := c.Version(ctx, createdSubject, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []registry.Reference{{Name: "waybill.common.Address", Subject: addressSubject, Version: 1}}; !cmp.Equal(v2.References, want) {
		t.Errorf("references of %s v2 = %+v, want %+v", createdSubject, v2.References, want)
	}

	again, err := registry.PlanSync(ctx, c, load(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Empty() {
		t.Errorf("second plan is not empty: %v %v", actions(again), drift(again))
	}
	var text bytes.Buffer
	if err := again.WriteText(&text, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "nothing to do") {
		t.Errorf("empty plan as text:\n%s", text.String())
	}
}

func TestPlanDoesNotWrite(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	dir := schemas(t)
	for range 2 {
		plan, err := registry.PlanSync(ctx, c, load(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Actions) != 7 {
			t.Fatalf("plan has %d actions, want 7: %v", len(plan.Actions), actions(plan))
		}
	}
	if subjects, err := c.Subjects(ctx); err != nil || len(subjects) != 0 {
		t.Errorf("after planning, subjects = %v, %v", subjects, err)
	}
}

func TestDrift(t *testing.T) {
	tests := []struct {
		name string
		// change is made to the repository after the first push.
		change func(t *testing.T, dir string)
		drift  []string
		// message must be in the first drift's message.
		message string
	}{
		{
			name: "changed type",
			change: func(t *testing.T, dir string) {
				edit(t, dir, created+"v1.avsc", `"name": "quantity", "type": "int"`, `"name": "quantity", "type": "long"`)
			},
			drift:   []string{"schema " + createdSubject + " v1 /fields/2/type"},
			message: "differs from orders/OrderCreated/v1.avsc: its schema differs (Parsing Canonical Form) at /fields/2/type",
		},
		{
			name: "added alias",
			change: func(t *testing.T, dir string) {
				edit(t, dir, cancelled+"v1.avsc", `"default": null`, `"default": null, "aliases": ["why"]`)
			},
			drift:   []string{"schema " + cancelledSubject + " v1 /fields/1/aliases"},
			message: "its Parsing Canonical Form is the same, but defaults, aliases",
		},
		{
			name: "docs only",
			change: func(t *testing.T, dir string) {
				edit(t, dir, created+"v1.avsc", `"doc": "Who ordered."`, `"doc": "The customer who placed the order."`)
			},
		},
		{
			name: "changed shared type is its drift, not its users'",
			change: func(t *testing.T, dir string) {
				edit(t, dir, address+"v1.avsc", `"name": "city", "type": "string"`, `"name": "town", "type": "string"`)
			},
			drift: []string{"schema " + addressSubject + " v1 /fields/1/name"},
		},
		{
			name: "version removed from the repository",
			change: func(t *testing.T, dir string) {
				write(t, dir, created+"v2.avsc", "")
				removeFile(t, dir, created+"v2.avsc")
			},
			drift:   []string{"extra-version " + createdSubject + " v2 "},
			message: "is in the registry but not in the repository",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newRegistry(t)
			dir := schemas(t)
			push(t, c, dir)
			tt.change(t, dir)
			plan, err := registry.PlanSync(context.Background(), c, load(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Actions) != 0 {
				t.Errorf("actions: %v", actions(plan))
			}
			if diff := cmp.Diff(tt.drift, drift(plan)); diff != "" {
				t.Errorf("drift (-want +got):\n%s", diff)
			}
			if tt.message != "" && len(plan.Drift) > 0 && !strings.Contains(plan.Drift[0].Message, tt.message) {
				t.Errorf("message %q does not contain %q", plan.Drift[0].Message, tt.message)
			}
		})
	}
}

func TestNewVersions(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	dir := schemas(t)
	push(t, c, dir)

	// A compatible v3 and an incompatible v4: v3 registers, v4 fails with
	// the registry's details, and a v5 after it is skipped.
	write(t, dir, created+"v3.avsc", v3(t, dir, `{"name": "note", "type": ["null", "string"], "default": null, "doc": "A note."}`))
	write(t, dir, created+"v4.avsc", strings.Replace(v3(t, dir, `{"name": "note", "type": ["null", "string"], "default": null, "doc": "A note."}`),
		lastDoc, lastDoc+",\n    "+`{"name": "priority", "type": "int", "doc": "How urgent."}`, 1))
	write(t, dir, created+"v5.avsc", strings.Replace(read(t, dir, created+"v4.avsc"),
		`"doc": "How urgent."}`, `"doc": "How urgent."},
    {"name": "channel", "type": ["null", "string"], "default": null, "doc": "Where it came from."}`, 1))
	plan, err := registry.PlanSync(ctx, c, load(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	results, err := registry.Apply(ctx, c, plan)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range results {
		got = append(got, fmt.Sprintf("v%d %s", r.Action.Version, r.Status))
	}
	if diff := cmp.Diff([]string{"v3 applied", "v4 failed", "v5 skipped"}, got); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}
	failed := results[1].Err
	if !errors.Is(failed, registry.ErrIncompatibleSchema) {
		t.Errorf("v4: %v, want ErrIncompatibleSchema", failed)
	}
	if !strings.Contains(failed.Error(), "priority") {
		t.Errorf("v4: %v: the registry's details do not name the field", failed)
	}
	if results[2].Err == nil || !strings.Contains(results[2].Err.Error(), createdSubject+" v4") {
		t.Errorf("v5 skipped because %v", results[2].Err)
	}
	if registry.Passed(plan, results) {
		t.Error("Passed with a failed registration")
	}

	var out bytes.Buffer
	if err := plan.WriteJSON(&out, results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Passed  bool `json:"passed"`
		Actions []struct {
			Version int    `json:"version"`
			Status  string `json:"status"`
			Error   *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Passed || len(doc.Actions) != 3 || doc.Actions[1].Error == nil || doc.Actions[1].Error.Code != 409 {
		t.Errorf("JSON: %s", out.String())
	}
}

func TestUnknownSubjects(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	dir := schemas(t)
	push(t, c, dir)
	stray := `{"type": "record", "name": "Stray", "namespace": "waybill.orders", "fields": []}`
	for _, s := range []string{"order-events-waybill.orders.Stray", "billing-events-value"} {
		if _, err := c.Register(ctx, s, stray, nil); err != nil {
			t.Fatal(err)
		}
	}

	plan, err := registry.PlanSync(ctx, c, load(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"unknown-subject order-events-waybill.orders.Stray v0 "}, drift(plan)); diff != "" || len(plan.Actions) != 0 {
		t.Errorf("drift (-want +got):\n%s\nactions: %v", diff, actions(plan))
	}

	plan, err = registry.PlanSync(ctx, c, load(t, dir), registry.AllSubjects())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Drift) != 2 || len(plan.Actions) != 0 {
		t.Errorf("with AllSubjects: drift %v, actions %v", drift(plan), actions(plan))
	}

	push(t, c, dir, registry.DeleteUnknown())
	subjects, err := c.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"billing-events-value", cancelledSubject, createdSubject, addressSubject}, subjects); diff != "" {
		t.Errorf("subjects after deleting the unknown (-want +got):\n%s", diff)
	}
}

func TestNumbering(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	dir := schemas(t)
	push(t, c, dir)
	// Someone deleted v2 in the registry: the repository's v2 cannot be
	// version 2 again, and a v3 would become version 3 only by chance.
	if err := c.DeleteVersion(ctx, createdSubject, 2); err != nil {
		t.Fatal(err)
	}
	write(t, dir, created+"v3.avsc", v3(t, dir, `{"name": "note", "type": ["null", "string"], "default": null, "doc": "A note."}`))
	plan, err := registry.PlanSync(ctx, c, load(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Actions) != 0 {
		t.Errorf("actions: %v", actions(plan))
	}
	if diff := cmp.Diff([]string{"numbering " + createdSubject + " v2 "}, drift(plan)); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	if _, err := c.Version(ctx, "nope", 1); !errors.Is(err, registry.ErrSubjectNotFound) {
		t.Errorf("unknown subject: %v", err)
	}
	if _, err := c.Register(ctx, "s", "{not json", nil); !errors.Is(err, registry.ErrInvalidSchema) {
		t.Errorf("invalid schema: %v", err)
	}

	down, err := registry.New(registry.Config{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = registry.PlanSync(ctx, down, load(t, "testdata/schemas"))
	var te *registry.TransportError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "cannot reach http://127.0.0.1:1") {
		t.Errorf("unreachable: %v", err)
	}
	if _, err := registry.New(registry.Config{URL: "localhost:8081"}); err == nil {
		t.Error("a URL without a scheme is accepted")
	}
}

func TestClientTimeout(t *testing.T) {
	// A listener that never answers: the kernel accepts the connection, and
	// the request waits for an answer that does not come.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := registry.New(registry.Config{URL: "http://" + ln.Addr().String(), Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Subjects(context.Background())
	var te *registry.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("Subjects: %v, want a TransportError", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timed out after %v", d)
	}

	// The context ends sooner than the timeout.
	c, err = registry.New(registry.Config{URL: "http://" + ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Versions(ctx, "s", true); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Versions after the context ended: %v", err)
	}
	if _, err := c.Versions(ctx, "s", false); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Versions (srclient) after the context ended: %v", err)
	}
}

func TestClientBasicAuth(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// user and password are the credentials; userinfo puts them in the
		// URL instead.
		user, password string
		userinfo       bool
		// want is the error of a push: nil, or a catalogued error.
		want error
	}{
		{name: "credentials", user: "ci", password: "s3cret"},
		{name: "credentials in the URL", user: "ci", password: "s3cret", userinfo: true},
		{name: "none", want: registry.ErrUnauthorized},
		{name: "wrong password", user: "ci", password: "nope", want: registry.ErrUnauthorized},
		{name: "read-only user", user: "viewer", password: "look", want: registry.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, server.Config{Users: []server.User{
				{Name: "ci", Password: "s3cret", Access: server.ReadWrite},
				{Name: "viewer", Password: "look", Access: server.ReadOnly},
			}})
			cfg := registry.Config{URL: srv.URL, Username: tt.user, Password: tt.password}
			if tt.userinfo {
				cfg = registry.Config{URL: "http://" + tt.user + ":" + tt.password + "@" + strings.TrimPrefix(srv.URL, "http://")}
			}
			c, err := registry.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(c.URL(), "s3cret") {
				t.Errorf("URL() = %q shows the password", c.URL())
			}
			plan, err := registry.PlanSync(ctx, c, load(t, "testdata/schemas"))
			if err != nil {
				if tt.want == nil || !errors.Is(err, tt.want) {
					t.Fatalf("plan: %v, want %v", err, tt.want)
				}
				return
			}
			results, err := registry.Apply(ctx, c, plan)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if !registry.Passed(plan, results) {
					t.Errorf("apply: %+v", results)
				}
				return
			}
			if results[0].Status != registry.Failed || !errors.Is(results[0].Err, tt.want) {
				t.Errorf("apply: %s %v, want %v", results[0].Status, results[0].Err, tt.want)
			}
		})
	}
}

func TestRefusedRegistrations(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// before is done to the registry before the push.
		before func(t *testing.T, c *registry.Client, url string)
		drift  []string
		// results are "subject vN status", and err the error of the failed
		// one.
		results []string
		err     error
	}{
		{
			name: "unresolvable reference (42201)",
			before: func(t *testing.T, c *registry.Client, url string) {
				// The registry has an Address v2 the repository does not,
				// and its v1 was deleted for good: OrderCreated v2 references
				// a version that is not there.
				v1 := read(t, "testdata/schemas", address+"v1.avsc")
				v2 := strings.Replace(v1, `"doc": "City."}`, `"doc": "City."}, {"name": "zip", "type": ["null", "string"], "default": null}`, 1)
				for _, schema := range []string{v1, v2} {
					if _, err := c.Register(ctx, addressSubject, schema, nil); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.DeleteVersion(ctx, addressSubject, 1); err != nil {
					t.Fatal(err)
				}
				do(t, "DELETE", url+"/subjects/"+addressSubject+"/versions/1?permanent=true", "")
			},
			drift: []string{"numbering " + addressSubject + " v1 ", "extra-version " + addressSubject + " v2 "},
			results: []string{
				addressSubject + " v0 applied", cancelledSubject + " v0 applied", createdSubject + " v0 applied",
				cancelledSubject + " v1 applied", createdSubject + " v1 applied", createdSubject + " v2 failed",
			},
			err: registry.ErrInvalidSchema,
		},
		{
			name: "read-only subject (42205): what references it is skipped",
			before: func(t *testing.T, _ *registry.Client, url string) {
				do(t, "PUT", url+"/mode/"+addressSubject, `{"mode": "READONLY"}`)
			},
			results: []string{
				addressSubject + " v0 applied", cancelledSubject + " v0 applied", createdSubject + " v0 applied",
				addressSubject + " v1 failed", cancelledSubject + " v1 applied", createdSubject + " v1 applied", createdSubject + " v2 skipped",
			},
			err: registry.ErrOperationNotPermitted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, server.Config{})
			c, err := registry.New(registry.Config{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			tt.before(t, c, srv.URL)
			plan, err := registry.PlanSync(ctx, c, load(t, "testdata/schemas"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.drift, drift(plan)); diff != "" {
				t.Errorf("drift (-want +got):\n%s", diff)
			}
			results, err := registry.Apply(ctx, c, plan)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range results {
				got = append(got, fmt.Sprintf("%s v%d %s", r.Action.Subject, r.Action.Version, r.Status))
				if r.Status == registry.Failed && !errors.Is(r.Err, tt.err) {
					t.Errorf("%s v%d: %v, want %v", r.Action.Subject, r.Action.Version, r.Err, tt.err)
				}
			}
			if diff := cmp.Diff(tt.results, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeleteUnknownVersions(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	dir := schemas(t)
	push(t, c, dir)
	removeFile(t, dir, created+"v2.avsc")

	plan := push(t, c, dir, registry.DeleteUnknown())
	if diff := cmp.Diff([]string{"delete-version " + createdSubject + " v2"}, actions(plan)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	if live, err := c.Versions(ctx, createdSubject, false); err != nil || !cmp.Equal(live, []int{1}) {
		t.Errorf("live versions after the delete: %v, %v", live, err)
	}
	// Soft: the registry still has it, and still numbers after it.
	if all, err := c.Versions(ctx, createdSubject, true); err != nil || !cmp.Equal(all, []int{1, 2}) {
		t.Errorf("versions with the deleted: %v, %v", all, err)
	}
}

// do makes a request the client has no call for, and fails the test unless
// it is answered 200.
func do(t *testing.T, method, url, body string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
}
