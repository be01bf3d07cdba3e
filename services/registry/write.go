package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/waybill/waybill/compat"
	sr "github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// update runs a write: compute, holding the state's read lock, validates the
// request against the state this instance has caught up to and returns the
// records to append; its errors are catalogue errors and nothing is written.
// Storage failures are 50001, a write that times out 50002; either way no
// record is visible (Log.Update appends atomically).
func (s *Server) update(ctx context.Context, compute func(st *state) ([]schemalog.Record, error)) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	err := s.cfg.Log.Update(ctx, func() ([]schemalog.Record, error) {
		s.st.mu.RLock()
		defer s.st.mu.RUnlock()
		return compute(s.st)
	})
	var e *sr.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		s.log.Error("registry: write timed out", "err", err)
		return sr.ErrOperationTimeout.With("Write to the backend data store timed out: %v", err)
	default:
		s.log.Error("registry: write failed", "err", err)
		return sr.ErrStore.With("Error while writing to the backend data store: %v", err)
	}
}

// schemaRecord returns the SCHEMA record of a subject-version, under the key
// bytes last read for it.
func (st *state) schemaRecord(subject string, n int, rec *schemaRec, id int, deleted bool) schemalog.Record {
	key := st.keyFor(schemaLK(subject, n), func() []byte { return schemalog.SchemaKey(subject, n) })
	typ := rec.typ
	return schemalog.Record{Key: key, Value: schemalog.Value(schemalog.SchemaValue{
		Subject: subject, Version: n, ID: id, SchemaType: typ, References: rec.refs, Schema: rec.text, Deleted: deleted,
	})}
}

type registerBody struct {
	ID int `json:"id"`
}

