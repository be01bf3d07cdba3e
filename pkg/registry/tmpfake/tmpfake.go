// Package tmpfake is a TEMPORARY stand-in registry, to be deleted once
// services/registry lands. Do not use.
package tmpfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/waybill/waybill/compat"
)

type ref struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

type version struct {
	n       int
	id      int
	schema  string
	refs    []ref
	deleted bool
	parsed  *compat.Schema
}

type fake struct {
	mu       sync.Mutex
	subjects map[string][]*version
	config   map[string]string
	nextID   int
}

// New starts a fake registry.
func New(t *testing.T) *httptest.Server {
	f := &fake{subjects: map[string][]*version{}, config: map[string]string{}, nextID: 1}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	return s
}

func writeErr(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error_code": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fake) live(s string) []*version {
	var out []*version
	for _, v := range f.subjects[s] {
		if !v.deleted {
			out = append(out, v)
		}
	}
	return out
}

func (f *fake) parse(schema string, refs []ref) (*compat.Schema, error) {
	var rs []*compat.Schema
	for _, r := range refs {
		var found *version
		for _, v := range f.live(r.Subject) {
			if v.n == r.Version {
				found = v
			}
		}
		if found == nil {
			return nil, fmt.Errorf("reference %s not found", r.Name)
		}
		rs = append(rs, found.parsed)
	}
	return compat.Parse([]byte(schema), rs...)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var body struct {
		Schema        string `json:"schema"`
		References    []ref  `json:"references"`
		Compatibility string `json:"compatibility"`
	}
	if r.Body != nil {
		_ = json.NewDecoder(r.Body).Decode(&body)
	}
	deleted := r.URL.Query().Get("deleted") == "true"
	switch {
	case len(parts) == 1 && parts[0] == "config" && r.Method == "GET":
		writeJSON(w, map[string]string{"compatibilityLevel": f.level("")})
	case len(parts) == 2 && parts[0] == "config" && r.Method == "GET":
		if l, ok := f.config[parts[1]]; ok {
			writeJSON(w, map[string]string{"compatibilityLevel": l})
		} else {
			writeErr(w, 404, 40408, "no subject level")
		}
	case len(parts) == 2 && parts[0] == "config" && r.Method == "PUT":
		f.config[parts[1]] = body.Compatibility
		writeJSON(w, map[string]string{"compatibility": body.Compatibility})
	case len(parts) == 1 && parts[0] == "subjects":
		var out []string
		for s := range f.subjects {
			if len(f.live(s)) > 0 {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		writeJSON(w, append([]string{}, out...))
	case len(parts) == 3 && parts[0] == "subjects" && parts[2] == "versions" && r.Method == "GET":
		var out []int
		for _, v := range f.subjects[parts[1]] {
			if deleted || !v.deleted {
				out = append(out, v.n)
			}
		}
		if len(out) == 0 {
			writeErr(w, 404, 40401, "Subject not found")
			return
		}
		writeJSON(w, out)
	case len(parts) == 4 && parts[0] == "subjects" && parts[2] == "versions" && r.Method == "GET":
		n, _ := strconv.Atoi(parts[3])
		live := f.live(parts[1])
		if len(live) == 0 {
			writeErr(w, 404, 40401, "Subject not found")
			return
		}
		for _, v := range live {
			if v.n == n {
				writeJSON(w, map[string]any{"subject": parts[1], "version": v.n, "id": v.id, "schema": v.schema, "references": v.refs})
				return
			}
		}
		writeErr(w, 404, 40402, "Version not found")
	case len(parts) == 4 && parts[0] == "subjects" && parts[2] == "versions" && r.Method == "DELETE":
		n, _ := strconv.Atoi(parts[3])
		for _, v := range f.live(parts[1]) {
			if v.n == n {
				v.deleted = true
				writeJSON(w, n)
				return
			}
		}
		writeErr(w, 404, 40402, "Version not found")
	case len(parts) == 2 && parts[0] == "subjects" && r.Method == "DELETE":
		var out []int
		for _, v := range f.live(parts[1]) {
			v.deleted = true
			out = append(out, v.n)
		}
		writeJSON(w, out)
	case len(parts) == 2 && parts[0] == "subjects" && r.Method == "POST":
		s, err := f.parse(body.Schema, body.References)
		if err != nil {
			writeErr(w, 422, 42201, err.Error())
			return
		}
		if len(f.live(parts[1])) == 0 {
			writeErr(w, 404, 40401, "Subject not found")
			return
		}
		for _, v := range f.live(parts[1]) {
			if v.parsed.String() == s.String() && slices.Equal(v.refs, body.References) {
				writeJSON(w, map[string]any{"subject": parts[1], "version": v.n, "id": v.id, "schema": v.schema})
				return
			}
		}
		writeErr(w, 404, 40403, "Schema not found")
	case len(parts) == 3 && parts[0] == "subjects" && parts[2] == "versions" && r.Method == "POST":
		f.register(w, parts[1], body.Schema, body.References)
	case len(parts) == 4 && parts[0] == "compatibility" && r.Method == "POST":
		s, err := f.parse(body.Schema, body.References)
		if err != nil {
			writeJSON(w, map[string]any{"is_compatible": false, "messages": []string{err.Error()}})
			return
		}
		res := f.check(parts[2], s)
		msgs := []string{}
		for _, m := range res.Incompatibilities {
			msgs = append(msgs, m.String())
		}
		writeJSON(w, map[string]any{"is_compatible": res.Compatible(), "messages": msgs})
	default:
		writeErr(w, 404, 404, "HTTP 404 Not Found")
	}
}

func (f *fake) level(s string) string {
	if l, ok := f.config[s]; ok && s != "" {
		return l
	}
	return "BACKWARD"
}

func (f *fake) check(subject string, s *compat.Schema) compat.Result {
	lvl, _ := compat.ParseLevel(f.level(subject))
	var existing []*compat.Schema
	for _, v := range f.live(subject) {
		existing = append(existing, v.parsed)
	}
	return compat.CheckLevel(lvl, s, existing)
}

func (f *fake) register(w http.ResponseWriter, subject, schema string, refs []ref) {
	s, err := f.parse(schema, refs)
	if err != nil {
		writeErr(w, 422, 42201, err.Error())
		return
	}
	for _, v := range f.live(subject) {
		if v.parsed.String() == s.String() && slices.Equal(v.refs, refs) {
			writeJSON(w, map[string]int{"id": v.id})
			return
		}
	}
	if res := f.check(subject, s); !res.Compatible() {
		writeErr(w, 409, 409, "Schema being registered is incompatible with an earlier schema; "+res.Incompatibilities.Error())
		return
	}
	id := 0
	for _, vs := range f.subjects {
		for _, v := range vs {
			if v.parsed.String() == s.String() && slices.Equal(v.refs, refs) {
				id = v.id
			}
		}
	}
	if id == 0 {
		id = f.nextID
		f.nextID++
	}
	n := len(f.subjects[subject]) + 1
	f.subjects[subject] = append(f.subjects[subject], &version{n: n, id: id, schema: s.String(), refs: refs, parsed: s})
	writeJSON(w, map[string]int{"id": id})
}
