// Package schemacheck is the pull-request check of the schemas/ tree: it
// compares the tree under review (head) with the tree it would replace (base)
// and reports, as findings, everything that would break a producer or a
// consumer once the change merges:
//
//   - a file that does not load (invalid JSON, an invalid schema, a bad
//     catalog entry), with its line and column;
//   - a new version that fails its event type's compatibility level against
//     the versions before it (compat.CheckLevel);
//   - a published version whose schema changed (versions are append-only; a
//     change to doc attributes or to formatting only is allowed);
//   - a published version or event type that was removed;
//   - a lint violation in a new version (compat.Lint).
//
// With no base, Compare checks the tree on its own terms: every version
// against the versions before it, every version linted.
//
// Findings are data: each names a file, a JSON pointer into it, a rule and a
// hint how to fix it. Report.Write formats them for a terminal, for scripts
// (JSON), as GitHub workflow annotations, or as a Markdown table for a pull
// request comment.
package schemacheck

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
)

// Severity says whether a finding fails the check.
type Severity string

// The severities.
const (
	// Error findings fail the check (exit code 1).
	Error Severity = "error"
	// Warning findings are reported but do not fail the check.
	Warning Severity = "warning"
)

// The rules of the tree comparison. Compatibility findings carry compat's
// rule IDs (TYPE_MISMATCH, ...) and lint findings the lint rule's ID.
const (
	// InvalidSchema: a schema file does not load.
	InvalidSchema = "INVALID_SCHEMA"
	// InvalidCatalog: catalog.yaml, or the layout it describes, does not load.
	InvalidCatalog = "INVALID_CATALOG"
	// InvalidExample: an example payload is not a value of its schema.
	InvalidExample = "INVALID_EXAMPLE"
	// VersionModified: a published version's schema changed.
	VersionModified = "VERSION_MODIFIED"
	// VersionRemoved: a published version's file was removed.
	VersionRemoved = "VERSION_REMOVED"
	// EventRemoved: a published event type (or shared type) was removed.
	EventRemoved = "EVENT_REMOVED"
	// LevelRelaxed: an event type's compatibility level now checks less (a
	// warning: it may be intended, but consumers rely on the old guarantee).
	LevelRelaxed = "LEVEL_RELAXED"
)

// Finding is one problem in the tree under review.
type Finding struct {
	// File is the file to change, relative to the schemas directory (see
	// Report.WithRoot).
	File string `json:"file"`
	// Line and Column locate Path in File (1-based; 0 when unknown).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Path is a JSON pointer into File ("" for the whole file), or, for a
	// finding in the forward direction, into Against.
	Path string `json:"path"`
	// Rule is the rule's ID.
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Message says what is wrong, naming the fields and versions involved.
	Message string `json:"message"`
	// Hint says how to fix it.
	Hint string `json:"hint,omitempty"`
	// Event is the full name of the event type (or shared type), if any.
	Event string `json:"event,omitempty"`
	// Against is the other file involved (the existing version a candidate
	// was checked against, the writer of a pair), if any.
	Against string `json:"against,omitempty"`
}

// Report is the outcome of a check.
type Report struct {
	// Subject says what was checked, for the summary line
	// ("5 event types, 9 versions against git:origin/main").
	Subject string `json:"subject,omitempty"`
	// Findings, sorted by file and position.
	Findings []Finding `json:"findings"`
	// Checked lists the event types and shared types a comparison checked.
	Checked []Checked `json:"checked,omitempty"`
}

// Checked is what a comparison did with one event type or shared type.
type Checked struct {
	// Event is the full name.
	Event string `json:"event"`
	// Level is the compatibility level new versions were checked at.
	Level compat.Level `json:"level"`
	// Versions counts the versions in the tree under review.
	Versions int `json:"versions"`
	// New lists the numbers of the versions that are not in the base (all
	// of them without a base): they were checked and linted.
	New []int `json:"new,omitempty"`
	// Findings counts the findings about this event type.
	Findings int `json:"findings"`
}

// Errors counts the findings that fail the check.
func (r *Report) Errors() int { return r.count(Error) }

// Warnings counts the findings that do not fail the check.
func (r *Report) Warnings() int { return r.count(Warning) }

// Passed reports whether the check found no errors.
func (r *Report) Passed() bool { return r.Errors() == 0 }

func (r *Report) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Add appends findings and keeps the report sorted.
func (r *Report) Add(fs ...Finding) {
	r.Findings = append(r.Findings, fs...)
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Rule, b.Rule),
		)
	})
}

// WithRoot returns a copy of r whose files are prefixed with root (the
// schemas directory as the user named it, "schemas"), so that they are
// relative to the repository rather than to the schemas directory, as GitHub
// annotations need.
func (r *Report) WithRoot(root string) *Report {
	out := &Report{Subject: r.Subject, Findings: slices.Clone(r.Findings), Checked: r.Checked}
	if root == "" || root == "." {
		return out
	}
	for i := range out.Findings {
		f := &out.Findings[i]
		f.File = joinRoot(root, f.File)
		f.Against = joinRoot(root, f.Against)
	}
	return out
}

// Tree is one side of the comparison: a loaded catalog and the problems
// catalog.Load reported for it.
type Tree struct {
	// Catalog may be nil: no tree (the base before the first schema).
	Catalog *catalog.Catalog
	// Problems are the files that did not load; in the head tree each is a
	// finding, in the base tree they are ignored.
	Problems []catalog.Problem
}

// Load loads a tree with catalog.Load. Problems in the tree are not an error:
// they are returned in Tree.Problems. The error is for a tree that could not
// be read at all.
func Load(fsys fs.FS) (Tree, error) {
	cat, err := catalog.Load(fsys)
	if err == nil {
		return Tree{Catalog: cat}, nil
	}
	var probs catalog.Problems
	if errors.As(err, &probs) {
		return Tree{Catalog: cat, Problems: probs}, nil
	}
	return Tree{}, err
}

// Compare checks head, the tree under review, against base, the tree it
// replaces. A zero base means there is none: every version in head is new.
func Compare(base, head Tree) *Report {
	c := comparison{base: base, head: head, report: &Report{Findings: []Finding{}}}
	c.run()
	return c.report
}

// Lint lints every version of every event type and shared type in t, and
// reports t's problems.
func Lint(t Tree) *Report {
	r := &Report{Findings: []Finding{}}
	r.Add(problemFindings(t.Problems)...)
	if t.Catalog == nil {
		return r
	}
	events, versions := 0, 0
	for _, e := range allEvents(t.Catalog) {
		events++
		for _, v := range e.Versions {
			versions++
			r.Add(lintVersion(t.Catalog, e, v)...)
		}
	}
	r.Subject = fmt.Sprintf("%s, %s linted", plural(events, "event type"), plural(versions, "version"))
	return r
}