// register is POST /subjects/{subject}/versions, in Confluent's order:
//  1. the schema already registered, live, in this subject -> its ID
//     (before the mode check: re-registering works in READONLY);
//  2. the mode: READONLY or READONLY_OVERRIDE -> 42205; an explicit id needs
//     IMPORT, no id needs READWRITE -> 42205;
//  3. the new version is max(every version, soft-deleted ones too) + 1;
//  4. parse -> 42201;
//  5. the same schema under another subject -> its ID;
//  6. unless IMPORT, compatibility with the live versions -> 409;
//  7. an explicit version that is not the next one, outside IMPORT -> 42201;
//  8. an explicit id bound to a different schema -> 42205; else a new ID.
func (s *Server) register(w http.ResponseWriter, r *http.Request, p params) {
	var req schemaRequest
	if err := s.decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if !validSubject(p.subject) {
		writeError(w, errInvalidSubject(p.subject))
		return
	}
	normalize := flag(r, "normalize")
	s.st.mu.RLock()
	id, ok := s.st.registered(p.subject, &req, normalize)
	s.st.mu.RUnlock()
	if !ok {
		err := s.update(r.Context(), func(st *state) ([]schemalog.Record, error) {
			recs, n, err := st.registerRecords(p.subject, &req, normalize)
			id = n
			return recs, err
		})
		if err != nil {
			writeError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, registerBody{id})
}

// registered is step 1: the ID of the request's schema if it is registered,
// live, in the subject (and has the explicit ID asked for, if any).
func (st *state) registered(subject string, req *schemaRequest, normalize bool) (int, bool) {
	if req.empty() {
		return 0, false
	}
	cand, err := st.prepare(req, normalize)
	if err != nil {
		return 0, false
	}
	v := st.subjects[subject].match(cand, normalize, false)
	if v == nil || (req.explicitID() != 0 && req.explicitID() != v.rec.id) {
		return 0, false
	}
	return v.rec.id, true
}

func (st *state) registerRecords(subject string, req *schemaRequest, normalize bool) ([]schemalog.Record, int, error) {
	// 1.
	if id, ok := st.registered(subject, req, normalize); ok {
		return nil, id, nil
	}
	// 2.
	mode := st.modeOf(subject)
	explicitID := req.explicitID()
	switch {
	case mode == modeReadOnly || mode == modeReadOnlyOverride:
		return nil, 0, sr.ErrOperationNotPermitted.With("Subject %s is in read-only mode", subject)
	case explicitID != 0 && mode != modeImport:
		return nil, 0, sr.ErrOperationNotPermitted.With("Subject %s is not in import mode", subject)
	case explicitID == 0 && mode != modeReadWrite:
		return nil, 0, sr.ErrOperationNotPermitted.With("Subject %s is not in read-write mode", subject)
	}
	importing := mode == modeImport
	// 3.
	subj := st.subjects[subject]
	next := 1
	if subj != nil {
		next = subj.maxVersion() + 1
	}
	if req.empty() {
		// Confluent reuses the latest schema for a request without one.
		var latest *version
		if subj != nil {
			latest = subj.latest()
		}
		if latest == nil {
			return nil, 0, sr.ErrInvalidSchema.With("Empty schema")
		}
		req = &schemaRequest{Schema: latest.rec.text, SchemaType: latest.rec.typ, ID: req.ID, Version: req.Version}
		for _, ref := range latest.rec.refs {
			name, subject, n := ref.Name, ref.Subject, int32(ref.Version)
			req.References = append(req.References, refRequest{&name, &subject, &n})
		}
	}
	// 4.
	cand, perr := st.prepare(req, normalize && !importing)
	if perr != nil {
		return nil, 0, perr
	}
	// 5.
	id := 0
	if ex := st.byIdent[cand.ident]; ex != nil && (explicitID == 0 || explicitID == ex.id) {
		if v := subj.match(cand, normalize, false); v != nil {
			return nil, v.rec.id, nil
		}
		id = ex.id
	}
	// 6.
	if !importing && subj != nil {
		if msgs := check(st.levelOf(subject), cand.parsed, subj.sorted(true, false)); len(msgs) > 0 {
			return nil, 0, sr.ErrIncompatibleSchema.With("Schema being registered is incompatible with an earlier schema for subject %q, details: [%s]",
				subject, strings.Join(msgs, ", "))
		}
	}
	// 7.
	n := next
	if req.Version != nil && *req.Version > 0 {
		n = int(*req.Version)
		if n != next && !importing {
			return nil, 0, sr.ErrInvalidSchema.With("Version is not one more than previous version")
		}
		if v := subj.versionOrNil(n); v != nil && !v.deleted {
			// Confluent would overwrite it; a registry never changes what a
			// live version holds.
			return nil, 0, sr.ErrOperationNotPermitted.With("Overwriting version %d of subject %s is not permitted", n, subject)
		}
	}
	// 8.
	if explicitID != 0 {
		if ex := st.ids[explicitID]; ex != nil && ex.ident != cand.ident {
			return nil, 0, sr.ErrOperationNotPermitted.With("Overwrite new schema with id %d is not permitted.", explicitID)
		}
		id = explicitID
	}
	if id == 0 {
		id = st.maxID + 1
	}
	recs := []schemalog.Record{st.schemaRecord(subject, n, cand, id, false)}
	// As Confluent does: older soft-deleted versions of the subject with
	// the same ID are dropped.
	if subj != nil {
		for _, v := range subj.sorted(false, true) {
			if v.rec.id == id && v.n < n {
				recs = append(recs, st.tombstones(schemaLK(subject, v.n))...)
			}
		}
	}
	return recs, id, nil
}

func (s *subject) versionOrNil(n int) *version {
	if s == nil {
		return nil
	}
	return s.versions[n]
}

// lookup is POST /subjects/{subject}: the version of the subject holding a
// schema.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, p params) {
	var req schemaRequest
	if err := s.decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	normalize, deleted := flag(r, "normalize"), flag(r, "deleted")
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	subj := st.subjects[p.subject]
	var v *version
	if !req.empty() {
		cand, err := st.prepare(&req, normalize)
		if err != nil {
			writeError(w, err)
			return
		}
		v = subj.match(cand, normalize, deleted)
	}
	if v == nil {
		if subj == nil || !subj.hasVersions(deleted) {
			writeError(w, errSubjectNotFound(p.subject))
		} else {
			writeError(w, sr.ErrSchemaNotFound.With("Schema not found"))
		}
		return
	}
	writeJSON(w, http.StatusOK, schemaOf(p.subject, v))
}

// compatBody is the answer of a compatibility check; verboseCompatBody
// the one with verbose=true, whose messages are there even when empty.
type compatBody struct {
	IsCompatible bool `json:"is_compatible"`
}

