// Package transcode rewrites Avro binary data written with one schema (the
// writer's) into the encoding of another (the reader's), following the
// schema resolution rules of the Avro specification
// (https://avro.apache.org/docs/1.11.1/specification/#schema-resolution):
// record fields matched by name or reader alias, writer-only fields skipped,
// reader-only fields taking their defaults, numeric and string/bytes
// promotions, enums by symbol, unions on either side, arrays and maps block by
// block, named and recursive types.
//
// A Plan is compiled once per (reader, writer) pair; Transcode then works on
// bytes alone, with no reflection, so a reader's generated decoder can read
// data of any compatible writer. Transcode never panics on malformed input: it
// returns an error.
package transcode

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/waybill/waybill/compat"
)

// op is what a node does.
type op uint8

const (
	opNull op = iota
	opBoolean
	opInt       // int -> int
	opLong      // int or long -> long
	opIntFloat  // int or long -> float
	opIntDouble // int or long -> double
	opFloat     // float -> float
	opFloatDbl  // float -> double
	opDouble    // double -> double
	opBytes     // bytes or string -> bytes or string
	opFixed
	opEnum
	opRecord
	opArray
	opMap
	opWriterUnion // read the writer's branch index, dispatch
	opReaderUnion // write the reader's branch index, then the value
)

// node is the plan for one (reader, writer) pair of schema nodes.
type node struct {
	op op
	// opFixed: the size.
	size int
	// opEnum: the reader's index of each writer symbol, -1 when unknown
	// (and the reader has no default).
	enum    []int
	symbols []string
	// opArray, opMap: the items' or values' plan. opReaderUnion: the
	// branch's plan.
	elem *node
	// opReaderUnion: the reader's branch index.
	index int
	// opWriterUnion: the plan of each writer branch (already wrapped in
	// opReaderUnion when the reader is a union).
	branches []*node
	// opRecord.
	rec *record
}

type record struct {
	// steps, in writer field order: a writer field is either read into the
	// reader field at slot, or skipped (plan nil, skip set).
	steps []step
	// nfields is the number of reader fields.
	nfields int
	// defaults holds the encoded default of each reader-only field, by
	// reader position (nil for matched fields).
	defaults [][]byte
	// inOrder: the matched reader fields are in writer order and the
	// reader-only fields all come after them, so output can be appended
	// straight through.
	inOrder bool
}

type step struct {
	plan *node
	slot int            // reader field position
	skip *compat.Schema // writer-only field: its type, to skip
}

// Plan is a compiled resolution of a writer schema into a reader schema. It is
// immutable and safe for concurrent use.
type Plan struct {
	root *node
}

// Compile builds the plan that reads data written with writer as reader. It
// refuses schemas compat.Check finds incompatible, listing the findings.
func Compile(reader, writer *compat.Schema) (*Plan, error) {
	if reader == nil || writer == nil {
		return nil, errors.New("transcode: nil schema")
	}
	if res := compat.Check(reader, writer); !res.Compatible() {
		return nil, &IncompatibleError{Findings: res.Incompatibilities}
	}
	c := &compiler{records: map[pair]*node{}, ok: map[pair]bool{}}
	root, err := c.compile(reader, writer)
	if err != nil {
		return nil, err
	}
	return &Plan{root: root}, nil
}

// IncompatibleError is a writer the reader cannot read, with compat.Check's
// findings.
type IncompatibleError struct {
	Findings compat.Findings
}

func (e *IncompatibleError) Error() string {
	return "transcode: the reader cannot read the writer's data: " + e.Findings.Error()
}

type pair struct{ r, w *compat.Schema }

type compiler struct {
	// records memoizes record pairs, so recursive schemas terminate.
	records map[pair]*node
	ok      map[pair]bool
}

// compatible is compat.Check's verdict for one pair, memoized.
func (c *compiler) compatible(r, w *compat.Schema) bool {
	k := pair{r, w}
	if v, ok := c.ok[k]; ok {
		return v
	}
	v := compat.Check(r, w).Compatible()
	c.ok[k] = v
	return v
}

