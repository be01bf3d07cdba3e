package registry

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/services/registry/internal/schemalog"
)

// The registry's modes.
const (
	modeReadWrite        = "READWRITE"
	modeReadOnly         = "READONLY"
	modeReadOnlyOverride = "READONLY_OVERRIDE"
	modeImport           = "IMPORT"
)

func validMode(m string) bool {
	switch m {
	case modeReadWrite, modeReadOnly, modeReadOnlyOverride, modeImport:
		return true
	}
	return false
}

// defaultLevel is the level of a registry whose global config was never set.
const defaultLevel = compat.Backward

// svKey names one version of a subject.
type svKey struct {
	subject string
	version int
}

// schemaRec is a schema ID and what it is bound to. An ID is bound while at
// least one subject-version, live or soft-deleted, uses it; by the replay
// rule every one of them has the same schema (same text and references).
type schemaRec struct {
	id   int
	typ  string // schemaType as stored; "" is AVRO
	text string // as stored, served as is
	refs []schemalog.Reference
	// ident is the schema's identity ("the same schema"): its compact JSON
	// (compat's String(), which keeps docs, defaults and custom attributes —
	// not the Parsing Canonical Form) and its references. norm is the
	// identity of its normalized form, for requests with normalize=true.
	ident, norm string
	// parsed is the schema with its references resolved; nil when it could
	// not be parsed (another schema type, a reference that is gone), and
	// parseErr says why.
	parsed   *compat.Schema
	parseErr error
	users    map[svKey]struct{}
	// body is the response of GET /schemas/ids/{id}, marshalled once.
	body []byte
}

// version is one version of a subject.
type version struct {
	n       int
	rec     *schemaRec
	deleted bool
}

// subject is a subject's versions and settings.
type subject struct {
	versions map[int]*version
	level    compat.Level // "" when the subject has no config of its own
	mode     string       // "" when the subject has no mode of its own
}

// maxVersion is the highest version, soft-deleted ones included, or 0.
func (s *subject) maxVersion() int {
	m := 0
	for n := range s.versions {
		m = max(m, n)
	}
	return m
}

