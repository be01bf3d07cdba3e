package catalog_test

// Tests of the repository's own schemas/: they load, evolve at their
// catalog level, pass the lint rules, and every version's example payload
// survives an Avro binary round trip (and is read across versions as the
// level promises).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
)

// loadSchemas loads the repository's schemas/, failing on any problem.
func loadSchemas(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load(os.DirFS("../../schemas"))
	if err != nil {
		t.Fatalf("schemas/ has problems:\n%v", err)
	}
	return c
}

func TestSchemas(t *testing.T) {
	c := loadSchemas(t)
	evolved, full := 0, 0
	for _, e := range c.Events {
		if len(e.Versions) >= 2 {
			evolved++
		}
		if e.Compatibility == compat.FullTransitive {
			full++
		}
	}
	if evolved < 3 {
		t.Errorf("%d event types have two versions or more, want at least 3", evolved)
	}
	if full < 1 {
		t.Errorf("no event type is FULL_TRANSITIVE")
	}
	for _, e := range append(slices.Clip(c.Events), c.Shared...) {
		for _, v := range e.Versions {
			if v.Example == nil {
				t.Errorf("%s: no example: write examples/%s/v%d.json", v.File, e.Dir, v.Number)
			}
		}
	}
}

// TestSchemasCompatible checks every version against its predecessors at its
// catalog level, as `waybill compat check` does.
func TestSchemasCompatible(t *testing.T) {
	c := loadSchemas(t)
	for _, e := range append(slices.Clip(c.Events), c.Shared...) {
		for i := 1; i < len(e.Versions); i++ {
			existing := make([]*compat.Schema, i)
			for j := range existing {
				existing[j] = e.Versions[j].Schema
			}
			r := compat.CheckLevel(e.Compatibility, e.Versions[i].Schema, existing)
			if !r.Compatible() {
				t.Errorf("%s is not %s-compatible with its predecessors: %v", e.Versions[i].File, e.Compatibility, r.Incompatibilities)
			}
			for _, w := range r.Warnings {
				t.Logf("%s: warning: %v", e.Versions[i].File, w)
			}
		}
	}
}

func TestSchemasLint(t *testing.T) {
	c := loadSchemas(t)
	if err := c.Lint.Validate(); err != nil {
		t.Fatalf("catalog.yaml lint: %v", err)
	}
	for _, e := range append(slices.Clip(c.Events), c.Shared...) {
		for _, v := range e.Versions {
			fs := compat.Lint(compat.LintTarget{Schema: v.Schema, File: v.File, Namespace: "waybill." + e.Domain, KeyField: e.Key}, c.Lint)
			for _, f := range fs {
				t.Errorf("%s: %v", v.File, f)
			}
		}
	}
}

// parseHamba parses a version with hamba/avro. hamba keeps named types in a
// schema cache, and every version of an event defines the same names, so each
// version gets a fresh cache holding only the shared types it references.
func parseHamba(t *testing.T, c *catalog.Catalog, v *catalog.Version) avro.Schema {
	t.Helper()
	cache := &avro.SchemaCache{}
	var add func(v *catalog.Version)
	add = func(v *catalog.Version) {
		for _, r := range v.References {
			ref := c.Event(r.Name).Versions[r.Version-1]
			add(ref)
			if _, err := avro.ParseBytesWithCache(ref.Text, "", cache); err != nil {
				t.Fatalf("%s: hamba: %v", ref.File, err)
			}
		}
	}
	add(v)
	s, err := avro.ParseBytesWithCache(v.Text, "", cache)
	if err != nil {
		t.Fatalf("%s: hamba: %v", v.File, err)
	}
	return s
}

