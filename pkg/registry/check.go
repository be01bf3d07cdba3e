package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/schemacheck"
)

// The rules of the check against a registry, besides compat's and the lint
// rules.
const (
	// RuleDrift: a version the registry holds differs from the repository's
	// file of the same number, is deleted there, or is not in the
	// repository at all.
	RuleDrift = "REGISTRY_DRIFT"
	// RuleIncompatible: the registry's compatibility check rejects a new
	// version; the message is the registry's.
	RuleIncompatible = "REGISTRY_INCOMPATIBLE"
	// RuleDisagreement: compat and the registry reach different verdicts on
	// a new version (a warning: one of the two checkers, or the registry's
	// level, is not what the repository assumes).
	RuleDisagreement = "REGISTRY_DISAGREEMENT"
	// RuleLevel: the registry checks a subject at another level than the
	// catalog's (a warning: the next push sets the catalog's).
	RuleLevel = "REGISTRY_LEVEL"
)

// Check is the pull-request check against what a live registry holds. For
// every event type and shared type of head, it compares the repository's
// versions with the registry's versions of its subject:
//
//   - a version both have must be the same schema (Parsing Canonical Form,
//     the attributes readers use, references; docs may differ): otherwise
//     it is drift;
//   - a version the registry lacks is new: compat checks it at the catalog's
//     level against the registry's live versions, parsed with their
//     references (and the new versions before it), and it is linted; the
//     first new version of a subject is also sent to the registry's own
//     check (POST /compatibility/subjects/{s}/versions?verbose=true), and the
//     registry's findings are reported beside compat's, with a warning when
//     the two disagree. Later new versions, and versions whose references
//     the registry does not hold yet, can only be checked by compat: the
//     registry would compare them with the wrong versions.
//   - a version the registry has beyond the repository's is drift.
//
// Findings from compat say "compat:", the registry's "registry:". Problems of
// head are findings, as in schemacheck.Compare. The error is for a registry
// that could not be read.
func Check(ctx context.Context, c *Client, head schemacheck.Tree) (*schemacheck.Report, error) {
	report := schemacheck.Compare(schemacheck.Tree{}, schemacheck.Tree{Problems: head.Problems})
	report.Subject = "against registry:" + c.URL()
	if head.Catalog == nil {
		return report, nil
	}
	ch := &checker{ctx: ctx, c: c, r: newReader(c), cat: head.Catalog, report: report}
	global, err := c.GlobalCompatibility(ctx)
	if err != nil {
		return nil, err
	}
	ch.global = global
	events, versions := 0, 0
	for _, list := range [][]*catalog.Event{head.Catalog.Events, head.Catalog.Shared} {
		for _, e := range list {
			events++
			versions += len(e.Versions)
			if err := ch.event(e); err != nil {
				return nil, err
			}
		}
	}
	report.Subject = fmt.Sprintf("%s, %s against registry:%s", plural(events, "event type"), plural(versions, "version"), c.URL())
	if ch.newVersions > 0 {
		report.Subject += fmt.Sprintf("; new versions: %d checked by compat, %d of them also by the registry", ch.newVersions, ch.byRegistry)
	}
	return report, nil
}

type checker struct {
	ctx    context.Context
	c      *Client
	r      *reader
	cat    *catalog.Catalog
	report *schemacheck.Report
	global compat.Level

	newVersions, byRegistry int
}

func (ch *checker) add(e *catalog.Event, fs ...schemacheck.Finding) {
	for i := range fs {
		fs[i].Event = e.FullName
	}
	ch.report.Add(fs...)
}