// sorted returns the versions in ascending order, the soft-deleted ones only
// if deleted.
func (s *subject) sorted(live, deleted bool) []*version {
	out := make([]*version, 0, len(s.versions))
	for _, v := range s.versions {
		if (v.deleted && deleted) || (!v.deleted && live) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out
}

// latest returns the highest live version, or nil.
func (s *subject) latest() *version {
	var l *version
	for _, v := range s.versions {
		if !v.deleted && (l == nil || v.n > l.n) {
			l = v
		}
	}
	return l
}

func (s *subject) hasVersions(deleted bool) bool {
	for _, v := range s.versions {
		if deleted || !v.deleted {
			return true
		}
	}
	return false
}

// state is the registry's in-memory model: what applying the log's records
// in order produces.
type state struct {
	log *slog.Logger

	mu       sync.RWMutex
	ids      map[int]*schemaRec
	byIdent  map[string]*schemaRec // Confluent's hash-to-ID lookup
	subjects map[string]*subject
	// maxID is the highest ID seen since start, so an ID is never handed
	// out twice by this process, even after the schema was hard-deleted.
	maxID       int
	globalLevel compat.Level // "" when never set (defaultLevel applies)
	globalMode  string       // "" when never set (READWRITE applies)
	// refBy is the reverse reference index: for a referenced subject-version,
	// the IDs of the live versions referencing it, with their counts.
	refBy map[svKey]map[int]int
	// keys holds, for each logical key, the exact key bytes of every record
	// still holding a value in the log under that key: a logical key can
	// have been written in several byte forms (magic 0 and 1, a global
	// config with and without "subject":null), and compaction keeps one
	// record per byte form, so a delete must tombstone each of them.
	keys map[string][][]byte
}

func newState(log *slog.Logger) *state {
	return &state{
		log:      log,
		ids:      map[int]*schemaRec{},
		byIdent:  map[string]*schemaRec{},
		subjects: map[string]*subject{},
		refBy:    map[svKey]map[int]int{},
		keys:     map[string][][]byte{},
	}
}

// Logical keys of the keys map.
func schemaLK(subject string, version int) string {
	return "SCHEMA\x00" + subject + "\x00" + strconv.Itoa(version)
}

func subjectLK(keyType string, subject *string) string {
	if subject == nil {
		return keyType + "\x01"
	}
	return keyType + "\x00" + *subject
}

// keyFor returns the key bytes to write a value under a logical key: the
// latest form read for it, or fresh.
func (st *state) keyFor(lk string, fresh func() []byte) []byte {
	if forms := st.keys[lk]; len(forms) > 0 {
		return forms[len(forms)-1]
	}
	return fresh()
}

// tombstones returns a tombstone for every byte form of a logical key that
// still holds a value in the log.
func (st *state) tombstones(lk string) []schemalog.Record {
	forms := st.keys[lk]
	out := make([]schemalog.Record, len(forms))
	for i, k := range forms {
		out[i] = schemalog.Record{Key: k}
	}
	return out
}

func (st *state) noteKey(lk string, key []byte, tombstone bool) {
	forms := st.keys[lk]
	i := slices.IndexFunc(forms, func(f []byte) bool { return string(f) == string(key) })
	switch {
	case tombstone && i >= 0:
		forms = slices.Delete(forms, i, i+1)
	case !tombstone && i < 0:
		forms = append(forms, slices.Clone(key))
	case !tombstone:
		// Move it last: it is now the form written most recently.
		f := forms[i]
		forms = append(slices.Delete(forms, i, i+1), f)
	}
	if len(forms) == 0 {
		delete(st.keys, lk)
	} else {
		st.keys[lk] = forms
	}
}

// apply applies one record of the log. It is the function given to
// schemalog.Log.Start: records that cannot be understood are logged and
// skipped, as Confluent's registry skips them, never fatal.
func (st *state) apply(r schemalog.Record) {
	k, err := schemalog.ParseKey(r.Key)
	if err != nil {
		st.log.Warn("registry: skipping a record with an unreadable key", "offset", r.Offset, "err", err)
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	tomb := r.Value == nil
	switch k.KeyType {
	case schemalog.KeySchema:
		st.noteKey(schemaLK(*k.Subject, k.Version), r.Key, tomb)
		if tomb {
			st.dropVersion(*k.Subject, k.Version)
			return
		}
		var v schemalog.SchemaValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			st.log.Warn("registry: skipping an unreadable SCHEMA record", "offset", r.Offset, "err", err)
			return
		}
		st.putVersion(*k.Subject, k.Version, v, r.Offset)
	case schemalog.KeyConfig:
		st.noteKey(subjectLK(k.KeyType, k.Subject), r.Key, tomb)
		level := compat.Level("")
		if !tomb {
			var v schemalog.ConfigValue
			if err := json.Unmarshal(r.Value, &v); err != nil {
				st.log.Warn("registry: skipping an unreadable CONFIG record", "offset", r.Offset, "err", err)
				return
			}
			// A config without a level (Confluent 7.4+ may set only
			// other fields) leaves the level to the scope above.
			if v.CompatibilityLevel != "" {
				if level, err = compat.ParseLevel(v.CompatibilityLevel); err != nil {
					st.log.Warn("registry: skipping a CONFIG record", "offset", r.Offset, "err", err)
					return
				}
			}
		}
		if k.Subject == nil {
			st.globalLevel = level
		} else {
			st.subjectOf(*k.Subject).level = level
			st.gc(*k.Subject)
		}
	case schemalog.KeyMode:
		st.noteKey(subjectLK(k.KeyType, k.Subject), r.Key, tomb)
		mode := ""
		if !tomb {
			var v schemalog.ModeValue
			if err := json.Unmarshal(r.Value, &v); err != nil || !validMode(strings.ToUpper(v.Mode)) {
				st.log.Warn("registry: skipping an unreadable MODE record", "offset", r.Offset, "value", string(r.Value))
				return
			}
			mode = strings.ToUpper(v.Mode)
		}
		if k.Subject == nil {
			st.globalMode = mode
		} else {
			st.subjectOf(*k.Subject).mode = mode
			st.gc(*k.Subject)
		}
	case schemalog.KeyDeleteSubject:
		st.noteKey(subjectLK(k.KeyType, k.Subject), r.Key, tomb)
		if tomb {
			return
		}
		var v schemalog.DeleteSubjectValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			st.log.Warn("registry: skipping an unreadable DELETE_SUBJECT record", "offset", r.Offset, "err", err)
			return
		}
		st.softDeleteSubject(*k.Subject, v.Version)
	case schemalog.KeyClearSubject:
		st.noteKey(subjectLK(k.KeyType, k.Subject), r.Key, tomb)
		if tomb {
			return
		}
		if k.Subject != nil {
			st.clearSubject(*k.Subject)
			return
		}
		for name := range st.subjects {
			st.clearSubject(name)
		}
	case schemalog.KeyNoop:
	}
}

