package registry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/registry"
)

func TestReads(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	push(t, c, schemas(t))
	if err := c.DeleteVersion(ctx, cancelledSubject, 1); err != nil {
		t.Fatal(err)
	}

	live, err := c.Schemas(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Schemas(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(live)+1 {
		t.Errorf("Schemas: %d with deleted, %d live", len(all), len(live))
	}
	v2, err := c.Version(ctx, createdSubject, 2)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sv := range live {
		if sv.Subject == cancelledSubject && sv.Version == 1 {
			t.Errorf("Schemas(live) has the soft-deleted %s version 1", cancelledSubject)
		}
		if sv.Subject == createdSubject && sv.Version == 2 {
			found = cmp.Equal(sv, *v2)
			if !found {
				t.Errorf("Schemas: %+v, Version: %+v", sv, *v2)
			}
		}
	}
	if !found {
		t.Errorf("Schemas(live) has no %s version 2", createdSubject)
	}
	if !v2.IsAvro() {
		t.Errorf("%+v is not Avro", v2)
	}

	latest, err := c.LatestVersion(ctx, createdSubject)
	if err != nil || latest.Version != 2 || latest.ID != v2.ID || latest.Subject != createdSubject {
		t.Errorf("LatestVersion = %+v, %v", latest, err)
	}

	uses, err := c.SubjectVersionsByIDIncludingDeleted(ctx, all[0].ID)
	if err != nil || len(uses) == 0 {
		t.Errorf("SubjectVersionsByIDIncludingDeleted = %v, %v", uses, err)
	}
	dv, err := c.VersionIncludingDeleted(ctx, cancelledSubject, 1)
	if err != nil {
		t.Fatal(err)
	}
	if uses, err := c.SubjectVersionsByID(ctx, dv.ID); err != nil || len(uses) != 0 {
		t.Errorf("SubjectVersionsByID(soft-deleted %d) = %v, %v; want none", dv.ID, uses, err)
	}
	want := []registry.SubjectVersion{{Subject: cancelledSubject, Version: 1}}
	if uses, err := c.SubjectVersionsByIDIncludingDeleted(ctx, dv.ID); err != nil || !cmp.Equal(uses, want) {
		t.Errorf("SubjectVersionsByIDIncludingDeleted(%d) = %v, %v; want %v", dv.ID, uses, err, want)
	}

	if m, err := c.GlobalMode(ctx); err != nil || m != "READWRITE" {
		t.Errorf("GlobalMode = %q, %v", m, err)
	}
	if m, err := c.Mode(ctx, createdSubject); err != nil || m != "READWRITE" {
		t.Errorf("Mode = %q, %v", m, err)
	}
}

// TestErrorRequest: an error answer says which request it answers, for
// callers that show it.
func TestErrorRequest(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	for _, tc := range []struct {
		name string
		call func() error
		path string
	}{
		{"through srclient", func() error { _, err := c.Version(ctx, "nope", 1); return err }, "/subjects/nope/versions/1"},
		{"over net/http", func() error { _, err := c.VersionIncludingDeleted(ctx, "nope", 1); return err }, "/subjects/nope/versions/1?deleted=true"},
	} {
		var re *registry.Error
		if err := tc.call(); !errors.As(err, &re) || !errors.Is(err, registry.ErrSubjectNotFound) {
			t.Fatalf("%s: %v, want ErrSubjectNotFound", tc.name, err)
		}
		if re.Method != "GET" || re.Path != tc.path || re.HTTPStatus != 404 {
			t.Errorf("%s: %s %s (%d), want GET %s (404)", tc.name, re.Method, re.Path, re.HTTPStatus, tc.path)
		}
	}
}

// TestResolverCycle: references that lead back to the schema are an error,
// not a loop; each schema is fetched once.
func TestResolverCycle(t *testing.T) {
	a := &registry.SchemaVersion{Subject: "a", Version: 1, ID: 1, Schema: `{"type":"record","name":"A","fields":[{"name":"b","type":"B"}]}`,
		References: []registry.Reference{{Name: "B", Subject: "b", Version: 1}}}
	b := &registry.SchemaVersion{Subject: "b", Version: 1, ID: 2, Schema: `{"type":"record","name":"B","fields":[{"name":"a","type":"A"}]}`,
		References: []registry.Reference{{Name: "A", Subject: "a", Version: 1}}}
	fetched := map[string]int{}
	r := registry.NewResolverFunc(func(_ context.Context, subject string, _ int) (*registry.SchemaVersion, error) {
		fetched[subject]++
		if subject == "a" {
			return a, nil
		}
		return b, nil
	})
	for range 2 {
		if _, err := r.Parse(context.Background(), a); !errors.Is(err, registry.ErrReferenceCycle) {
			t.Errorf("Parse = %v, want ErrReferenceCycle", err)
		}
	}
	if fetched["b"] != 1 {
		t.Errorf("fetched %v, want b once", fetched)
	}
	proto := &registry.SchemaVersion{ID: 3, SchemaType: "PROTOBUF", Schema: "syntax = \"proto3\";"}
	if _, err := r.Parse(context.Background(), proto); err == nil {
		t.Error("a Protobuf schema parses")
	}
}
