package avrojson

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

// The conversion of generically decoded values to JSON is internal: tested
// here, with every Avro type a dead letter's body may hold.
func TestDecodeBody(t *testing.T) {
	s := avro.MustParse(`{"type": "record", "name": "R", "namespace": "x", "fields": [
  {"name": "s", "type": "string"},
  {"name": "nd", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}]},
  {"name": "nd0", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}]},
  {"name": "fd", "type": {"type": "fixed", "name": "FD", "size": 8, "logicalType": "decimal", "precision": 12, "scale": 3}},
  {"name": "fx", "type": {"type": "fixed", "name": "FX", "size": 2}},
  {"name": "b", "type": "bytes"},
  {"name": "txt", "type": "bytes"},
  {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
  {"name": "d", "type": {"type": "int", "logicalType": "date"}},
  {"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
  {"name": "u", "type": ["null", "int", "string", {"type": "record", "name": "In", "fields": [{"name": "v", "type": "double"}]}]},
  {"name": "m", "type": {"type": "map", "values": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 1}]}},
  {"name": "nan", "type": "double"},
  {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}}]}`)
	v := map[string]any{
		"s": "hé", "nd": big.NewRat(-505, 100), "nd0": nil, "fd": big.NewRat(1, 1000), "fx": [2]byte{0xff, 0},
		"b": []byte{0, 1, 2}, "txt": []byte("plain"), "ts": time.UnixMicro(1763773200123456), "d": time.Unix(86400*20000, 0),
		"tm": 90 * time.Second, "u": map[string]any{"x.In": map[string]any{"v": 1.5}},
		"m": map[string]any{"k": big.NewRat(3, 2)}, "nan": math.NaN(), "e": "B",
	}
	body, err := avro.Marshal(s, v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeBody(s, body)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"s":"hé","nd":"-5.05","nd0":null,"fd":"0.001","fx":"/wA=","b":"AAEC","txt":"plain",` +
		`"ts":"2025-11-22T01:00:00.123456Z","d":"2024-10-04","tm":"1m30s","u":{"x.In":{"v":1.5}},"m":{"k":"1.5"},"nan":"NaN","e":"B"}`
	if string(got) != want {
		t.Errorf("decodeBody:\n got %s\nwant %s", got, want)
	}

	// Another branch of the union.
	v["u"] = map[string]any{"int": 7}
	if body2, err := avro.Marshal(s, v); err != nil {
		t.Fatal(err)
	} else if got, err := decodeBody(s, body2); err != nil || !strings.Contains(string(got), `"u":{"int":7}`) {
		t.Errorf("the int branch: %s, %v", got, err)
	}

	// Bytes after the value: not what the schema describes.
	if _, err := decodeBody(s, append(body[:len(body):len(body)], 0, 0)); err == nil || !strings.Contains(err.Error(), "2 bytes left over") {
		t.Errorf("trailing bytes: %v", err)
	}

	// Malformed bodies are errors, never panics.
	for i := range body {
		if _, err := decodeBody(s, body[:i]); err == nil {
			t.Errorf("a body cut at %d of %d bytes decoded", i, len(body))
		}
	}
	for _, junk := range [][]byte{{0xff, 0xff, 0xff, 0xff, 0x0f}, []byte(strings.Repeat("\x80", 20))} {
		if _, err := decodeBody(s, junk); err == nil {
			t.Errorf("junk %x decoded", junk)
		}
	}
}

func TestDecimalString(t *testing.T) {
	for _, tc := range []struct {
		r    *big.Rat
		want string
	}{
		{big.NewRat(1250, 100), "12.5"},
		{big.NewRat(-3, 1), "-3"},
		{big.NewRat(1, 8), "0.125"},
		{big.NewRat(1, 3), "1/3"},
	} {
		if got := decimalString(tc.r); got != tc.want {
			t.Errorf("decimalString(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

// FuzzDecodeBody: whatever a dead letter's body holds, decoding it for
// display returns valid JSON or an error.
func FuzzDecodeBody(f *testing.F) {
	s := avro.MustParse(`{"type": "record", "name": "R", "fields": [
  {"name": "s", "type": "string"},
  {"name": "d", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}]},
  {"name": "a", "type": {"type": "array", "items": ["null", "double", {"type": "map", "values": "bytes"}]}},
  {"name": "f", "type": {"type": "fixed", "name": "F", "size": 3}},
  {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}`)
	seed, err := avro.Marshal(s, map[string]any{
		"s": "x", "d": big.NewRat(1, 4), "a": []any{nil, map[string]any{"double": 1.5}, map[string]any{"map": map[string]any{"k": []byte{1}}}},
		"f": [3]byte{1, 2, 3}, "t": time.UnixMilli(5),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := decodeBody(s, body)
		if err == nil && !json.Valid(out) {
			t.Errorf("decodeBody(%x) = %s: not JSON", body, out)
		}
	})
}