// TestExamplesRoundTrip decodes every example from Avro's JSON encoding,
// encodes it in Avro binary under its schema with hamba/avro, decodes it back,
// and checks that nothing changed: neither the value nor, encoded in JSON
// again, the text of the example. Then it checks that the binary data is read
// by the other versions its compatibility level says can read it.
func TestExamplesRoundTrip(t *testing.T) {
	c := loadSchemas(t)
	for _, e := range append(slices.Clip(c.Events), c.Shared...) {
		schemas := make([]avro.Schema, len(e.Versions))
		binary := make([][]byte, len(e.Versions))
		for i, v := range e.Versions {
			schemas[i] = parseHamba(t, c, v)
			if v.Example == nil {
				continue // TestSchemas reports it
			}
			t.Run(strings.TrimSuffix(v.File, ".avsc"), func(t *testing.T) {
				ex := decodeJSON(t, v.Example)
				native, err := fromJSON(schemas[i], ex)
				if err != nil {
					t.Fatalf("example does not match the schema: %v", err)
				}
				data, err := avro.Marshal(schemas[i], native)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				var back any
				if err := avro.Unmarshal(schemas[i], data, &back); err != nil {
					t.Fatalf("decode: %v", err)
				}
				again, err := toJSON(schemas[i], back)
				if err != nil {
					t.Fatalf("back to JSON: %v", err)
				}
				text, _ := json.Marshal(again)
				if diff := cmp.Diff(ex, decodeJSON(t, text)); diff != "" {
					t.Errorf("example differs from its value written in Avro JSON again (-file +again):\n%s", diff)
				}
				binary[i] = data
			})
		}

		// Data written with version w, read with version r, wherever the
		// level promises it.
		for w := range e.Versions {
			for r := range e.Versions {
				if binary[w] == nil || r == w || !promised(e.Compatibility, r, w) {
					continue
				}
				name := fmt.Sprintf("%s/v%d_reads_v%d", e.Dir, r+1, w+1)
				t.Run(name, func(t *testing.T) {
					resolved, err := avro.NewSchemaCompatibility().Resolve(schemas[r], schemas[w])
					if err != nil {
						t.Fatalf("hamba cannot resolve: %v", err)
					}
					var got any
					if err := avro.Unmarshal(resolved, binary[w], &got); err != nil {
						t.Fatalf("decode: %v", err)
					}
					if _, err := toJSON(schemas[r], got); err != nil {
						t.Errorf("decoded value does not fit the reader: %v", err)
					}
				})
			}
		}
	}
}

// promised reports whether a level guarantees that version index r reads
// data written with version index w.
func promised(level compat.Level, r, w int) bool {
	switch {
	case r > w: // a newer reader
		return level.Backward() && (level.Transitive() || r == w+1)
	default: // an older reader
		return level.Forward() && (level.Transitive() || w == r+1)
	}
}

func decodeJSON(t *testing.T, text []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(text, &v); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	return v
}

// The two functions below translate between Avro's JSON encoding
// (https://avro.apache.org/docs/1.11.1/specification/#json-encoding), as the
// examples are written, and the Go values hamba/avro encodes and decodes.
// What they accept is described in schemas/README.md.

// fromJSON converts a value in Avro's JSON encoding to hamba's generic form.
func fromJSON(s avro.Schema, v any) (any, error) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch s := s.(type) {
	case *avro.NullSchema:
		if v != nil {
			return nil, fmt.Errorf("want null, got %v", v)
		}
		return nil, nil
	case *avro.PrimitiveSchema:
		return primitiveFromJSON(s, v)
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want an object, got %T", s.FullName(), v)
		}
		out := map[string]any{}
		for _, f := range s.Fields() {
			fv, ok := m[f.Name()]
			if !ok {
				return nil, fmt.Errorf("%s: missing field %s", s.FullName(), f.Name())
			}
			nv, err := fromJSON(f.Type(), fv)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", s.FullName(), f.Name(), err)
			}
			out[f.Name()] = nv
		}
		for k := range m {
			if _, ok := out[k]; !ok {
				return nil, fmt.Errorf("%s: no field %s", s.FullName(), k)
			}
		}
		return out, nil
	case *avro.EnumSchema:
		sym, ok := v.(string)
		if !ok || !slices.Contains(s.Symbols(), sym) {
			return nil, fmt.Errorf("%s: %v is not a symbol", s.FullName(), v)
		}
		return sym, nil
	case *avro.ArraySchema:
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want an array, got %T", v)
		}
		out := make([]any, len(list))
		for i, x := range list {
			nv, err := fromJSON(s.Items(), x)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = nv
		}
		return out, nil
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want an object, got %T", v)
		}
		out := map[string]any{}
		for k, x := range m {
			nv, err := fromJSON(s.Values(), x)
			if err != nil {
				return nil, fmt.Errorf("[%q]: %w", k, err)
			}
			out[k] = nv
		}
		return out, nil
	case *avro.UnionSchema:
		if v == nil {
			if _, i := s.Types().Get(string(avro.Null)); i < 0 {
				return nil, fmt.Errorf("null is not a branch of the union")
			}
			return nil, nil
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf(`a non-null union value is {"<branch>": value}, got %v`, v)
		}
		for name, x := range m {
			b := branch(s, name)
			if b == nil {
				return nil, fmt.Errorf("%q is not a branch of the union", name)
			}
			nv, err := fromJSON(b, x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return map[string]any{hambaBranchName(b): nv}, nil
		}
	}
	return nil, fmt.Errorf("%s is not supported in examples", s.Type())
}

