package registry

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	sr "github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// The response shapes, field for field as Confluent's server writes them:
// no field of Waybill's own (older clients reject unknown fields), no
// schemaType for AVRO (7.x), no references when there are none.

type schemaByIDBody struct {
	Schema     string                `json:"schema"`
	SchemaType string                `json:"schemaType,omitempty"`
	References []schemalog.Reference `json:"references,omitempty"`
	MaxID      *int                  `json:"maxId,omitempty"`
}

func marshalSchemaByID(rec *schemaRec, maxID *int) []byte {
	return marshal(schemaByIDBody{Schema: rec.text, SchemaType: rec.typ, References: rec.refs, MaxID: maxID})
}

type schemaBody struct {
	Subject    string                `json:"subject"`
	Version    int                   `json:"version"`
	ID         int                   `json:"id"`
	SchemaType string                `json:"schemaType,omitempty"`
	References []schemalog.Reference `json:"references,omitempty"`
	Schema     string                `json:"schema"`
}

func schemaOf(subject string, v *version) schemaBody {
	return schemaBody{Subject: subject, Version: v.n, ID: v.rec.id, SchemaType: v.rec.typ, References: v.rec.refs, Schema: v.rec.text}
}

type subjectVersionBody struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

type configBody struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
}

type modeBody struct {
	Mode string `json:"mode"`
}

// parseVersion reads a version as Confluent's VersionId does: an integer in
// [1, 2^31-1], or "latest" or -1 for the latest live version (returned as
// -1).
func parseVersion(s string) (int, *sr.Error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "latest") {
		return -1, nil
	}
	n, err := strconv.ParseInt(t, 10, 32)
	if err != nil || (n <= 0 && n != -1) {
		return 0, sr.ErrInvalidVersion.With("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", s)
	}
	return int(n), nil
}

// parseID reads a schema ID path parameter. One that is not a number does
// not match the route, as with Confluent's server (404).
func parseID(s string) (int, *sr.Error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, sr.ErrNotFound
	}
	return int(n), nil
}

func errSubjectNotFound(subject string) *sr.Error {
	return sr.ErrSubjectNotFound.With("Subject '%s' not found.", subject)
}

func errVersionNotFound(n int) *sr.Error {
	return sr.ErrVersionNotFound.With("Version %d not found.", n)
}

func errSchemaNotFound(id int) *sr.Error {
	return sr.ErrSchemaNotFound.With("Schema %d not found", id)
}

// version finds a subject's version (-1: the latest live one); deleted
// lets a soft-deleted version with an explicit number be found. Not found
// is 40401 when the subject has no visible version, else 40402. The caller
// holds the lock.
func (st *state) version(subject string, n int, deleted bool) (*version, *sr.Error) {
	s := st.subjects[subject]
	var v *version
	if s != nil {
		if n == -1 {
			v = s.latest()
		} else if x := s.versions[n]; x != nil && (!x.deleted || deleted) {
			v = x
		}
	}
	if v != nil {
		return v, nil
	}
	if s == nil || !s.hasVersions(deleted) {
		return nil, errSubjectNotFound(subject)
	}
	return nil, errVersionNotFound(n)
}

func (s *Server) getRoot(w http.ResponseWriter, _ *http.Request, _ params) {
	writeRaw(w, http.StatusOK, []byte("{}"))
}

func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request, _ params) {
	s.metrics.handler.ServeHTTP(w, r)
}

// getContexts lists the schema contexts: Waybill has only the default one.
func (s *Server) getContexts(w http.ResponseWriter, _ *http.Request, _ params) {
	writeJSON(w, http.StatusOK, []string{"."})
}

func (s *Server) getSchemaTypes(w http.ResponseWriter, _ *http.Request, _ params) {
	writeJSON(w, http.StatusOK, []string{"AVRO"})
}

