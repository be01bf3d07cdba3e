package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/waybill/waybill/compat"
)

// examplesDir holds the example payloads, mirroring the schema layout.
const examplesDir = "examples"

var (
	schemaFileRE  = regexp.MustCompile(`^v([1-9][0-9]*)\.avsc$`)
	exampleFileRE = regexp.MustCompile(`^v([1-9][0-9]*)\.json$`)
)

// loader accumulates the problems of one Load.
type loader struct {
	fsys  fs.FS
	probs Problems
}

func (l *loader) add(p Problem) { l.probs = append(l.probs, p) }

// schemaProblem reports a problem at a JSON pointer into an .avsc file,
// locating the pointer in the text.
func (l *loader) schemaProblem(file string, text []byte, ptr, format string, args ...any) {
	p := Problem{File: file, Path: ptr, Msg: fmt.Sprintf(format, args...)}
	p.Line, p.Column = compat.Locate(text, ptr)
	l.add(p)
}

// files are the schema and example files found in the tree, by directory
// ("orders/OrderCreated") and version number.
type files struct {
	schemas  map[string]map[int]string
	examples map[string]map[int]string
}

func addFile(m map[string]map[int]string, dir string, n int, file string) {
	if m[dir] == nil {
		m[dir] = map[int]string{}
	}
	m[dir][n] = file
}

// scan walks the tree for .avsc files and examples, reporting the misplaced.
func (l *loader) scan() files {
	fl := files{schemas: map[string]map[int]string{}, examples: map[string]map[int]string{}}
	err := fs.WalkDir(l.fsys, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			l.add(Problem{File: p, Msg: fmt.Sprintf("cannot read: %v", err)})
			return nil
		}
		if de.IsDir() {
			if p != "." && strings.HasPrefix(de.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		parts := strings.Split(p, "/")
		inExamples := parts[0] == examplesDir
		switch path.Ext(p) {
		case ".avsc":
			if m := schemaFileRE.FindStringSubmatch(parts[len(parts)-1]); m != nil && len(parts) == 3 && !inExamples {
				n, _ := strconv.Atoi(m[1])
				addFile(fl.schemas, parts[0]+"/"+parts[1], n, p)
				return nil
			}
			l.add(Problem{File: p, Msg: "misplaced schema file: a schema is <domain>/<Name>/v<N>.avsc, N counting from 1"})
		case ".json":
			if !inExamples {
				return nil
			}
			if m := exampleFileRE.FindStringSubmatch(parts[len(parts)-1]); m != nil && len(parts) == 4 {
				n, _ := strconv.Atoi(m[1])
				addFile(fl.examples, parts[1]+"/"+parts[2], n, p)
				return nil
			}
			l.add(Problem{File: p, Msg: "misplaced example: an example is examples/<domain>/<Name>/v<N>.json"})
		}
		return nil
	})
	if err != nil {
		l.add(Problem{File: ".", Msg: fmt.Sprintf("cannot read the tree: %v", err)})
	}
	return fl
}

func (l *loader) load() *Catalog {
	c := &Catalog{}
	fl := l.scan()
	text, err := fs.ReadFile(l.fsys, catalogFile)
	if err != nil {
		// Without a catalog every schema would be reported as stray: say
		// only what matters.
		l.add(Problem{File: catalogFile, Msg: fmt.Sprintf("cannot read the catalog: %v", err)})
		return c
	}
	sp := (&yamlDecoder{l}).decode(text)
	if sp == nil {
		return c
	}
	c.Topics = sp.topics
	sort.Slice(c.Topics, func(i, j int) bool { return c.Topics[i].Name < c.Topics[j].Name })
	c.Lint = sp.lint

	for _, e := range append(slices.Clip(sp.shared), sp.events...) {
		l.versions(e, fl)
	}
	l.stray(fl)
	sh := l.parseShared(sp.shared)
	for _, e := range sp.events {
		l.parseEvent(e, sh)
		l.checkTopic(e, c.Topics)
	}

	for _, e := range sp.shared {
		c.Shared = append(c.Shared, e.ev)
	}
	for _, e := range sp.events {
		c.Events = append(c.Events, e.ev)
	}
	byName := func(list []*Event) func(i, j int) bool {
		return func(i, j int) bool { return list[i].FullName < list[j].FullName }
	}
	sort.Slice(c.Shared, byName(c.Shared))
	sort.Slice(c.Events, byName(c.Events))
	return c
}

