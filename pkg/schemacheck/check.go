package schemacheck

import (
	"fmt"
	"path"
	"strings"

	"github.com/waybill/waybill/compat"
)

// Schema is a parsed schema and the file it came from, as the checks need it
// to say where a finding is.
type Schema struct {
	// File names the schema in findings.
	File string
	// Text is the file's content, to turn JSON pointers into line numbers.
	Text []byte
	// Schema is the parsed schema.
	Schema *compat.Schema
	// Version is the version number, if the schema is a version of an event
	// type (0 otherwise).
	Version int
}

func (s Schema) label() string {
	if s.Version > 0 {
		return fmt.Sprintf("v%d", s.Version)
	}
	return path.Base(s.File)
}

// CheckPair reports whether data written with writer can be read with
// reader. Incompatibilities are errors and semantic changes warnings; paths
// point into reader.
func CheckPair(reader, writer Schema) []Finding {
	res := compat.Check(reader.Schema, writer.Schema)
	var out []Finding
	for _, f := range res.Incompatibilities {
		out = append(out, pairFinding(f, Error, reader, writer))
	}
	for _, f := range res.Warnings {
		out = append(out, pairFinding(f, Warning, reader, writer))
	}
	return out
}

func pairFinding(f compat.Finding, sev Severity, reader, writer Schema) Finding {
	line, col := compat.Locate(reader.Text, f.Path)
	return Finding{
		File: reader.File, Line: line, Column: col, Path: f.Path, Rule: f.Rule, Severity: sev,
		Message: fmt.Sprintf("%s reading data written with %s: %s", reader.label(), writer.label(), f.Message),
		Hint:    Hint(f.Rule, compat.ReadsOld),
		Against: writer.File,
	}
}

// CheckLevel checks candidate against existing (oldest first) at level. Every
// finding is on the candidate's file; a finding in the forward direction (an
// existing version reading the candidate's data) has its path in the existing
// version's file, named by Against.
func CheckLevel(level compat.Level, candidate Schema, existing []Schema) []Finding {
	schemas := make([]*compat.Schema, len(existing))
	for i, e := range existing {
		schemas[i] = e.Schema
	}
	res := compat.CheckLevel(level, candidate.Schema, schemas)
	var out []Finding
	for _, g := range group(res.Incompatibilities) {
		out = append(out, levelFinding(g, Error, level, candidate, existing))
	}
	for _, g := range group(res.Warnings) {
		out = append(out, levelFinding(g, Warning, level, candidate, existing))
	}
	return out
}

// sameFinding is the same problem found against several existing versions
// (a transitive level finds a new field without a default once per version).
type sameFinding struct {
	compat.Finding
	versions []int
}

// group merges findings that differ only in the version they were found
// against, keeping the order of their first occurrence.
func group(fs compat.Findings) []sameFinding {
	type key struct {
		rule, path, msg string
		dir             compat.Direction
	}
	var out []sameFinding
	index := map[key]int{}
	for _, f := range fs {
		key := key{f.Rule, f.Path, f.Message, f.Direction}
		if i, ok := index[key]; ok {
			out[i].versions = append(out[i].versions, f.Version)
			continue
		}
		index[key] = len(out)
		out = append(out, sameFinding{Finding: f, versions: []int{f.Version}})
	}
	return out
}

func levelFinding(g sameFinding, sev Severity, level compat.Level, cand Schema, existing []Schema) Finding {
	out := Finding{File: cand.File, Path: g.Path, Rule: g.Rule, Severity: sev, Hint: Hint(g.Rule, g.Direction)}
	var others []Schema
	for _, v := range g.versions {
		if v >= 1 && v <= len(existing) {
			others = append(others, existing[v-1])
		}
	}
	if len(others) == 0 {
		out.Message = g.Message
		return out
	}
	out.Against = others[0].File
	labels := make([]string, len(others))
	for i, o := range others {
		labels[i] = o.label()
	}
	if g.Direction == compat.ReadByOld {
		// The path is in the reader: the existing version.
		out.Message = fmt.Sprintf("%s: %s cannot read data written with %s: %s (the path is in %s)",
			level, strings.Join(labels, ", "), cand.label(), g.Message, others[0].File)
		return out
	}
	out.Message = fmt.Sprintf("%s: %s cannot read data written with %s: %s", level, cand.label(), strings.Join(labels, ", "), g.Message)
	out.Line, out.Column = compat.Locate(cand.Text, g.Path)
	return out
}

// LintSchema lints one schema with compat.Lint. text is the schema's file,
// to turn paths into line numbers.
func LintSchema(target compat.LintTarget, cfg compat.LintConfig, text []byte) []Finding {
	purposes := map[string]string{}
	for _, r := range compat.LintRules() {
		purposes[r.ID] = r.Purpose
	}
	var out []Finding
	for _, f := range compat.Lint(target, cfg) {
		line, col := compat.Locate(text, f.Path)
		hint := purposes[f.Rule]
		if h := Hint(f.Rule, ""); h != "" {
			hint = h
		}
		out = append(out, Finding{
			File: target.File, Line: line, Column: col, Path: f.Path, Rule: f.Rule, Severity: Error,
			Message: f.Message, Hint: hint,
		})
	}
	return out
}

// hints says how to fix a finding of each rule, in each direction (""
// for both).
var hints = map[string]map[compat.Direction]string{
	compat.ReaderFieldMissingDefaultValue: {
		compat.ReadsOld:  "give the new field a default (for an optional field: type [\"null\", T] with \"default\": null) so old data, which lacks it, can be read",
		compat.ReadByOld: "keep the field: older versions need it and have no default for it (or give it a default in those versions before removing it)",
	},
	compat.TypeMismatch: {
		"": "keep the type, or change it only as Avro promotes (int->long->float->double, string<->bytes); for anything else add a new field with a default and deprecate the old one",
	},
	compat.MissingEnumSymbols: {
		compat.ReadsOld:  "keep every symbol old data may contain, or give the enum a \"default\" symbol",
		compat.ReadByOld: "older versions do not know the new symbol: give the enum a \"default\" symbol in a version they read first, or use a string",
	},
	compat.MissingUnionBranch: {
		compat.ReadsOld:  "keep every branch of the union that old data may hold",
		compat.ReadByOld: "older versions cannot read the new branch: add it only once readers have it, or use a new field",
	},
	compat.NameMismatch: {
		"": "keep the full name (name + namespace), or list the old full name in \"aliases\"",
	},
	compat.FixedSizeMismatch: {
		"": "a fixed's size cannot change: add a new field with the new size instead",
	},
	compat.DecimalChanged: {
		"": "a changed precision or scale changes what the stored numbers mean: add a new field instead",
	},
	compat.TimestampUnitChanged: {
		"": "a changed unit reinterprets every stored timestamp: add a new field instead",
	},
	compat.LogicalTypeChanged: {
		"": "a changed logical type changes how the value is interpreted: add a new field instead",
	},
	compat.RenameWithoutAlias: {
		"": "to rename a field, keep its name in \"aliases\" so old data still maps to it",
	},
}

// Hint says how to fix a finding of rule in direction dir ("" if unknown).
func Hint(rule string, dir compat.Direction) string {
	byDir := hints[rule]
	for _, d := range []compat.Direction{dir, "", compat.ReadsOld} {
		if h, ok := byDir[d]; ok {
			return h
		}
	}
	return ""
}
