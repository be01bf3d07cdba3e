package registry

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/waybill/waybill/compat"
)

// EnvURL is the environment variable the command line reads a registry's URL
// from when no --url is given.
const EnvURL = "WAYBILL_REGISTRY_URL"

// SubjectVersion names one version of a subject.
type SubjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// SubjectsIncludingDeleted returns every subject, sorted: the live ones and
// those whose versions are all soft-deleted (GET /subjects?deleted=true).
func (c *Client) SubjectsIncludingDeleted(ctx context.Context) ([]string, error) {
	var subjects []string
	if err := c.do(ctx, "GET", "/subjects?deleted=true", nil, &subjects); err != nil {
		return nil, err
	}
	slices.Sort(subjects)
	return subjects, nil
}

// VersionIncludingDeleted returns version v of subject even when it is
// soft-deleted (GET /subjects/{s}/versions/{v}?deleted=true).
func (c *Client) VersionIncludingDeleted(ctx context.Context, subject string, v int) (*SchemaVersion, error) {
	var resp struct {
		Subject    string      `json:"subject"`
		Version    int         `json:"version"`
		ID         int         `json:"id"`
		Schema     string      `json:"schema"`
		References []Reference `json:"references"`
	}
	if err := c.do(ctx, "GET", subjectPath(subject)+"/versions/"+strconv.Itoa(v)+"?deleted=true", nil, &resp); err != nil {
		return nil, err
	}
	return &SchemaVersion{Subject: subject, Version: resp.Version, ID: resp.ID, Schema: resp.Schema, References: resp.References}, nil
}

// SchemaByID returns the schema with the given global ID (GET
// /schemas/ids/{id}): its text and references, with ID set and no subject
// or version, since several may share it. An unknown ID is
// ErrSchemaNotFound.
func (c *Client) SchemaByID(ctx context.Context, id int) (*SchemaVersion, error) {
	var resp struct {
		Schema     string      `json:"schema"`
		References []Reference `json:"references"`
	}
	if err := c.do(ctx, "GET", "/schemas/ids/"+strconv.Itoa(id), nil, &resp); err != nil {
		return nil, err
	}
	return &SchemaVersion{ID: id, Schema: resp.Schema, References: resp.References}, nil
}

// SubjectVersionsByID returns the live subject versions whose schema has the
// given ID (GET /schemas/ids/{id}/versions), sorted by subject and version.
func (c *Client) SubjectVersionsByID(ctx context.Context, id int) ([]SubjectVersion, error) {
	var out []SubjectVersion
	if err := c.do(ctx, "GET", "/schemas/ids/"+strconv.Itoa(id)+"/versions", nil, &out); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b SubjectVersion) int {
		if a.Subject != b.Subject {
			if a.Subject < b.Subject {
				return -1
			}
			return 1
		}
		return a.Version - b.Version
	})
	return out, nil
}

// ReferencedBy returns the IDs of the schemas that reference version v of
// subject (GET /subjects/{s}/versions/{v}/referencedby), sorted.
func (c *Client) ReferencedBy(ctx context.Context, subject string, v int) ([]int, error) {
	var ids []int
	path := fmt.Sprintf("%s/versions/%d/referencedby", subjectPath(subject), v)
	if err := c.do(ctx, "GET", path, nil, &ids); err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

// Resolver parses the registry's schemas with their references, fetching
// and parsing each referenced subject version once. It is not safe for
// concurrent use.
type Resolver struct {
	r *reader
}

// NewResolver returns a resolver reading from c.
func NewResolver(c *Client) *Resolver { return &Resolver{r: newReader(c)} }

// Parse parses sv's schema with its references, which it fetches from the
// registry (and theirs, in turn). A schema that does not parse, or whose
// references are missing or do not parse, is an error that says which; an
// error of the registry is returned as it is.
func (r *Resolver) Parse(ctx context.Context, sv *SchemaVersion) (*compat.Schema, error) {
	refs := make([]*compat.Schema, 0, len(sv.References))
	for _, ref := range sv.References {
		dep, err := r.r.version(ctx, ref.Subject, ref.Version)
		if err != nil {
			return nil, fmt.Errorf("registry: reference %s (%s version %d): %w", ref.Name, ref.Subject, ref.Version, err)
		}
		if dep.ParseErr != nil {
			return nil, fmt.Errorf("registry: reference %s (%s version %d): %w", ref.Name, ref.Subject, ref.Version, dep.ParseErr)
		}
		refs = append(refs, dep.Schema)
	}
	s, err := compat.Parse([]byte(sv.Schema), refs...)
	if err != nil {
		return nil, fmt.Errorf("registry: the schema of %s does not parse: %w", nameVersion(sv), err)
	}
	return s, nil
}

func nameVersion(sv *SchemaVersion) string {
	if sv.Subject == "" {
		return "ID " + strconv.Itoa(sv.ID)
	}
	return sv.Subject + " version " + strconv.Itoa(sv.Version)
}