func (st *state) subjectOf(name string) *subject {
	s := st.subjects[name]
	if s == nil {
		s = &subject{versions: map[int]*version{}}
		st.subjects[name] = s
	}
	return s
}

// gc forgets a subject that has nothing left.
func (st *state) gc(name string) {
	if s := st.subjects[name]; s != nil && len(s.versions) == 0 && s.level == "" && s.mode == "" {
		delete(st.subjects, name)
	}
}

// putVersion applies a SCHEMA record.
func (st *state) putVersion(subj string, n int, v schemalog.SchemaValue, offset int64) {
	rec := st.ids[v.ID]
	if rec == nil {
		rec = st.newRec(v.ID, v.SchemaType, v.Schema, v.References)
	} else if !rec.sameStored(v) && st.identity(v.SchemaType, v.Schema, v.References) != rec.ident {
		// Confluent's rule: an ID already bound to a different schema
		// keeps it; the record is dropped.
		st.log.Error("registry: dropping a SCHEMA record whose ID is bound to a different schema",
			"offset", offset, "subject", subj, "version", n, "id", v.ID)
		return
	}
	s := st.subjectOf(subj)
	if old := s.versions[n]; old != nil {
		st.unbind(svKey{subj, n}, old)
	}
	ver := &version{n: n, rec: rec, deleted: v.Deleted}
	s.versions[n] = ver
	st.bind(svKey{subj, n}, ver)
}

// sameStored reports whether a SCHEMA value holds exactly what rec was
// built from: then it is the same schema without parsing it again.
func (rec *schemaRec) sameStored(v schemalog.SchemaValue) bool {
	typ := v.SchemaType
	if typ == "AVRO" {
		typ = ""
	}
	return rec.text == v.Schema && rec.typ == typ && slices.Equal(rec.refs, v.References)
}

// identity computes the identity of a schema that is not bound yet.
func (st *state) identity(typ, text string, refs []schemalog.Reference) string {
	return st.newRec(0, typ, text, refs).ident
}

// newRec parses a stored schema, its references resolved against the
// current state.
func (st *state) newRec(id int, typ, text string, refs []schemalog.Reference) *schemaRec {
	rec := &schemaRec{id: id, typ: typ, text: text, refs: refs, users: map[svKey]struct{}{}}
	if typ != "" && !strings.EqualFold(typ, "AVRO") {
		rec.parseErr = fmt.Errorf("%s schemas are not supported", typ)
	} else if deps, err := st.resolved(refs); err != nil {
		rec.parseErr = err
	} else if rec.parsed, err = compat.Parse([]byte(text), deps...); err != nil {
		rec.parseErr = err
	}
	if rec.parsed != nil {
		rec.ident = identityOf("", rec.parsed.String(), refs)
		rec.norm = identityOf("", normalized(rec.parsed), sortedRefs(refs))
	} else {
		rec.ident = identityOf(typ, text, refs)
		rec.norm = rec.ident
	}
	if typ == "AVRO" {
		rec.typ = ""
	}
	return rec
}

func identityOf(typ, text string, refs []schemalog.Reference) string {
	var b strings.Builder
	b.WriteString(typ)
	b.WriteByte(0)
	b.WriteString(text)
	for _, r := range refs {
		fmt.Fprintf(&b, "\x00%s\x01%s\x01%d", r.Name, r.Subject, r.Version)
	}
	return b.String()
}

