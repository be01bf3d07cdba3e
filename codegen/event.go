package codegen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
)

// event writes the file of one event type (or shared type): every version,
// the named types its versions define first, and the conversions.
func (g *generator) event(w *bytes.Buffer, e *catalog.Event) error {
	base := exported(e.Name)
	shared := e.Topic == ""
	if !shared {
		fmt.Fprintf(w, "// %sEventType is the full Avro name of %s, its CloudEvents ce_type.\n", base, base)
		fmt.Fprintf(w, "const %sEventType = %q\n\n", base, e.FullName)
		fmt.Fprintf(w, "// %sTopic is the Kafka topic %s is published on.\n", base, base)
		fmt.Fprintf(w, "const %sTopic = %q\n\n", base, e.Topic)
	}
	fmt.Fprintf(w, "// %sVersions maps the fingerprint of each version's schema to its number.\n", unexported(base))
	fmt.Fprintf(w, "var %sVersions = sync.OnceValue(func() map[[32]byte]int {\nreturn map[[32]byte]int{\n", unexported(base))
	for _, v := range e.Versions {
		fmt.Fprintf(w, "%sSchema().Fingerprint(): %d,\n", unexported(g.names[v.Schema].name), v.Number)
	}
	fmt.Fprintf(w, "}\n})\n\n")
	latest := e.Latest()
	comment(w, "", fmt.Sprintf("%s is the latest version of %s. %s", base, e.FullName, e.Description))
	fmt.Fprintf(w, "type %s = %sV%d\n\n", base, base, latest.Number)

	for _, v := range e.Versions {
		if err := g.version(w, e, v); err != nil {
			return err
		}
	}
	for _, r := range e.Versions {
		for _, wv := range e.Versions {
			// hamba's Resolve recurses forever on a recursive record.
			if r == wv || recursive(r.Schema) || recursive(wv.Schema) {
				continue
			}
			g.convert(w, e, wv, r)
		}
	}
	return nil
}

