package catalog

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/waybill/waybill/compat"
)

// catalogFile is the name of the catalog at the repository root.
const catalogFile = "catalog.yaml"

// spec is catalog.yaml decoded, each value with the node it came from so that
// later checks can point at it.
type spec struct {
	topics []Topic
	lint   compat.LintConfig
	shared []*entry
	events []*entry
}

// entry is one item of the shared or events section.
type entry struct {
	ev      *Event
	node    *yaml.Node // the key: the full name
	path    string
	topic   *yaml.Node
	keyNode *yaml.Node
	// pins maps a version number to the shared types it pins.
	pins map[int][]pin
}

// pin is a shared type's version pinned by an event version.
type pin struct {
	name    string
	version int
	node    *yaml.Node
	path    string
}

var (
	topicNameRE   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
	serviceRE     = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	fullNameRE    = regexp.MustCompile(`^waybill\.([a-z][a-z0-9_]*)\.([A-Z][A-Za-z0-9]*)$`)
	versionKeyRE  = regexp.MustCompile(`^v([1-9][0-9]*)$`)
	retentionRE   = regexp.MustCompile(`^([0-9]+)(ms|s|m|h|d|w)$`)
	yamlLineErrRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)
)

// sharedDomain is the domain, and directory, of shared named types.
const sharedDomain = "common"

var cleanupPolicies = []string{"delete", "compact", "compact,delete", "delete,compact"}

// yamlDecoder decodes catalog.yaml node by node, reporting every problem
// with its position instead of stopping at the first.
type yamlDecoder struct {
	l *loader
}

func (d *yamlDecoder) problem(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: catalogFile, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.l.add(p)
}

// decode parses catalog.yaml's text. It returns nil when the text is not
// YAML at all.
func (d *yamlDecoder) decode(text []byte) *spec {
	dec := yaml.NewDecoder(strings.NewReader(string(text)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.problem(nil, "", "the catalog is empty")
			return nil
		}
		d.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.problem(&extra, "", "more than one YAML document; the catalog is one")
	} else if !errors.Is(err, io.EOF) {
		d.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		d.problem(nil, "", "the catalog is empty")
		return nil
	}
	root := doc.Content[0]
	sp := &spec{}
	fields := d.fields(root, "", "topics", "lint", "shared", "events")
	if fields == nil {
		return sp
	}
	if f, ok := fields["topics"]; ok {
		sp.topics = d.topics(f.val, "/topics")
	} else {
		d.problem(root, "", "missing topics")
	}
	if f, ok := fields["lint"]; ok {
		sp.lint = d.lint(f.val, "/lint")
	}
	if f, ok := fields["shared"]; ok {
		sp.shared = d.entries(f.val, "/shared", true)
	}
	if f, ok := fields["events"]; ok {
		sp.events = d.entries(f.val, "/events", false)
	} else {
		d.problem(root, "", "missing events")
	}
	return sp
}

func (d *yamlDecoder) syntaxError(err error) {
	msg := err.Error()
	if m := yamlLineErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.l.add(Problem{File: catalogFile, Line: line, Msg: "invalid YAML: " + m[2]})
		return
	}
	d.l.add(Problem{File: catalogFile, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
}

// pair is a key and its value in a YAML mapping.
type pair struct{ key, val *yaml.Node }

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// pairs returns the entries of a mapping, reporting duplicate keys, or nil if
// n is not a mapping. A null node is an empty mapping.
func (d *yamlDecoder) pairs(n *yaml.Node, path, what string) []pair {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "%s must be a mapping, not %s", what, describe(n))
		return nil
	}
	var out []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.problem(k, path, "keys of %s must be strings", what)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.problem(k, pointer(path, k.Value), "%q is already defined at line %d", k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, v})
	}
	return out
}

// fields returns the entries of a mapping with a fixed set of keys, reporting
// every unknown key. It returns nil if n is not a mapping.
func (d *yamlDecoder) fields(n *yaml.Node, path string, known ...string) map[string]pair {
	n = resolve(n)
	what := "the catalog"
	if path != "" {
		what = path[strings.LastIndexByte(path, '/')+1:]
	}
	if n.Kind != yaml.MappingNode && !isNull(n) {
		d.problem(n, path, "%s must be a mapping, not %s", what, describe(n))
		return nil
	}
	out := map[string]pair{}
	for _, p := range d.pairs(n, path, what) {
		if !slices.Contains(known, p.key.Value) {
			d.problem(p.key, pointer(path, p.key.Value), "unknown key %q (want one of %s)", p.key.Value, strings.Join(known, ", "))
			continue
		}
		out[p.key.Value] = p
	}
	return out
}

