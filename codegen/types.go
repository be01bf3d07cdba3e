package codegen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/waybill/waybill/compat"
)

// ref returns the Go expression naming a named node's type from the current package.
func (g *generator) ref(s *compat.Schema) (string, error) {
	gn, ok := g.names[s]
	if !ok {
		return "", fmt.Errorf("codegen: no Go type for %s", s.Name)
	}
	if gn.pkg == g.cur {
		return gn.name, nil
	}
	return gn.pkg + "." + gn.name, nil
}

// nullable returns the non-null branch of a ["null", T] or [T, "null"] union
// and the index of the null branch.
func nullable(s *compat.Schema) (*compat.Schema, int, bool) {
	if s.Kind != compat.Union || len(s.Branches) != 2 {
		return nil, 0, false
	}
	switch {
	case s.Branches[0].Kind == compat.Null:
		return s.Branches[1], 0, true
	case s.Branches[1].Kind == compat.Null:
		return s.Branches[0], 1, true
	}
	return nil, 0, false
}

// nilable reports whether the Go type of s has nil as a value of its own.
func nilable(s *compat.Schema) bool {
	switch {
	case s.Logical == "decimal":
		return true
	case s.Kind == compat.Bytes, s.Kind == compat.Array:
		return true
	}
	return false
}

// goType returns the Go type of s. owner names the union wrapper a union
// inside would become.
func (g *generator) goType(s *compat.Schema, owner string) (string, error) {
	switch s.Logical {
	case "timestamp-millis", "timestamp-micros", "date":
		return "time.Time", nil
	case "time-millis", "time-micros":
		return "time.Duration", nil
	case "decimal":
		return "*big.Rat", nil
	}
	switch s.Kind {
	case compat.Null:
		return "struct{}", nil
	case compat.Boolean:
		return "bool", nil
	case compat.Int:
		return "int32", nil
	case compat.Long:
		return "int64", nil
	case compat.Float:
		return "float32", nil
	case compat.Double:
		return "float64", nil
	case compat.Bytes:
		return "[]byte", nil
	case compat.String:
		return "string", nil
	case compat.Record, compat.Enum, compat.Fixed:
		return g.ref(s)
	case compat.Array:
		t, err := g.goType(s.Items, owner+"Item")
		return "[]" + t, err
	case compat.Map:
		t, err := g.goType(s.Values, owner+"Value")
		return "map[string]" + t, err
	case compat.Union:
		if t, _, ok := nullable(s); ok {
			gt, err := g.goType(t, owner)
			if err != nil || nilable(t) {
				return gt, err
			}
			return "*" + gt, nil
		}
		if n, ok := g.unions[s]; ok {
			return n, nil
		}
		g.unions[s] = owner
		return owner, nil
	}
	return "", fmt.Errorf("codegen: unsupported type %s", s.Kind)
}

// branchName names a union branch's field in its wrapper.
func (g *generator) branchName(s *compat.Schema) string {
	if s.Kind.Named() {
		return exported(shortName(s.Name))
	}
	if s.Logical != "" {
		return exported(strings.ReplaceAll(s.Logical, "-", "_"))
	}
	return exported(s.Kind.String())
}

type emitter struct {
	g   *generator
	w   *bytes.Buffer
	n   int    // counter for fresh variable names
	ctx string // what an error message names
	// pending are union wrapper types met while writing, written after.
	pending []*compat.Schema
}

func (e *emitter) fresh(prefix string) string {
	e.n++
	return fmt.Sprintf("%s%d", prefix, e.n)
}

func (e *emitter) p(format string, args ...any) {
	fmt.Fprintf(e.w, format, args...)
	e.w.WriteByte('\n')
}