func (c *compiler) compile(r, w *compat.Schema) (*node, error) {
	if w.Kind == compat.Union {
		n := &node{op: opWriterUnion, branches: make([]*node, len(w.Branches))}
		for i, wb := range w.Branches {
			b, err := c.compile(r, wb)
			if err != nil {
				return nil, err
			}
			n.branches[i] = b
		}
		return n, nil
	}
	if r.Kind == compat.Union {
		for i, rb := range r.Branches {
			if !c.compatible(rb, w) {
				continue
			}
			b, err := c.compile(rb, w)
			if err != nil {
				return nil, err
			}
			return &node{op: opReaderUnion, index: i, elem: b}, nil
		}
		return nil, fmt.Errorf("transcode: reader union has no branch for writer type %s", w.Kind)
	}
	mismatch := func() (*node, error) {
		return nil, fmt.Errorf("transcode: reader type %s cannot read writer type %s", r.Kind, w.Kind)
	}
	switch r.Kind {
	case compat.Null:
		if w.Kind == compat.Null {
			return &node{op: opNull}, nil
		}
	case compat.Boolean:
		if w.Kind == compat.Boolean {
			return &node{op: opBoolean}, nil
		}
	case compat.Int:
		if w.Kind == compat.Int {
			return &node{op: opInt}, nil
		}
	case compat.Long:
		if w.Kind == compat.Int || w.Kind == compat.Long {
			return &node{op: opLong}, nil
		}
	case compat.Float:
		switch w.Kind {
		case compat.Int, compat.Long:
			return &node{op: opIntFloat}, nil
		case compat.Float:
			return &node{op: opFloat}, nil
		}
	case compat.Double:
		switch w.Kind {
		case compat.Int, compat.Long:
			return &node{op: opIntDouble}, nil
		case compat.Float:
			return &node{op: opFloatDbl}, nil
		case compat.Double:
			return &node{op: opDouble}, nil
		}
	case compat.Bytes, compat.String:
		if w.Kind == compat.Bytes || w.Kind == compat.String {
			return &node{op: opBytes}, nil
		}
	case compat.Fixed:
		if w.Kind == compat.Fixed && w.Size == r.Size {
			return &node{op: opFixed, size: r.Size}, nil
		}
	case compat.Enum:
		if w.Kind == compat.Enum {
			n := &node{op: opEnum, enum: make([]int, len(w.Symbols)), symbols: w.Symbols}
			def := -1
			if r.EnumDefault != nil {
				def = indexOf(r.Symbols, *r.EnumDefault)
			}
			for i, s := range w.Symbols {
				n.enum[i] = indexOf(r.Symbols, s)
				if n.enum[i] < 0 {
					n.enum[i] = def
				}
			}
			return n, nil
		}
	case compat.Array:
		if w.Kind == compat.Array {
			e, err := c.compile(r.Items, w.Items)
			if err != nil {
				return nil, err
			}
			return &node{op: opArray, elem: e}, nil
		}
	case compat.Map:
		if w.Kind == compat.Map {
			e, err := c.compile(r.Values, w.Values)
			if err != nil {
				return nil, err
			}
			return &node{op: opMap, elem: e}, nil
		}
	case compat.Record:
		if w.Kind == compat.Record {
			return c.record(r, w)
		}
	}
	return mismatch()
}

