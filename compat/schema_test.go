package compat_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/waybill/waybill/compat"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		line, col  int
		path, want string
	}{
		{"syntax", "{\n  \"type\": \"record\",\n  \"name\": \"R\"\n  \"fields\": []\n}", 4, 3, "", "invalid character"},
		{"truncated", `{"type": "record", "name": "R", "fields": [`, 1, 44, "", "unexpected end"},
		{"trailing", `"int" "long"`, 1, 7, "", "after the schema"},
		{"unknown type", `{"type": "integer"}`, 1, 10, "/type", "unknown type"},
		{"undefined name", `{"type":"record","name":"R","fields":[{"name":"a","type":"Missing"}]}`, 1, 58, "/fields/0/type", `undefined name "Missing"`},
		{"bad field name", `{"type":"record","name":"R","fields":[{"name":"a-b","type":"int"}]}`, 1, 47, "/fields/0/name", "invalid field name"},
		{"duplicate field", `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}`, 1, 73, "/fields/1/name", "duplicate field"},
		{"redefined name", `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"fixed","name":"R","size":1}}]}`, 1, 81, "/fields/0/type/name", "defined twice"},
		{"nested union", `["null", ["int"]]`, 1, 10, "/1", "another union"},
		{"duplicate branch", `["int", "int"]`, 1, 9, "/1", "duplicate int"},
		{"enum default", `{"type":"enum","name":"E","symbols":["A"],"default":"B"}`, 1, 53, "/default", "not one of the symbols"},
		{"enum symbol", `{"type":"enum","name":"E","symbols":["1A"]}`, 1, 38, "/symbols/0", "invalid enum symbol"},
		{"fixed size", `{"type":"fixed","name":"F","size":"4"}`, 1, 1, "/", "size"},
		{"array items", `{"type":"array"}`, 1, 1, "/", "items"},
		{"null schema", `null`, 1, 1, "/", "cannot be null"},
		{"number schema", `42`, 1, 1, "/", "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compat.Parse([]byte(tt.text))
			var pe *compat.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want a *ParseError", err)
			}
			if pe.Line != tt.line || pe.Column != tt.col || pe.Path != tt.path || !strings.Contains(pe.Error(), tt.want) {
				t.Errorf("got line %d col %d path %q: %v; want line %d col %d path %q containing %q",
					pe.Line, pe.Column, pe.Path, pe, tt.line, tt.col, tt.path, tt.want)
			}
		})
	}
}

// TestParseAcceptsValidDefaults covers schemas the Avro reference
// implementations accept and stricter parsers reject.
func TestParseAcceptsValidDefaults(t *testing.T) {
	// A record default may omit a field that has a default of its own (Avro
	// Java's Schema.isValidDefault uses the field's default); hamba/avro's
	// parser rejects this schema.
	const omitsDefaulted = `{"type":"record","name":"Outer","fields":[
		{"name":"inner","type":{"type":"record","name":"Inner","fields":[
			{"name":"a","type":"int"},
			{"name":"b","type":"string","default":"x"}]},
		 "default":{"a":1}}]}`
	s, err := compat.Parse([]byte(omitsDefaulted))
	if err != nil {
		t.Fatalf("Parse rejected a valid default: %v", err)
	}
	if msg := s.Fields[0].DefaultError; msg != "" {
		t.Errorf("DefaultError = %q, want none", msg)
	}
	if _, herr := avro.ParseWithCache(omitsDefaulted, "", &avro.SchemaCache{}); herr == nil {
		t.Log("note: hamba/avro now accepts this schema too")
	}

	// Invalid defaults are recorded, not rejected: Confluent's registry and
	// Avro Java's parser (without validateDefaults) accept them.
	bad := mustParseString(t, `{"type":"record","name":"R","fields":[
		{"name":"a","type":"int","default":"one"},
		{"name":"b","type":["null","string"],"default":"x"},
		{"name":"c","type":{"type":"record","name":"I","fields":[{"name":"x","type":"int"}]},"default":{}}]}`)
	if bad.Fields[0].DefaultError == "" || bad.Fields[2].DefaultError == "" {
		t.Errorf("invalid defaults not recorded: %q, %q", bad.Fields[0].DefaultError, bad.Fields[2].DefaultError)
	}
	// A union default matching a later branch is valid under Avro 1.12 but
	// not under the first-branch rule of earlier versions.
	if bad.Fields[1].DefaultError != "" {
		t.Errorf("union default of a later branch rejected: %s", bad.Fields[1].DefaultError)
	}
	if compat.DefaultMatchesFirstBranch(bad.Fields[1].Type, bad.Fields[1].Default) == "" {
		t.Error("DefaultMatchesFirstBranch accepted a default of the second branch")
	}
}

