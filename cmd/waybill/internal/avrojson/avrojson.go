// Package avrojson shows Avro bodies in the Confluent wire format as JSON for
// a person to read (waybill dlq ls, waybill tail), with the writer's schema
// fetched from the registry by ID. It never fails a listing: a body that does
// not decode gets its reason instead.
package avrojson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/registry"
)

// Decoder turns wire-format values into JSON for a person to read, with the
// writer's schema from the registry. Once the registry does not answer, it is
// not asked again. It is not safe for concurrent use.
type Decoder struct {
	client  *registry.Client
	url     string
	schemas map[uint32]avro.Schema
	errs    map[uint32]error
	down    error
}

// New returns a Decoder on the registry at url.
func New(url, username, password string, timeout time.Duration) *Decoder {
	d := &Decoder{url: url, schemas: map[uint32]avro.Schema{}, errs: map[uint32]error{}}
	c, err := registry.New(registry.Config{URL: url, Username: username, Password: password, Timeout: timeout})
	if err != nil {
		d.down = fmt.Errorf("registry %s: %w", url, err)
		return d
	}
	d.client = c
	return d
}

// Decode returns the body of value (magic byte, schema ID, Avro body) as
// JSON, fields in schema order, or why it cannot.
func (d *Decoder) Decode(ctx context.Context, value []byte) (json.RawMessage, error) {
	id, body, err := envelope.ParseWire(value)
	if err != nil {
		return nil, err
	}
	s, err := d.schema(ctx, id)
	if err != nil {
		return nil, err
	}
	return decodeBody(s, body)
}

// decodeBody decodes body with s into JSON; hamba's decoder panics on some
// malformed input, which is an error here.
func decodeBody(s avro.Schema, body []byte) (out json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("the body does not decode: %v", p)
		}
	}()
	// First a walk over the body that allocates nothing: hamba would
	// allocate an array's elements as its header announces them, and a
	// corrupt body (what dead letters hold) announcing billions would take
	// the process down.
	if err := skim(s, body); err != nil {
		return nil, err
	}
	// Not avro.Unmarshal: it takes a body that ends early for a good one
	// (it ignores io.EOF), and says nothing of bytes left over.
	var v any
	r := avro.NewReader(nil, 0, avro.WithReaderConfig(decodeConfig)).Reset(body)
	r.ReadVal(s, &v)
	if r.Error != nil {
		if errors.Is(r.Error, io.EOF) || errors.Is(r.Error, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("the body ends early (%d bytes) for the writer's schema", len(body))
		}
		return nil, fmt.Errorf("the body does not decode with the writer's schema: %w", r.Error)
	}
	left := 0
	for r.Peek(); r.Error == nil; r.Peek() {
		r.SkipNBytes(1)
		left++
	}
	if left > 0 {
		return nil, fmt.Errorf("the body has %d bytes left over after the value the writer's schema describes", left)
	}
	b, err := json.Marshal(toJSON(s, v))
	if err != nil {
		return nil, fmt.Errorf("the body decoded but does not convert to JSON: %w", err)
	}
	return b, nil
}

// decodeConfig lets a body hold a value as large as a Kafka record can be.
var decodeConfig = avro.Config{MaxByteSliceSize: 1 << 28, MaxSliceAllocSize: maxElements}.Freeze()

// maxElements bounds the array and map elements of one body, all of them
// together: a million is more than any event of a record's size holds, but
// for arrays of nulls (which take no bytes).
const maxElements = 1 << 20

// maxDepth bounds the nesting of a body (recursive schemas).
const maxDepth = 1000

// skim walks body as s describes it, without keeping anything, and returns
// why it does not match: it ends early, a length or count is negative or
// larger than what is left, an index is out of range, or there are more than
// maxElements elements.
func skim(s avro.Schema, body []byte) error {
	k := skimmer{r: avro.NewReader(nil, 0).Reset(body), left: len(body), budget: maxElements}
	k.walk(s, 0)
	switch {
	case k.err != nil:
		return k.err
	case k.r.Error != nil:
		if errors.Is(k.r.Error, io.EOF) || errors.Is(k.r.Error, io.ErrUnexpectedEOF) {
			return fmt.Errorf("the body ends early (%d bytes) for the writer's schema", len(body))
		}
		return fmt.Errorf("the body does not decode with the writer's schema: %w", k.r.Error)
	}
	return nil
}

type skimmer struct {
	r      *avro.Reader
	left   int // bytes in the body: no length may be larger
	budget int
	err    error
}

func (k *skimmer) fail(format string, args ...any) {
	if k.err == nil {
		k.err = fmt.Errorf("the body does not decode with the writer's schema: "+format, args...)
	}
}