func (d *yamlDecoder) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.problem(n, path, "must be a string, not %s", describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		d.problem(n, path, "must not be empty")
		return "", false
	}
	return n.Value, true
}

func (d *yamlDecoder) integer(n *yaml.Node, path string) (int, bool) {
	n = resolve(n)
	var i int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		d.problem(n, path, "must be an integer, not %s", describe(n))
		return 0, false
	}
	return i, true
}

// item is a string in a YAML list, with where it is.
type item struct {
	val  string
	node *yaml.Node
	path string
}

// strs decodes a sequence of strings; a null node is an empty sequence.
// Items that are not strings are reported and left out.
func (d *yamlDecoder) strs(n *yaml.Node, path string) []item {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(n, path, "must be a list of strings, not %s", describe(n))
		return nil
	}
	var out []item
	for i, c := range n.Content {
		ip := pointer(path, strconv.Itoa(i))
		if s, ok := d.str(c, ip); ok {
			out = append(out, item{s, c, ip})
		}
	}
	return out
}

func (d *yamlDecoder) topics(n *yaml.Node, path string) []Topic {
	var out []Topic
	for _, p := range d.pairs(n, path, "topics") {
		name := p.key.Value
		tp := pointer(path, name)
		if !topicNameRE.MatchString(name) || name == "." || name == ".." {
			d.problem(p.key, tp, "invalid topic name %q (Kafka allows letters, digits, '.', '_' and '-', at most 249)", name)
		}
		t := Topic{Name: name}
		f := d.fields(p.val, tp, "partitions", "retention", "cleanup_policy")
		if f == nil {
			continue
		}
		if v, ok := f["partitions"]; !ok {
			d.problem(p.key, tp, "missing partitions")
		} else if n, ok := d.integer(v.val, tp+"/partitions"); ok {
			if n < 1 {
				d.problem(v.val, tp+"/partitions", "partitions must be at least 1, not %d", n)
			}
			t.Partitions = n
		}
		if v, ok := f["retention"]; !ok {
			d.problem(p.key, tp, "missing retention")
		} else if r, ok := d.str(v.val, tp+"/retention"); ok {
			if _, err := retentionMillis(r); err != nil {
				d.problem(v.val, tp+"/retention", "%v", err)
			}
			t.Retention = r
		}
		if v, ok := f["cleanup_policy"]; !ok {
			d.problem(p.key, tp, "missing cleanup_policy")
		} else if c, ok := d.str(v.val, tp+"/cleanup_policy"); ok {
			c = strings.ReplaceAll(c, " ", "")
			if !slices.Contains(cleanupPolicies, c) {
				d.problem(v.val, tp+"/cleanup_policy", "invalid cleanup_policy %q (want delete, compact or compact,delete)", c)
			}
			t.CleanupPolicy = c
		}
		out = append(out, t)
	}
	return out
}

func (d *yamlDecoder) lint(n *yaml.Node, path string) compat.LintConfig {
	var cfg compat.LintConfig
	f := d.fields(n, path, "use", "except")
	if v, ok := f["use"]; ok {
		cfg.Use = d.selectors(v.val, path+"/use")
	}
	if v, ok := f["except"]; ok {
		cfg.Except = d.selectors(v.val, path+"/except")
	}
	return cfg
}

// selectors decodes a list of lint rule IDs and categories, reporting each
// that compat does not know where it is written.
func (d *yamlDecoder) selectors(n *yaml.Node, path string) []string {
	var out []string
	for _, it := range d.strs(n, path) {
		if err := (compat.LintConfig{Use: []string{it.val}}).Validate(); err != nil {
			d.problem(it.node, it.path, "unknown lint rule or category %q (want a rule ID, DEFAULT, ALL, DOCS, STYLE, EVOLUTION or CORRECTNESS)", it.val)
		}
		out = append(out, it.val)
	}
	return out
}

