package registry

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/waybill/waybill/compat"
	sr "github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// schemaRequest is the body of register, lookup and compatibility requests.
// Unknown fields (metadata, ruleSet, ...) are ignored, as Confluent's server
// ignores them; numbers that do not fit are malformed JSON.
type schemaRequest struct {
	Schema     string       `json:"schema"`
	SchemaType string       `json:"schemaType"`
	References []refRequest `json:"references"`
	ID         *int32       `json:"id"`
	Version    *int32       `json:"version"`
}

type refRequest struct {
	Name    *string `json:"name"`
	Subject *string `json:"subject"`
	Version *int32  `json:"version"`
}

// explicitID returns the ID a register request asks for, or 0.
func (req *schemaRequest) explicitID() int {
	if req.ID != nil && *req.ID > 0 {
		return int(*req.ID)
	}
	return 0
}

func (req *schemaRequest) empty() bool { return strings.TrimSpace(req.Schema) == "" }

// validSubject is Confluent's rule: not empty, no control characters.
func validSubject(s string) bool {
	return s != "" && !strings.ContainsFunc(s, unicode.IsControl)
}

func errInvalidSubject(s string) *sr.Error {
	return sr.ErrInvalidSubject.With("The specified subject '%s' is not valid.", s)
}

// prepare parses a request's schema against the state, its references
// resolved (version -1 becomes the latest live version), and returns it as
// it would be stored: compat's compact JSON, or with normalize the
// normalized form and sorted references. The caller holds the lock.
func (st *state) prepare(req *schemaRequest, normalize bool) (*schemaRec, *sr.Error) {
	if req.SchemaType != "" && !strings.EqualFold(req.SchemaType, "AVRO") {
		return nil, sr.ErrInvalidSchema.With("Invalid schema type %q: this registry stores AVRO schemas", req.SchemaType)
	}
	refs := make([]schemalog.Reference, len(req.References))
	for i, r := range req.References {
		if r.Name == nil || *r.Name == "" || r.Subject == nil || *r.Subject == "" || r.Version == nil {
			return nil, sr.ErrInvalidSchema.With("Invalid schema: reference %d needs a name, a subject and a version", i)
		}
		n := int(*r.Version)
		switch {
		case n == -1:
			var latest *version
			if s := st.subjects[*r.Subject]; s != nil {
				latest = s.latest()
			}
			if latest == nil {
				return nil, sr.ErrInvalidSchema.With("Invalid schema: reference %q: subject %q has no live version", *r.Name, *r.Subject)
			}
			n = latest.n
		case n <= 0:
			return nil, sr.ErrInvalidSchema.With("Invalid schema: reference %q: invalid version %d", *r.Name, n)
		}
		refs[i] = schemalog.Reference{Name: *r.Name, Subject: *r.Subject, Version: n}
	}
	deps, err := st.resolved(refs)
	if err != nil {
		return nil, sr.ErrInvalidSchema.With("Invalid schema: %v", err)
	}
	parsed, err := compat.Parse([]byte(req.Schema), deps...)
	if err != nil {
		return nil, sr.ErrInvalidSchema.With("Invalid schema: %v", err)
	}
	text := parsed.String()
	if normalize {
		text, refs = normalized(parsed), sortedRefs(refs)
	}
	if len(refs) == 0 {
		refs = nil
	}
	rec := st.newRec(0, "", text, refs)
	if rec.parsed == nil {
		return nil, sr.ErrInvalidSchema.With("Invalid schema: %v", rec.parseErr)
	}
	return rec, nil
}

// match finds a version of a subject holding a candidate schema, the
// highest first: same text and references, or with normalize the same
// normalized form. Soft-deleted versions only if deleted.
func (s *subject) match(cand *schemaRec, normalize, deleted bool) *version {
	if s == nil {
		return nil
	}
	var found *version
	for _, v := range s.versions {
		if v.deleted && !deleted {
			continue
		}
		if v.rec.ident == cand.ident || (normalize && v.rec.norm == cand.norm) {
			if found == nil || v.n > found.n {
				found = v
			}
		}
	}
	return found
}

// check runs compat.CheckLevel for a candidate against versions of a
// subject (oldest first) and returns the incompatibilities as messages
// (Finding.String(), with the registry's version numbers). A version whose
// schema cannot be parsed any more cannot be checked against, which is an
// incompatibility.
func check(level compat.Level, cand *compat.Schema, against []*version) []string {
	if level == compat.None || len(against) == 0 {
		return nil
	}
	if !level.Transitive() {
		against = against[len(against)-1:]
	}
	msgs := []string{}
	existing := make([]*compat.Schema, 0, len(against))
	nums := make([]int, 0, len(against))
	for _, v := range against {
		if v.rec.parsed == nil {
			msgs = append(msgs, fmt.Sprintf("version %d cannot be checked against: %v", v.n, v.rec.parseErr))
			continue
		}
		existing = append(existing, v.rec.parsed)
		nums = append(nums, v.n)
	}
	res := compat.CheckLevel(level, cand, existing)
	for _, f := range res.Incompatibilities {
		if f.Version > 0 && f.Version <= len(nums) {
			f.Version = nums[f.Version-1]
		}
		msgs = append(msgs, f.String())
	}
	return msgs
}