// event checks one event type or shared type.
func (ch *checker) event(e *catalog.Event) error {
	subject := e.Subject()
	level := levelOf(e)
	checked := schemacheck.Checked{Event: e.FullName, Level: level, Versions: len(e.Versions)}
	before := len(ch.report.Findings)
	defer func() {
		checked.Findings = len(ch.report.Findings) - before
		ch.report.Checked = append(ch.report.Checked, checked)
	}()

	live, err := ch.c.Versions(ch.ctx, subject, false)
	if err != nil && !errors.Is(err, ErrSubjectNotFound) {
		return err
	}
	// Soft-deleted versions still count when the registry numbers a new one.
	all, err := ch.c.Versions(ch.ctx, subject, true)
	if err != nil && !errors.Is(err, ErrSubjectNotFound) {
		return err
	}
	highest := 0
	for _, n := range slices.Concat(live, all) {
		highest = max(highest, n)
	}
	latestFile := e.Dir
	if v := e.Latest(); v != nil {
		latestFile = v.File
	}

	regLevel, err := ch.level(subject)
	if err != nil {
		return err
	}
	// A subject the registry has never seen gets the catalog's level from
	// the push that creates it.
	if regLevel != level && highest > 0 {
		ch.add(e, schemacheck.Finding{
			File: latestFile, Rule: RuleLevel, Severity: schemacheck.Warning,
			Message: fmt.Sprintf("registry: %s is checked at %s in the registry; the catalog says %s", subject, regLevel, level),
			Hint:    "`waybill registry push` sets the catalog's level",
		})
	}

	// The existing versions, as the registry holds them.
	var existing []schemacheck.Schema
	byNumber := map[int]*catalog.Version{}
	for _, v := range e.Versions {
		byNumber[v.Number] = v
	}
	for _, n := range live {
		reg, err := ch.r.version(ch.ctx, subject, n)
		if err != nil {
			return err
		}
		v := byNumber[n]
		if v == nil {
			ch.add(e, schemacheck.Finding{
				File: latestFile, Rule: RuleDrift, Severity: schemacheck.Error,
				Message: fmt.Sprintf("registry: version %d of %s (ID %d) is not in the repository, which has %s", n, subject, reg.ID, plural(len(e.Versions), "version")),
				Hint:    fmt.Sprintf("add the registry's schema as %s/v%d.avsc, or delete the version from the registry (waybill registry push --delete-unknown)", e.Dir, n),
			})
		} else if v.Schema != nil {
			if d := compare(v, reg); d != nil {
				line, col := compat.Locate(v.Text, d.path)
				ch.add(e, schemacheck.Finding{
					File: v.File, Line: line, Column: col, Path: d.path, Rule: RuleDrift, Severity: schemacheck.Error,
					Message: fmt.Sprintf("registry: version %d of %s (ID %d) differs from this file: %s", n, subject, reg.ID, d.what),
					Hint:    "registered versions cannot change: restore the file to what the registry holds, and make the change in a new version",
				})
			}
		}
		if reg.Schema == nil {
			continue
		}
		s := schemacheck.Schema{Schema: reg.Schema, Version: n}
		if v != nil {
			s.File, s.Text = v.File, v.Text
		}
		existing = append(existing, s)
	}

	firstNew := true
	for _, v := range e.Versions {
		if slices.Contains(live, v.Number) {
			continue
		}
		if v.Number <= highest {
			ch.add(e, schemacheck.Finding{
				File: v.File, Rule: RuleDrift, Severity: schemacheck.Error,
				Message: fmt.Sprintf("registry: version %d of %s is deleted in the registry, which numbers new versions of the subject from %d: this file cannot become version %d",
					v.Number, subject, highest+1, v.Number),
				Hint: "a person decides: see `waybill registry push --dry-run`",
			})
			continue
		}
		checked.New = append(checked.New, v.Number)
		if v.Schema == nil {
			continue // a problem of head, reported already
		}
		ch.newVersions++
		cand := schemacheck.Schema{File: v.File, Text: v.Text, Schema: v.Schema, Version: v.Number}
		local := schemacheck.CheckLevel(level, cand, existing)
		for i := range local {
			local[i].Message = "compat: " + local[i].Message
		}
		ch.add(e, local...)
		ch.add(e, ch.lint(e, v)...)
		if firstNew {
			firstNew = false
			if err := ch.registryCheck(e, v, level, regLevel, local, len(existing) > 0); err != nil {
				return err
			}
		}
		existing = append(existing, cand)
	}
	return nil
}

// level returns the level the registry checks subject at.
func (ch *checker) level(subject string) (compat.Level, error) {
	own, err := ch.c.SubjectCompatibility(ch.ctx, subject)
	if err != nil || own != "" {
		return own, err
	}
	return ch.global, nil
}

// registryCheck asks the registry about a new version, and reports what it
// says and whether it agrees with compat.
func (ch *checker) registryCheck(e *catalog.Event, v *catalog.Version, level, regLevel compat.Level, local []schemacheck.Finding, existing bool) error {
	refs := fromCatalog(v.References)
	for _, r := range refs {
		if _, err := ch.c.Version(ch.ctx, r.Subject, r.Version); err != nil {
			if errors.Is(err, ErrSubjectNotFound) || errors.Is(err, ErrVersionNotFound) {
				return nil // references a version that is new too
			}
			return err
		}
	}
	ch.byRegistry++
	res, err := ch.c.CheckCompatibility(ch.ctx, e.Subject(), string(v.Text), refs)
	if err != nil {
		var re *Error
		if !errors.As(err, &re) {
			return err
		}
		// A registry that refuses the request outright (42201 from a
		// registry without verbose support) has still said no.
		res = &Compatibility{Messages: []string{message(err)}}
	}
	for _, m := range res.Messages {
		if res.Compatible {
			break
		}
		ch.add(e, schemacheck.Finding{
			File: v.File, Rule: RuleIncompatible, Severity: schemacheck.Error,
			Message: fmt.Sprintf("registry (%s): %s", regLevel, m),
			Hint:    "the registry would refuse to register this version (409)",
		})
	}
	if !res.Compatible && len(res.Messages) == 0 {
		ch.add(e, schemacheck.Finding{
			File: v.File, Rule: RuleIncompatible, Severity: schemacheck.Error,
			Message: fmt.Sprintf("registry (%s): version %d is incompatible (the registry gave no details)", regLevel, v.Number),
			Hint:    "the registry would refuse to register this version (409)",
		})
	}

	localOK := true
	for _, f := range local {
		if f.Severity == schemacheck.Error {
			localOK = false
		}
	}
	if localOK == res.Compatible {
		return nil
	}
	verdict := func(ok bool) string {
		if ok {
			return "compatible"
		}
		return "incompatible"
	}
	msg := fmt.Sprintf("compat finds version %d %s at %s, the registry finds it %s at %s",
		v.Number, verdict(localOK), level, verdict(res.Compatible), regLevel)
	hint := "one of the two checkers is wrong about this change: compare their findings, and report the case"
	if level != regLevel && existing {
		msg += ": they check at different levels"
		hint = "`waybill registry push` sets the catalog's level in the registry; check again after it"
	}
	ch.add(e, schemacheck.Finding{File: v.File, Rule: RuleDisagreement, Severity: schemacheck.Warning, Message: msg, Hint: hint})
	return nil
}

func (ch *checker) lint(e *catalog.Event, v *catalog.Version) []schemacheck.Finding {
	domain := e.Domain
	if domain == "" {
		domain, _, _ = strings.Cut(e.Dir, "/")
	}
	target := compat.LintTarget{Schema: v.Schema, File: v.File, Namespace: "waybill." + domain, KeyField: e.Key}
	return schemacheck.LintSchema(target, ch.cat.Lint, v.Text)
}
