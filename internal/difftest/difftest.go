// Package difftest generates Avro reader/writer schema pairs and runs them
// through the Apache Avro reference checkers, so that compat.Check can be
// tested differentially against them.
//
// Generate builds a deterministic, seeded set of pairs: a random schema and a
// mutation of it (fields added or removed, types promoted, enums, unions,
// names, namespaces, aliases, fixed sizes, nesting and recursion changed), the
// mutated side randomly the reader or the writer. Every schema is valid for
// Avro Java and Avro Python: names follow the spec's name rule, named types are
// defined once, and every default matches its type (the first branch for
// unions), as https://avro.apache.org/docs/1.11.1/specification/#schema-declaration
// requires.
//
// Java and Python run the reference harnesses under testdata/ref, one process
// per batch. The package does no I/O except running those processes.
package difftest

import (
	"bytes"
	"fmt"
)

// Pair is one reader/writer schema pair. Compatible means data written with
// Writer can be read with Reader.
type Pair struct {
	// ID is the pair's index in the generated set; with the seed it
	// reproduces the pair.
	ID int
	// Mutations names the mutations applied to the base schema, in order,
	// and which side they were applied to ("reader: add-field-default").
	Mutations []string
	// Reader and Writer are the schemas' JSON text.
	Reader, Writer string
}

// JSONLine returns the pair as the references read it:
// {"reader":<schema>,"writer":<schema>}, without a newline.
func (p Pair) JSONLine() []byte {
	var b bytes.Buffer
	b.WriteString(`{"reader":`)
	b.WriteString(p.Reader)
	b.WriteString(`,"writer":`)
	b.WriteString(p.Writer)
	b.WriteString(`}`)
	return b.Bytes()
}

func (p Pair) String() string {
	return fmt.Sprintf("pair %d %v\n  reader: %s\n  writer: %s", p.ID, p.Mutations, p.Reader, p.Writer)
}

// Verdict is a reference checker's answer for one pair.
type Verdict struct {
	// Compatible is the reference's answer; meaningless when Error is set.
	Compatible bool `json:"compatible"`
	// Error is set when the reference could not parse or check the pair.
	Error string `json:"error,omitempty"`
}

// Generate returns n pairs generated from seed. The same seed and n always
// give the same pairs.
func Generate(seed uint64, n int) []Pair {
	g := newGen(seed)
	pairs := make([]Pair, 0, n)
	for len(pairs) < n {
		p, ok := g.pair()
		if !ok {
			continue
		}
		p.ID = len(pairs)
		pairs = append(pairs, p)
	}
	return pairs
}

// MutationNames returns the names of the mutations Generate applies, as
// they appear in Pair.Mutations after the side.
func MutationNames() []string {
	names := make([]string, len(mutations))
	for i, m := range mutations {
		names[i] = m.name
	}
	return names
}
