package difftest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// A Rewrite transforms a schema's JSON text. The differential test uses
// rewrites to explain a disagreement: either the rewrite keeps the schema's
// meaning and removes a reference's known quirk (run the reference again), or
// it emulates a reference's older rule (run compat.Check again).
type Rewrite func(schema string) (string, error)

// StripEnumDefaults removes the "default" of every enum: the reader as Avro
// Java before 1.9 (which predates enum defaults, AVRO-1340) sees it.
func StripEnumDefaults(schema string) (string, error) {
	rw := rewriter{defined: func(obj map[string]any, full, space string) {
		if obj["type"] == "enum" {
			delete(obj, "default")
		}
	}}
	return rw.apply(schema)
}

// FullNamesAsNames renames every named type to its full name with the dots
// replaced by underscores (a.b.X becomes a.b.a_b_X), and its aliases and
// references to match. Comparing the unqualified names of the result is
// comparing the full names of the original: the rule of Avro Java before
// 1.10, where SchemaCompatibility.schemaNameEquals compared getFullName().
func FullNamesAsNames(schema string) (string, error) {
	rw := rewriter{
		defined: func(obj map[string]any, full, space string) {
			obj["name"] = mangle(full)
			setNamespace(obj, space)
			if as, ok := obj["aliases"].([]any); ok {
				for i, a := range as {
					if s, ok := a.(string); ok {
						as[i] = mangled(qualify(s, space))
					}
				}
			}
		},
		reference: mangled,
	}
	return rw.apply(schema)
}

func mangle(full string) string { return strings.ReplaceAll(full, ".", "_") }

// mangled is the full name FullNamesAsNames gives the type named full.
func mangled(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i] + "." + mangle(full)
	}
	return full
}

func setNamespace(obj map[string]any, space string) {
	if space == "" {
		delete(obj, "namespace")
		return
	}
	obj["namespace"] = space
}

// NormalizeNames writes every named type as its unqualified name plus an
// explicit namespace, and every alias as a full name. The schema means the
// same (specification, "Names": a name with dots is a full name, a name
// without is qualified by the namespace; aliases likewise), but Avro Python
// 1.11 compares the "name" and "aliases" attributes as written.
func NormalizeNames(schema string) (string, error) {
	rw := rewriter{defined: func(obj map[string]any, full, space string) {
		obj["name"] = full[strings.LastIndexByte(full, '.')+1:]
		setNamespace(obj, space)
		if as, ok := obj["aliases"].([]any); ok {
			for i, a := range as {
				if s, ok := a.(string); ok {
					as[i] = qualify(s, space)
				}
			}
		}
	}}
	return rw.apply(schema)
}

// WrapInUnions wraps every type that is not a union or a union branch in a
// union of one branch: "int" becomes ["int"]. As a reader the result resolves
// exactly like the original (specification, schema resolution: "if reader's
// is a union, but writer's is not, the first schema in the reader's union
// that matches the writer's schema is recursively resolved against it";
// "if both are unions, the first schema in the reader's union that matches
// the selected writer's union schema is recursively resolved against it").
// Defaults stay valid: the one branch is the first.
func WrapInUnions(schema string) (string, error) {
	rw := rewriter{wrap: true}
	return rw.apply(schema)
}

// rewriter walks a schema's generic JSON, tracking namespaces as the spec's
// Names section defines them.
type rewriter struct {
	// defined is called on each named type definition with its full name
	// and its namespace (the enclosing namespace of its fields).
	defined func(obj map[string]any, full, space string)
	// reference maps the full name of a reference to what is written.
	reference func(full string) string
	// wrap wraps non-union types outside unions in one-branch unions.
	wrap bool
}

func (rw *rewriter) apply(schema string) (string, error) {
	d := json.NewDecoder(strings.NewReader(schema))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", fmt.Errorf("difftest: rewrite: %w", err)
	}
	out, err := rw.schema(v, "", false)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return "", fmt.Errorf("difftest: rewrite: %w", err)
	}
	return strings.TrimSpace(b.String()), nil
}

var primitiveNames = map[string]bool{"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true}

func (rw *rewriter) schema(v any, ns string, inUnion bool) (any, error) {
	var out any
	switch x := v.(type) {
	case string:
		out = x
		if !primitiveNames[x] && rw.reference != nil {
			out = rw.reference(qualify(x, ns))
		}
	case []any:
		bs := make([]any, len(x))
		for i, b := range x {
			var err error
			if bs[i], err = rw.schema(b, ns, true); err != nil {
				return nil, err
			}
		}
		out = bs
	case map[string]any:
		switch t, _ := x["type"].(string); t {
		case "record", "error", "enum", "fixed":
			name, _ := x["name"].(string)
			space := ns
			if i := strings.LastIndexByte(name, '.'); i >= 0 {
				space = name[:i]
			} else if s, ok := x["namespace"].(string); ok {
				space = s
			}
			full := qualify(name, space)
			if i := strings.LastIndexByte(name, '.'); i >= 0 {
				full = name
			}
			if rw.defined != nil {
				rw.defined(x, full, space)
			}
			if t == "record" || t == "error" {
				fs, _ := x["fields"].([]any)
				for _, f := range fs {
					fm, ok := f.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("difftest: rewrite: field %v is not an object", f)
					}
					var err error
					if fm["type"], err = rw.schema(fm["type"], space, false); err != nil {
						return nil, err
					}
				}
			}
		case "array":
			var err error
			if x["items"], err = rw.schema(x["items"], ns, false); err != nil {
				return nil, err
			}
		case "map":
			var err error
			if x["values"], err = rw.schema(x["values"], ns, false); err != nil {
				return nil, err
			}
		default:
			if !primitiveNames[t] {
				return nil, fmt.Errorf("difftest: rewrite: unsupported type %v", x["type"])
			}
		}
		out = x
	default:
		return nil, fmt.Errorf("difftest: rewrite: unexpected %T in schema", v)
	}
	if _, isUnion := out.([]any); rw.wrap && !inUnion && !isUnion {
		out = []any{out}
	}
	return out, nil
}
