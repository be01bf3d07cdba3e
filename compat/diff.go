package compat

// Change is one structural difference between two versions of a schema.
type Change struct {
	// Kind is what changed: FIELD_ADDED, FIELD_REMOVED, FIELD_RENAMED (by
	// alias), TYPE_CHANGED, SYMBOL_ADDED, SYMBOL_REMOVED, DEFAULT_ADDED,
	// DEFAULT_REMOVED, DEFAULT_CHANGED, ENUM_DEFAULT_CHANGED, NAME_CHANGED,
	// SIZE_CHANGED, LOGICAL_TYPE_CHANGED, DOC_CHANGED, ...
	Kind string `json:"kind"`
	// Path is a JSON pointer into the new schema, or into the old one for
	// what was removed.
	Path string `json:"path"`
	// Field is the dotted field path, e.g. "shipping_address.city" ("" for
	// the root).
	Field string `json:"field"`
	// Old and New are short renderings ("int", "[null, string]", "\"x\"").
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Consequence is what the change does to readers.
	Consequence Consequence `json:"consequence"`
	// Detail says why: the compat finding behind it, or what a warning means.
	Detail string `json:"detail,omitempty"`
}

// Consequence is what a change does to readers of the data.
type Consequence string

// The consequences of a change.
const (
	Safe             Consequence = "safe"
	BreaksOldReaders Consequence = "breaks-old-readers"
	BreaksNewReaders Consequence = "breaks-new-readers"
	BreaksBoth       Consequence = "breaks-both"
	SemanticWarning  Consequence = "semantic-warning"
)

// Diff compares two versions of a schema. Changes come in document order.
func Diff(old, new *Schema, level Level) []Change {
	return nil
}