func primitiveFromJSON(s *avro.PrimitiveSchema, v any) (any, error) {
	var logical avro.LogicalType
	if l := s.Logical(); l != nil {
		logical = l.Type()
	}
	wrong := func() (any, error) { return nil, fmt.Errorf("%v is not a %s", v, s.Type()) }
	switch s.Type() {
	case avro.Boolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return wrong()
	case avro.String:
		if str, ok := v.(string); ok {
			return str, nil
		}
		return wrong()
	case avro.Float, avro.Double:
		f, ok := v.(float64)
		if !ok {
			return wrong()
		}
		if s.Type() == avro.Float {
			return float32(f), nil
		}
		return f, nil
	case avro.Int, avro.Long:
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return wrong()
		}
		n := int64(f)
		switch {
		case s.Type() == avro.Int && logical == "":
			if int64(int32(n)) != n {
				return nil, fmt.Errorf("%d does not fit an int", n)
			}
			return int(n), nil
		case s.Type() == avro.Long && logical == "":
			return n, nil
		case logical == avro.TimestampMillis:
			return time.UnixMilli(n).UTC(), nil
		}
	case avro.Bytes:
		str, ok := v.(string)
		if !ok {
			return wrong()
		}
		b := make([]byte, 0, len(str))
		for _, r := range str {
			if r > 0xff {
				return nil, fmt.Errorf("bytes are written as code points U+0000 to U+00FF, not %U", r)
			}
			b = append(b, byte(r))
		}
		switch logical {
		case "":
			return b, nil
		case avro.Decimal:
			if len(b) == 0 {
				return nil, fmt.Errorf("an empty decimal")
			}
			unscaled := new(big.Int).SetBytes(b)
			if b[0]&0x80 != 0 { // negative: two's complement
				unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
			scale := s.Logical().(*avro.DecimalLogicalSchema).Scale()
			return new(big.Rat).SetFrac(unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)), nil
		}
	}
	return nil, fmt.Errorf("%s with logical type %q is not supported in examples", s.Type(), logical)
}

// toJSON converts hamba's generic form to Avro's JSON encoding.
func toJSON(s avro.Schema, v any) (any, error) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch s := s.(type) {
	case *avro.NullSchema:
		return nil, nil
	case *avro.PrimitiveSchema:
		switch v := v.(type) {
		case time.Time:
			return v.UnixMilli(), nil
		case *big.Rat:
			scale := s.Logical().(*avro.DecimalLogicalSchema).Scale()
			unscaled := new(big.Rat).Mul(v, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
			if !unscaled.IsInt() {
				return nil, fmt.Errorf("%s has more than %d decimals", v.FloatString(scale+2), scale)
			}
			return latin1(twosComplement(unscaled.Num())), nil
		case []byte:
			return latin1(v), nil
		}
		return v, nil
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: got %T", s.FullName(), v)
		}
		out := map[string]any{}
		for _, f := range s.Fields() {
			jv, err := toJSON(f.Type(), m[f.Name()])
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", s.FullName(), f.Name(), err)
			}
			out[f.Name()] = jv
		}
		return out, nil
	case *avro.EnumSchema:
		return v, nil
	case *avro.ArraySchema:
		list, _ := v.([]any)
		out := make([]any, len(list))
		for i, x := range list {
			jv, err := toJSON(s.Items(), x)
			if err != nil {
				return nil, err
			}
			out[i] = jv
		}
		return out, nil
	case *avro.MapSchema:
		m, _ := v.(map[string]any)
		out := map[string]any{}
		for k, x := range m {
			jv, err := toJSON(s.Values(), x)
			if err != nil {
				return nil, err
			}
			out[k] = jv
		}
		return out, nil
	case *avro.UnionSchema:
		if v == nil {
			return nil, nil
		}
		// hamba decodes a union value into {"<branch>": value}, or into the
		// bare value when its type registry knows the branch's Go type (as
		// for primitives).
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			for name, x := range m {
				for _, b := range s.Types() {
					if hambaBranchName(b) == name {
						jv, err := toJSON(b, x)
						if err != nil {
							return nil, err
						}
						return map[string]any{jsonBranchName(b): jv}, nil
					}
				}
			}
		}
		var nonNull []avro.Schema
		for _, b := range s.Types() {
			if b.Type() != avro.Null {
				nonNull = append(nonNull, b)
			}
		}
		if len(nonNull) != 1 {
			return nil, fmt.Errorf("cannot tell the branch of union value %v", v)
		}
		jv, err := toJSON(nonNull[0], v)
		if err != nil {
			return nil, err
		}
		return map[string]any{jsonBranchName(nonNull[0]): jv}, nil
	}
	return nil, fmt.Errorf("%s is not supported in examples", s.Type())
}

