package codegen

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
)

// goName is the Go type a named Avro node becomes.
type goName struct {
	pkg  string // package name, e.g. "commonevents"
	name string // type name within it
}

type generator struct {
	cat   *catalog.Catalog
	cfg   Config
	names map[*compat.Schema]goName
	// files by path; the body of each without package clause and imports.
	files map[string]*bytes.Buffer
	// pkgOf maps a file path to its package name.
	pkgOf map[string]string
	// emitted records the dedupe keys of named types already written.
	emitted map[string]bool
	// unions are the union wrapper types, by the node, to reuse names.
	unions map[*compat.Schema]string
	// cur is the package of the file being written.
	cur string
	// domains maps a package name to its domain.
	domains map[string]string
}

func newGenerator(c *catalog.Catalog, cfg Config) *generator {
	return &generator{
		cat: c, cfg: cfg,
		names:   map[*compat.Schema]goName{},
		files:   map[string]*bytes.Buffer{},
		pkgOf:   map[string]string{},
		emitted: map[string]bool{},
		unions:  map[*compat.Schema]string{},
		domains: map[string]string{},
	}
}

// PackageName returns the Go package of a domain: "orders" -> "orderevents".
func PackageName(domain string) string {
	return strings.ToLower(strings.TrimSuffix(domain, "s")) + "events"
}

func dedupeKey(s *compat.Schema) string { return s.Name + "\x00" + s.Canonical() }

// assignNames names every named node of every version: the version's record
// is <Name>V<N>; a nested type keeps its short name when all versions in the
// package define it alike, and gets V<N> of the first version defining each
// form otherwise.
func (g *generator) assignNames(events []*catalog.Event) error {
	type form struct {
		key     string
		version int
	}
	forms := map[string][]form{} // pkg+fullname -> forms in order
	for _, e := range events {
		pkg := PackageName(e.Domain)
		for _, v := range e.Versions {
			if v.Schema == nil {
				return fmt.Errorf("codegen: %s does not parse", v.File)
			}
			for _, d := range v.Schema.Defined() {
				if d == v.Schema {
					continue
				}
				k := pkg + "\x00" + d.Name
				key := dedupeKey(d)
				if !slices.ContainsFunc(forms[k], func(f form) bool { return f.key == key }) {
					forms[k] = append(forms[k], form{key, v.Number})
				}
			}
		}
	}
	taken := map[goName]string{}
	for _, e := range events {
		pkg := PackageName(e.Domain)
		for _, v := range e.Versions {
			for _, d := range v.Schema.Defined() {
				var n string
				if d == v.Schema {
					n = fmt.Sprintf("%sV%d", exported(e.Name), v.Number)
				} else {
					fs := forms[pkg+"\x00"+d.Name]
					n = exported(shortName(d.Name))
					if len(fs) > 1 {
						key := dedupeKey(d)
						i := slices.IndexFunc(fs, func(f form) bool { return f.key == key })
						n = fmt.Sprintf("%sV%d", n, fs[i].version)
					}
				}
				gn := goName{pkg, n}
				if owner, ok := taken[gn]; ok && owner != dedupeKey(d) {
					gn.name = exported(e.Name) + gn.name
				}
				taken[gn] = dedupeKey(d)
				g.names[d] = gn
			}
		}
	}
	return nil
}

func shortName(full string) string { return full[strings.LastIndex(full, ".")+1:] }

func (g *generator) run() (map[string][]byte, error) {
	all := append(slices.Clip(g.cat.Shared), g.cat.Events...)
	if err := g.assignNames(all); err != nil {
		return nil, err
	}
	pkgs := map[string][]*catalog.Event{}
	for _, e := range all {
		pkgs[PackageName(e.Domain)] = append(pkgs[PackageName(e.Domain)], e)
		g.domains[PackageName(e.Domain)] = e.Domain
	}
	for pkg, evs := range pkgs {
		doc := g.file(pkg, "doc.go")
		var all []string
		for _, e := range evs {
			if e.Topic == "" {
				continue
			}
			for _, v := range e.Versions {
				all = append(all, g.names[v.Schema].name)
			}
		}
		if len(all) > 0 {
			fmt.Fprintf(doc, "// Events returns a new zero value of every version of every event type of\n// the package, for a serde or a test to register them.\n")
			fmt.Fprintf(doc, "func Events() []events.Event {\nreturn []events.Event{\n")
			for _, n := range all {
				fmt.Fprintf(doc, "new(%s),\n", n)
			}
			fmt.Fprintf(doc, "}\n}\n")
		}
		for _, e := range evs {
			g.cur = pkg
			w := g.file(pkg, snake(e.Name)+".go")
			if err := g.event(w, e); err != nil {
				return nil, err
			}
		}
		if !g.cfg.NoKafka {
			for _, e := range evs {
				if e.Topic != "" {
					g.kafka(g.file(pkg, "kafka.go"), e)
				}
			}
		}
	}
	out := map[string][]byte{}
	for p, body := range g.files {
		src, err := g.finish(p, body.Bytes())
		if err != nil {
			return nil, err
		}
		out[p] = src
	}
	return out, nil
}

