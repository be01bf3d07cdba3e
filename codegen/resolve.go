package codegen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
)

// errUnresolved is a writer and reader pair the generated resolving decoder
// does not handle; UnmarshalAvroVersion reports the version as unreadable.
var errUnresolved = errors.New("codegen: not resolvable statically")

// resolver writes decoders that read data written with one schema into the
// Go type of another, by Avro's schema resolution rules
// (https://avro.apache.org/docs/1.11.1/specification/#schema-resolution),
// fixed at generation time since every version is known then.
type resolver struct {
	em    *emitter
	funcs *bytes.Buffer // record pair functions, written after
	done  map[string]bool
}

func sameShape(w, rd *compat.Schema) bool {
	return w.Canonical() == rd.Canonical() && logicalEqual(w, rd, map[*compat.Schema]bool{})
}

func logicalEqual(a, b *compat.Schema, seen map[*compat.Schema]bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	if seen[a] {
		return true
	}
	seen[a] = true
	if a.Logical != b.Logical || a.Precision != b.Precision || a.Scale != b.Scale || len(a.Fields) != len(b.Fields) || len(a.Branches) != len(b.Branches) {
		return false
	}
	for i := range a.Fields {
		if !logicalEqual(a.Fields[i].Type, b.Fields[i].Type, seen) {
			return false
		}
	}
	for i := range a.Branches {
		if !logicalEqual(a.Branches[i], b.Branches[i], seen) {
			return false
		}
	}
	return logicalEqual(a.Items, b.Items, seen) && logicalEqual(a.Values, b.Values, seen)
}

func namesMatch(w, rd *compat.Schema) bool {
	if w.Name == rd.Name {
		return true
	}
	for _, a := range rd.Aliases {
		if a == w.Name {
			return true
		}
	}
	return false
}

// matches reports whether writer w can be read as reader branch rd.
func matches(w, rd *compat.Schema) bool {
	if w.Kind.Named() || rd.Kind.Named() {
		return w.Kind == rd.Kind && namesMatch(w, rd)
	}
	if w.Kind == rd.Kind {
		return w.Kind != compat.Union
	}
	_, ok := promotion(w, rd)
	return ok
}

// promotion is the expression reading a writer primitive as a wider reader one.
func promotion(w, rd *compat.Schema) (string, bool) {
	if rd.Logical != "" {
		return "", false
	}
	switch {
	case w.Kind == compat.Int && rd.Kind == compat.Long:
		return "int64(r.Int())", true
	case w.Kind == compat.Int && rd.Kind == compat.Float:
		return "float32(r.Int())", true
	case w.Kind == compat.Int && rd.Kind == compat.Double:
		return "float64(r.Int())", true
	case w.Kind == compat.Long && rd.Kind == compat.Float:
		return "float32(r.Long())", true
	case w.Kind == compat.Long && rd.Kind == compat.Double:
		return "float64(r.Long())", true
	case w.Kind == compat.Float && rd.Kind == compat.Double:
		return "float64(r.Float())", true
	case w.Kind == compat.String && rd.Kind == compat.Bytes:
		return "r.Bytes()", true
	case w.Kind == compat.Bytes && rd.Kind == compat.String:
		return "r.String()", true
	}
	return "", false
}

// dec writes statements reading a writer-w value into x, of reader rd's Go type.
func (rs *resolver) dec(x string, w, rd *compat.Schema, owner string) error {
	e := rs.em
	if w.Kind != compat.Union && rd.Kind != compat.Union && sameShape(w, rd) && (!w.Kind.Named() || namesMatch(w, rd)) {
		return e.dec(x, rd, owner)
	}
	if w.Kind == compat.Union {
		e.p("switch r.Index(%d) {", len(w.Branches))
		for i, b := range w.Branches {
			e.p("case %d:", i)
			if b.Kind == compat.Null {
				if _, _, ok := nullable(rd); ok {
					e.p("%s = nil", x)
					continue
				}
				if rd.Kind == compat.Union && slicesHasNull(rd) {
					t, err := e.g.goType(rd, owner)
					if err != nil {
						return err
					}
					e.p("%s = %s{}", x, t)
					continue
				}
				e.p("r.Fail(fmt.Errorf(\"%s: null cannot be read as %s\"))", e.ctx, rd.Kind)
				continue
			}
			if err := rs.decNonUnion(x, b, rd, owner); err != nil {
				if !errors.Is(err, errUnresolved) {
					return err
				}
				e.p("r.Fail(fmt.Errorf(\"%s: branch %d of the writer's union cannot be read\"))", e.ctx, i)
			}
		}
		e.p("}")
		return nil
	}
	return rs.decNonUnion(x, w, rd, owner)
}

