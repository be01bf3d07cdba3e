package composecheck_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Line int
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

// stage is a FROM and what follows it.
type stage struct {
	From, Name string
	Body       []instruction
}

// parseDockerfile reads the instructions of a Dockerfile
// (https://docs.docker.com/reference/dockerfile/): comments and blank lines
// skipped, lines ending in a backslash joined, the instructions before the
// first FROM (global ARGs) in the returned globals.
func parseDockerfile(t *testing.T, b []byte) (globals []instruction, stages []stage) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(b))
	var cur strings.Builder
	start := 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		in := instruction{Line: start, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		cur.Reset()
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			globals = append(globals, in)
		} else {
			stages[len(stages)-1].Body = append(stages[len(stages)-1].Body, in)
		}
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: ends inside a continued line", dockerfile)
	}
	return globals, stages
}

// argDefaults returns the default value of each ARG name=value.
func argDefaults(ins []instruction) map[string]string {
	m := map[string]string{}
	for _, in := range ins {
		if in.Cmd != "ARG" {
			continue
		}
		k, v, _ := strings.Cut(in.Args, "=")
		m[k] = strings.Trim(v, `"`)
	}
	return m
}

// expand replaces ${NAME} and $NAME with args.
func expand(s string, args map[string]string) string {
	return regexp.MustCompile(`\$\{?(\w+)\}?`).ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m, "${}")
		if v, ok := args[name]; ok {
			return v
		}
		return m
	})
}

// debianRelease maps the names in image tags to Debian's version.
var debianRelease = map[string]string{"bullseye": "11", "bookworm": "12", "trixie": "13"}