func (g *generator) version(w *bytes.Buffer, e *catalog.Event, v *catalog.Version) error {
	name := g.names[v.Schema].name
	low := unexported(name)
	shared := e.Topic == ""
	fmt.Fprintf(w, "// %sSchemaText is version %d of %s as registered (without its references).\n", name, v.Number, e.FullName)
	fmt.Fprintf(w, "const %sSchemaText = %s\n\n", name, goString(string(v.Text)))
	fmt.Fprintf(w, "// %sSubject is the registry subject of %s.\n", name, name)
	fmt.Fprintf(w, "const %sSubject = %q\n\n", name, e.Subject())
	fmt.Fprintf(w, "// %sVersion is the version number of %s in schemas/.\n", name, name)
	fmt.Fprintf(w, "const %sVersion = %d\n\n", name, v.Number)
	fmt.Fprintf(w, "// %sFingerprint is the CRC-64-AVRO fingerprint of %s's canonical form (references included).\n", name, name)
	fmt.Fprintf(w, "const %sFingerprint uint64 = %#016x\n\n", name, v.Schema.Fingerprint())

	// The schema, parsed once, references first.
	var texts []string
	seen := map[string]bool{}
	var add func(v *catalog.Version) error
	add = func(v *catalog.Version) error {
		for _, r := range v.References {
			se := g.cat.Event(r.Name)
			if se == nil || r.Version < 1 || r.Version > len(se.Versions) {
				return fmt.Errorf("codegen: %s: reference %s v%d not in the catalog", v.File, r.Name, r.Version)
			}
			sv := se.Versions[r.Version-1]
			if err := add(sv); err != nil {
				return err
			}
			t, err := g.ref(sv.Schema)
			if err != nil {
				return err
			}
			if !seen[t] {
				seen[t] = true
				texts = append(texts, t+"SchemaText")
			}
		}
		return nil
	}
	if err := add(v); err != nil {
		return err
	}
	fmt.Fprintf(w, "var %sSchema = sync.OnceValue(func() avro.Schema {\n", low)
	fmt.Fprintf(w, "cache := &avro.SchemaCache{}\n")
	if len(texts) > 0 {
		fmt.Fprintf(w, "for _, ref := range []string{%s} {\n", strings.Join(texts, ", "))
		fmt.Fprintf(w, "if _, err := avro.ParseWithCache(ref, \"\", cache); err != nil {\npanic(\"%s: reference of %s: \" + err.Error())\n}\n}\n", g.cur, name)
	}
	fmt.Fprintf(w, "s, err := avro.ParseWithCache(%sSchemaText, \"\", cache)\n", name)
	fmt.Fprintf(w, "if err != nil {\npanic(\"%s: %s: \" + err.Error())\n}\nreturn s\n})\n\n", g.cur, name)

	for _, d := range v.Schema.Defined() {
		if err := g.named(w, d, v.Schema == d); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "// Schema returns version %d's schema, parsed once by hamba/avro, references included.\n", v.Number)
	fmt.Fprintf(w, "func (*%s) Schema() avro.Schema { return %sSchema() }\n\n", name, low)
	fmt.Fprintf(w, "// SchemaText returns %sSchemaText.\n", name)
	fmt.Fprintf(w, "func (*%s) SchemaText() string { return %sSchemaText }\n\n", name, name)
	fmt.Fprintf(w, "// Marshal returns v's Avro binary encoding.\n")
	fmt.Fprintf(w, "func (v *%s) Marshal() ([]byte, error) { return v.AppendAvro(nil) }\n\n", name)
	fmt.Fprintf(w, "// Unmarshal decodes an Avro binary body written with version %d's schema into v.\n", v.Number)
	fmt.Fprintf(w, "func (v *%s) Unmarshal(data []byte) error { return v.UnmarshalAvro(data) }\n\n", name)
	fmt.Fprintf(w, "// UnmarshalAvro decodes an Avro binary body written with version %d's schema into v.\n", v.Number)
	fmt.Fprintf(w, "func (v *%s) UnmarshalAvro(data []byte) error {\nr := avrobin.NewReader(data)\nv.ReadAvro(&r)\n", name)
	fmt.Fprintf(w, "if err := r.Done(); err != nil {\nreturn fmt.Errorf(\"%s: %s: %%w\", err)\n}\nreturn nil\n}\n\n", g.cur, name)
	if err := g.versions(w, e, v); err != nil {
		return err
	}
	base := exported(e.Name)
	fmt.Fprintf(w, "// WriterVersion returns the version of %s whose schema is s, a writer's\n", e.FullName)
	fmt.Fprintf(w, "// schema (from the registry, by ID), compared by hamba's fingerprint of its\n")
	fmt.Fprintf(w, "// canonical form: the version to pass to UnmarshalAvroVersion.\n")
	fmt.Fprintf(w, "func (*%s) WriterVersion(s avro.Schema) (int, bool) {\nn, ok := %sVersions()[s.Fingerprint()]\nreturn n, ok\n}\n\n", name, unexported(base))
	if shared {
		return nil
	}
	fmt.Fprintf(w, "var _ events.Event = (*%s)(nil)\n\n", name)
	fmt.Fprintf(w, "// EventType returns %sEventType.\nfunc (*%s) EventType() string { return %sEventType }\n\n", base, name, base)
	fmt.Fprintf(w, "// EventVersion returns %d.\nfunc (*%s) EventVersion() int { return %sVersion }\n\n", v.Number, name, name)
	fmt.Fprintf(w, "// Subject returns %sSubject.\nfunc (*%s) Subject() string { return %sSubject }\n\n", name, name, name)
	fmt.Fprintf(w, "// Topic returns %sTopic.\nfunc (*%s) Topic() string { return %sTopic }\n\n", base, name, base)
	kf := v.Schema.Field(e.Key)
	if kf == nil {
		return fmt.Errorf("codegen: %s: no key field %q", v.File, e.Key)
	}
	fmt.Fprintf(w, "// Key returns %s, the Kafka record key.\nfunc (v *%s) Key() string { return v.%s }\n\n", e.Key, name, g.fieldName(v.Schema, kf))
	fmt.Fprintf(w, "// References returns the registry references of version %d's schema.\n", v.Number)
	fmt.Fprintf(w, "func (*%s) References() []events.Reference {\n", name)
	if len(v.References) == 0 {
		fmt.Fprintf(w, "return nil\n}\n\n")
	} else {
		fmt.Fprintf(w, "return []events.Reference{\n")
		for _, r := range v.References {
			fmt.Fprintf(w, "{Name: %q, Subject: %q, Version: %d},\n", r.Name, r.Subject, r.Version)
		}
		fmt.Fprintf(w, "}\n}\n\n")
	}
	return nil
}