// entries decodes the shared or the events section.
func (d *yamlDecoder) entries(n *yaml.Node, path string, shared bool) []*entry {
	var out []*entry
	for _, p := range d.pairs(n, path, path[1:]) {
		full := p.key.Value
		ep := pointer(path, full)
		m := fullNameRE.FindStringSubmatch(full)
		switch {
		case m == nil:
			d.problem(p.key, ep, "invalid full name %q (want waybill.<domain>.<Name>: a lower-case domain and a PascalCase name)", full)
			continue
		case shared && m[1] != sharedDomain:
			d.problem(p.key, ep, "a shared type's namespace must be waybill.%s, not waybill.%s", sharedDomain, m[1])
			continue
		case !shared && m[1] == sharedDomain:
			d.problem(p.key, ep, "waybill.%s is the namespace of shared types: list %s under shared, or use the namespace of its domain", sharedDomain, full)
			continue
		}
		ev := &Event{
			FullName:      full,
			Name:          m[2],
			Domain:        m[1],
			Dir:           m[1] + "/" + m[2],
			Compatibility: DefaultCompatibility,
		}
		e := &entry{ev: ev, node: p.key, path: ep}
		out = append(out, e)
		known := []string{"owner", "description", "compatibility"}
		if !shared {
			known = append(known, "topic", "key", "producers", "consumers", "references")
		}
		f := d.fields(p.val, ep, known...)
		if f == nil {
			continue
		}
		required := func(key string) (pair, bool) {
			v, ok := f[key]
			if !ok {
				d.problem(p.key, ep, "missing %s", key)
			}
			return v, ok
		}
		if v, ok := required("owner"); ok {
			ev.Owner, _ = d.str(v.val, ep+"/owner")
		}
		if v, ok := required("description"); ok {
			ev.Description, _ = d.str(v.val, ep+"/description")
		}
		if v, ok := f["compatibility"]; ok {
			if s, ok := d.str(v.val, ep+"/compatibility"); ok {
				if lvl, err := compat.ParseLevel(s); err != nil {
					d.problem(v.val, ep+"/compatibility", "%s", strings.TrimPrefix(err.Error(), "compat: "))
				} else {
					ev.Compatibility = lvl
				}
			}
		}
		if shared {
			continue
		}
		if v, ok := required("topic"); ok {
			ev.Topic, _ = d.str(v.val, ep+"/topic")
			e.topic = v.val
		}
		if v, ok := required("key"); ok {
			ev.Key, _ = d.str(v.val, ep+"/key")
			e.keyNode = v.val
		}
		if v, ok := required("producers"); ok {
			ev.Producers = d.services(v.val, ep+"/producers")
			if len(ev.Producers) == 0 {
				d.problem(v.val, ep+"/producers", "an event type needs at least one producer")
			}
		}
		if v, ok := f["consumers"]; ok {
			ev.Consumers = d.services(v.val, ep+"/consumers")
		}
		if v, ok := f["references"]; ok {
			e.pins = d.pins(v.val, ep+"/references")
		}
	}
	return out
}

func (d *yamlDecoder) services(n *yaml.Node, path string) []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range d.strs(n, path) {
		if !serviceRE.MatchString(it.val) {
			d.problem(it.node, it.path, "invalid service name %q (want kebab-case, e.g. order-service)", it.val)
			continue
		}
		if seen[it.val] {
			d.problem(it.node, it.path, "%s is listed twice", it.val)
			continue
		}
		seen[it.val] = true
		out = append(out, it.val)
	}
	return out
}

// pins decodes an event's references section: v<N> -> shared full name -> version.
func (d *yamlDecoder) pins(n *yaml.Node, path string) map[int][]pin {
	out := map[int][]pin{}
	for _, p := range d.pairs(n, path, "references") {
		vp := pointer(path, p.key.Value)
		m := versionKeyRE.FindStringSubmatch(p.key.Value)
		if m == nil {
			d.problem(p.key, vp, "invalid version %q (want v1, v2, ...)", p.key.Value)
			continue
		}
		num, _ := strconv.Atoi(m[1])
		for _, q := range d.pairs(p.val, vp, p.key.Value) {
			qp := pointer(vp, q.key.Value)
			ver, ok := d.integer(q.val, qp)
			if !ok {
				continue
			}
			if ver < 1 {
				d.problem(q.val, qp, "version must be at least 1, not %d", ver)
				continue
			}
			out[num] = append(out[num], pin{name: q.key.Value, version: ver, node: q.key, path: qp})
		}
	}
	return out
}

// retentionMillis parses a topic retention.
func retentionMillis(s string) (int64, error) {
	if s == "infinite" {
		return -1, nil
	}
	m := retentionRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid retention %q (want a number and a unit, ms, s, m, h, d or w, as in 7d; or infinite)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]int64{"ms": 1, "s": 1e3, "m": 60e3, "h": 3600e3, "d": 86400e3, "w": 7 * 86400e3}[m[2]]
	if err != nil || n <= 0 || n > (1<<63-1)/unit {
		return 0, fmt.Errorf("invalid retention %q (want a positive number that fits in retention.ms)", s)
	}
	return n * unit, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("%q", n.Value)
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "an alias"
}

// pointer appends a JSON pointer segment, escaped as RFC 6901 requires.
func pointer(path, seg string) string {
	seg = strings.ReplaceAll(seg, "~", "~0")
	seg = strings.ReplaceAll(seg, "/", "~1")
	return path + "/" + seg
}