// sortedRefs returns the references sorted and without duplicates, as
// Confluent's normalize leaves them.
func sortedRefs(refs []schemalog.Reference) []schemalog.Reference {
	out := slices.Clone(refs)
	slices.SortFunc(out, func(a, b schemalog.Reference) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return slices.Compact(out)
}

// resolved returns the parsed schemas of references with concrete
// versions.
func (st *state) resolved(refs []schemalog.Reference) ([]*compat.Schema, error) {
	out := make([]*compat.Schema, 0, len(refs))
	for _, r := range refs {
		var v *version
		if s := st.subjects[r.Subject]; s != nil {
			v = s.versions[r.Version]
		}
		if v == nil {
			return nil, fmt.Errorf("reference %q: version %d of subject %q not found", r.Name, r.Version, r.Subject)
		}
		if v.rec.parsed == nil {
			return nil, fmt.Errorf("reference %q: version %d of subject %q: %w", r.Name, r.Version, r.Subject, v.rec.parseErr)
		}
		out = append(out, v.rec.parsed)
	}
	return out, nil
}

// bind records that a subject-version uses its schema's ID.
func (st *state) bind(k svKey, v *version) {
	rec := v.rec
	if len(rec.users) == 0 {
		st.ids[rec.id] = rec
		if rec.body == nil {
			rec.body = marshalSchemaByID(rec, nil)
		}
	}
	rec.users[k] = struct{}{}
	st.byIdent[rec.ident] = rec
	st.maxID = max(st.maxID, rec.id)
	if !v.deleted {
		st.addRefs(rec, 1)
	}
}

// unbind undoes bind.
func (st *state) unbind(k svKey, v *version) {
	rec := v.rec
	if !v.deleted {
		st.addRefs(rec, -1)
	}
	delete(rec.users, k)
	if len(rec.users) == 0 {
		delete(st.ids, rec.id)
		if st.byIdent[rec.ident] == rec {
			delete(st.byIdent, rec.ident)
		}
	}
}

// addRefs counts a live version using rec in the reverse reference index.
func (st *state) addRefs(rec *schemaRec, delta int) {
	for _, r := range rec.refs {
		k := svKey{r.Subject, r.Version}
		m := st.refBy[k]
		if m == nil {
			m = map[int]int{}
			st.refBy[k] = m
		}
		if m[rec.id] += delta; m[rec.id] <= 0 {
			delete(m, rec.id)
		}
		if len(m) == 0 {
			delete(st.refBy, k)
		}
	}
}

// referencedBy returns the sorted IDs of the live versions referencing a
// subject-version.
func (st *state) referencedBy(subject string, n int) []int {
	ids := make([]int, 0, len(st.refBy[svKey{subject, n}]))
	for id := range st.refBy[svKey{subject, n}] {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// dropVersion applies a SCHEMA tombstone (a permanent delete).
func (st *state) dropVersion(subj string, n int) {
	s := st.subjects[subj]
	if s == nil || s.versions[n] == nil {
		return
	}
	st.unbind(svKey{subj, n}, s.versions[n])
	delete(s.versions, n)
	st.gc(subj)
}

// softDeleteSubject applies a DELETE_SUBJECT record: versions 1..upTo are
// soft-deleted.
func (st *state) softDeleteSubject(subj string, upTo int) {
	s := st.subjects[subj]
	if s == nil {
		return
	}
	for n, v := range s.versions {
		if n <= upTo && !v.deleted {
			st.addRefs(v.rec, -1)
			v.deleted = true
		}
	}
}

// clearSubject applies a CLEAR_SUBJECT record: the soft-deleted versions
// are dropped.
func (st *state) clearSubject(subj string) {
	s := st.subjects[subj]
	if s == nil {
		return
	}
	for n, v := range s.versions {
		if v.deleted {
			st.unbind(svKey{subj, n}, v)
			delete(s.versions, n)
		}
	}
	st.gc(subj)
}

// levelOf returns the compatibility level in scope for a subject.
func (st *state) levelOf(subject string) compat.Level {
	if s := st.subjects[subject]; s != nil && s.level != "" {
		return s.level
	}
	return st.global()
}

func (st *state) global() compat.Level {
	if st.globalLevel != "" {
		return st.globalLevel
	}
	return defaultLevel
}

func (st *state) globalModeOrDefault() string {
	if st.globalMode != "" {
		return st.globalMode
	}
	return modeReadWrite
}

// modeOf returns the mode in scope for a subject: a global
// READONLY_OVERRIDE beats every subject mode.
func (st *state) modeOf(subject string) string {
	g := st.globalModeOrDefault()
	if g == modeReadOnlyOverride {
		return g
	}
	if s := st.subjects[subject]; s != nil && s.mode != "" {
		return s.mode
	}
	return g
}

// liveSubjects counts the subjects with a live version.
func (st *state) liveSubjects() int {
	n := 0
	for _, s := range st.subjects {
		if s.hasVersions(false) {
			n++
		}
	}
	return n
}