func slicesHasNull(u *compat.Schema) bool {
	for _, b := range u.Branches {
		if b.Kind == compat.Null {
			return true
		}
	}
	return false
}

// decNonUnion reads a writer value that is not a union.
func (rs *resolver) decNonUnion(x string, w, rd *compat.Schema, owner string) error {
	e := rs.em
	if rd.Kind == compat.Union {
		if t, _, ok := nullable(rd); ok {
			if w.Kind == compat.Null {
				e.p("%s = nil", x)
				return nil
			}
			if !matches(w, t) {
				return errUnresolved
			}
			if nilable(t) {
				return rs.decNonUnion(x, w, t, owner)
			}
			gt, err := e.g.goType(t, owner)
			if err != nil {
				return err
			}
			v := e.fresh("v")
			e.p("%s := new(%s)", v, gt)
			inner := "(*" + v + ")"
			if err := rs.decNonUnion(inner, w, t, owner); err != nil {
				return err
			}
			e.p("%s = %s", x, v)
			return nil
		}
		ut, err := e.g.goType(rd, owner)
		if err != nil {
			return err
		}
		for _, b := range rd.Branches {
			if b.Kind == compat.Null || !matches(w, b) {
				continue
			}
			field := e.g.branchName(b)
			bt, err := e.g.goType(b, ut+field)
			if err != nil {
				return err
			}
			e.p("%s = %s{}", x, ut)
			if len(bt) > 0 && bt[0] == '*' {
				return rs.decNonUnion(x+"."+field, w, b, ut+field)
			}
			e.p("%s.%s = new(%s)", x, field, bt)
			inner := "(*" + x + "." + field + ")"
			return rs.decNonUnion(inner, w, b, ut+field)
		}
		return errUnresolved
	}
	if sameShape(w, rd) && (!w.Kind.Named() || namesMatch(w, rd)) {
		return e.dec(x, rd, owner)
	}
	if p, ok := promotion(w, rd); ok {
		e.p("%s = %s", x, p)
		return nil
	}
	if w.Kind != rd.Kind || w.Logical != rd.Logical || (w.Kind.Named() && !namesMatch(w, rd)) {
		return errUnresolved
	}
	switch w.Kind {
	case compat.Record:
		fn, err := rs.record(w, rd)
		if err != nil {
			return err
		}
		arg := "&" + x
		if strings.HasPrefix(x, "(*") && strings.HasSuffix(x, ")") {
			arg = x[2 : len(x)-1]
		}
		e.p("%s(%s, r)", fn, arg)
		return nil
	case compat.Enum:
		t, err := e.g.goType(rd, owner)
		if err != nil {
			return err
		}
		var syms []string
		for _, s := range w.Symbols {
			switch {
			case slices.Contains(rd.Symbols, s):
				syms = append(syms, strconv.Quote(s))
			case rd.EnumDefault != nil:
				syms = append(syms, strconv.Quote(*rd.EnumDefault))
			default:
				return errUnresolved
			}
		}
		e.p("%s = [...]%s{%s}[r.Index(%d)]", x, t, join(syms), len(w.Symbols))
		return nil
	case compat.Array:
		t, err := e.g.goType(rd.Items, owner+"Item")
		if err != nil {
			return err
		}
		n := e.fresh("n")
		e.p("%s = %s[:0]", x, x)
		e.p("for %s := r.BlockCount(); %s > 0; %s = r.BlockCount() {", n, n, n)
		e.p("for range %s {", n)
		e.p("%s = append(%s, *new(%s))", x, x, t)
		if err := rs.dec(x+"[len("+x+")-1]", w.Items, rd.Items, owner+"Item"); err != nil {
			return err
		}
		e.p("}")
		e.p("}")
		return nil
	case compat.Map:
		t, err := e.g.goType(rd.Values, owner+"Value")
		if err != nil {
			return err
		}
		n, k, v := e.fresh("n"), e.fresh("k"), e.fresh("v")
		e.p("%s = map[string]%s{}", x, t)
		e.p("for %s := r.BlockCount(); %s > 0; %s = r.BlockCount() {", n, n, n)
		e.p("for range %s {", n)
		e.p("%s := r.String()", k)
		e.p("var %s %s", v, t)
		if err := rs.dec(v, w.Values, rd.Values, owner+"Value"); err != nil {
			return err
		}
		e.p("%s[%s] = %s", x, k, v)
		e.p("}")
		e.p("}")
		return nil
	case compat.Fixed:
		if w.Size == rd.Size {
			return e.dec(x, rd, owner)
		}
	}
	return errUnresolved
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}