func (c *compiler) record(r, w *compat.Schema) (*node, error) {
	key := pair{r, w}
	if n, ok := c.records[key]; ok {
		return n, nil
	}
	rec := &record{nfields: len(r.Fields), defaults: make([][]byte, len(r.Fields))}
	n := &node{op: opRecord, rec: rec}
	c.records[key] = n
	slotOf := make([]int, len(w.Fields))
	for i := range slotOf {
		slotOf[i] = -1
	}
	plans := make([]*node, len(w.Fields))
	for _, rf := range r.Fields {
		wf := writerField(w, rf)
		if wf == nil {
			if !rf.HasDefault {
				return nil, fmt.Errorf("transcode: reader field %s.%s is not in the writer's record and has no default", r.Name, rf.Name)
			}
			d, err := appendDefault(nil, rf.Type, rf.Default, 0)
			if err != nil {
				return nil, fmt.Errorf("transcode: the default of reader field %s.%s: %w", r.Name, rf.Name, err)
			}
			rec.defaults[rf.Pos] = d
			continue
		}
		p, err := c.compile(rf.Type, wf.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s.%s: %w", r.Name, rf.Name, err)
		}
		slotOf[wf.Pos] = rf.Pos
		plans[wf.Pos] = p
	}
	rec.inOrder = true
	next := 0
	for i, wf := range w.Fields {
		if slotOf[i] < 0 {
			rec.steps = append(rec.steps, step{skip: wf.Type})
			continue
		}
		rec.steps = append(rec.steps, step{plan: plans[i], slot: slotOf[i]})
		if slotOf[i] != next {
			rec.inOrder = false
		}
		next++
	}
	// Reader-only fields must all follow the matched ones.
	for pos := 0; pos < next && pos < len(rec.defaults); pos++ {
		if rec.defaults[pos] != nil {
			rec.inOrder = false
		}
	}
	return n, nil
}

