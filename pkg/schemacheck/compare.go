package schemacheck

import (
	"fmt"
	"path"
	"strings"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
)

type comparison struct {
	base, head Tree
	report     *Report
}

func (c *comparison) run() {
	c.report.Add(problemFindings(c.head.Problems)...)
	if c.head.Catalog == nil {
		return
	}
	baseEvents := map[string]*catalog.Event{}
	if c.base.Catalog != nil {
		for _, e := range allEvents(c.base.Catalog) {
			baseEvents[e.FullName] = e
		}
	}

	events, versions := 0, 0
	headNames := map[string]bool{}
	for _, e := range allEvents(c.head.Catalog) {
		headNames[e.FullName] = true
		events++
		versions += len(e.Versions)
		c.event(baseEvents[e.FullName], e)
	}
	c.report.Subject = fmt.Sprintf("%s, %s", plural(events, "event type"), plural(versions, "version"))

	if c.base.Catalog == nil {
		return
	}
	// An event type that is gone. When catalog.yaml itself does not load the
	// head catalog may be missing event types that are still there: the
	// catalog finding comes first, and removals are not guessed at.
	if c.problemIn("catalog.yaml") {
		return
	}
	for _, e := range allEvents(c.base.Catalog) {
		if headNames[e.FullName] || c.problemUnder(e.Dir) {
			continue
		}
		file := e.Dir
		if len(e.Versions) > 0 {
			file = e.Versions[len(e.Versions)-1].File
		}
		c.report.Add(Finding{
			File: file, Rule: EventRemoved, Severity: Error, Event: e.FullName,
			Message: fmt.Sprintf("%s %s was removed; consumers of %s may still receive it and the registry keeps its subject", kind(e), e.FullName, topicOf(e)),
			Hint:    "restore it: to retire an event type, stop producing it but keep its schemas, which old data and the registry still need",
		})
	}
}

// event checks one event type of the head tree against the same event type
// in the base tree (nil if it is new).
func (c *comparison) event(base, head *catalog.Event) {
	published := map[int]*catalog.Version{}
	if base != nil {
		for _, v := range base.Versions {
			published[v.Number] = v
		}
		c.level(base, head)
	}

	headVersions := map[int]bool{}
	var existing []Schema
	checked := Checked{Event: head.FullName, Level: levelOf(head), Versions: len(head.Versions)}
	before := len(c.report.Findings)
	defer func() {
		checked.Findings = len(c.report.Findings) - before
		c.report.Checked = append(c.report.Checked, checked)
	}()
	for _, v := range head.Versions {
		headVersions[v.Number] = true
		cur := Schema{File: v.File, Text: v.Text, Schema: v.Schema, Version: v.Number}
		if old, ok := published[v.Number]; ok {
			c.report.Add(modified(head, old, v)...)
		} else {
			checked.New = append(checked.New, v.Number)
			// A new version: it must pass its level against every version
			// before it, and its lint rules.
			if v.Schema != nil && complete(existing) {
				c.report.Add(tagEvent(head.FullName, CheckLevel(head.Compatibility, cur, existing))...)
			}
			c.report.Add(lintVersion(c.head.Catalog, head, v)...)
		}
		existing = append(existing, cur)
	}

	if base == nil {
		return
	}
	for _, v := range base.Versions {
		if headVersions[v.Number] || c.problemIn(v.File) {
			continue
		}
		c.report.Add(Finding{
			File: v.File, Rule: VersionRemoved, Severity: Error, Event: head.FullName,
			Message: fmt.Sprintf("version %d of %s was removed; data written with it may still be in %s", v.Number, head.FullName, topicOf(head)),
			Hint:    "restore the file: published versions are append-only",
		})
	}
}

// level warns when an event type's compatibility level was relaxed.
func (c *comparison) level(base, head *catalog.Event) {
	from, to := levelOf(base), levelOf(head)
	if from == to || !relaxes(from, to) {
		return
	}
	file := head.Dir
	if v := head.Latest(); v != nil {
		file = v.File
	}
	c.report.Add(Finding{
		File: file, Rule: LevelRelaxed, Severity: Warning, Event: head.FullName,
		Message: fmt.Sprintf("the compatibility level of %s changed from %s to %s in catalog.yaml", head.FullName, from, to),
		Hint:    "make sure every consumer agrees: the registry's level follows the catalog on the next push",
	})
}

func (c *comparison) problemIn(file string) bool {
	for _, p := range c.head.Problems {
		if p.File == file {
			return true
		}
	}
	return false
}