// convert writes the conversion from version wv to version rv through
// Avro schema resolution.
func (g *generator) convert(w *bytes.Buffer, e *catalog.Event, wv, rv *catalog.Version) {
	from, to := g.names[wv.Schema].name, g.names[rv.Schema].name
	fn := fmt.Sprintf("%sTo%s", from, strings.TrimPrefix(to, exported(e.Name)))
	low := unexported(fn)
	fmt.Fprintf(w, "var %sResolved = sync.OnceValues(func() (avro.Schema, error) {\n", low)
	fmt.Fprintf(w, "return avro.NewSchemaCompatibility().Resolve(%sSchema(), %sSchema())\n})\n\n", unexported(to), unexported(from))
	comment(w, "", fmt.Sprintf("%s converts a version %d %s into version %d the way a version %d reader "+
		"reads version %d data: through Avro schema resolution (fields the reader lacks are dropped, "+
		"fields the writer lacks take their defaults, enum symbols the reader lacks become its default). "+
		"It fails where resolution does: when the catalog's compatibility level does not promise it.",
		fn, wv.Number, exported(e.Name), rv.Number, rv.Number, wv.Number))
	fmt.Fprintf(w, "func %s(v *%s) (*%s, error) {\n", fn, from, to)
	fmt.Fprintf(w, "resolved, err := %sResolved()\nif err != nil {\nreturn nil, fmt.Errorf(\"%s: %s: %%w\", err)\n}\n", low, g.cur, fn)
	fmt.Fprintf(w, "data, err := v.AppendAvro(nil)\nif err != nil {\nreturn nil, err\n}\n")
	fmt.Fprintf(w, "var generic any\nif err := avro.Unmarshal(resolved, data, &generic); err != nil {\nreturn nil, fmt.Errorf(\"%s: %s: %%w\", err)\n}\n", g.cur, fn)
	fmt.Fprintf(w, "if data, err = avro.Marshal(%sSchema(), generic); err != nil {\nreturn nil, fmt.Errorf(\"%s: %s: %%w\", err)\n}\n", unexported(to), g.cur, fn)
	fmt.Fprintf(w, "out := new(%s)\nif err := out.UnmarshalAvro(data); err != nil {\nreturn nil, fmt.Errorf(\"%s: %s: %%w\", err)\n}\nreturn out, nil\n}\n\n", to, g.cur, fn)
}

// fieldName is the Go name of a record field: exported, and not one of the
// methods generated types have.
func (g *generator) fieldName(rec *compat.Schema, f *compat.Field) string {
	n := exported(f.Name)
	switch n {
	case "EventType", "EventVersion", "Subject", "Topic", "Key", "Schema", "SchemaText", "References",
		"AppendAvro", "UnmarshalAvro", "ReadAvro", "Marshal", "Unmarshal":
		n += "Field"
	}
	return n
}