// writerField is the writer field a reader field reads: by name, then by
// the reader field's aliases (compat.Check has refused ambiguous matches).
func writerField(w *compat.Schema, rf *compat.Field) *compat.Field {
	if f := w.Field(rf.Name); f != nil {
		return f
	}
	for _, a := range rf.Aliases {
		if f := w.Field(a); f != nil {
			return f
		}
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

const maxDefaultDepth = 64

// appendDefault appends the Avro binary encoding of a field default (decoded
// JSON, numbers as json.Number) of type s. A union's default is a value of
// its first branch.
func appendDefault(dst []byte, s *compat.Schema, v any, depth int) ([]byte, error) {
	if depth > maxDefaultDepth {
		return nil, errors.New("default nested too deeply")
	}
	bad := func() ([]byte, error) {
		return nil, fmt.Errorf("%v is not a %s value", v, s.Kind)
	}
	switch s.Kind {
	case compat.Null:
		if v != nil {
			return bad()
		}
		return dst, nil
	case compat.Boolean:
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case compat.Int, compat.Long:
		n, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			f, ferr := n.Float64()
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<63 {
				return bad()
			}
			i = int64(f)
		}
		if s.Kind == compat.Int && (i < math.MinInt32 || i > math.MaxInt32) {
			return bad()
		}
		return appendLong(dst, i), nil
	case compat.Float, compat.Double:
		n, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		f, err := n.Float64()
		if err != nil {
			return bad()
		}
		if s.Kind == compat.Float {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case compat.String:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		return append(appendLong(dst, int64(len(str))), str...), nil
	case compat.Bytes, compat.Fixed:
		// A bytes or fixed default is a string of code points 0-255, one
		// per byte; hamba's JSON form of a schema writes an array of
		// byte values instead.
		var b []byte
		switch x := v.(type) {
		case string:
			for _, r := range x {
				if r > 255 {
					return bad()
				}
				b = append(b, byte(r))
			}
		case []any:
			for _, e := range x {
				n, ok := e.(json.Number)
				if !ok {
					return bad()
				}
				i, err := strconv.ParseUint(string(n), 10, 8)
				if err != nil {
					return bad()
				}
				b = append(b, byte(i))
			}
		default:
			return bad()
		}
		if s.Kind == compat.Fixed {
			if len(b) != s.Size {
				return bad()
			}
			return append(dst, b...), nil
		}
		return append(appendLong(dst, int64(len(b))), b...), nil
	case compat.Enum:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		i := indexOf(s.Symbols, str)
		if i < 0 {
			return bad()
		}
		return appendLong(dst, int64(i)), nil
	case compat.Array:
		a, ok := v.([]any)
		if !ok {
			return bad()
		}
		if len(a) > 0 {
			dst = appendLong(dst, int64(len(a)))
			for _, x := range a {
				var err error
				if dst, err = appendDefault(dst, s.Items, x, depth+1); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case compat.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		if len(m) > 0 {
			dst = appendLong(dst, int64(len(m)))
			for k, x := range m {
				dst = append(appendLong(dst, int64(len(k))), k...)
				var err error
				if dst, err = appendDefault(dst, s.Values, x, depth+1); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case compat.Union:
		if len(s.Branches) == 0 {
			return bad()
		}
		return appendDefault(append(dst, 0), s.Branches[0], v, depth+1)
	case compat.Record:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		for _, f := range s.Fields {
			x, ok := m[f.Name]
			if !ok {
				if !f.HasDefault {
					return nil, fmt.Errorf("record default lacks field %q", f.Name)
				}
				x = f.Default
			}
			var err error
			if dst, err = appendDefault(dst, f.Type, x, depth+1); err != nil {
				return nil, err
			}
		}
		return dst, nil
	}
	return bad()
}

func appendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// Errors of malformed data.
var (
	ErrTruncated   = errors.New("transcode: data truncated")
	ErrMalformed   = errors.New("transcode: malformed data")
	ErrUnknownEnum = errors.New("transcode: writer enum symbol unknown to the reader, which has no default")
)

const (
	// maxDepth bounds nesting (recursive types), so malformed data cannot
	// exhaust the stack.
	maxDepth = 4096
	// zeroWidthItems bounds the array and map items a body may hold beyond
	// one per byte: items that take no bytes (null, empty records) could
	// otherwise be claimed by the billion.
	zeroWidthItems = 1 << 20
)

type state struct {
	data  []byte
	pos   int
	depth int
	items int // array and map items read so far
	spans []int
}

// Transcode reads one value written with the plan's writer schema from data
// and appends its encoding in the reader schema to dst. Data after the value
// is an error.
func (p *Plan) Transcode(dst, data []byte) ([]byte, error) {
	st := &state{data: data}
	out, err := st.run(dst, p.root)
	if err != nil {
		return dst, err
	}
	if st.pos != len(data) {
		return dst, fmt.Errorf("%w: %d bytes after the value", ErrMalformed, len(data)-st.pos)
	}
	return out, nil
}

func (st *state) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if st.pos >= len(st.data) {
			return 0, ErrTruncated
		}
		b := st.data[st.pos]
		st.pos++
		if shift == 63 && b > 1 {
			return 0, fmt.Errorf("%w: varint overflows 64 bits", ErrMalformed)
		}
		u |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, fmt.Errorf("%w: varint too long", ErrMalformed)
}

func (st *state) int() (int32, error) {
	v, err := st.long()
	if err != nil {
		return 0, err
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Errorf("%w: int %d out of range", ErrMalformed, v)
	}
	return int32(v), nil
}

func (st *state) take(n int) ([]byte, error) {
	if n < 0 || n > len(st.data)-st.pos {
		return nil, ErrTruncated
	}
	b := st.data[st.pos : st.pos+n]
	st.pos += n
	return b, nil
}

// length reads a bytes or string length.
func (st *state) length() (int, error) {
	n, err := st.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: negative length %d", ErrMalformed, n)
	}
	if n > int64(len(st.data)-st.pos) {
		return 0, ErrTruncated
	}
	return int(n), nil
}

// blockCount reads an array or map block header: the item count, and
// whether the writer gave the block's byte size (a negative count), with
// that size.
func (st *state) blockCount() (count int, size int, err error) {
	n, err := st.long()
	if err != nil {
		return 0, -1, err
	}
	size = -1
	if n < 0 {
		if n == math.MinInt64 {
			return 0, -1, fmt.Errorf("%w: bad block count", ErrMalformed)
		}
		n = -n
		s, err := st.long()
		if err != nil {
			return 0, -1, err
		}
		if s < 0 || s > int64(len(st.data)-st.pos) {
			return 0, -1, fmt.Errorf("%w: bad block size %d", ErrMalformed, s)
		}
		size = int(s)
	}
	if n > int64(len(st.data)-st.pos)+zeroWidthItems-int64(st.items) {
		return 0, -1, fmt.Errorf("%w: block count %d exceeds the data", ErrMalformed, n)
	}
	st.items += int(n)
	return int(n), size, nil
}

func (st *state) run(dst []byte, n *node) ([]byte, error) {
	switch n.op {
	case opNull:
		return dst, nil
	case opBoolean:
		b, err := st.take(1)
		if err != nil {
			return dst, err
		}
		if b[0] > 1 {
			return dst, fmt.Errorf("%w: boolean byte %d", ErrMalformed, b[0])
		}
		return append(dst, b[0]), nil
	case opInt:
		v, err := st.int()
		if err != nil {
			return dst, err
		}
		return appendLong(dst, int64(v)), nil
	case opLong:
		v, err := st.long()
		if err != nil {
			return dst, err
		}
		return appendLong(dst, v), nil
	case opIntFloat, opIntDouble:
		v, err := st.long()
		if err != nil {
			return dst, err
		}
		if n.op == opIntFloat {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v))), nil
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(float64(v))), nil
	case opFloat, opFloatDbl:
		b, err := st.take(4)
		if err != nil {
			return dst, err
		}
		if n.op == opFloat {
			return append(dst, b...), nil
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(b))
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(float64(f))), nil
	case opDouble:
		b, err := st.take(8)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	case opBytes:
		l, err := st.length()
		if err != nil {
			return dst, err
		}
		b, _ := st.take(l)
		return append(appendLong(dst, int64(l)), b...), nil
	case opFixed:
		b, err := st.take(n.size)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	case opEnum:
		i, err := st.int()
		if err != nil {
			return dst, err
		}
		if i < 0 || int(i) >= len(n.enum) {
			return dst, fmt.Errorf("%w: enum index %d out of range", ErrMalformed, i)
		}
		r := n.enum[i]
		if r < 0 {
			return dst, fmt.Errorf("%w: %q", ErrUnknownEnum, n.symbols[i])
		}
		return appendLong(dst, int64(r)), nil
	case opWriterUnion:
		i, err := st.long()
		if err != nil {
			return dst, err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			return dst, fmt.Errorf("%w: union index %d out of range", ErrMalformed, i)
		}
		return st.nested(dst, n.branches[i])
	case opReaderUnion:
		return st.nested(appendLong(dst, int64(n.index)), n.elem)
	case opArray, opMap:
		return st.blocks(dst, n)
	case opRecord:
		return st.record(dst, n.rec)
	}
	return dst, fmt.Errorf("transcode: bad plan op %d", n.op)
}