func TestDockerfile(t *testing.T) {
	globals, stages := parseDockerfile(t, readFile(t, dockerfile))
	if len(stages) != 2 {
		t.Fatalf("%s: %d stages, want 2 (build, runtime)", dockerfile, len(stages))
	}
	args := argDefaults(globals)
	build, runtime := stages[0], stages[1]
	goImage, runtimeImage := expand(build.From, args), expand(runtime.From, args)

	// The Go image: Debian's golang, not older than go.mod's go line.
	m := regexp.MustCompile(`^golang:(\d+)\.(\d+)(?:\.\d+)?-(\w+)$`).FindStringSubmatch(goImage)
	if m == nil {
		t.Fatalf("%s: build stage FROM %q, want golang:<major>.<minor>-<debian release> (cgo needs glibc)", dockerfile, goImage)
	}
	gomod := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindSubmatch(readFile(t, "go.mod"))
	if gomod == nil {
		t.Fatal("go.mod: no go line")
	}
	if version(m[1], m[2]) < version(string(gomod[1]), string(gomod[2])) {
		t.Errorf("%s: %s is older than go.mod's go %s.%s", dockerfile, goImage, gomod[1], gomod[2])
	}
	release, ok := debianRelease[m[3]]
	if !ok {
		t.Errorf("%s: %s: unknown Debian release %q", dockerfile, goImage, m[3])
	}
	// The runtime image: the same Debian release, so the glibc the binary
	// was linked against is there.
	if !strings.Contains(runtimeImage, "debian"+release) && !strings.Contains(runtimeImage, m[3]) {
		t.Errorf("%s: runtime image %q is not Debian %s (%s), the build's: the binary needs its glibc", dockerfile, runtimeImage, release, m[3])
	}

	var (
		buildRun string
		hasArg   bool
	)
	for _, in := range build.Body {
		if in.Cmd == "ARG" && strings.HasPrefix(in.Args, "PACKAGE") {
			hasArg = true
		}
		if in.Cmd == "RUN" && strings.Contains(in.Args, `"$PACKAGE"`) && strings.Contains(in.Args, "go build") {
			buildRun = in.Args
		}
	}
	if !hasArg {
		t.Errorf("%s: the build stage has no ARG PACKAGE", dockerfile)
	}
	if !strings.Contains(buildRun, `CGO_ENABLED=1 go build`) {
		t.Errorf("%s: no RUN with CGO_ENABLED=1 go build ... \"$PACKAGE\" (librdkafka needs cgo)", dockerfile)
	}
	if !strings.Contains(buildRun, "-o /out/app") {
		t.Errorf("%s: the binary is not built to /out/app", dockerfile)
	}

	var user, entrypoint string
	exposed := false
	for _, in := range runtime.Body {
		switch in.Cmd {
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entrypoint = in.Args
		case "EXPOSE":
			exposed = true
		case "HEALTHCHECK":
			t.Errorf("%s:%d: HEALTHCHECK: docker-compose.yml checks health, per service", dockerfile, in.Line)
		case "COPY":
			if strings.Contains(in.Args, "/out/app ") && !strings.HasSuffix(in.Args, " /usr/local/bin/app") {
				t.Errorf("%s:%d: COPY %s: want the binary at /usr/local/bin/app", dockerfile, in.Line, in.Args)
			}
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("%s: the runtime stage runs as %q, want a non-root user", dockerfile, user)
	}
	if entrypoint != `["/usr/local/bin/app"]` {
		t.Errorf("%s: ENTRYPOINT %s, want [\"/usr/local/bin/app\"]", dockerfile, entrypoint)
	}
	if !exposed {
		t.Errorf("%s: no EXPOSE", dockerfile)
	}
	for _, copied := range []string{"/usr/local/bin/healthcheck", "/usr/share/waybill/schemas", dataDir} {
		found := false
		for _, in := range runtime.Body {
			found = found || in.Cmd == "COPY" && strings.HasSuffix(in.Args, " "+copied)
		}
		if !found {
			t.Errorf("%s: the runtime stage does not COPY %s (docker-compose.yml uses it)", dockerfile, copied)
		}
	}
}

func version(major, minor string) int {
	a, _ := strconv.Atoi(major)
	b, _ := strconv.Atoi(minor)
	return a*1000 + b
}

// TestDockerignore: the build context keeps what the Go build reads.
func TestDockerignore(t *testing.T) {
	for _, line := range strings.Split(string(readFile(t, dockerfile+".dockerignore")), "\n") {
		pattern := strings.TrimSpace(line)
		if pattern == "" || strings.HasPrefix(pattern, "#") || strings.HasPrefix(pattern, "!") {
			continue
		}
		for _, needed := range []string{"go.mod", "go.sum", "schemas", "cmd", "pkg", "services", "internal", "codegen", "compat", "deploy", "deploy/healthcheck", "deploy/healthcheck/main.go"} {
			if ok, _ := path.Match(strings.TrimPrefix(pattern, "/"), needed); ok {
				t.Errorf("%s.dockerignore: %q leaves %s out of the build", dockerfile, pattern, needed)
			}
		}
	}
}

// TestImagesBuild: every binary the stack's images hold is a command of this
// module that `go build` builds with cgo, as the Dockerfile builds it; and
// every service command under services/*/cmd has a compose service.
func TestImagesBuild(t *testing.T) {
	c := stack(t)
	var pkgs []string
	for _, name := range sortedKeys(c.Services) {
		if b := c.Services[name].Build; b != nil && !slices.Contains(pkgs, b.Args["PACKAGE"]) {
			pkgs = append(pkgs, b.Args["PACKAGE"])
		}
	}
	slices.Sort(pkgs)
	for _, p := range pkgs {
		if !strings.HasPrefix(p, "./") || strings.Contains(p, "...") {
			t.Errorf("%s: PACKAGE=%q: want one package, ./path", composeFile, p)
		}
	}

	// Each on its own, so every missing command is named.
	ok := true
	for _, p := range pkgs {
		cmd := exec.Command("go", "list", "-e", "-f", "{{.Name}}\t{{if .Error}}{{.Error}}{{end}}", p)
		cmd.Dir = root(t)
		out, err := cmd.Output()
		name, loadErr, _ := strings.Cut(strings.TrimRight(string(out), "\n"), "\t")
		switch {
		case err != nil:
			t.Errorf("%s builds PACKAGE=%s: go list: %v", composeFile, p, err)
			ok = false
		case loadErr != "":
			t.Errorf("%s builds PACKAGE=%s, which does not load: %s", composeFile, p, loadErr)
			ok = false
		case name != "main":
			t.Errorf("%s builds PACKAGE=%s, which is package %q, not a command (package main)", composeFile, p, name)
			ok = false
		}
	}
	if !ok {
		t.FailNow()
	}

	// Every service command (services/<name>/cmd/<command>) has a compose
	// service that builds it.
	out := goCmd(t, nil, "list", "-f", `{{if eq .Name "main"}}{{.Dir}}{{end}}`, "./services/...")
	for _, dir := range strings.Fields(out) {
		rel, err := filepath.Rel(root(t), dir)
		if err != nil {
			t.Fatal(err)
		}
		p := "./" + filepath.ToSlash(rel)
		if ok, _ := path.Match("./services/*/cmd/*", p); ok && !slices.Contains(pkgs, p) {
			t.Errorf("%s is a service command no service of %s builds", p, composeFile)
		}
	}

	// As the Dockerfile does (CGO_ENABLED=1, no symbol tables: the link is
	// faster), all at once; and the probe without cgo. (Not -trimpath: it
	// would compile every package again, apart from the tests' build cache.)
	goCmd(t, []string{"CGO_ENABLED=1"}, append([]string{"build", "-ldflags=-s -w", "-o", t.TempDir() + "/"}, pkgs...)...)
	goCmd(t, []string{"CGO_ENABLED=0"}, "build", "-ldflags=-s -w", "-o", t.TempDir()+"/", healthcheckPkg)
}