func (c *comparison) problemUnder(dir string) bool {
	for _, p := range c.head.Problems {
		if strings.HasPrefix(p.File, dir+"/") {
			return true
		}
	}
	return false
}

// modified reports a published version whose schema changed in more than its
// doc attributes or its formatting.
func modified(e *catalog.Event, old, cur *catalog.Version) []Finding {
	if cur.Schema == nil || string(old.Text) == string(cur.Text) {
		return nil // a version that does not load is a finding of its own
	}
	ptr, changed := schemaChange(old.Text, cur.Text)
	if !changed {
		return nil
	}
	line, col := compat.Locate(cur.Text, ptr)
	return []Finding{{
		File: cur.File, Line: line, Column: col, Path: ptr, Rule: VersionModified, Severity: Error, Event: e.FullName,
		Message: fmt.Sprintf("published version %d of %s changed at %s; data already written with it would be read with a different schema", cur.Number, e.FullName, displayPointer(ptr)),
		Hint:    fmt.Sprintf("revert the change and make it in a new version, v%d.avsc, instead (only doc attributes of a published version may change)", len(e.Versions)+1),
	}}
}

// problemFindings turns catalog.Load's problems into findings.
func problemFindings(probs []catalog.Problem) []Finding {
	out := make([]Finding, 0, len(probs))
	for _, p := range probs {
		f := Finding{File: p.File, Line: p.Line, Column: p.Column, Path: p.Path, Severity: Error, Message: p.Msg}
		switch {
		case strings.HasSuffix(p.File, ".avsc"):
			f.Rule = InvalidSchema
			f.Hint = "each schema file must be a valid Avro schema (https://avro.apache.org/docs/1.11.1/specification/) defining the type that its directory and its catalog.yaml entry name"
		case strings.HasPrefix(p.File, "examples/"):
			f.Rule = InvalidExample
			f.Hint = "make the example a value of its version's schema, in Avro's JSON encoding"
		default:
			f.Rule = InvalidCatalog
			f.Hint = "fix catalog.yaml, or the schemas/<domain>/<EventName>/v<N>.avsc layout it describes"
		}
		if p.Line > 0 && p.Column > 0 && strings.Contains(p.Msg, "JSON") {
			f.Hint = "fix the JSON syntax at this position"
		}
		out = append(out, f)
	}
	return out
}

func lintVersion(cat *catalog.Catalog, e *catalog.Event, v *catalog.Version) []Finding {
	if v.Schema == nil {
		return nil
	}
	target := compat.LintTarget{Schema: v.Schema, File: v.File, Namespace: expectedNamespace(e), KeyField: e.Key}
	return tagEvent(e.FullName, LintSchema(target, cat.Lint, v.Text))
}

// expectedNamespace is the namespace every schema of a domain must have.
func expectedNamespace(e *catalog.Event) string {
	domain := e.Domain
	if domain == "" {
		domain, _, _ = strings.Cut(e.Dir, "/")
	}
	return "waybill." + domain
}

// allEvents returns the event types and then the shared types of c.
func allEvents(c *catalog.Catalog) []*catalog.Event {
	out := make([]*catalog.Event, 0, len(c.Events)+len(c.Shared))
	out = append(out, c.Events...)
	return append(out, c.Shared...)
}

func complete(ss []Schema) bool {
	for _, s := range ss {
		if s.Schema == nil {
			return false
		}
	}
	return true
}

func tagEvent(name string, fs []Finding) []Finding {
	for i := range fs {
		fs[i].Event = name
	}
	return fs
}

func kind(e *catalog.Event) string {
	if e.Topic == "" {
		return "shared type"
	}
	return "event type"
}

func topicOf(e *catalog.Event) string {
	if e.Topic == "" {
		return "the topics whose events use it"
	}
	return e.Topic
}

func levelOf(e *catalog.Event) compat.Level {
	if e.Compatibility == "" {
		return compat.BackwardTransitive
	}
	return e.Compatibility
}

// relaxes reports whether level to checks something that level from checked.
func relaxes(from, to compat.Level) bool {
	if from == compat.None {
		return false
	}
	return to == compat.None ||
		(from.Backward() && !to.Backward()) ||
		(from.Forward() && !to.Forward()) ||
		(from.Transitive() && !to.Transitive())
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func displayPointer(p string) string {
	if p == "" {
		return "the top level"
	}
	return p
}

func joinRoot(root, file string) string {
	if file == "" {
		return ""
	}
	return path.Join(strings.ReplaceAll(root, "\\", "/"), file)
}