// enc writes statements appending the encoding of x (of s's Go type) to b.
// Errors return from the enclosing func ([]byte, error).
func (e *emitter) enc(x string, s *compat.Schema, owner string) error {
	switch s.Logical {
	case "timestamp-millis":
		e.p("b = avrobin.AppendTimestampMillis(b, %s)", x)
		return nil
	case "timestamp-micros":
		e.p("b = avrobin.AppendTimestampMicros(b, %s)", x)
		return nil
	case "date":
		e.p("b = avrobin.AppendDate(b, %s)", x)
		return nil
	case "time-millis":
		e.p("b = avrobin.AppendInt(b, int32(%s.Milliseconds()))", x)
		return nil
	case "time-micros":
		e.p("b = avrobin.AppendLong(b, %s.Microseconds())", x)
		return nil
	case "decimal":
		if s.Kind == compat.Fixed {
			e.p("if b, err = avrobin.AppendFixedDecimal(b, %s, %d, %d, %d); err != nil {", x, s.Size, s.Precision, s.Scale)
		} else {
			e.p("if b, err = avrobin.AppendDecimal(b, %s, %d, %d); err != nil {", x, s.Precision, s.Scale)
		}
		e.p("return b, fmt.Errorf(\"%s: %%w\", err)", e.ctx)
		e.p("}")
		return nil
	}
	switch s.Kind {
	case compat.Null:
	case compat.Boolean:
		e.p("b = avrobin.AppendBool(b, %s)", x)
	case compat.Int:
		e.p("b = avrobin.AppendInt(b, %s)", x)
	case compat.Long:
		e.p("b = avrobin.AppendLong(b, %s)", x)
	case compat.Float:
		e.p("b = avrobin.AppendFloat(b, %s)", x)
	case compat.Double:
		e.p("b = avrobin.AppendDouble(b, %s)", x)
	case compat.Bytes:
		e.p("b = avrobin.AppendBytes(b, %s)", x)
	case compat.String:
		e.p("b = avrobin.AppendString(b, %s)", x)
	case compat.Record, compat.Enum, compat.Fixed:
		e.p("if b, err = %s.AppendAvro(b); err != nil {", x)
		e.p("return b, err")
		e.p("}")
	case compat.Array:
		i, j, end, start := e.fresh("i"), e.fresh("j"), e.fresh("end"), e.fresh("start")
		e.p("for %s := 0; %s < len(%s); %s += avrobin.BlockLength {", i, i, x, i)
		e.p("%s := min(%s+avrobin.BlockLength, len(%s))", end, i, x)
		e.p("%s := len(b)", start)
		e.p("for %s := %s; %s < %s; %s++ {", j, i, j, end, j)
		if err := e.enc(x+"["+j+"]", s.Items, owner+"Item"); err != nil {
			return err
		}
		e.p("}")
		e.p("b = avrobin.FinishBlock(b, %s, %s-%s)", start, end, i)
		e.p("}")
		e.p("b = append(b, 0)")
	case compat.Map:
		keys, i, end, start, j, v := e.fresh("keys"), e.fresh("i"), e.fresh("end"), e.fresh("start"), e.fresh("j"), e.fresh("v")
		e.p("%s := slices.Sorted(maps.Keys(%s))", keys, x)
		e.p("for %s := 0; %s < len(%s); %s += avrobin.BlockLength {", i, i, keys, i)
		e.p("%s := min(%s+avrobin.BlockLength, len(%s))", end, i, keys)
		e.p("%s := len(b)", start)
		e.p("for _, %s := range %s[%s:%s] {", j, keys, i, end)
		e.p("b = avrobin.AppendString(b, %s)", j)
		e.p("%s := %s[%s]", v, x, j)
		if err := e.enc(v, s.Values, owner+"Value"); err != nil {
			return err
		}
		e.p("}")
		e.p("b = avrobin.FinishBlock(b, %s, %s-%s)", start, end, i)
		e.p("}")
		e.p("b = append(b, 0)")
	case compat.Union:
		if t, ni, ok := nullable(s); ok {
			e.p("if %s == nil {", x)
			e.p("b = append(b, %d)", ni*2)
			e.p("} else {")
			e.p("b = append(b, %d)", (1-ni)*2)
			inner := x
			if !nilable(t) && !t.Kind.Named() {
				inner = deref(x, t)
			}
			if err := e.enc(inner, t, owner); err != nil {
				return err
			}
			e.p("}")
			return nil
		}
		if _, err := e.g.goType(s, owner); err != nil {
			return err
		}
		e.pending = append(e.pending, s)
		e.p("if b, err = %s.AppendAvro(b); err != nil {", x)
		e.p("return b, err")
		e.p("}")
	default:
		return fmt.Errorf("codegen: unsupported type %s", s.Kind)
	}
	return nil
}

