package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
)

// registered is a version the registry holds, parsed with its references.
type registered struct {
	*SchemaVersion
	// Schema is nil when the registry's text does not parse; ParseErr says
	// why.
	Schema   *compat.Schema
	ParseErr error
}

// reader fetches versions from a registry and parses them with their
// references, each subject-version once.
type reader struct {
	c      *Client
	parsed map[string]*registered // by subject@version
}

func newReader(c *Client) *reader { return &reader{c: c, parsed: map[string]*registered{}} }

func versionKey(subject string, v int) string { return subject + "@" + strconv.Itoa(v) }

// version returns version v of subject, parsed with its references. A
// version whose schema or references do not parse is returned with ParseErr
// set: that is drift to report, not a failure to run.
func (r *reader) version(ctx context.Context, subject string, v int) (*registered, error) {
	return r.resolve(ctx, subject, v, nil)
}

func (r *reader) resolve(ctx context.Context, subject string, v int, stack []string) (*registered, error) {
	key := versionKey(subject, v)
	if got, ok := r.parsed[key]; ok {
		return got, nil
	}
	if slices.Contains(stack, key) {
		return &registered{SchemaVersion: &SchemaVersion{Subject: subject, Version: v},
			ParseErr: fmt.Errorf("references form a cycle: %s", strings.Join(append(stack, key), " -> "))}, nil
	}
	sv, err := r.c.Version(ctx, subject, v)
	if err != nil {
		return nil, err
	}
	out := &registered{SchemaVersion: sv}
	var refs []*compat.Schema
	for _, ref := range sv.References {
		dep, err := r.resolve(ctx, ref.Subject, ref.Version, append(stack, key))
		if errors.Is(err, ErrSubjectNotFound) || errors.Is(err, ErrVersionNotFound) {
			out.ParseErr = fmt.Errorf("reference %s: %s version %d is not in the registry", ref.Name, ref.Subject, ref.Version)
			break
		}
		if err != nil {
			return nil, err
		}
		if dep.ParseErr != nil {
			out.ParseErr = fmt.Errorf("reference %s (%s version %d): %w", ref.Name, ref.Subject, ref.Version, dep.ParseErr)
			break
		}
		refs = append(refs, dep.Schema)
	}
	if out.ParseErr == nil {
		out.Schema, out.ParseErr = compat.Parse([]byte(sv.Schema), refs...)
	}
	r.parsed[key] = out
	return out, nil
}

// difference is how a registry version differs from the repository's file.
type difference struct {
	kind DriftKind
	// path is a JSON pointer into the file, where it can be told.
	path string
	what string
}

// compare compares a version of the repository with the registry's version
// of the same number. Schemas are compared by their Parsing Canonical Form
// (what the bytes on the wire mean), then by the attributes the canonical
// form leaves out but readers use (defaults, aliases, logical types, field
// order, custom attributes); references by name, subject and version. Docs
// are left out: a published version's docs may change in the repository.
// It returns nil when they agree.
func compare(v *catalog.Version, reg *registered) *difference {
	if reg.ParseErr != nil {
		return &difference{kind: DriftSchema, what: "the registry's schema does not parse here: " + strings.TrimPrefix(reg.ParseErr.Error(), "compat: ")}
	}
	if want := fromCatalog(v.References); !slices.Equal(sortedRefs(reg.References), want) {
		return &difference{kind: DriftReferences, what: fmt.Sprintf("its references differ: the registry has %s, the repository %s",
			describeRefs(reg.References), describeRefs(want))}
	}
	// The full renderings name the types taken from references without
	// repeating them: a difference in a shared type is drift of the shared
	// type's subject, reported there, not again in every event using it.
	ptr, differ := attributeDifference(v.Schema, reg.Schema)
	switch {
	case !differ:
		return nil
	case v.Schema.Canonical() != reg.Schema.Canonical():
		return &difference{kind: DriftSchema, path: ptr, what: "its schema differs (Parsing Canonical Form) at " + displayPointer(ptr)}
	}
	return &difference{kind: DriftSchema, path: ptr, what: "its Parsing Canonical Form is the same, but defaults, aliases, logical types, field order or other attributes differ at " + displayPointer(ptr)}
}

func fromCatalog(refs []catalog.Reference) []Reference {
	out := make([]Reference, len(refs))
	for i, r := range refs {
		out[i] = Reference{Name: r.Name, Subject: r.Subject, Version: r.Version}
	}
	return sortedRefs(out)
}

func sortedRefs(refs []Reference) []Reference {
	out := slices.Clone(refs)
	if out == nil {
		out = []Reference{}
	}
	slices.SortFunc(out, func(a, b Reference) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func describeRefs(refs []Reference) string {
	if len(refs) == 0 {
		return "none"
	}
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = describeRef(r)
	}
	return strings.Join(parts, ", ")
}

func describeRef(r Reference) string {
	if r.Name == r.Subject {
		return fmt.Sprintf("%s v%d", r.Subject, r.Version)
	}
	return fmt.Sprintf("%s = %s v%d", r.Name, r.Subject, r.Version)
}

func displayPointer(p string) string {
	if p == "" {
		return "the top level"
	}
	return p
}

// attributeDifference compares the full renderings of two schemas, docs
// left out, and returns the JSON pointer of the first difference. Pointers
// name keys and array indexes, so one taken from compat's rendering of a
// schema also points into the file it was parsed from.
func attributeDifference(a, b *compat.Schema) (string, bool) {
	ta, tb := tree(a.String()), tree(b.String())
	stripDocs(ta)
	stripDocs(tb)
	return diff(ta, tb, "")
}

func tree(text string) any {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v) // compat renders valid JSON
	return v
}

// stripDocs removes the doc attributes of named types and fields. It follows
// only the keys that hold schemas: a "doc" inside a default value is data.
func stripDocs(v any) {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "doc")
		for _, k := range []string{"type", "items", "values"} {
			stripDocs(v[k])
		}
		if fields, ok := v["fields"].([]any); ok {
			for _, f := range fields {
				stripDocs(f)
			}
		}
	case []any: // a union
		for _, b := range v {
			stripDocs(b)
		}
	}
}

// diff returns the pointer of the first difference between two JSON values.
func diff(a, b any, at string) (string, bool) {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return at, true
		}
		keys := make([]string, 0, len(a)+len(bm))
		for k := range a {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := a[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, compareKeys)
		for _, k := range keys {
			if p, d := diff(a[k], bm[k], at+"/"+escape(k)); d {
				return p, true
			}
		}
		return "", false
	case []any:
		bs, ok := b.([]any)
		if !ok {
			return at, true
		}
		for i := range min(len(a), len(bs)) {
			if p, d := diff(a[i], bs[i], at+"/"+strconv.Itoa(i)); d {
				return p, true
			}
		}
		if len(a) != len(bs) {
			return at + "/" + strconv.Itoa(min(len(a), len(bs))), true
		}
		return "", false
	}
	if !reflect.DeepEqual(a, b) {
		return at, true
	}
	return "", false
}

// compareKeys orders the keys of a schema object as a reader meets them: the
// name and type first, fields last, so the first difference is the one that
// matters most.
func compareKeys(a, b string) int {
	rank := func(k string) int {
		switch k {
		case "name":
			return 0
		case "type":
			return 1
		case "fields", "symbols", "items", "values":
			return 3
		}
		return 2
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

func escape(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}
