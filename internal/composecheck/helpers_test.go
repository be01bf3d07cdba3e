package composecheck_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// The stack's shape, as deploy/README.md describes it. The tests check the
// files against it, and it against the repository where the repository
// knows (the catalog's services, the commands under services/*/cmd).
var (
	kafkaNodes = []string{"kafka-1", "kafka-2", "kafka-3"}
	// appServices are the five Waybill services: name -> the port of their
	// HTTP API (as `waybill dev` numbers them).
	appServices = map[string]string{
		"order-service":        "8090",
		"warehouse-service":    "8091",
		"shipment-service":     "8092",
		"alert-service":        "8093",
		"notification-service": "8094",
	}
	oneShots     = []string{"init-topics", "init-schemas"}
	otherService = []string{"schema-registry", "registry-ui", "prometheus", "grafana"}
)

const (
	composeFile    = "docker-compose.yml"
	dockerfile     = "deploy/Dockerfile"
	cliPackage     = "./cmd/waybill"
	healthcheckPkg = "./deploy/healthcheck"
	registryHost   = "schema-registry"
	dataDir        = "/var/lib/waybill"
)

// root is the module's root directory: the tests run in
// internal/composecheck.
func root(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("composecheck: the module root is not two directories up: %v", err)
	}
	return dir
}

func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), rel))
	if err != nil {
		t.Fatalf("composecheck: %v", err)
	}
	return b
}

// compose is the part of the Compose file format
// (https://docs.docker.com/reference/compose-file/) the tests read.
type compose struct {
	Services map[string]*service `yaml:"services"`
	Volumes  map[string]any      `yaml:"volumes"`
}

type service struct {
	Image       string       `yaml:"image"`
	Build       *build       `yaml:"build"`
	Command     stringList   `yaml:"command"`
	Entrypoint  stringList   `yaml:"entrypoint"`
	Environment env          `yaml:"environment"`
	Ports       []string     `yaml:"ports"`
	Volumes     []string     `yaml:"volumes"`
	DependsOn   dependsOn    `yaml:"depends_on"`
	Healthcheck *healthcheck `yaml:"healthcheck"`
	Restart     string       `yaml:"restart"`
	name        string       // its key in services
}

type build struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

// UnmarshalYAML reads the short form (build: ./dir) too.
func (b *build) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain build
	return n.Decode((*plain)(b))
}

type healthcheck struct {
	Test        stringList `yaml:"test"`
	Interval    string     `yaml:"interval"`
	Timeout     string     `yaml:"timeout"`
	Retries     int        `yaml:"retries"`
	StartPeriod string     `yaml:"start_period"`
	Disable     bool       `yaml:"disable"`
}

type dependency struct {
	Condition string `yaml:"condition"`
}

// dependsOn reads both forms: a list of names (condition service_started)
// and a map of name -> {condition}.
type dependsOn map[string]dependency

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			(*d)[name] = dependency{Condition: "service_started"}
		}
		return nil
	}
	m := map[string]dependency{}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		if v.Condition == "" {
			v.Condition = "service_started"
		}
		(*d)[k] = v
	}
	return nil
}

// stringList is a command, entrypoint or healthcheck test: a list, or a
// string (which Compose splits as a shell would; here, on spaces).
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = strings.Fields(n.Value)
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// env reads both forms of environment: a map, or a list of NAME=value.
type env map[string]string

func (e *env) UnmarshalYAML(n *yaml.Node) error {
	*e = env{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	m := map[string]string{}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		(*e)[k] = v
	}
	return nil
}

var loadCompose = sync.OnceValues(func() (*compose, error) {
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, composeFile))
	if err != nil {
		return nil, err
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", composeFile, err)
	}
	for name, s := range c.Services {
		if s == nil {
			return nil, fmt.Errorf("%s: service %s is empty", composeFile, name)
		}
		s.name = name
	}
	return &c, nil
})

func stack(t testing.TB) *compose {
	t.Helper()
	c, err := loadCompose()
	if err != nil {
		t.Fatalf("composecheck: %v", err)
	}
	return c
}

func (c *compose) service(t testing.TB, name string) *service {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("%s: no service %q", composeFile, name)
	}
	return s
}

// port is a published port: "[IP:]HOST:CONTAINER[/PROTO]".
type port struct{ IP, Host, Container string }

func parsePort(s string) (port, error) {
	s, _, _ = strings.Cut(s, "/")
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 2:
		return port{Host: parts[0], Container: parts[1]}, nil
	case 3:
		return port{IP: parts[0], Host: parts[1], Container: parts[2]}, nil
	}
	return port{}, fmt.Errorf("port %q: want [IP:]HOST:CONTAINER", s)
}

// mount is a volume entry "SOURCE:TARGET[:MODE]".
type mount struct{ Source, Target, Mode string }

func (m mount) bind() bool {
	return strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/")
}

func parseMount(s string) (mount, error) {
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 2:
		return mount{Source: parts[0], Target: parts[1]}, nil
	case 3:
		return mount{Source: parts[0], Target: parts[1], Mode: parts[2]}, nil
	}
	return mount{}, fmt.Errorf("volume %q: want SOURCE:TARGET[:MODE]", s)
}

// goCmd runs the go command in the module root and returns its standard
// output; a failure fails the test with the command's standard error.
func goCmd(t testing.TB, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