func (st *state) nested(dst []byte, n *node) ([]byte, error) {
	st.depth++
	if st.depth > maxDepth {
		return dst, fmt.Errorf("%w: nested more than %d deep", ErrMalformed, maxDepth)
	}
	out, err := st.run(dst, n)
	st.depth--
	return out, err
}

func (st *state) blocks(dst []byte, n *node) ([]byte, error) {
	for {
		count, size, err := st.blockCount()
		if err != nil {
			return dst, err
		}
		// Reader blocks carry no byte size: it is optional.
		dst = appendLong(dst, int64(count))
		if count == 0 {
			return dst, nil
		}
		start := st.pos
		for range count {
			if n.op == opMap {
				l, err := st.length()
				if err != nil {
					return dst, err
				}
				k, _ := st.take(l)
				dst = append(appendLong(dst, int64(l)), k...)
			}
			if dst, err = st.nested(dst, n.elem); err != nil {
				return dst, err
			}
		}
		if size >= 0 && st.pos-start != size {
			return dst, fmt.Errorf("%w: block size %d, items took %d bytes", ErrMalformed, size, st.pos-start)
		}
	}
}

func (st *state) record(dst []byte, rec *record) ([]byte, error) {
	var err error
	if rec.inOrder {
		for _, s := range rec.steps {
			if s.plan == nil {
				if err = st.skip(s.skip); err != nil {
					return dst, err
				}
				continue
			}
			if dst, err = st.nested(dst, s.plan); err != nil {
				return dst, err
			}
		}
		for _, d := range rec.defaults {
			dst = append(dst, d...)
		}
		return dst, nil
	}
	// Fields out of order: transcode them in writer order, noting where
	// each landed, then lay them out in reader order after them and move
	// that down.
	start := len(dst)
	base := len(st.spans)
	for range rec.nfields {
		st.spans = append(st.spans, -1, -1)
	}
	for _, s := range rec.steps {
		if s.plan == nil {
			if err = st.skip(s.skip); err != nil {
				return dst, err
			}
			continue
		}
		from := len(dst)
		if dst, err = st.nested(dst, s.plan); err != nil {
			return dst, err
		}
		st.spans[base+2*s.slot], st.spans[base+2*s.slot+1] = from, len(dst)
	}
	mid := len(dst)
	for i := range rec.nfields {
		if d := rec.defaults[i]; d != nil {
			dst = append(dst, d...)
			continue
		}
		from, to := st.spans[base+2*i], st.spans[base+2*i+1]
		dst = append(dst, dst[from:to]...)
	}
	n := copy(dst[start:], dst[mid:])
	st.spans = st.spans[:base]
	return dst[:start+n], nil
}

