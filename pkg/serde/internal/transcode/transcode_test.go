package transcode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/waybill/waybill/compat"
)

func mustParse(t testing.TB, text string) *compat.Schema {
	t.Helper()
	s, err := compat.Parse([]byte(text))
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return s
}

// Encoding helpers (l shares appendLong, whose output the varint cases check).
func l(v int64) []byte  { return appendLong(nil, v) }
func s(v string) []byte { return append(l(int64(len(v))), v...) }
func f32(v float32) []byte {
	return binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))
}
func f64(v float64) []byte {
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
}
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestResolutionRules(t *testing.T) {
	for _, tc := range []struct {
		name           string
		reader, writer string
		in, want       []byte
	}{
		{"int", `"int"`, `"int"`, l(-42), l(-42)},
		{"int->long", `"long"`, `"int"`, l(-3), l(-3)},
		{"int->float", `"float"`, `"int"`, l(7), f32(7)},
		{"int->double", `"double"`, `"int"`, l(-7), f64(-7)},
		{"long->float", `"float"`, `"long"`, l(1 << 40), f32(1 << 40)},
		{"long->double", `"double"`, `"long"`, l(1 << 50), f64(1 << 50)},
		{"float->double", `"double"`, `"float"`, f32(1.5), f64(1.5)},
		{"string->bytes", `"bytes"`, `"string"`, s("héllo"), s("héllo")},
		{"bytes->string", `"string"`, `"bytes"`, s("abc"), s("abc")},
		{"boolean", `"boolean"`, `"boolean"`, []byte{1}, []byte{1}},
		{"null", `"null"`, `"null"`, nil, nil},
		{"fixed", `{"type":"fixed","name":"F","size":3}`, `{"type":"fixed","name":"F","size":3}`, []byte("abc"), []byte("abc")},
		{"decimal bytes", `{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}`,
			`{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}`, s("\x21\x02"), s("\x21\x02")},
		{"enum by symbol", `{"type":"enum","name":"E","symbols":["C","B","A"]}`, `{"type":"enum","name":"E","symbols":["A","B","C"]}`,
			l(0), l(2)},
		{"enum unknown symbol -> default", `{"type":"enum","name":"E","symbols":["A","Z"],"default":"Z"}`,
			`{"type":"enum","name":"E","symbols":["A","B"]}`, l(1), l(1)},
		{"record: reorder, skip, alias, defaults",
			`{"type":"record","name":"R","fields":[
				{"name":"c","type":"long"},
				{"name":"x","type":"int","default":7},
				{"name":"renamed","aliases":["a"],"type":"double"},
				{"name":"y","type":["null","string"],"default":null},
				{"name":"z","type":{"type":"record","name":"Z","fields":[{"name":"q","type":"string","default":"dq"}]},"default":{}},
				{"name":"arr","type":{"type":"array","items":"int"},"default":[1,2]},
				{"name":"b","type":"bytes","default":"\u00ff\u0001"}]}`,
			`{"type":"record","name":"R","fields":[
				{"name":"a","type":"int"},
				{"name":"gone","type":{"type":"map","values":{"type":"array","items":"string"}}},
				{"name":"c","type":"int"}]}`,
			cat(l(5), l(1), s("k"), l(-1), l(2), s("v"), l(0), l(0), l(9)),
			cat(l(9), l(7), f64(5), l(0), s("dq"), l(2), l(1), l(2), l(0), s("\xff\x01"))},
		{"record: byte defaults as JSON arrays (hamba's JSON form)",
			`{"type":"record","name":"R","fields":[{"name":"b","type":"bytes","default":[255,1]},{"name":"f","type":{"type":"fixed","name":"F","size":1},"default":[7]}]}`,
			`{"type":"record","name":"R","fields":[]}`, nil, cat(s("\xff\x01"), []byte{7})},
		{"record: in order, added field last",
			`{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"B"}]}`,
			`{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"gone","type":"string"}]}`,
			cat(l(3), s("x")), cat(l(3), s("B"))},
		{"record name alias", `{"type":"record","name":"New","aliases":["Old"],"fields":[{"name":"a","type":"int"}]}`,
			`{"type":"record","name":"Old","fields":[{"name":"a","type":"int"}]}`, l(1), l(1)},
		{"array blocks, negative counts with sizes",
			`{"type":"array","items":"long"}`, `{"type":"array","items":"int"}`,
			cat(l(-2), l(2), l(1), l(-1), l(1), l(300), l(0)),
			cat(l(2), l(1), l(-1), l(1), l(300), l(0))},
		{"map blocks with promotion", `{"type":"map","values":"double"}`, `{"type":"map","values":"float"}`,
			cat(l(-1), l(6), s("k"), f32(2.5), l(0)), cat(l(1), s("k"), f64(2.5), l(0))},
		{"empty array", `{"type":"array","items":"string"}`, `{"type":"array","items":"string"}`, l(0), l(0)},
		{"writer union -> non-union", `"double"`, `["int","float"]`, cat(l(1), f32(0.5)), f64(0.5)},
		{"reader union, non-union writer", `["null","string"]`, `"string"`, s("a"), cat(l(1), s("a"))},
		{"reader union picks the first branch that reads", `["null","long","int"]`, `"int"`, l(4), cat(l(1), l(4))},
		{"union -> union, reordered", `["string","null","long"]`, `["null","int","string"]`,
			cat(l(1), l(-5)), cat(l(2), l(-5))},
		{"union -> union, null", `["string","null"]`, `["null","string"]`, l(0), l(1)},
		{"named union branch", `["null",{"type":"record","name":"A","fields":[{"name":"n","type":"long"}]}]`,
			`["null",{"type":"record","name":"A","fields":[{"name":"n","type":"int"},{"name":"m","type":"int"}]}]`,
			cat(l(1), l(2), l(3)), cat(l(1), l(2))},
		{"nullable decimal", `["null",{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}]`,
			`["null",{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}]`, cat(l(1), s("\x21\x02")), cat(l(1), s("\x21\x02"))},
		{"recursive list",
			`{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]},{"name":"tag","type":"string","default":"t"}]}`,
			`{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`,
			cat(l(1), l(1), l(2), l(1), l(3), l(0)),
			cat(l(1), l(1), l(2), l(1), l(3), l(0), s("t"), s("t"), s("t"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(mustParse(t, tc.reader), mustParse(t, tc.writer))
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte("pre")
			got, err := p.Transcode(prefix, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, cat(prefix, tc.want)) {
				t.Fatalf("got  %x\nwant %x", got[len(prefix):], tc.want)
			}
		})
	}
}

func TestIncompatible(t *testing.T) {
	for _, tc := range []struct{ reader, writer, finding string }{
		{`"int"`, `"long"`, "TYPE_MISMATCH"},
		{`{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, `{"type":"record","name":"R","fields":[]}`, "READER_FIELD_MISSING_DEFAULT_VALUE"},
		{`{"type":"enum","name":"E","symbols":["A"]}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, "MISSING_ENUM_SYMBOLS"},
		{`["null","string"]`, `["null","int"]`, "MISSING_UNION_BRANCH"},
	} {
		_, err := Compile(mustParse(t, tc.reader), mustParse(t, tc.writer))
		var ie *IncompatibleError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.finding) {
			t.Errorf("%s reads %s: %v, want an IncompatibleError with %s", tc.reader, tc.writer, err, tc.finding)
		}
	}
}

