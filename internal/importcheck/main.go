// Command importcheck enforces the one-way import order of DESIGN.md:
// cmd, services -> pkg -> codegen, compat. compat and codegen are libraries
// that do no I/O of their own and must never pull in the Kafka runtime, the
// registry client or the services, directly or transitively; compat, the
// pure core, imports nothing else of Waybill's at all.
//
// It runs `go list` over the module and exits 1 naming every forbidden import
// and the chain that brings it in (`make lint` runs it). Test-only imports are
// not checked.
//
// Usage (from the module root):
//
//	go run ./internal/importcheck
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

const module = "github.com/waybill/waybill"

// rule forbids packages under From to import, transitively, any package
// whose path starts with one of Deny.
type rule struct {
	From string
	Deny []string
	Why  string
}

// kafkaRuntime are the packages that make up, or talk to, the Kafka runtime.
var kafkaRuntime = []string{
	"github.com/confluentinc/",
	"github.com/twmb/franz-go",
	"github.com/riferrei/srclient",
	module + "/pkg/kafka",
	module + "/services/",
	module + "/cmd/",
}

var rules = []rule{
	{From: module + "/compat", Deny: append(kafkaRuntime, module+"/"), Why: "compat is pure: it imports no other Waybill package and never the Kafka runtime"},
	{From: module + "/codegen", Deny: kafkaRuntime, Why: "codegen never imports the Kafka runtime, the registry client, the services or the CLI"},
}

// pkg is what importcheck needs of `go list -json`.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func main() {
	os.Exit(run(os.Stdout, os.Stderr))
}

func run(stdout, stderr io.Writer) int {
	pkgs, err := list(".")
	if err != nil {
		fmt.Fprintln(stderr, "importcheck:", err)
		return 2
	}
	violations := check(pkgs, rules)
	for _, v := range violations {
		fmt.Fprintln(stdout, v)
	}
	if len(violations) > 0 {
		fmt.Fprintf(stdout, "importcheck: %d forbidden import(s)\n", len(violations))
		return 1
	}
	fmt.Fprintln(stdout, "importcheck: imports flow one way")
	return 0
}

// list returns every package of the module in dir and every package they
// depend on.
func list(dir string) (map[string]*pkg, error) {
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return nil, fmt.Errorf("go list: %w: %s", err, msg)
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(&stdout)
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs, nil
}

// check returns one line per package under a rule that depends on a denied
// package, with the import chain that leads there.
func check(pkgs map[string]*pkg, rules []rule) []string {
	var out []string
	paths := make([]string, 0, len(pkgs))
	for path := range pkgs {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, r := range rules {
		for _, path := range paths {
			if !under(path, r.From) {
				continue
			}
			for _, dep := range pkgs[path].Deps {
				if under(dep, r.From) || !denied(dep, r.Deny) {
					continue
				}
				out = append(out, fmt.Sprintf("%s imports %s (via %s): %s",
					path, dep, strings.Join(chain(pkgs, path, dep), " -> "), r.Why))
			}
		}
	}
	return out
}

func under(path, root string) bool {
	return path == root || strings.HasPrefix(path, root+"/")
}

func denied(path string, deny []string) bool {
	for _, d := range deny {
		if strings.HasSuffix(d, "/") && strings.HasPrefix(path, d) || under(path, strings.TrimSuffix(d, "/")) {
			return true
		}
	}
	return false
}

// chain finds the shortest import chain from one package to another.
func chain(pkgs map[string]*pkg, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for p := to; p != ""; p = prev[p] {
				path = append([]string{p}, path...)
			}
			return path
		}
		if p, ok := pkgs[cur]; ok {
			for _, imp := range p.Imports {
				if _, seen := prev[imp]; !seen {
					prev[imp] = cur
					queue = append(queue, imp)
				}
			}
		}
	}
	return []string{from, "…", to}
}