// skip reads past a value of writer type s.
func (st *state) skip(s *compat.Schema) error {
	st.depth++
	defer func() { st.depth-- }()
	if st.depth > maxDepth {
		return fmt.Errorf("%w: nested more than %d deep", ErrMalformed, maxDepth)
	}
	switch s.Kind {
	case compat.Null:
		return nil
	case compat.Boolean:
		_, err := st.take(1)
		return err
	case compat.Int:
		_, err := st.int()
		return err
	case compat.Long:
		_, err := st.long()
		return err
	case compat.Float:
		_, err := st.take(4)
		return err
	case compat.Double:
		_, err := st.take(8)
		return err
	case compat.Bytes, compat.String:
		l, err := st.length()
		if err != nil {
			return err
		}
		_, err = st.take(l)
		return err
	case compat.Fixed:
		_, err := st.take(s.Size)
		return err
	case compat.Enum:
		i, err := st.int()
		if err == nil && (i < 0 || int(i) >= len(s.Symbols)) {
			err = fmt.Errorf("%w: enum index %d out of range", ErrMalformed, i)
		}
		return err
	case compat.Union:
		i, err := st.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(s.Branches)) {
			return fmt.Errorf("%w: union index %d out of range", ErrMalformed, i)
		}
		return st.skip(s.Branches[i])
	case compat.Record:
		for _, f := range s.Fields {
			if err := st.skip(f.Type); err != nil {
				return err
			}
		}
		return nil
	case compat.Array, compat.Map:
		for {
			count, size, err := st.blockCount()
			if err != nil || count == 0 {
				return err
			}
			if size >= 0 {
				st.pos += size // blockCount checked it
				continue
			}
			for range count {
				if s.Kind == compat.Map {
					if err := st.skip(stringSchema); err != nil {
						return err
					}
					if err := st.skip(s.Values); err != nil {
						return err
					}
				} else if err := st.skip(s.Items); err != nil {
					return err
				}
			}
		}
	}
	return fmt.Errorf("transcode: cannot skip a %s", s.Kind)
}

var stringSchema = &compat.Schema{Kind: compat.String}
