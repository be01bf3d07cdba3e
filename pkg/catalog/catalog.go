// Package catalog loads and validates Waybill's schema repository: the
// catalog.yaml that says which event types exist, on which topic, keyed by
// which field, owned by whom and evolving at which compatibility level, and
// the versioned Avro schemas beside it.
//
// The repository is laid out as
//
//	catalog.yaml
//	<domain>/<Name>/v<N>.avsc            event types, full name waybill.<domain>.<Name>
//	common/<Name>/v<N>.avsc              shared named types, full name waybill.common.<Name>
//	examples/<domain>/<Name>/v<N>.json   optional example payloads (Avro JSON encoding)
//
// An event schema uses a shared type by its full name, as a Schema Registry
// reference, instead of copying it. Unless catalog.yaml pins a version for an
// event version (events.<full name>.references.v<N>.<shared name>: <version>),
// the reference means the latest version of the shared type.
//
// Load reads all of it from an fs.FS and reports every problem it finds, each
// naming the file and, where it can, the line and column, rather than stopping
// at the first.
package catalog

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/waybill/waybill/compat"
)

// DefaultCompatibility is the level of an event type whose catalog entry sets
// none: consumers upgrade before producers, and a new version must read the
// data of every earlier one.
const DefaultCompatibility = compat.BackwardTransitive

// Catalog is a loaded schema repository.
type Catalog struct {
	// Topics are the Kafka topics events are published on, sorted by name.
	Topics []Topic
	// Events are the event types, sorted by full name.
	Events []*Event
	// Shared are the named types event schemas reference (common/), sorted by
	// full name. They have the shape of events without a topic or key.
	Shared []*Event
	// Lint selects the lint rules `waybill lint` applies.
	Lint compat.LintConfig
}

// Event returns the event type or shared type with the given full name, or nil.
func (c *Catalog) Event(fullName string) *Event {
	for _, list := range [][]*Event{c.Events, c.Shared} {
		for _, e := range list {
			if e.FullName == fullName {
				return e
			}
		}
	}
	return nil
}

// Topic is a Kafka topic as the catalog declares it.
type Topic struct {
	Name       string
	Partitions int
	// Retention is how long records are kept: a whole number followed by a
	// unit, ms, s, m, h, d or w ("7d"), or "infinite".
	Retention string
	// CleanupPolicy is Kafka's cleanup.policy: "delete", "compact" or
	// "compact,delete".
	CleanupPolicy string
}

// RetentionMillis returns Retention as Kafka's retention.ms: milliseconds, or
// -1 for "infinite". It returns 0 for a retention Load would have rejected.
func (t Topic) RetentionMillis() int64 {
	ms, _ := retentionMillis(t.Retention)
	return ms
}

// Event is an event type, or a shared named type, and its versions.
type Event struct {
	// FullName is the Avro full name, e.g. "waybill.orders.OrderCreated".
	FullName string
	// Name is the last part of FullName, e.g. "OrderCreated".
	Name string
	// Domain is the part of the namespace after "waybill.", e.g. "orders";
	// "common" for shared types.
	Domain string
	// Dir is the directory of the versions, relative to the repository root:
	// "orders/OrderCreated".
	Dir string
	// Topic is the topic the event is published on; "" for shared types.
	Topic string
	// Key is the field whose value is the Kafka record key; "" for shared types.
	Key string
	// Owner is the team answerable for the schema.
	Owner string
	// Description says in one line what happened when the event is published.
	Description string
	// Compatibility is the level every new version is checked at.
	Compatibility compat.Level
	// Producers and Consumers name the services that publish and read the event.
	Producers, Consumers []string
	// Versions are v1..vN in order. When Load reports problems, a version whose
	// schema did not parse has a nil Schema, and a gap may remain.
	Versions []*Version
}

// Subject returns the Schema Registry subject of the event type:
// "<topic>-<full name>", Confluent's TopicRecordNameStrategy, since several
// event types share a topic. A shared type's subject is its full name.
func (e *Event) Subject() string {
	if e.Topic == "" {
		return e.FullName
	}
	return e.Topic + "-" + e.FullName
}

// Latest returns the newest version, or nil if there is none.
func (e *Event) Latest() *Version {
	if len(e.Versions) == 0 {
		return nil
	}
	return e.Versions[len(e.Versions)-1]
}

// Version is one version of an event type or shared type.
type Version struct {
	// Number is N in v<N>.avsc, from 1.
	Number int
	// File is the schema's path relative to the repository root, e.g.
	// "orders/OrderCreated/v2.avsc".
	File string
	// Text is the file's content, as it is registered.
	Text []byte
	// Schema is Text parsed, with the shared types it references resolved.
	Schema *compat.Schema
	// References are the shared types the schema uses, with the version each
	// resolves to, in the order of their names.
	References []Reference
	// Example is the content of examples/<Dir>/v<N>.json, an example payload
	// in Avro's JSON encoding, or nil if there is none.
	Example []byte
}

// Reference is a shared type a schema version uses, in the terms of a Schema
// Registry schema reference.
type Reference struct {
	// Name is the full name of the shared type, as the schema spells it.
	Name string
	// Subject is the shared type's subject.
	Subject string
	// Version is the version of the shared type the reference resolves to.
	Version int
}

// Problem is one thing wrong with a schema repository.
type Problem struct {
	// File is the path of the file at fault, relative to the repository root,
	// with forward slashes ("catalog.yaml", "orders/OrderCreated/v2.avsc").
	File string
	// Line and Column locate the problem in File, from 1; 0 when unknown.
	Line, Column int
	// Path is a JSON pointer to the offending value: into the schema for an
	// .avsc file ("/fields/2/type"), into the YAML tree for catalog.yaml
	// ("/events/waybill.orders.OrderCreated/topic"). It may be "".
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "catalog: file:line:column: path: message",
// leaving out what is unknown.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString("catalog: ")
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem Load found, sorted by file and position. It is the
// error Load returns.
type Problems []Problem

// Error returns the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads and validates the schema repository in fsys, which is rooted at
// the schemas/ directory (os.DirFS("schemas"), or a directory of a Git
// commit).
//
// It checks that catalog.yaml is well-formed (unknown keys are errors, as are
// unknown topics and compatibility levels), that every .avsc file parses with
// the shared types it references, that each event type's versions run from v1
// without gaps and each defines the type its catalog entry names, that the key
// field is a string in every version, and that no schema or example lies
// outside the catalog. Whether the versions are compatible with each other is
// not its business: see compat.CheckLevel.
//
// When it finds problems, Load returns them all as Problems, together with a
// Catalog holding as much as could be loaded.
func Load(fsys fs.FS) (*Catalog, error) {
	l := &loader{fsys: fsys}
	c := l.load()
	if len(l.probs) == 0 {
		return c, nil
	}
	sort.SliceStable(l.probs, func(i, j int) bool {
		a, b := l.probs[i], l.probs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return c, l.probs
}