func (s *Server) getSchemaByID(w http.ResponseWriter, r *http.Request, p params) {
	id, err := parseID(p.id)
	if err != nil {
		writeError(w, err)
		return
	}
	st := s.st
	st.mu.RLock()
	rec := st.ids[id]
	if rec == nil {
		st.mu.RUnlock()
		writeError(w, errSchemaNotFound(id))
		return
	}
	if r.URL.RawQuery == "" {
		body := rec.body
		st.mu.RUnlock()
		writeRaw(w, http.StatusOK, body)
		return
	}
	q := r.URL.Query()
	if subj := q.Get("subject"); subj != "" && !usedBy(rec, subj) {
		st.mu.RUnlock()
		writeError(w, errSchemaNotFound(id))
		return
	}
	var maxID *int
	if strings.EqualFold(q.Get("fetchMaxId"), "true") {
		m := st.maxID
		maxID = &m
	}
	body := marshalSchemaByID(rec, maxID)
	st.mu.RUnlock()
	writeRaw(w, http.StatusOK, body)
}

func usedBy(rec *schemaRec, subject string) bool {
	for k := range rec.users {
		if k.subject == subject {
			return true
		}
	}
	return false
}

func (s *Server) getRawSchemaByID(w http.ResponseWriter, r *http.Request, p params) {
	id, err := parseID(p.id)
	if err != nil {
		writeError(w, err)
		return
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	rec := st.ids[id]
	if rec == nil {
		writeError(w, errSchemaNotFound(id))
		return
	}
	if subj := r.URL.Query().Get("subject"); subj != "" && !usedBy(rec, subj) {
		writeError(w, errSchemaNotFound(id))
		return
	}
	writeRaw(w, http.StatusOK, []byte(rec.text))
}

// users returns the subject-versions bound to an ID, sorted, the
// soft-deleted ones only if deleted.
func (st *state) users(rec *schemaRec, deleted bool) []subjectVersionBody {
	out := []subjectVersionBody{}
	for k := range rec.users {
		if v := st.subjects[k.subject].versions[k.version]; deleted || !v.deleted {
			out = append(out, subjectVersionBody{k.subject, k.version})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Version < out[j].Version
	})
	return out
}

func (s *Server) getSubjectsByID(w http.ResponseWriter, r *http.Request, p params) {
	s.byID(w, r, p, func(svs []subjectVersionBody) any {
		out := []string{}
		for _, sv := range svs {
			if len(out) == 0 || out[len(out)-1] != sv.Subject {
				out = append(out, sv.Subject)
			}
		}
		return out
	})
}

func (s *Server) getVersionsByID(w http.ResponseWriter, r *http.Request, p params) {
	s.byID(w, r, p, func(svs []subjectVersionBody) any { return svs })
}

func (s *Server) byID(w http.ResponseWriter, r *http.Request, p params, shape func([]subjectVersionBody) any) {
	id, err := parseID(p.id)
	if err != nil {
		writeError(w, err)
		return
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	rec := st.ids[id]
	if rec == nil {
		writeError(w, errSchemaNotFound(id))
		return
	}
	svs := st.users(rec, flag(r, "deleted"))
	if subj := r.URL.Query().Get("subject"); subj != "" {
		kept := svs[:0]
		for _, sv := range svs {
			if sv.Subject == subj {
				kept = append(kept, sv)
			}
		}
		svs = kept
	}
	writeJSON(w, http.StatusOK, shape(svs))
}

// getSchemas lists schemas (GET /schemas): every version of the subjects
// with a prefix, in subject then version order; latestOnly keeps each
// subject's latest; offset and limit page.
func (s *Server) getSchemas(w http.ResponseWriter, r *http.Request, _ params) {
	q := r.URL.Query()
	prefix := q.Get("subjectPrefix")
	deleted, latestOnly := flag(r, "deleted"), flag(r, "latestOnly")
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := []schemaBody{}
	for _, name := range st.subjectNames(prefix, deleted, false) {
		vs := st.subjects[name].sorted(true, deleted)
		if latestOnly && len(vs) > 0 {
			vs = vs[len(vs)-1:]
		}
		for _, v := range vs {
			out = append(out, schemaOf(name, v))
		}
	}
	offset = min(max(offset, 0), len(out))
	out = out[offset:]
	if limit > 0 && limit < len(out) {
		out = out[:limit]
	}
	writeJSON(w, http.StatusOK, out)
}

// subjectNames returns the sorted names of the subjects with a prefix: the
// ones with a live version, and those whose versions are all soft-deleted
// if deleted, or only those if deletedOnly. The caller holds the lock.
func (st *state) subjectNames(prefix string, deleted, deletedOnly bool) []string {
	out := []string{}
	for name, s := range st.subjects {
		if !strings.HasPrefix(name, prefix) || len(s.versions) == 0 {
			continue
		}
		live := s.hasVersions(false)
		if (deletedOnly && !live) || (!deletedOnly && (live || deleted)) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) getSubjects(w http.ResponseWriter, r *http.Request, _ params) {
	st := s.st
	st.mu.RLock()
	names := st.subjectNames(r.URL.Query().Get("subjectPrefix"), flag(r, "deleted"), flag(r, "deletedOnly"))
	st.mu.RUnlock()
	writeJSON(w, http.StatusOK, names)
}

func (s *Server) getVersions(w http.ResponseWriter, r *http.Request, p params) {
	deleted, deletedOnly := flag(r, "deleted"), flag(r, "deletedOnly")
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	subj := st.subjects[p.subject]
	if subj == nil || !subj.hasVersions(deleted || deletedOnly) {
		writeError(w, errSubjectNotFound(p.subject))
		return
	}
	out := []int{}
	for _, v := range subj.sorted(!deletedOnly, deleted || deletedOnly) {
		out = append(out, v.n)
	}
	writeJSON(w, http.StatusOK, out)
}

// versionOf resolves the {subject}/{version} of a request, or writes the
// error. The caller holds the lock.
func (s *Server) versionOf(w http.ResponseWriter, p params, deleted bool) *version {
	n, err := parseVersion(p.version)
	if err != nil {
		writeError(w, err)
		return nil
	}
	v, err := s.st.version(p.subject, n, deleted)
	if err != nil {
		writeError(w, err)
		return nil
	}
	return v
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request, p params) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	if v := s.versionOf(w, p, flag(r, "deleted")); v != nil {
		writeJSON(w, http.StatusOK, schemaOf(p.subject, v))
	}
}

func (s *Server) getRawVersion(w http.ResponseWriter, r *http.Request, p params) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	if v := s.versionOf(w, p, flag(r, "deleted")); v != nil {
		writeRaw(w, http.StatusOK, []byte(v.rec.text))
	}
}

func (s *Server) getReferencedBy(w http.ResponseWriter, _ *http.Request, p params) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	if v := s.versionOf(w, p, true); v != nil {
		writeJSON(w, http.StatusOK, s.st.referencedBy(p.subject, v.n))
	}
}