func (k *skimmer) walk(s avro.Schema, depth int) {
	if k.err != nil || k.r.Error != nil {
		return
	}
	if depth > maxDepth {
		k.fail("nested more than %d deep", maxDepth)
		return
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		k.walk(s.Schema(), depth+1)
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			k.walk(f.Type(), depth+1)
		}
	case *avro.UnionSchema:
		i := k.r.ReadLong()
		if k.r.Error == nil && (i < 0 || i >= int64(len(s.Types()))) {
			k.fail("union branch %d of %d", i, len(s.Types()))
			return
		}
		k.walk(s.Types()[max(i, 0)], depth+1)
	case *avro.ArraySchema:
		k.blocks(func() { k.walk(s.Items(), depth+1) })
	case *avro.MapSchema:
		k.blocks(func() {
			k.bytes("map key")
			k.walk(s.Values(), depth+1)
		})
	case *avro.EnumSchema:
		i := k.r.ReadInt()
		if k.r.Error == nil && (i < 0 || int(i) >= len(s.Symbols())) {
			k.fail("enum %s symbol %d of %d", s.FullName(), i, len(s.Symbols()))
		}
	case *avro.FixedSchema:
		k.r.SkipNBytes(s.Size())
	default:
		switch s.Type() {
		case avro.Null:
		case avro.Boolean:
			k.r.SkipBool()
		case avro.Int:
			k.r.SkipInt()
		case avro.Long:
			k.r.SkipLong()
		case avro.Float:
			k.r.SkipFloat()
		case avro.Double:
			k.r.SkipDouble()
		case avro.String, avro.Bytes:
			k.bytes(string(s.Type()))
		default:
			k.fail("unexpected schema type %s", s.Type())
		}
	}
}

// bytes skips a string or bytes value.
func (k *skimmer) bytes(what string) {
	n := k.r.ReadLong()
	if k.r.Error != nil {
		return
	}
	if n < 0 || n > int64(k.left) {
		k.fail("%s length %d", what, n)
		return
	}
	k.r.SkipNBytes(int(n))
}

// blocks walks the blocks of an array or map, item for each element.
func (k *skimmer) blocks(item func()) {
	for k.err == nil && k.r.Error == nil {
		n, size := k.r.ReadBlockHeader()
		if k.r.Error != nil || n == 0 {
			return
		}
		if n < 0 || size < 0 || size > int64(k.left) || n > int64(k.budget) {
			k.fail("block of %d elements (%d bytes)", n, size)
			return
		}
		k.budget -= int(n)
		for range n {
			item()
			if k.err != nil || k.r.Error != nil {
				return
			}
		}
	}
}

func (d *Decoder) schema(ctx context.Context, id uint32) (avro.Schema, error) {
	if s, ok := d.schemas[id]; ok {
		return s, nil
	}
	if err, ok := d.errs[id]; ok {
		return nil, err
	}
	if d.down != nil {
		return nil, d.down
	}
	s, err := d.fetch(ctx, id)
	if err != nil {
		var te *registry.TransportError
		if errors.As(err, &te) {
			d.down = fmt.Errorf("registry %s does not answer: %w", d.url, te.Err)
			return nil, d.down
		}
		d.errs[id] = err
		return nil, err
	}
	d.schemas[id] = s
	return s, nil
}

// fetch gets the schema with ID id and its references, and parses it.
func (d *Decoder) fetch(ctx context.Context, id uint32) (avro.Schema, error) {
	sv, err := d.client.SchemaByID(ctx, int(id))
	if err != nil {
		if errors.Is(err, registry.ErrSchemaNotFound) {
			return nil, fmt.Errorf("schema ID %d is unknown to the registry", id)
		}
		return nil, err
	}
	if !sv.IsAvro() {
		return nil, fmt.Errorf("schema ID %d is a %s schema, not Avro", id, sv.SchemaType)
	}
	cache := &avro.SchemaCache{}
	if err := d.refs(ctx, cache, sv.References, 0); err != nil {
		return nil, fmt.Errorf("schema ID %d: %w", id, err)
	}
	s, err := avro.ParseWithCache(sv.Schema, "", cache)
	if err != nil {
		return nil, fmt.Errorf("schema ID %d does not parse: %w", id, err)
	}
	return s, nil
}

func (d *Decoder) refs(ctx context.Context, cache *avro.SchemaCache, refs []registry.Reference, depth int) error {
	if depth > 32 {
		return errors.New("references nest too deep")
	}
	for _, r := range refs {
		sv, err := d.client.Version(ctx, r.Subject, r.Version)
		if err != nil {
			return fmt.Errorf("reference %s (%s version %d): %w", r.Name, r.Subject, r.Version, err)
		}
		if err := d.refs(ctx, cache, sv.References, depth+1); err != nil {
			return err
		}
		if _, err := avro.ParseWithCache(sv.Schema, "", cache); err != nil {
			return fmt.Errorf("reference %s does not parse: %w", r.Name, err)
		}
	}
	return nil
}

