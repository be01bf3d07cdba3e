package registry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/registry"
)

func TestBrowseReads(t *testing.T) {
	ctx := context.Background()
	c := newRegistry(t)
	push(t, c, schemas(t))

	v2, err := c.Version(ctx, createdSubject, 2)
	if err != nil {
		t.Fatal(err)
	}
	byID, err := c.SchemaByID(ctx, v2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if byID.Schema != v2.Schema || !cmp.Equal(byID.References, v2.References) || byID.ID != v2.ID {
		t.Errorf("SchemaByID(%d) = %+v, want the schema and references of %+v", v2.ID, byID, v2)
	}
	users, err := c.SubjectVersionsByID(ctx, v2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []registry.SubjectVersion{{Subject: createdSubject, Version: 2}}; !cmp.Equal(users, want) {
		t.Errorf("SubjectVersionsByID = %v, want %v", users, want)
	}
	if _, err := c.SchemaByID(ctx, 9999); !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Errorf("SchemaByID(9999) = %v, want ErrSchemaNotFound", err)
	}

	refs, err := c.ReferencedBy(ctx, addressSubject, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{v2.ID}; !cmp.Equal(refs, want) {
		t.Errorf("ReferencedBy(Address v1) = %v, want %v", refs, want)
	}

	// The resolver parses a version with the types it references.
	s, err := registry.NewResolver(c).Parse(ctx, v2)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.References()) != 1 || s.References()[0] != "waybill.common.Address" {
		t.Errorf("parsed references = %v", s.References())
	}
	broken := *v2
	broken.References = []registry.Reference{{Name: "waybill.common.Address", Subject: addressSubject, Version: 7}}
	if _, err := registry.NewResolver(c).Parse(ctx, &broken); !errors.Is(err, registry.ErrVersionNotFound) {
		t.Errorf("Parse with a missing reference = %v, want ErrVersionNotFound", err)
	}

	// Soft-deleted subjects and versions are there when asked for.
	if err := c.DeleteSubject(ctx, cancelledSubject, false); err != nil {
		t.Fatal(err)
	}
	live, err := c.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.SubjectsIncludingDeleted(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(live)+1 {
		t.Errorf("SubjectsIncludingDeleted = %v, live %v", all, live)
	}
	if _, err := c.Version(ctx, cancelledSubject, 1); err == nil {
		t.Error("a soft-deleted version is found without deleted=true")
	}
	dv, err := c.VersionIncludingDeleted(ctx, cancelledSubject, 1)
	if err != nil || dv.Version != 1 || dv.ID == 0 || dv.Schema == "" {
		t.Errorf("VersionIncludingDeleted = %+v, %v", dv, err)
	}
}