// versions reads the versions of an entry and their examples, reporting gaps.
func (l *loader) versions(e *entry, fl files) {
	ev := e.ev
	found := fl.schemas[ev.Dir]
	delete(fl.schemas, ev.Dir)
	if len(found) == 0 {
		l.add(Problem{File: catalogFile, Line: e.node.Line, Column: e.node.Column, Path: e.path,
			Msg: fmt.Sprintf("%s has no schema: want %s/v1.avsc", ev.FullName, ev.Dir)})
	}
	nums := make([]int, 0, len(found))
	for n := range found {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	want := 1
	for _, n := range nums {
		file := found[n]
		if n != want {
			missing := fmt.Sprintf("v%d.avsc is", want)
			switch {
			case n-want == 2:
				missing = fmt.Sprintf("v%d.avsc and v%d.avsc are", want, n-1)
			case n-want > 2:
				missing = fmt.Sprintf("v%d.avsc to v%d.avsc are", want, n-1)
			}
			l.add(Problem{File: file, Msg: fmt.Sprintf("%s missing: versions run from v1 without gaps", missing)})
		}
		want = n + 1
		text, err := fs.ReadFile(l.fsys, file)
		if err != nil {
			l.add(Problem{File: file, Msg: fmt.Sprintf("cannot read: %v", err)})
			continue
		}
		ev.Versions = append(ev.Versions, &Version{Number: n, File: file, Text: text})
	}

	examples := fl.examples[ev.Dir]
	delete(fl.examples, ev.Dir)
	for n, file := range examples {
		v := versionNumbered(ev, n)
		if v == nil {
			l.add(Problem{File: file, Msg: fmt.Sprintf("example of a version that does not exist: there is no %s/v%d.avsc", ev.Dir, n)})
			continue
		}
		text, err := fs.ReadFile(l.fsys, file)
		if err != nil {
			l.add(Problem{File: file, Msg: fmt.Sprintf("cannot read: %v", err)})
			continue
		}
		if p, ok := checkExample(file, text); !ok {
			l.add(p)
			continue
		}
		v.Example = text
	}
}

func versionNumbered(ev *Event, n int) *Version {
	for _, v := range ev.Versions {
		if v.Number == n {
			return v
		}
	}
	return nil
}

// checkExample checks that an example is one JSON object.
func checkExample(file string, text []byte) (Problem, bool) {
	dec := json.NewDecoder(bytes.NewReader(text))
	var v any
	err := dec.Decode(&v)
	if err == nil {
		end := dec.InputOffset()
		if _, terr := dec.Token(); terr != io.EOF {
			for end < int64(len(text)) && strings.IndexByte(" \t\r\n", text[end]) >= 0 {
				end++
			}
			line, col := compat.Position(text, int(end))
			return Problem{File: file, Line: line, Column: col, Msg: "unexpected data after the example: an example is one JSON object"}, false
		}
	}
	if err != nil {
		p := Problem{File: file, Msg: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// Offset counts the offending byte.
			p.Line, p.Column = compat.Position(text, int(se.Offset-1))
		}
		return p, false
	}
	if _, ok := v.(map[string]any); !ok {
		return Problem{File: file, Line: 1, Column: 1, Msg: "an example is a JSON object (a record in Avro's JSON encoding)"}, false
	}
	return Problem{}, true
}

// stray reports the schema and example files no catalog entry accounts for.
func (l *loader) stray(fl files) {
	hint := func(dir string) string {
		domain, name, _ := strings.Cut(dir, "/")
		section := "events"
		if domain == sharedDomain {
			section = "shared"
		}
		return fmt.Sprintf("add waybill.%s.%s under %s in catalog.yaml, or remove the file", domain, name, section)
	}
	for dir, m := range fl.schemas {
		for _, file := range m {
			l.add(Problem{File: file, Msg: "schema not in the catalog: " + hint(dir)})
		}
	}
	for dir, m := range fl.examples {
		for _, file := range m {
			l.add(Problem{File: file, Msg: fmt.Sprintf("example of a type not in the catalog (no %s/)", dir)})
		}
	}
}

// sharedSet is the parsed shared types: which shared type defines each
// name, and which versions parsed.
type sharedSet struct {
	entries map[string]*entry // by full name
	// definedBy maps every name a version of a shared type defines (nested
	// types included) to the shared type.
	definedBy map[string]*entry
}

// selected returns the version of shared type e that a reference means: the
// pinned one or the latest.
func (s *sharedSet) selected(e *entry, pinned int) *Version {
	if pinned > 0 {
		return versionNumbered(e.ev, pinned)
	}
	return e.ev.Latest()
}

// parseShared parses the shared types. One may use another, so they are
// parsed in rounds until no more parse; each uses the latest version of the
// others that has parsed.
func (l *loader) parseShared(entries []*entry) *sharedSet {
	set := &sharedSet{entries: map[string]*entry{}, definedBy: map[string]*entry{}}
	for _, e := range entries {
		set.entries[e.ev.FullName] = e
	}
	type item struct {
		e   *entry
		v   *Version
		err error
	}
	var pending []*item
	for _, e := range entries {
		for _, v := range e.ev.Versions {
			pending = append(pending, &item{e: e, v: v})
		}
	}
	latestParsed := func(e *entry) *Version {
		for i := len(e.ev.Versions) - 1; i >= 0; i-- {
			if v := e.ev.Versions[i]; v.Schema != nil {
				return v
			}
		}
		return nil
	}
	for len(pending) > 0 {
		var next []*item
		for _, it := range pending {
			var refs []*compat.Schema
			used := map[string]*Version{}
			for _, other := range entries {
				if other == it.e {
					continue
				}
				if v := latestParsed(other); v != nil {
					refs = append(refs, v.Schema)
					for _, d := range v.Schema.Defined() {
						used[d.Name] = v
					}
				}
			}
			s, err := compat.Parse(it.v.Text, refs...)
			if err != nil {
				it.err = err
				next = append(next, it)
				continue
			}
			it.v.Schema = s
			it.v.References = references(s, func(name string) (*Event, *Version) {
				v := used[name]
				for _, other := range entries {
					if slices.Contains(other.ev.Versions, v) {
						return other.ev, v
					}
				}
				return nil, nil
			})
		}
		if len(next) == len(pending) {
			break
		}
		pending = next
	}
	for _, it := range pending {
		l.parseProblem(it.v, it.err)
	}
	for _, e := range entries {
		for _, v := range e.ev.Versions {
			if v.Schema == nil {
				continue
			}
			l.checkName(e, v, true)
			for _, d := range v.Schema.Defined() {
				set.definedBy[d.Name] = e
			}
		}
	}
	return set
}

// references turns the names a schema takes from its refs into references,
// one per shared type, sorted by name.
func references(s *compat.Schema, owner func(name string) (*Event, *Version)) []Reference {
	var out []Reference
	for _, name := range s.References() {
		ev, v := owner(name)
		if ev == nil {
			continue
		}
		if slices.ContainsFunc(out, func(r Reference) bool { return r.Name == ev.FullName }) {
			continue
		}
		out = append(out, Reference{Name: ev.FullName, Subject: ev.Subject(), Version: v.Number})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (l *loader) parseProblem(v *Version, err error) {
	var pe *compat.ParseError
	if !errors.As(err, &pe) {
		l.add(Problem{File: v.File, Msg: strings.TrimPrefix(err.Error(), "compat: ")})
		return
	}
	p := Problem{File: v.File, Line: pe.Line, Column: pe.Column, Path: pe.Path, Msg: pe.Msg}
	if pe.Path == "" {
		p.Msg = "invalid JSON: " + p.Msg
	}
	l.add(p)
}

// checkName checks that a version defines the type its entry names.
func (l *loader) checkName(e *entry, v *Version, shared bool) {
	s := v.Schema
	switch {
	case !shared && s.Kind != compat.Record:
		l.schemaProblem(v.File, v.Text, "/", "an event schema must be a record, not %s", s.Kind)
	case shared && !s.Kind.Named():
		l.schemaProblem(v.File, v.Text, "/", "a shared type must be a record, an enum or a fixed, not %s", s.Kind)
	case s.Name != e.ev.FullName:
		l.schemaProblem(v.File, v.Text, "/name", "the schema defines %s, but its catalog entry and directory are %s", s.Name, e.ev.FullName)
	}
}

// parseEvent parses the versions of an event type, resolving its
// references, and checks its key field.
func (l *loader) parseEvent(e *entry, sh *sharedSet) {
	ev := e.ev
	// Pins for versions that do not exist, or for unknown shared types.
	pinned := map[int]map[string]int{}
	for n, pins := range e.pins {
		if versionNumbered(ev, n) == nil {
			for _, p := range pins {
				l.add(Problem{File: catalogFile, Line: p.node.Line, Column: p.node.Column, Path: p.path,
					Msg: fmt.Sprintf("pins a reference of v%d, but there is no %s/v%d.avsc", n, ev.Dir, n)})
			}
			continue
		}
		for _, p := range pins {
			se, ok := sh.entries[p.name]
			switch {
			case !ok:
				l.add(Problem{File: catalogFile, Line: p.node.Line, Column: p.node.Column, Path: p.path,
					Msg: fmt.Sprintf("pins %s, which is not a shared type", p.name)})
			case versionNumbered(se.ev, p.version) == nil:
				l.add(Problem{File: catalogFile, Line: p.node.Line, Column: p.node.Column, Path: p.path,
					Msg: fmt.Sprintf("pins %s version %d, but there is no %s/v%d.avsc", p.name, p.version, se.ev.Dir, p.version)})
			default:
				if pinned[n] == nil {
					pinned[n] = map[string]int{}
				}
				pinned[n][p.name] = p.version
			}
		}
	}

	for _, v := range ev.Versions {
		var refs []*compat.Schema
		chosen := map[string]*Version{} // shared full name -> version given as ref
		for _, name := range sortedKeys(sh.entries) {
			se := sh.entries[name]
			sv := sh.selected(se, pinned[v.Number][name])
			if sv == nil || sv.Schema == nil {
				continue
			}
			refs = append(refs, sv.Schema)
			chosen[name] = sv
		}
		s, err := compat.Parse(v.Text, refs...)
		if err != nil {
			l.parseProblem(v, explainUndefined(err, sh, pinned[v.Number]))
			continue
		}
		v.Schema = s
		l.checkName(e, v, false)
		for _, d := range s.Defined() {
			if owner, ok := sh.definedBy[d.Name]; ok {
				l.schemaProblem(v.File, v.Text, d.DefinedAt(), "defines %s, a name of the shared type %s: reference the shared type by name instead of copying it", d.Name, owner.ev.FullName)
			}
		}
		v.References = references(s, func(name string) (*Event, *Version) {
			for sname, sv := range chosen {
				if sname == name || slices.ContainsFunc(sv.Schema.Defined(), func(d *compat.Schema) bool { return d.Name == name }) {
					return sh.entries[sname].ev, sv
				}
			}
			return nil, nil
		})
		for _, p := range e.pins[v.Number] {
			if _, ok := pinned[v.Number][p.name]; !ok {
				continue // already reported
			}
			if !slices.ContainsFunc(v.References, func(r Reference) bool { return r.Name == p.name }) {
				l.add(Problem{File: catalogFile, Line: p.node.Line, Column: p.node.Column, Path: p.path,
					Msg: fmt.Sprintf("pins %s, but %s does not use it", p.name, v.File)})
			}
		}
		l.checkKey(e, v)
	}
}

// explainUndefined adds to an "undefined name" error the reason a shared
// type was not available, or that the name is no shared type at all.
func explainUndefined(err error, sh *sharedSet, pinned map[string]int) error {
	var pe *compat.ParseError
	if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "undefined name") {
		return err
	}
	c := *pe
	c.Msg += " (neither defined in this file nor a shared type in catalog.yaml)"
	for _, name := range sortedKeys(sh.entries) {
		if !strings.Contains(pe.Msg, strconv.Quote(name)) {
			continue
		}
		// Invalid pins were left out of pinned, so sv is nil only when the
		// shared type has no version at all (reported on its entry).
		if sv := sh.selected(sh.entries[name], pinned[name]); sv != nil && sv.Schema == nil {
			c.Msg = pe.Msg + fmt.Sprintf(" (the shared type's %s does not parse)", sv.File)
		} else if sv == nil {
			c.Msg = pe.Msg + fmt.Sprintf(" (the shared type %s has no schema file)", name)
		}
	}
	return &c
}

// checkKey checks that the key field exists and is a string.
func (l *loader) checkKey(e *entry, v *Version) {
	key := e.ev.Key
	if key == "" || v.Schema.Kind != compat.Record {
		return
	}
	f := v.Schema.Field(key)
	if f == nil {
		l.schemaProblem(v.File, v.Text, "/fields", "no field %s, the key of %s in catalog.yaml: every version must have its key field", key, e.ev.FullName)
		return
	}
	if f.Type.Kind != compat.String {
		what := f.Type.Kind.String()
		if f.Type.Kind == compat.Union {
			what = "a union (a key cannot be null)"
		}
		l.schemaProblem(v.File, v.Text, fmt.Sprintf("/fields/%d/type", f.Pos), "the key field %s must be a string, not %s", key, what)
	}
}

// checkTopic checks that an event's topic is declared.
func (l *loader) checkTopic(e *entry, topics []Topic) {
	if e.ev.Topic == "" {
		return
	}
	names := make([]string, len(topics))
	for i, t := range topics {
		if t.Name == e.ev.Topic {
			return
		}
		names[i] = t.Name
	}
	l.add(Problem{File: catalogFile, Line: e.topic.Line, Column: e.topic.Column, Path: e.path + "/topic",
		Msg: fmt.Sprintf("unknown topic %q (topics: %s)", e.ev.Topic, strings.Join(names, ", "))})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
