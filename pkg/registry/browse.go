package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

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
	var resp wireVersion
	if err := c.do(ctx, "GET", subjectPath(subject)+"/versions/"+strconv.Itoa(v)+"?deleted=true", nil, &resp); err != nil {
		return nil, err
	}
	out := resp.schemaVersion()
	out.Subject = subject
	return out, nil
}

// SchemaByID returns the schema with the given global ID (GET
// /schemas/ids/{id}): its text and references, with ID set and no subject
// or version, since several may share it. An unknown ID is
// ErrSchemaNotFound.
func (c *Client) SchemaByID(ctx context.Context, id int) (*SchemaVersion, error) {
	var resp wireVersion
	if err := c.do(ctx, "GET", "/schemas/ids/"+strconv.Itoa(id), nil, &resp); err != nil {
		return nil, err
	}
	return &SchemaVersion{ID: id, SchemaType: resp.SchemaType, Schema: resp.Schema, References: resp.References}, nil
}

// SubjectVersionsByID returns the live subject versions whose schema has the
// given ID (GET /schemas/ids/{id}/versions), sorted by subject and version.
func (c *Client) SubjectVersionsByID(ctx context.Context, id int) ([]SubjectVersion, error) {
	return c.subjectVersionsByID(ctx, id, "")
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
// and parsing each referenced schema once: parsed schemas are kept by ID
// (an ID names a schema with its references), up to maxParsed of them. A
// Resolver is safe for concurrent use.
type Resolver struct {
	fetch VersionFunc

	mu     sync.Mutex
	parsed map[int]parseResult
}

// VersionFunc fetches version v of subject, for a Resolver.
type VersionFunc func(ctx context.Context, subject string, v int) (*SchemaVersion, error)

type parseResult struct {
	s   *compat.Schema
	err error
}

// maxParsed bounds a Resolver's parsed schemas: past it, it starts over.
const maxParsed = 50_000

// ErrReferenceCycle is a schema whose references lead back to it.
var ErrReferenceCycle = errors.New("references form a cycle")

// NewResolver returns a resolver reading from c.
func NewResolver(c *Client) *Resolver { return NewResolverFunc(c.Version) }

// NewResolverFunc returns a resolver that fetches referenced versions with
// fetch (a cache in front of a Client, say).
func NewResolverFunc(fetch VersionFunc) *Resolver {
	return &Resolver{fetch: fetch, parsed: map[int]parseResult{}}
}

// Parse parses sv's schema with its references, which it fetches from the
// registry (and theirs, in turn). A schema that is not Avro or does not
// parse, or whose references are missing, do not parse or form a cycle, is
// an error that says which; an error of the registry is returned as it is.
func (r *Resolver) Parse(ctx context.Context, sv *SchemaVersion) (*compat.Schema, error) {
	s, err := r.parse(ctx, sv, nil)
	var re *refError
	switch {
	case err == nil:
		return s, nil
	case errors.As(err, &re):
		return nil, fmt.Errorf("registry: %w", err)
	case isRegistryFault(err):
		return nil, err
	}
	return nil, fmt.Errorf("registry: the schema of %s does not parse: %w", nameVersion(sv), err)
}

// References parses the schemas refs name, with their own references.
func (r *Resolver) References(ctx context.Context, refs []Reference) ([]*compat.Schema, error) {
	out, err := r.resolve(ctx, refs, nil)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return out, nil
}

func (r *Resolver) parse(ctx context.Context, sv *SchemaVersion, stack []int) (*compat.Schema, error) {
	if !sv.IsAvro() {
		return nil, fmt.Errorf("a %s schema, not Avro", sv.SchemaType)
	}
	if sv.ID > 0 {
		r.mu.Lock()
		p, ok := r.parsed[sv.ID]
		r.mu.Unlock()
		if ok {
			return p.s, p.err
		}
		if slices.Contains(stack, sv.ID) {
			return nil, ErrReferenceCycle
		}
	}
	refs, err := r.resolve(ctx, sv.References, append(stack, sv.ID))
	if err != nil && isRegistryFault(err) {
		return nil, err // the registry's fault, not the schema's: not kept
	}
	var s *compat.Schema
	if err == nil {
		s, err = compat.Parse([]byte(sv.Schema), refs...)
	}
	if sv.ID > 0 {
		r.mu.Lock()
		if len(r.parsed) >= maxParsed {
			clear(r.parsed)
		}
		r.parsed[sv.ID] = parseResult{s, err}
		r.mu.Unlock()
	}
	return s, err
}

// resolve parses the schemas refs name.
func (r *Resolver) resolve(ctx context.Context, refs []Reference, stack []int) ([]*compat.Schema, error) {
	out := make([]*compat.Schema, 0, len(refs))
	for _, ref := range refs {
		dep, err := r.fetch(ctx, ref.Subject, ref.Version)
		if err == nil {
			var p *compat.Schema
			if p, err = r.parse(ctx, dep, stack); err == nil {
				out = append(out, p)
				continue
			}
		}
		return nil, &refError{ref, err}
	}
	return out, nil
}

// refError is a reference that cannot be fetched or parsed.
type refError struct {
	ref Reference
	err error
}

func (e *refError) Error() string {
	return fmt.Sprintf("reference %s (%s version %d): %v", e.ref.Name, e.ref.Subject, e.ref.Version, e.err)
}

func (e *refError) Unwrap() error { return e.err }

// isRegistryFault reports whether err is the registry failing (a 5xx
// answer, no answer) rather than an answer about a schema.
func isRegistryFault(err error) bool {
	var re *Error
	if errors.As(err, &re) && re.HTTPStatus >= 500 {
		return true
	}
	var te *TransportError
	return errors.As(err, &te)
}

func nameVersion(sv *SchemaVersion) string {
	if sv.Subject == "" {
		return "ID " + strconv.Itoa(sv.ID)
	}
	return sv.Subject + " version " + strconv.Itoa(sv.Version)
}