func (s *Server) getGlobalConfig(w http.ResponseWriter, _ *http.Request, _ params) {
	s.st.mu.RLock()
	level := s.st.global()
	s.st.mu.RUnlock()
	writeJSON(w, http.StatusOK, configBody{string(level)})
}

func (s *Server) getSubjectConfig(w http.ResponseWriter, r *http.Request, p params) {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	if subj := st.subjects[p.subject]; subj != nil && subj.level != "" {
		writeJSON(w, http.StatusOK, configBody{string(subj.level)})
		return
	}
	if flag(r, "defaultToGlobal") {
		writeJSON(w, http.StatusOK, configBody{string(st.global())})
		return
	}
	writeError(w, sr.ErrSubjectLevelCompatNotSet.With("Subject '%s' does not have subject-level compatibility configured", p.subject))
}

func (s *Server) getGlobalMode(w http.ResponseWriter, _ *http.Request, _ params) {
	s.st.mu.RLock()
	mode := s.st.globalModeOrDefault()
	s.st.mu.RUnlock()
	writeJSON(w, http.StatusOK, modeBody{mode})
}

func (s *Server) getSubjectMode(w http.ResponseWriter, r *http.Request, p params) {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	if flag(r, "defaultToGlobal") {
		writeJSON(w, http.StatusOK, modeBody{st.modeOf(p.subject)})
		return
	}
	if subj := st.subjects[p.subject]; subj != nil && subj.mode != "" {
		writeJSON(w, http.StatusOK, modeBody{subj.mode})
		return
	}
	writeError(w, sr.ErrSubjectLevelModeNotSet.With("Subject '%s' does not have subject-level mode configured", p.subject))
}