func (g *generator) file(pkg, name string) *bytes.Buffer {
	p := path.Join(pkg, name)
	if b, ok := g.files[p]; ok {
		return b
	}
	b := &bytes.Buffer{}
	g.files[p] = b
	g.pkgOf[p] = pkg
	return b
}

var stdImports = map[string]string{
	"context": "context", "fmt": "fmt", "big": "math/big", "time": "time", "sync": "sync", "slices": "slices",
	"maps": "maps", "avro": "github.com/hamba/avro/v2",
}

// finish adds the header, package clause and the imports the body uses, and
// formats the file.
func (g *generator) finish(p string, body []byte) ([]byte, error) {
	pkg := g.pkgOf[p]
	var src bytes.Buffer
	fmt.Fprintf(&src, "%s\n// Regenerate with %s.\n\n", Header, Regenerate)
	if path.Base(p) == "doc.go" {
		fmt.Fprintf(&src, "// Package %s holds the typed events of the %s domain (waybill.%[2]s):\n"+
			"// a struct for every version of every type, generated from schemas/ by\n"+
			"// `waybill gen`. Every struct encodes and decodes Avro binary without\n"+
			"// reflection (AppendAvro, UnmarshalAvro) and carries its schema, parsed once.\n", pkg, g.domains[pkg])
	}
	fmt.Fprintf(&src, "package %s\n\n", pkg)

	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", "package x\n"+string(body), 0)
	if err != nil {
		return nil, fmt.Errorf("codegen: %s: %w\n%s", p, err, body)
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if se, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := se.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	var std, third, own []string
	for name, imp := range stdImports {
		if !used[name] {
			continue
		}
		if strings.Contains(imp, ".") {
			third = append(third, strconv.Quote(imp))
		} else {
			std = append(std, strconv.Quote(imp))
		}
	}
	if used["avrobin"] {
		own = append(own, strconv.Quote("github.com/waybill/waybill/codegen/avrobin"))
	}
	if used["events"] {
		own = append(own, strconv.Quote(EventsImportPath))
	}
	if used["producer"] {
		own = append(own, strconv.Quote(ProducerImportPath))
	}
	if used["consumer"] {
		own = append(own, strconv.Quote(ConsumerImportPath))
	}
	pkgNames := []string{}
	for _, e := range append(slices.Clip(g.cat.Shared), g.cat.Events...) {
		pkgNames = append(pkgNames, PackageName(e.Domain))
	}
	for _, n := range pkgNames {
		if n != pkg && used[n] && !slices.Contains(own, strconv.Quote(g.cfg.ImportPath+"/"+n)) {
			own = append(own, strconv.Quote(g.cfg.ImportPath+"/"+n))
		}
	}
	sort.Strings(std)
	sort.Strings(third)
	sort.Strings(own)
	if len(std)+len(third)+len(own) > 0 {
		src.WriteString("import (\n")
		for i, group := range [][]string{std, third, own} {
			if len(group) == 0 {
				continue
			}
			if i > 0 && src.Bytes()[src.Len()-2] != '(' {
				src.WriteString("\n")
			}
			for _, imp := range group {
				src.WriteString("\t" + imp + "\n")
			}
		}
		src.WriteString(")\n\n")
	}
	src.Write(body)
	out, err := format.Source(src.Bytes())
	if err != nil {
		return nil, fmt.Errorf("codegen: %s: %w\n%s", p, err, src.Bytes())
	}
	return out, nil
}

// exported turns an Avro name into an exported Go identifier: snake_case and
// UPPER_SNAKE become PascalCase, with Go's initialisms (ID, URL, SKU, ...).
func exported(name string) string {
	parts := strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	var b strings.Builder
	for _, p := range parts {
		if up := strings.ToUpper(p); initialisms[up] {
			b.WriteString(up)
			continue
		}
		if strings.ToUpper(p) == p {
			p = strings.ToLower(p)
		}
		r := []rune(p)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	s := b.String()
	if s == "" || !unicode.IsLetter([]rune(s)[0]) {
		s = "X" + s
	}
	return s
}

var initialisms = map[string]bool{"ID": true, "URL": true, "UUID": true, "SKU": true, "API": true, "HTTP": true, "JSON": true, "IP": true}

func unexported(name string) string {
	r := []rune(name)
	i := 0
	for i < len(r) && unicode.IsUpper(r[i]) {
		i++
	}
	if i > 1 && i < len(r) {
		i-- // "SKUList" -> "skuList"
	}
	for j := 0; j < i || j == 0; j++ {
		r[j] = unicode.ToLower(r[j])
	}
	return string(r)
}

// snake turns "OrderCreated" into "order_created".
func snake(name string) string {
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// comment writes text as a // comment wrapped at about 76 columns.
func comment(w *bytes.Buffer, indent, text string) {
	words := strings.Fields(text)
	line := indent + "//"
	for _, word := range words {
		if len(line)+1+len(word) > 78 && line != indent+"//" {
			w.WriteString(line + "\n")
			line = indent + "//"
		}
		line += " " + word
	}
	w.WriteString(line + "\n")
}

func goString(s string) string {
	if !strings.Contains(s, "`") && !strings.Contains(s, "\r") {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}