// dec writes statements decoding a value of s from r into the assignable x.
func (e *emitter) dec(x string, s *compat.Schema, owner string) error {
	switch s.Logical {
	case "timestamp-millis":
		e.p("%s = r.TimestampMillis()", x)
		return nil
	case "timestamp-micros":
		e.p("%s = r.TimestampMicros()", x)
		return nil
	case "date":
		e.p("%s = r.Date()", x)
		return nil
	case "time-millis":
		e.p("%s = time.Duration(r.Int()) * time.Millisecond", x)
		return nil
	case "time-micros":
		e.p("%s = time.Duration(r.Long()) * time.Microsecond", x)
		return nil
	case "decimal":
		if s.Kind == compat.Fixed {
			e.p("%s = r.FixedDecimal(%d, %d)", x, s.Size, s.Scale)
		} else {
			e.p("%s = r.Decimal(%d)", x, s.Scale)
		}
		return nil
	}
	switch s.Kind {
	case compat.Null:
	case compat.Boolean:
		e.p("%s = r.Bool()", x)
	case compat.Int:
		e.p("%s = r.Int()", x)
	case compat.Long:
		e.p("%s = r.Long()", x)
	case compat.Float:
		e.p("%s = r.Float()", x)
	case compat.Double:
		e.p("%s = r.Double()", x)
	case compat.Bytes:
		e.p("%s = r.Bytes()", x)
	case compat.String:
		e.p("%s = r.String()", x)
	case compat.Record, compat.Enum, compat.Fixed:
		e.p("%s.ReadAvro(r)", x)
	case compat.Array:
		t, err := e.g.goType(s.Items, owner+"Item")
		if err != nil {
			return err
		}
		n := e.fresh("n")
		e.p("%s = %s[:0]", x, x)
		e.p("for %s := r.BlockCount(); %s > 0; %s = r.BlockCount() {", n, n, n)
		e.p("%s = slices.Grow(%s, %s)", x, x, n)
		e.p("for range %s {", n)
		e.p("%s = append(%s, *new(%s))", x, x, t)
		if err := e.dec(x+"[len("+x+")-1]", s.Items, owner+"Item"); err != nil {
			return err
		}
		e.p("}")
		e.p("}")
	case compat.Map:
		t, err := e.g.goType(s.Values, owner+"Value")
		if err != nil {
			return err
		}
		n, k, v := e.fresh("n"), e.fresh("k"), e.fresh("v")
		e.p("%s = map[string]%s{}", x, t)
		e.p("for %s := r.BlockCount(); %s > 0; %s = r.BlockCount() {", n, n, n)
		e.p("for range %s {", n)
		e.p("%s := r.String()", k)
		e.p("var %s %s", v, t)
		if err := e.dec(v, s.Values, owner+"Value"); err != nil {
			return err
		}
		e.p("%s[%s] = %s", x, k, v)
		e.p("}")
		e.p("}")
	case compat.Union:
		if t, ni, ok := nullable(s); ok {
			e.p("if r.Index(2) == %d {", ni)
			e.p("%s = nil", x)
			e.p("} else {")
			if nilable(t) {
				if err := e.dec(x, t, owner); err != nil {
					return err
				}
			} else {
				gt, err := e.g.goType(t, owner)
				if err != nil {
					return err
				}
				v := e.fresh("v")
				e.p("%s := new(%s)", v, gt)
				inner := deref(v, t)
				if t.Kind.Named() {
					inner = v
				}
				if err := e.dec(inner, t, owner); err != nil {
					return err
				}
				e.p("%s = %s", x, v)
			}
			e.p("}")
			return nil
		}
		e.p("%s.ReadAvro(r)", x)
	default:
		return fmt.Errorf("codegen: unsupported type %s", s.Kind)
	}
	return nil
}

// deref is the expression of the value the pointer x points at; indexed
// types need the parentheses.
func deref(x string, s *compat.Schema) string {
	if s.Kind == compat.Map || s.Kind == compat.Array {
		return "(*" + x + ")"
	}
	return "*" + x
}