func TestParseReferences(t *testing.T) {
	address := mustParseString(t, `{"type":"record","name":"Address","namespace":"waybill.common","fields":[
		{"name":"city","type":"string"},
		{"name":"kind","type":{"type":"enum","name":"AddressKind","symbols":["HOME","WORK"]}}]}`)
	order := mustParseString(t, `{"type":"record","name":"Order","namespace":"waybill.orders","fields":[
		{"name":"ship_to","type":"waybill.common.Address"},
		{"name":"bill_to","type":["null","waybill.common.Address"],"default":null},
		{"name":"kind","type":"waybill.common.AddressKind"}]}`, address)
	if got := order.References(); fmt.Sprint(got) != "[waybill.common.Address waybill.common.AddressKind]" {
		t.Errorf("References() = %v", got)
	}
	if len(order.Defined()) != 1 || order.Defined()[0].Name != "waybill.orders.Order" {
		t.Errorf("Defined() = %v", order.Defined())
	}
	if order.Fields[0].Type != address {
		t.Error("a reference must resolve to the referenced node")
	}
	// String writes referenced types by name, so the text can be registered
	// with references; parsing it again with the same refs gives the same
	// canonical form.
	again := mustParseString(t, order.String(), address)
	if again.Canonical() != order.Canonical() {
		t.Errorf("round trip changed the schema:\n%s\n%s", again.Canonical(), order.Canonical())
	}
	if _, err := compat.Parse([]byte(order.String())); err == nil {
		t.Error("parsing without the reference succeeded")
	}
	redefines := `{"type":"record","name":"Order","namespace":"waybill.orders","fields":[
		{"name":"ship_to","type":{"type":"record","name":"Address","namespace":"waybill.common","fields":[]}}]}`
	if _, err := compat.Parse([]byte(redefines), address); err == nil || !strings.Contains(err.Error(), "already defined") {
		t.Errorf("redefining a referenced type: err = %v", err)
	}
}

// TestCanonicalMatchesHamba compares the Parsing Canonical Form and the
// CRC-64-AVRO fingerprint with hamba/avro's, on every schema of the
// conformance suite that hamba parses.
func TestCanonicalMatchesHamba(t *testing.T) {
	vectors := loadVectors[pairVector](t, "vectors.json")
	compared := 0
	for _, v := range vectors {
		for _, text := range []json.RawMessage{v.Reader, v.Writer} {
			hs, err := avro.ParseWithCache(string(text), "", &avro.SchemaCache{})
			if err != nil || strings.Contains(hs.String(), "logicalType") {
				// hamba keeps logical types in its canonical form; the
				// specification's [STRIP] rule drops them, as Avro Java does.
				continue
			}
			ours := mustParse(t, v.ID, text)
			if ours.Canonical() != hs.String() {
				t.Errorf("%s: canonical form\n ours:  %s\n hamba: %s", v.ID, ours.Canonical(), hs.String())
				continue
			}
			fp, err := hs.FingerprintUsing(avro.CRC64Avro)
			if err != nil {
				t.Fatal(err)
			}
			var want uint64
			for _, b := range fp {
				want = want<<8 | uint64(b)
			}
			if ours.Fingerprint() != want {
				t.Errorf("%s: fingerprint %x, hamba %x", v.ID, ours.Fingerprint(), want)
			}
			compared++
		}
	}
	if compared < 500 {
		t.Errorf("compared only %d schemas with hamba", compared)
	}
	t.Logf("canonical form and fingerprint agree with hamba/avro on %d schemas", compared)
}

func TestStringRoundTrip(t *testing.T) {
	for _, v := range loadVectors[pairVector](t, "vectors.json") {
		s := mustParse(t, v.ID, v.Reader)
		again, err := compat.Parse([]byte(s.String()))
		if err != nil {
			t.Fatalf("%s: String() does not parse: %v\n%s", v.ID, err, s.String())
		}
		if again.Canonical() != s.Canonical() || again.String() != s.String() {
			t.Errorf("%s: round trip changed the schema:\n%s\n%s", v.ID, s.String(), again.String())
		}
	}
}