type verboseCompatBody struct {
	IsCompatible bool     `json:"is_compatible"`
	Messages     []string `json:"messages"`
}

// checkAll is POST /compatibility/subjects/{subject}/versions: what register
// would check, against every live version at the subject's level.
func (s *Server) checkAll(w http.ResponseWriter, r *http.Request, p params) {
	s.checkCompat(w, r, p, false)
}

// checkVersion is POST /compatibility/subjects/{subject}/versions/{version}:
// against that one version, at the subject's level; "latest" on a subject
// without versions is compatible.
func (s *Server) checkVersion(w http.ResponseWriter, r *http.Request, p params) {
	s.checkCompat(w, r, p, true)
}

func (s *Server) checkCompat(w http.ResponseWriter, r *http.Request, p params, one bool) {
	var req schemaRequest
	if err := s.decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	verbose := flag(r, "verbose")
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	subj := st.subjects[p.subject]
	var against []*version
	if one {
		n, err := parseVersion(p.version)
		if err != nil {
			writeError(w, err)
			return
		}
		// An unknown subject is 40402 here too, as with Confluent.
		switch v, _ := st.version(p.subject, n, false); {
		case v != nil:
			against = []*version{v}
		case n != -1:
			writeError(w, errVersionNotFound(n))
			return
		}
	} else if subj != nil {
		against = subj.sorted(true, false)
	}
	var msgs []string
	cand, err := st.prepare(&req, flag(r, "normalize"))
	if err != nil {
		if !verbose {
			writeError(w, err)
			return
		}
		msgs = []string{err.Message}
	} else {
		msgs = check(st.levelOf(p.subject), cand.parsed, against)
	}
	if !verbose {
		writeJSON(w, http.StatusOK, compatBody{len(msgs) == 0})
		return
	}
	if msgs == nil {
		msgs = []string{}
	}
	writeJSON(w, http.StatusOK, verboseCompatBody{len(msgs) == 0, msgs})
}