func TestMalformed(t *testing.T) {
	rec := `{"type":"record","name":"R","fields":[{"name":"s","type":"string"},{"name":"u","type":["null","int"]},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},{"name":"a","type":{"type":"array","items":"null"}}]}`
	p, err := Compile(mustParse(t, rec), mustParse(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	good := cat(s("ab"), l(1), l(5), l(1), l(0))
	if _, err := p.Transcode(nil, good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"string too long", cat(l(10), []byte("ab")), ErrTruncated},
		{"negative length", cat(l(-1)), ErrMalformed},
		{"bad union index", cat(s("ab"), l(2)), ErrMalformed},
		{"negative union index", cat(s("ab"), l(-1)), ErrMalformed},
		{"bad enum index", cat(s("ab"), l(0), l(2)), ErrMalformed},
		{"huge block count", cat(s("ab"), l(0), l(0), l(1<<40)), ErrMalformed},
		{"block size mismatch", cat(s("ab"), l(0), l(0), l(-1), l(3), l(0)), ErrMalformed},
		{"trailing bytes", append(good, 0), ErrMalformed},
		{"varint overflow", bytes.Repeat([]byte{0xff}, 11), ErrMalformed},
	} {
		if _, err := p.Transcode(nil, tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// An enum symbol the reader lacks is an error at decode time when the reader
// has no default; compat refuses such schemas, so build the plan by hand.
func TestUnknownEnumSymbol(t *testing.T) {
	p := &Plan{root: &node{op: opEnum, enum: []int{0, -1}, symbols: []string{"A", "B"}}}
	if _, err := p.Transcode(nil, l(1)); !errors.Is(err, ErrUnknownEnum) {
		t.Fatalf("%v, want ErrUnknownEnum", err)
	}
}