// object is a JSON object with its fields in the schema's order.
type object []field

type field struct {
	name  string
	value any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.name)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// toJSON converts a value hamba decoded generically with s into what reads
// well as JSON: records with their fields in order, decimals as strings with
// their scale ("12.50"), times in RFC 3339, dates as 2006-01-02, bytes and
// fixed as strings when they are UTF-8 text and base64 otherwise. Unions are
// their value (hamba resolves the branch).
func toJSON(s avro.Schema, v any) any {
	if v == nil {
		return nil
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return toJSON(s.Schema(), v)
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return plain(v)
		}
		o := make(object, 0, len(s.Fields()))
		for _, f := range s.Fields() {
			o = append(o, field{f.Name(), toJSON(f.Type(), m[f.Name()])})
		}
		return o
	case *avro.UnionSchema:
		// hamba gives a nullable union's value as it is, and the value of
		// a union of more branches in Avro's JSON form, {"branch": value}.
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			for _, b := range s.Types() {
				if x, ok := m[branchName(b)]; ok {
					return map[string]any{branchName(b): toJSON(b, x)}
				}
			}
		}
		for _, b := range s.Types() {
			if b.Type() != avro.Null && fits(b, v) {
				return toJSON(b, v)
			}
		}
		return plain(v)
	case *avro.ArraySchema:
		a, ok := v.([]any)
		if !ok {
			return plain(v)
		}
		out := make([]any, len(a))
		for i, x := range a {
			out[i] = toJSON(s.Items(), x)
		}
		return out
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return plain(v)
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = toJSON(s.Values(), x)
		}
		return out
	case avro.LogicalTypeSchema:
		if ls := s.Logical(); ls != nil {
			switch ls.Type() {
			case avro.Decimal:
				if r, ok := v.(*big.Rat); ok {
					if d, ok := ls.(*avro.DecimalLogicalSchema); ok {
						return r.FloatString(d.Scale())
					}
				}
			case avro.Date:
				if t, ok := v.(time.Time); ok {
					return t.UTC().Format(time.DateOnly)
				}
			}
		}
	}
	return plain(v)
}

// branchName is the name of a union's branch in Avro's JSON encoding, as
// hamba writes it: a named type's full name, else the type (with its logical
// type, "long.timestamp-millis").
func branchName(s avro.Schema) string {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		return string(s.Type()) + "." + string(l.Logical().Type())
	}
	return string(s.Type())
}

// fits reports whether v, as hamba decodes generically, is a value of s.
func fits(s avro.Schema, v any) bool {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	switch s.Type() {
	case avro.Record:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, f := range s.(*avro.RecordSchema).Fields() {
			if _, ok := m[f.Name()]; !ok {
				return false
			}
		}
		return true
	case avro.Map:
		_, ok := v.(map[string]any)
		return ok
	case avro.Array:
		_, ok := v.([]any)
		return ok
	case avro.String, avro.Enum:
		_, ok := v.(string)
		return ok
	case avro.Bytes:
		switch v.(type) {
		case []byte, *big.Rat:
			return true
		}
	case avro.Fixed:
		switch v.(type) {
		case *big.Rat:
			return true
		}
		return reflect.TypeOf(v).Kind() == reflect.Array
	case avro.Int, avro.Long:
		switch v.(type) {
		case int, int32, int64, time.Time, time.Duration:
			return true
		}
	case avro.Float:
		_, ok := v.(float32)
		return ok
	case avro.Double:
		_, ok := v.(float64)
		return ok
	case avro.Boolean:
		_, ok := v.(bool)
		return ok
	}
	return false
}

// plain converts what encoding/json would not write readably.
func plain(v any) any {
	switch v := v.(type) {
	case *big.Rat:
		return decimalString(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return v.String()
	case []byte:
		return bytesJSON(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = plain(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = plain(x)
		}
		return out
	case float32, float64:
		// NaN and infinities are not JSON numbers.
		f := reflect.ValueOf(v).Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprint(v)
		}
		return v
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		b := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(b), rv)
		return bytesJSON(b)
	}
	return v
}

// bytesJSON is b as text when it is printable UTF-8, else base64 (as
// encoding/json writes []byte).
func bytesJSON(b []byte) any {
	s := string(b)
	if strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\uFFFD' }) {
		return s
	}
	return b
}

// decimalString writes r exactly when its denominator is a power of ten
// (every Avro decimal), as a fraction otherwise.
func decimalString(r *big.Rat) string {
	den := new(big.Int).Set(r.Denom())
	ten := big.NewInt(10)
	scale := 0
	for ; scale < 64; scale++ {
		if new(big.Int).Mod(new(big.Int).Exp(ten, big.NewInt(int64(scale)), nil), den).Sign() == 0 {
			return r.FloatString(scale)
		}
	}
	return r.RatString()
}