// named writes a named type once per package.
func (g *generator) named(w *bytes.Buffer, d *compat.Schema, root bool) error {
	gn := g.names[d]
	if g.emitted[gn.pkg+"."+gn.name] || d.Logical == "decimal" {
		return nil
	}
	g.emitted[gn.pkg+"."+gn.name] = true
	name := gn.name
	doc := strings.TrimSpace(d.Doc)
	switch d.Kind {
	case compat.Record:
		if root {
			comment(w, "", fmt.Sprintf("%s is version %s of %s. %s", name, name[strings.LastIndex(name, "V")+1:], d.Name, doc))
		} else {
			comment(w, "", fmt.Sprintf("%s is the record %s. %s", name, d.Name, doc))
		}
		em := &emitter{g: g, w: w, ctx: g.cur + ": " + name}
		fmt.Fprintf(w, "type %s struct {\n", name)
		for _, f := range d.Fields {
			fn := g.fieldName(d, f)
			t, err := g.goType(f.Type, name+fn)
			if err != nil {
				return err
			}
			if f.Doc != "" {
				comment(w, "\t", f.Doc)
			}
			fmt.Fprintf(w, "%s %s `avro:%q`\n", fn, t, f.Name)
		}
		fmt.Fprintf(w, "}\n\n")
		fmt.Fprintf(w, "// AppendAvro appends v's Avro binary encoding to b.\n")
		fmt.Fprintf(w, "func (v *%s) AppendAvro(b []byte) ([]byte, error) {\n", name)
		fmt.Fprintf(w, "var err error\n")
		for _, f := range d.Fields {
			fn := g.fieldName(d, f)
			em.ctx = g.cur + ": " + name + "." + fn
			if err := em.enc("v."+fn, f.Type, name+fn); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "return b, err\n}\n\n")
		fmt.Fprintf(w, "// ReadAvro decodes v from r; r keeps the first error.\n")
		fmt.Fprintf(w, "func (v *%s) ReadAvro(r *avrobin.Reader) {\n", name)
		for _, f := range d.Fields {
			fn := g.fieldName(d, f)
			if err := em.dec("v."+fn, f.Type, name+fn); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "}\n\n")
		for len(em.pending) > 0 {
			u := em.pending[0]
			em.pending = em.pending[1:]
			if err := g.union(w, em, u); err != nil {
				return err
			}
		}
	case compat.Enum:
		comment(w, "", fmt.Sprintf("%s is the enum %s. %s", name, d.Name, doc))
		fmt.Fprintf(w, "type %s string\n\n", name)
		fmt.Fprintf(w, "// The symbols of %s.\nconst (\n", name)
		for _, s := range d.Symbols {
			fmt.Fprintf(w, "%s%s %s = %q\n", name, exported(s), name, s)
		}
		fmt.Fprintf(w, ")\n\n")
		fmt.Fprintf(w, "// %sSymbols are the symbols of %s in schema order.\n", name, name)
		fmt.Fprintf(w, "var %sSymbols = [...]%s{", name, name)
		for _, s := range d.Symbols {
			fmt.Fprintf(w, "%s%s, ", name, exported(s))
		}
		fmt.Fprintf(w, "}\n\n")
		fmt.Fprintf(w, "// Index returns e's position in the schema's symbols, or -1 if e is not one of them.\n")
		fmt.Fprintf(w, "func (e %s) Index() int {\nswitch e {\n", name)
		for i, s := range d.Symbols {
			fmt.Fprintf(w, "case %s%s:\nreturn %d\n", name, exported(s), i)
		}
		fmt.Fprintf(w, "}\nreturn -1\n}\n\n")
		fmt.Fprintf(w, "// Valid reports whether e is one of the schema's symbols.\nfunc (e %s) Valid() bool { return e.Index() >= 0 }\n\n", name)
		fmt.Fprintf(w, "// AppendAvro appends e's Avro binary encoding (its index) to b.\n")
		fmt.Fprintf(w, "func (e %s) AppendAvro(b []byte) ([]byte, error) {\ni := e.Index()\nif i < 0 {\nreturn b, fmt.Errorf(\"%s: %%q is not a symbol of %s\", string(e))\n}\nreturn avrobin.AppendLong(b, int64(i)), nil\n}\n\n", name, g.cur, d.Name)
		fmt.Fprintf(w, "// ReadAvro decodes e from r; r keeps the first error.\n")
		fmt.Fprintf(w, "func (e *%s) ReadAvro(r *avrobin.Reader) {\n*e = %sSymbols[r.Index(len(%sSymbols))]\n}\n\n", name, name, name)
	case compat.Fixed:
		comment(w, "", fmt.Sprintf("%s is the fixed %s of %d bytes. %s", name, d.Name, d.Size, doc))
		fmt.Fprintf(w, "type %s [%d]byte\n\n", name, d.Size)
		fmt.Fprintf(w, "// AppendAvro appends f's Avro binary encoding (its bytes) to b.\n")
		fmt.Fprintf(w, "func (f %s) AppendAvro(b []byte) ([]byte, error) { return append(b, f[:]...), nil }\n\n", name)
		fmt.Fprintf(w, "// ReadAvro decodes f from r; r keeps the first error.\n")
		fmt.Fprintf(w, "func (f *%s) ReadAvro(r *avrobin.Reader) { r.Fixed(f[:]) }\n\n", name)
	}
	return nil
}