// deleteVersion is DELETE /subjects/{subject}/versions/{version}, checks in
// Confluent's order: 42202 invalid version; 40406 soft-deleted already and
// not permanent; 40401/40402 not found; 42205 read-only; 42206 referenced;
// 40407 permanent on a live version.
func (s *Server) deleteVersion(w http.ResponseWriter, r *http.Request, p params) {
	n, perr := parseVersion(p.version)
	if perr != nil {
		writeError(w, perr)
		return
	}
	permanent := flag(r, "permanent")
	var deleted int
	err := s.update(r.Context(), func(st *state) ([]schemalog.Record, error) {
		subj := st.subjects[p.subject]
		if v := subj.versionOrNil(n); v != nil && v.deleted && !permanent {
			return nil, sr.ErrVersionSoftDeleted.With("Subject '%s' Version %d was soft deleted. Set permanent=true to delete permanently", p.subject, n)
		}
		v, verr := st.version(p.subject, n, true)
		if verr != nil {
			return nil, verr
		}
		if m := st.modeOf(p.subject); m == modeReadOnly || m == modeReadOnlyOverride {
			return nil, sr.ErrOperationNotPermitted.With("Subject %s is in read-only mode", p.subject)
		}
		if ids := st.referencedBy(p.subject, v.n); len(ids) > 0 {
			return nil, sr.ErrReferenceExists.With("One or more references exist to the schema {subject=%s,version=%d}: schemas %v", p.subject, v.n, ids)
		}
		deleted = v.n
		if permanent {
			if !v.deleted {
				return nil, sr.ErrVersionNotSoftDeleted.With("Subject '%s' Version %d was not deleted first before being permanently deleted", p.subject, v.n)
			}
			return st.tombstones(schemaLK(p.subject, v.n)), nil
		}
		recs := []schemalog.Record{st.schemaRecord(p.subject, v.n, v.rec, v.rec.id, true)}
		if live := subj.sorted(true, false); len(live) == 1 && live[0] == v {
			// The last live version: the subject's config and mode go too.
			recs = append(recs, st.tombstones(subjectLK(schemalog.KeyMode, &p.subject))...)
			recs = append(recs, st.tombstones(subjectLK(schemalog.KeyConfig, &p.subject))...)
		}
		return recs, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deleted)
}

// deleteSubject is DELETE /subjects/{subject}, checks in Confluent's order:
// 40401 unknown; 40404 soft-deleted already and not permanent; 42205
// read-only; then for each version, oldest first, 42206 referenced and, when
// permanent, 40405 still live. A soft delete is one DELETE_SUBJECT record and
// drops the subject's config and mode; a permanent one tombstones every
// version.
func (s *Server) deleteSubject(w http.ResponseWriter, r *http.Request, p params) {
	permanent := flag(r, "permanent")
	var deleted []int
	err := s.update(r.Context(), func(st *state) ([]schemalog.Record, error) {
		subj := st.subjects[p.subject]
		if subj == nil || !subj.hasVersions(true) {
			return nil, errSubjectNotFound(p.subject)
		}
		if !permanent && !subj.hasVersions(false) {
			return nil, sr.ErrSubjectSoftDeleted.With("Subject '%s' was soft deleted. Set permanent=true to delete permanently", p.subject)
		}
		if m := st.modeOf(p.subject); m == modeReadOnly || m == modeReadOnlyOverride {
			return nil, sr.ErrOperationNotPermitted.With("Subject %s is in read-only mode", p.subject)
		}
		vs := subj.sorted(true, permanent)
		deleted = make([]int, 0, len(vs))
		for _, v := range vs {
			if ids := st.referencedBy(p.subject, v.n); len(ids) > 0 {
				return nil, sr.ErrReferenceExists.With("One or more references exist to the schema {subject=%s,version=%d}: schemas %v", p.subject, v.n, ids)
			}
			if permanent && !v.deleted {
				return nil, sr.ErrSubjectNotSoftDeleted.With("Subject '%s' was not deleted first before being permanently deleted", p.subject)
			}
			deleted = append(deleted, v.n)
		}
		var recs []schemalog.Record
		if permanent {
			for _, n := range deleted {
				recs = append(recs, st.tombstones(schemaLK(p.subject, n))...)
			}
			// Nothing of the subject is left for these to apply to.
			recs = append(recs, st.tombstones(subjectLK(schemalog.KeyDeleteSubject, &p.subject))...)
			recs = append(recs, st.tombstones(subjectLK(schemalog.KeyClearSubject, &p.subject))...)
			return recs, nil
		}
		key := st.keyFor(subjectLK(schemalog.KeyDeleteSubject, &p.subject), func() []byte { return schemalog.DeleteSubjectKey(p.subject) })
		recs = append(recs, schemalog.Record{Key: key, Value: schemalog.Value(schemalog.DeleteSubjectValue{Subject: p.subject, Version: deleted[len(deleted)-1]})})
		recs = append(recs, st.tombstones(subjectLK(schemalog.KeyMode, &p.subject))...)
		recs = append(recs, st.tombstones(subjectLK(schemalog.KeyConfig, &p.subject))...)
		return recs, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, deleted)
}

// configRequest is the body of PUT /config: note "compatibility", where
// responses say "compatibilityLevel".
type configRequest struct {
	Compatibility *string `json:"compatibility"`
}

type configUpdateBody struct {
	Compatibility string `json:"compatibility"`
}

func (s *Server) putGlobalConfig(w http.ResponseWriter, r *http.Request, _ params) {
	s.putConfig(w, r, nil)
}

func (s *Server) putSubjectConfig(w http.ResponseWriter, r *http.Request, p params) {
	s.putConfig(w, r, &p.subject)
}

// putConfig sets a compatibility level and echoes it, as Confluent does.
func (s *Server) putConfig(w http.ResponseWriter, r *http.Request, subject *string) {
	var req configRequest
	if err := s.decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if subject != nil && !validSubject(*subject) {
		writeError(w, errInvalidSubject(*subject))
		return
	}
	if req.Compatibility == nil {
		writeError(w, sr.ErrInvalidCompatibility.With("Invalid compatibility level: the request sets none"))
		return
	}
	level, err := compat.ParseLevel(*req.Compatibility)
	if err != nil {
		writeError(w, sr.ErrInvalidCompatibility.With("Invalid compatibility level %q. Valid values are none, backward, forward, full, backward_transitive, forward_transitive and full_transitive", *req.Compatibility))
		return
	}
	err = s.update(r.Context(), func(st *state) ([]schemalog.Record, error) {
		key := st.keyFor(subjectLK(schemalog.KeyConfig, subject), func() []byte { return schemalog.ConfigKey(subject) })
		return []schemalog.Record{{Key: key, Value: schemalog.Value(schemalog.ConfigValue{CompatibilityLevel: string(level), Subject: subject})}}, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, configUpdateBody{string(level)})
}

// deleteGlobalConfig is DELETE /config: back to the default level; it
// returns the level it deleted.
func (s *Server) deleteGlobalConfig(w http.ResponseWriter, r *http.Request, _ params) {
	var old compat.Level
	err := s.update(r.Context(), func(st *state) ([]schemalog.Record, error) {
		old = st.global()
		return st.tombstones(subjectLK(schemalog.KeyConfig, nil)), nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, configBody{string(old)})
}

// deleteSubjectConfig is DELETE /config/{subject}: 40401 when the subject
// has no level of its own; it returns the level it deleted.
func (s *Server) deleteSubjectConfig(w http.ResponseWriter, r *http.Request, p params) {
	var old compat.Level
	err := s.update(r.Context(), func(st *state) ([]schemalog.Record, error) {
		subj := st.subjects[p.subject]
		if subj == nil || subj.level == "" {
			return nil, errSubjectNotFound(p.subject)
		}
		old = subj.level
		return st.tombstones(subjectLK(schemalog.KeyConfig, &p.subject)), nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, configBody{string(old)})
}

type modeRequest struct {
	Mode *string `json:"mode"`
}

func (s *Server) putGlobalMode(w http.ResponseWriter, r *http.Request, _ params) {
	s.putMode(w, r, nil)
}

func (s *Server) putSubjectMode(w http.ResponseWriter, r *http.Request, p params) {
	s.putMode(w, r, &p.subject)
}

// putMode sets a mode. Entering IMPORT while live schemas exist (in the
// subject; anywhere, for the global mode) needs force=true; without it, the
// soft-deleted versions are cleared first so imported versions can take
// their numbers, as Confluent does.
func (s *Server) putMode(w http.ResponseWriter, r *http.Request, subject *string) {
	var req modeRequest
	if err := s.decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if subject != nil && !validSubject(*subject) {
		writeError(w, errInvalidSubject(*subject))
		return
	}
	mode := ""
	if req.Mode != nil {
		mode = strings.ToUpper(strings.TrimSpace(*req.Mode))
	}
	if !validMode(mode) {
		writeError(w, sr.ErrInvalidMode.With("Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT"))
		return
	}
	force := flag(r, "force")
	err := s.update(r.Context(), func(st *state) ([]schemalog.Record, error) {
		var recs []schemalog.Record
		current := st.globalModeOrDefault()
		if subject != nil {
			current = st.modeOf(*subject)
		}
		if mode == modeImport && current != modeImport && !force {
			for name, subj := range st.subjects {
				if subject != nil && name != *subject {
					continue
				}
				if subj.hasVersions(false) {
					return nil, sr.ErrOperationNotPermitted.With("Cannot import since found existing subjects")
				}
				if subj.hasVersions(true) {
					recs = append(recs, schemalog.Record{
						Key:   st.keyFor(subjectLK(schemalog.KeyClearSubject, &name), func() []byte { return schemalog.ClearSubjectKey(name) }),
						Value: schemalog.Value(schemalog.ClearSubjectValue{Subject: name}),
					})
				}
			}
		}
		key := st.keyFor(subjectLK(schemalog.KeyMode, subject), func() []byte { return schemalog.ModeKey(subject) })
		return append(recs, schemalog.Record{Key: key, Value: schemalog.Value(schemalog.ModeValue{Mode: mode})}), nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, modeBody{mode})
}

// deleteSubjectMode is DELETE /mode/{subject}: 40401 when the subject has
// no mode of its own; it returns the mode it deleted.
func (s *Server) deleteSubjectMode(w http.ResponseWriter, r *http.Request, p params) {
	var old string
	err := s.update(r.Context(), func(st *state) ([]schemalog.Record, error) {
		subj := st.subjects[p.subject]
		if subj == nil || subj.mode == "" {
			return nil, errSubjectNotFound(p.subject)
		}
		old = subj.mode
		return st.tombstones(subjectLK(schemalog.KeyMode, &p.subject)), nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, modeBody{old})
}