// record writes (once) the function reading writer record w into reader
// record rd's type and returns its name.
func (rs *resolver) record(w, rd *compat.Schema) (string, error) {
	if recursive(w) || recursive(rd) {
		return "", errUnresolved
	}
	t, err := rs.em.g.goType(rd, "")
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("read%sFrom%016x", strings.ReplaceAll(t, ".", ""), w.Fingerprint())
	if rs.done[name] {
		return name, nil
	}
	saved := rs.em.w
	buf := &bytes.Buffer{}
	rs.em.w = buf
	defer func() { rs.em.w = saved }()
	rs.em.p("// %s reads a %s written with the schema of fingerprint %016x.", name, rd.Name, w.Fingerprint())
	rs.em.p("func %s(v *%s, r *avrobin.Reader) {", name, t)
	seen := map[string]bool{}
	recName := rs.em.g.names[rd].name
	for _, wf := range w.Fields {
		var rf *compat.Field
		for _, f := range rd.Fields {
			if f.Name == wf.Name || slices.Contains(f.Aliases, wf.Name) {
				rf = f
				break
			}
		}
		if rf == nil {
			if err := rs.skip(wf.Type, 0); err != nil {
				return "", err
			}
			continue
		}
		seen[rf.Name] = true
		fn := rs.em.g.fieldName(rd, rf)
		if err := rs.dec("v."+fn, wf.Type, rf.Type, recName+fn); err != nil {
			return "", err
		}
	}
	for _, rf := range rd.Fields {
		if seen[rf.Name] {
			continue
		}
		if !rf.HasDefault {
			return "", errUnresolved
		}
		fn := rs.em.g.fieldName(rd, rf)
		lit, err := rs.literal(rf.Type, rf.Default, recName+fn)
		if err != nil {
			return "", err
		}
		rs.em.p("v.%s = %s", fn, lit)
	}
	rs.em.p("}\n")
	rs.done[name] = true
	rs.funcs.Write(buf.Bytes())
	return name, nil
}

// literal is the Go expression of a field default.
func (rs *resolver) literal(s *compat.Schema, v any, owner string) (string, error) {
	if s.Kind == compat.Union {
		if v == nil {
			if _, _, ok := nullable(s); ok {
				return "nil", nil
			}
			if slicesHasNull(s) {
				t, err := rs.em.g.goType(s, owner)
				return t + "{}", err
			}
		}
		return "", errUnresolved
	}
	t, err := rs.em.g.goType(s, owner)
	if err != nil {
		return "", err
	}
	switch s.Logical {
	case "timestamp-millis":
		if n, ok := v.(json.Number); ok {
			return "time.UnixMilli(" + n.String() + ").UTC()", nil
		}
		return "", errUnresolved
	case "":
	default:
		return "", errUnresolved
	}
	switch s.Kind {
	case compat.Boolean:
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
	case compat.Int, compat.Long, compat.Float, compat.Double:
		if n, ok := v.(json.Number); ok {
			return t + "(" + n.String() + ")", nil
		}
	case compat.String:
		if str, ok := v.(string); ok {
			return strconv.Quote(str), nil
		}
	case compat.Enum:
		if str, ok := v.(string); ok && slices.Contains(s.Symbols, str) {
			return t + "(" + strconv.Quote(str) + ")", nil
		}
	case compat.Array:
		if a, ok := v.([]any); ok && len(a) == 0 {
			return "nil", nil
		}
	case compat.Map:
		if m, ok := v.(map[string]any); ok && len(m) == 0 {
			return t + "{}", nil
		}
	}
	return "", errUnresolved
}