// union writes the wrapper struct of a union that is not simply nullable:
// one pointer field per branch, at most one set; none set is null.
func (g *generator) union(w *bytes.Buffer, em *emitter, u *compat.Schema) error {
	name := g.unions[u]
	nullIdx := -1
	var parts []string
	for i, b := range u.Branches {
		if b.Kind == compat.Null {
			nullIdx = i
			continue
		}
		parts = append(parts, g.branchName(b))
	}
	comment(w, "", fmt.Sprintf("%s is a union of %s: set exactly one field%s.", name, strings.Join(parts, ", "),
		map[bool]string{true: ", or none for null", false: ""}[nullIdx >= 0]))
	fmt.Fprintf(w, "type %s struct {\n", name)
	type br struct {
		i     int
		field string
		s     *compat.Schema
		ptr   bool
	}
	var brs []br
	for i, b := range u.Branches {
		if b.Kind == compat.Null {
			continue
		}
		t, err := g.goType(b, name+g.branchName(b))
		if err != nil {
			return err
		}
		ptr := !strings.HasPrefix(t, "*")
		if ptr {
			t = "*" + t
		}
		fmt.Fprintf(w, "%s %s\n", g.branchName(b), t)
		brs = append(brs, br{i, g.branchName(b), b, ptr})
	}
	fmt.Fprintf(w, "}\n\n")
	fmt.Fprintf(w, "// AppendAvro appends u's Avro binary encoding to b.\n")
	fmt.Fprintf(w, "func (u *%s) AppendAvro(b []byte) ([]byte, error) {\nvar err error\nswitch {\n", name)
	for _, b := range brs {
		fmt.Fprintf(w, "case u.%s != nil:\nb = avrobin.AppendLong(b, %d)\n", b.field, b.i)
		x := "u." + b.field
		if b.ptr && !b.s.Kind.Named() {
			x = deref(x, b.s)
		}
		em.ctx = g.cur + ": " + name + "." + b.field
		if err := em.enc(x, b.s, name+b.field); err != nil {
			return err
		}
	}
	if nullIdx >= 0 {
		fmt.Fprintf(w, "default:\nb = avrobin.AppendLong(b, %d)\n", nullIdx)
	} else {
		fmt.Fprintf(w, "default:\nreturn b, fmt.Errorf(\"%s: %s: no branch set\")\n", g.cur, name)
	}
	fmt.Fprintf(w, "}\nreturn b, err\n}\n\n")
	fmt.Fprintf(w, "// ReadAvro decodes u from r; r keeps the first error.\n")
	fmt.Fprintf(w, "func (u *%s) ReadAvro(r *avrobin.Reader) {\n*u = %s{}\nswitch r.Index(%d) {\n", name, name, len(u.Branches))
	for _, b := range brs {
		fmt.Fprintf(w, "case %d:\n", b.i)
		if b.ptr {
			t, _ := g.goType(b.s, name+b.field)
			fmt.Fprintf(w, "u.%s = new(%s)\n", b.field, t)
			x := deref("u."+b.field, b.s)
			if b.s.Kind.Named() {
				x = "u." + b.field
			}
			if err := em.dec(x, b.s, name+b.field); err != nil {
				return err
			}
		} else if err := em.dec("u."+b.field, b.s, name+b.field); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "}\n}\n\n")
	return nil
}

// recursive reports whether a record of s contains itself.
func recursive(s *compat.Schema) bool {
	onPath := map[*compat.Schema]bool{}
	var walk func(s *compat.Schema) bool
	walk = func(s *compat.Schema) bool {
		if s == nil {
			return false
		}
		if onPath[s] {
			return true
		}
		onPath[s] = true
		defer delete(onPath, s)
		for _, f := range s.Fields {
			if walk(f.Type) {
				return true
			}
		}
		for _, b := range s.Branches {
			if walk(b) {
				return true
			}
		}
		return walk(s.Items) || walk(s.Values)
	}
	return walk(s)
}
