// Package compat decides whether Avro schemas can read each other's data.
//
// It implements schema resolution as the Avro specification defines it
// (https://avro.apache.org/docs/1.11.1/specification/#schema-resolution), the
// seven compatibility levels of Confluent's Schema Registry, semantic warnings
// for changes that are wire-compatible but change meaning, and the lint rules
// Waybill applies to schema files. Every answer agrees with Apache Avro Java's
// SchemaCompatibility, the checker Confluent's registry runs, and every
// incompatibility is reported, not only the first, with a JSON-pointer path into
// the reader schema as Avro's checkers report it ("/fields/2/type/symbols").
//
// The package is pure: it does no I/O beyond what its caller hands it, and it
// never imports the Kafka runtime.
package compat

import (
	"fmt"
	"strings"
)

// Level is a registry compatibility level. Its string is the registry's name.
type Level string

// The levels of Confluent's Schema Registry. BACKWARD: the candidate reads data
// written with the latest existing version. FORWARD: the latest existing
// version reads data written with the candidate. FULL: both. The _TRANSITIVE
// forms check every existing version instead of only the latest. NONE checks
// nothing.
const (
	None               Level = "NONE"
	Backward           Level = "BACKWARD"
	BackwardTransitive Level = "BACKWARD_TRANSITIVE"
	Forward            Level = "FORWARD"
	ForwardTransitive  Level = "FORWARD_TRANSITIVE"
	Full               Level = "FULL"
	FullTransitive     Level = "FULL_TRANSITIVE"
)

// Levels returns every level, in the registry's documentation order.
func Levels() []Level {
	return []Level{Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None}
}

// ParseLevel returns the level named s, ignoring case as the registry does.
func ParseLevel(s string) (Level, error) {
	up := Level(strings.ToUpper(strings.TrimSpace(s)))
	for _, l := range Levels() {
		if l == up {
			return l, nil
		}
	}
	return "", fmt.Errorf("compat: unknown compatibility level %q (want one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE)", s)
}

// Transitive reports whether l checks every existing version, not only the latest.
func (l Level) Transitive() bool { return strings.HasSuffix(string(l), "_TRANSITIVE") }

// Backward reports whether l requires the new schema to read old data.
func (l Level) Backward() bool {
	return strings.HasPrefix(string(l), "BACKWARD") || strings.HasPrefix(string(l), "FULL")
}

// Forward reports whether l requires old schemas to read new data.
func (l Level) Forward() bool {
	return strings.HasPrefix(string(l), "FORWARD") || strings.HasPrefix(string(l), "FULL")
}

// The incompatibility types, named as Apache Avro Java's
// SchemaCompatibility.SchemaIncompatibilityType names them.
const (
	NameMismatch                   = "NAME_MISMATCH"
	FixedSizeMismatch              = "FIXED_SIZE_MISMATCH"
	MissingEnumSymbols             = "MISSING_ENUM_SYMBOLS"
	ReaderFieldMissingDefaultValue = "READER_FIELD_MISSING_DEFAULT_VALUE"
	TypeMismatch                   = "TYPE_MISMATCH"
	MissingUnionBranch             = "MISSING_UNION_BRANCH"
)

// The semantic warnings: changes that Avro resolves without error but that
// change what the data means.
const (
	DecimalChanged       = "DECIMAL_CHANGED"        // precision or scale changed
	TimestampUnitChanged = "TIMESTAMP_UNIT_CHANGED" // millis <-> micros, or local <-> UTC
	LogicalTypeChanged   = "LOGICAL_TYPE_CHANGED"   // a logical type added, removed or replaced
	RenameWithoutAlias   = "RENAME_WITHOUT_ALIAS"   // a field removed and one of the same type added
)

// Direction says which way data flows in a level check.
type Direction string

// The directions of a level check.
const (
	// ReadsOld: the candidate (reader) reads data written with an existing version.
	ReadsOld Direction = "backward"
	// ReadByOld: an existing version (reader) reads data written with the candidate.
	ReadByOld Direction = "forward"
)

// Finding is one incompatibility, warning or lint violation. Findings are data:
// callers format them.
type Finding struct {
	// Rule is the incompatibility type (TYPE_MISMATCH, ...), the warning type
	// (DECIMAL_CHANGED, ...) or the lint rule ID.
	Rule string `json:"rule"`
	// Path is a JSON pointer into the reader schema for incompatibilities (as
	// Avro Java reports it), into the schema under lint for lint findings.
	Path string `json:"path"`
	// Message names the fields and types involved.
	Message string `json:"message"`
	// Version is, in a level check, the 1-based position in the existing list
	// of the version the candidate was checked against; 0 otherwise.
	Version int `json:"version,omitempty"`
	// Direction is, in a level check, which of the two was the reader.
	Direction Direction `json:"direction,omitempty"`
}

func (f Finding) String() string {
	var b strings.Builder
	if f.Version > 0 {
		switch f.Direction {
		case ReadsOld:
			fmt.Fprintf(&b, "reading version %d: ", f.Version)
		case ReadByOld:
			fmt.Fprintf(&b, "read by version %d: ", f.Version)
		}
	}
	fmt.Fprintf(&b, "%s at %s: %s", f.Rule, f.Path, f.Message)
	return b.String()
}

// Findings is a set of findings. A non-empty set is an error.
type Findings []Finding

func (fs Findings) Error() string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}

// Result is the outcome of a compatibility check.
type Result struct {
	// Incompatibilities make the check fail.
	Incompatibilities Findings `json:"incompatibilities"`
	// Warnings are semantic changes; they do not make the check fail.
	Warnings Findings `json:"warnings"`
}

// Compatible reports whether the check found no incompatibility.
func (r Result) Compatible() bool { return len(r.Incompatibilities) == 0 }