// branch finds a union's branch by the name Avro's JSON encoding gives it.
func branch(u *avro.UnionSchema, name string) avro.Schema {
	for _, b := range u.Types() {
		if jsonBranchName(b) == name {
			return b
		}
	}
	return nil
}

// jsonBranchName is a union branch's name in Avro's JSON encoding: the full
// name of a named type, else the type ("long", also for a timestamp).
func jsonBranchName(s avro.Schema) string {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

// hambaBranchName is a union branch's key in hamba's generic union values: as
// in JSON, but a logical type is appended ("long.timestamp-millis").
func hambaBranchName(s avro.Schema) string {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if p, ok := s.(*avro.PrimitiveSchema); ok && p.Logical() != nil {
		return string(p.Type()) + "." + string(p.Logical().Type())
	}
	return jsonBranchName(s)
}

// twosComplement returns n as big-endian two's complement in the fewest bytes.
func twosComplement(n *big.Int) []byte {
	size := 1
	for {
		lim := new(big.Int).Lsh(big.NewInt(1), uint(8*size-1))
		if n.Cmp(lim) < 0 && n.Cmp(new(big.Int).Neg(lim)) >= 0 {
			break
		}
		size++
	}
	v := new(big.Int).Set(n)
	if v.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), uint(8*size)))
	}
	b := v.Bytes()
	return append(bytes.Repeat([]byte{0}, size-len(b)), b...)
}

// latin1 writes bytes as Avro's JSON encoding does: one code point per byte.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// TestStatusEnumGrowth pins down why ShipmentStatusChanged v2 may add
// RETURNED at FULL_TRANSITIVE: v1's enum default. A v1 reader reads RETURNED
// as UNKNOWN; without the default, the same change is only backward
// compatible.
func TestStatusEnumGrowth(t *testing.T) {
	c := loadSchemas(t)
	e := c.Event("waybill.shipments.ShipmentStatusChanged")
	v1, v2 := e.Versions[0], e.Versions[1]

	if r := compat.CheckLevel(compat.FullTransitive, v2.Schema, []*compat.Schema{v1.Schema}); !r.Compatible() {
		t.Errorf("v2 is not FULL_TRANSITIVE-compatible with v1: %v", r.Incompatibilities)
	}
	noDefault, err := compat.Parse(bytes.Replace(v1.Text, []byte(`"default": "UNKNOWN"`), []byte(`"x-default": "UNKNOWN"`), 1))
	if err != nil {
		t.Fatal(err)
	}
	if r := compat.CheckLevel(compat.Backward, v2.Schema, []*compat.Schema{noDefault}); !r.Compatible() {
		t.Errorf("without the enum default, v2 is not even BACKWARD-compatible: %v", r.Incompatibilities)
	}
	r := compat.CheckLevel(compat.Forward, v2.Schema, []*compat.Schema{noDefault})
	if r.Compatible() || r.Incompatibilities[0].Rule != compat.MissingEnumSymbols {
		t.Errorf("without the enum default, FORWARD check = %+v, want %s", r, compat.MissingEnumSymbols)
	}

	// What an old reader sees, decoded by hamba/avro.
	h1, h2 := parseHamba(t, c, v1), parseHamba(t, c, v2)
	native, err := fromJSON(h2, decodeJSON(t, v2.Example))
	if err != nil {
		t.Fatal(err)
	}
	if status := native.(map[string]any)["status"]; status != "RETURNED" {
		t.Fatalf("the v2 example's status is %v, want RETURNED", status)
	}
	data, err := avro.Marshal(h2, native)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := avro.NewSchemaCompatibility().Resolve(h1, h2)
	if err != nil {
		t.Fatal(err)
	}
	var old map[string]any
	if err := avro.Unmarshal(resolved, data, &old); err != nil {
		t.Fatal(err)
	}
	if old["status"] != "UNKNOWN" {
		t.Errorf("a v1 reader reads RETURNED as %v, want UNKNOWN", old["status"])
	}
}