// skip writes statements reading past a writer value the reader does not keep.
func (rs *resolver) skip(s *compat.Schema, depth int) error {
	e := rs.em
	if depth > 32 {
		return errUnresolved
	}
	switch s.Kind {
	case compat.Null:
	case compat.Boolean:
		e.p("r.Bool()")
	case compat.Int, compat.Long, compat.Enum:
		e.p("r.Long()")
	case compat.Float:
		e.p("r.Float()")
	case compat.Double:
		e.p("r.Double()")
	case compat.Bytes, compat.String:
		e.p("r.BytesView()")
	case compat.Fixed:
		e.p("r.Fixed(make([]byte, %d))", s.Size)
	case compat.Record:
		for _, f := range s.Fields {
			if err := rs.skip(f.Type, depth+1); err != nil {
				return err
			}
		}
	case compat.Array, compat.Map:
		n := e.fresh("n")
		e.p("for %s := r.BlockCount(); %s > 0; %s = r.BlockCount() {", n, n, n)
		e.p("for range %s {", n)
		if s.Kind == compat.Map {
			e.p("r.BytesView()")
			if err := rs.skip(s.Values, depth+1); err != nil {
				return err
			}
		} else if err := rs.skip(s.Items, depth+1); err != nil {
			return err
		}
		e.p("}")
		e.p("}")
	case compat.Union:
		e.p("switch r.Index(%d) {", len(s.Branches))
		for i, b := range s.Branches {
			e.p("case %d:", i)
			if err := rs.skip(b, depth+1); err != nil {
				return err
			}
		}
		e.p("}")
	}
	return nil
}

// versions writes UnmarshalAvroVersion for version rv: a case per writer
// version of the event type the generator can resolve statically.
func (g *generator) versions(w *bytes.Buffer, e *catalog.Event, rv *catalog.Version) error {
	name := g.names[rv.Schema].name
	funcs := &bytes.Buffer{}
	var cases bytes.Buffer
	rs := &resolver{funcs: funcs, done: map[string]bool{}}
	var unreadable []int
	for _, wv := range e.Versions {
		if wv == rv {
			continue
		}
		body := &bytes.Buffer{}
		rs.em = &emitter{g: g, w: body, ctx: g.cur + ": " + name}
		before := funcs.Len()
		doneBefore := map[string]bool{}
		for k := range rs.done {
			doneBefore[k] = true
		}
		err := rs.decNonUnion("(*v)", wv.Schema, rv.Schema, name)
		if errors.Is(err, errUnresolved) {
			funcs.Truncate(before)
			rs.done = doneBefore
			unreadable = append(unreadable, wv.Number)
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(&cases, "case %d:\n%s", wv.Number, body.String())
	}
	fmt.Fprintf(w, "// UnmarshalAvroVersion decodes a body written with version version of\n")
	fmt.Fprintf(w, "// %s's schema into v, as Avro schema resolution reads it (fields v lacks\n", e.FullName)
	fmt.Fprintf(w, "// are skipped, fields the writer lacks take their defaults, enum symbols v\n")
	fmt.Fprintf(w, "// lacks become its default), without reflection: the resolution of every\n")
	fmt.Fprintf(w, "// version is generated.")
	if len(unreadable) > 0 {
		fmt.Fprintf(w, " Versions %v are not readable as version %d.", unreadable, rv.Number)
	}
	fmt.Fprintf(w, "\nfunc (v *%s) UnmarshalAvroVersion(version int, data []byte) error {\n", name)
	fmt.Fprintf(w, "if version == %d {\nreturn v.UnmarshalAvro(data)\n}\n", rv.Number)
	if cases.Len() == 0 {
		fmt.Fprintf(w, "return fmt.Errorf(\"%s: %s cannot read version %%d\", version)\n}\n\n", g.cur, name)
		w.Write(funcs.Bytes())
		return nil
	}
	fmt.Fprintf(w, "rd := avrobin.NewReader(data)\nr := &rd\nswitch version {\n%s", cases.String())
	fmt.Fprintf(w, "default:\nreturn fmt.Errorf(\"%s: %s cannot read version %%d\", version)\n}\n", g.cur, name)
	fmt.Fprintf(w, "if err := r.Done(); err != nil {\nreturn fmt.Errorf(\"%s: %s from version %%d: %%w\", version, err)\n}\nreturn nil\n}\n\n", g.cur, name)
	w.Write(funcs.Bytes())
	return nil
}
