package composecheck_test

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waybill/waybill/internal/testenv"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

// TestComposeConfig runs Compose's own validation when Debian's
// docker-compose package is installed: the file's schema, anchors and
// merges, variable interpolation, build contexts.
//
// .ci/run installs docker-compose; elsewhere the test skips without it.
func TestComposeConfig(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		testenv.Missing(t, "docker-compose is not installed (apt-get install docker-compose)")
		return
	}
	cmd := exec.Command(bin, "-f", composeFile, "config", "-q")
	cmd.Dir = root(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose -f %s config -q: %v\n%s", composeFile, err, out)
	}
}

func TestComposeServices(t *testing.T) {
	c := stack(t)
	var want []string
	want = append(want, kafkaNodes...)
	want = append(want, sortedKeys(appServices)...)
	want = append(want, oneShots...)
	want = append(want, otherService...)
	slices.Sort(want)
	if got := sortedKeys(c.Services); !slices.Equal(got, want) {
		t.Errorf("%s: services %q, want %q", composeFile, got, want)
	}
}

// TestComposeCatalogServices: every service the catalog names as a producer
// or consumer runs in the stack.
func TestComposeCatalogServices(t *testing.T) {
	cat, err := catalog.Load(os.DirFS(filepath.Join(root(t), "schemas")))
	if err != nil {
		t.Fatalf("composecheck: %v", err)
	}
	c := stack(t)
	for _, e := range cat.Events {
		for _, name := range slices.Concat(e.Producers, e.Consumers) {
			if _, ok := c.Services[name]; !ok {
				t.Errorf("schemas/catalog.yaml: %s names %s, which %s does not run", e.FullName, name, composeFile)
			}
		}
	}
}

func TestComposeImages(t *testing.T) {
	c := stack(t)
	wantImage := map[string]string{
		"kafka-1":         "apache/kafka:",
		"kafka-2":         "apache/kafka:",
		"kafka-3":         "apache/kafka:",
		"schema-registry": "confluentinc/cp-schema-registry:",
		"prometheus":      "prom/prometheus:",
		"grafana":         "grafana/grafana:",
	}
	builtBy := map[string]*build{} // image -> the build that makes it
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if prefix, ok := wantImage[name]; ok {
			if !strings.HasPrefix(s.Image, prefix) {
				t.Errorf("%s: image %q, want %s<version>", name, s.Image, prefix)
			}
			if s.Build != nil {
				t.Errorf("%s: has a build; it runs the upstream image", name)
			}
		}
		if s.Image == "" {
			t.Errorf("%s: no image", name)
			continue
		}
		_, tag, ok := strings.Cut(s.Image, ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("%s: image %q: pin a version (not latest)", name, s.Image)
		}
		if s.Build == nil {
			continue
		}
		// The same image name must mean the same build.
		if prev, ok := builtBy[s.Image]; ok && !equalBuild(prev, s.Build) {
			t.Errorf("%s: image %s is built with %+v here and %+v elsewhere", name, s.Image, *s.Build, *prev)
		}
		builtBy[s.Image] = s.Build
	}
}

func equalBuild(a, b *build) bool {
	if a.Context != b.Context || a.Dockerfile != b.Dockerfile || len(a.Args) != len(b.Args) {
		return false
	}
	for k, v := range a.Args {
		if b.Args[k] != v {
			return false
		}
	}
	return true
}

// TestComposeBuilds: what is built, is built by deploy/Dockerfile from the
// repository root, with PACKAGE the binary and PORT the port it serves on.
func TestComposeBuilds(t *testing.T) {
	c := stack(t)
	built := map[string]string{} // service -> PACKAGE
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if s.Build == nil {
			continue
		}
		if s.Build.Context != "." || s.Build.Dockerfile != dockerfile {
			t.Errorf("%s: build context %q dockerfile %q, want . and %s", name, s.Build.Context, s.Build.Dockerfile, dockerfile)
		}
		pkg := s.Build.Args["PACKAGE"]
		if pkg == "" {
			t.Errorf("%s: build arg PACKAGE not set", name)
		}
		built[name] = pkg
		if _, err := strconv.Atoi(s.Build.Args["PORT"]); err != nil {
			t.Errorf("%s: build arg PORT %q: want the port it serves on", name, s.Build.Args["PORT"])
		}
	}
	for name, port := range appServices {
		short := strings.TrimSuffix(name, "-service")
		if want := "./services/" + short + "/cmd/" + name; built[name] != want {
			t.Errorf("%s: builds PACKAGE=%q, want %q", name, built[name], want)
		}
		if s := c.Services[name]; s != nil && s.Build != nil && s.Build.Args["PORT"] != port {
			t.Errorf("%s: build arg PORT=%s, want %s", name, s.Build.Args["PORT"], port)
		}
	}
	for _, name := range append(slices.Clone(oneShots), "registry-ui") {
		if built[name] != cliPackage {
			t.Errorf("%s: builds PACKAGE=%q, want %q (the waybill CLI)", name, built[name], cliPackage)
		}
	}
}

func TestComposeKafka(t *testing.T) {
	c := stack(t)
	voters := make([]string, len(kafkaNodes))
	clusterID := ""
	hostPorts := map[string]string{}
	for i, name := range kafkaNodes {
		s := c.service(t, name)
		e := s.Environment
		id := strconv.Itoa(i + 1)
		voters[i] = id + "@" + name + ":9093"
		if e["KAFKA_NODE_ID"] != id {
			t.Errorf("%s: KAFKA_NODE_ID %q, want %s", name, e["KAFKA_NODE_ID"], id)
		}
		if clusterID == "" {
			clusterID = e["CLUSTER_ID"]
		}
		if e["CLUSTER_ID"] == "" || e["CLUSTER_ID"] != clusterID {
			t.Errorf("%s: CLUSTER_ID %q: every node needs the same one", name, e["CLUSTER_ID"])
		}
		roles := strings.Split(e["KAFKA_PROCESS_ROLES"], ",")
		slices.Sort(roles)
		if !slices.Equal(roles, []string{"broker", "controller"}) {
			t.Errorf("%s: KAFKA_PROCESS_ROLES %q, want broker,controller (combined mode)", name, e["KAFKA_PROCESS_ROLES"])
		}
		for k, want := range map[string]string{
			"KAFKA_DEFAULT_REPLICATION_FACTOR":               "3",
			"KAFKA_MIN_INSYNC_REPLICAS":                      "2",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "3",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "2",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
			"KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE":           "false",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
			"KAFKA_INTER_BROKER_LISTENER_NAME":               "PLAINTEXT",
			"KAFKA_LOG_DIRS":                                 "/var/lib/kafka/data",
		} {
			if e[k] != want {
				t.Errorf("%s: %s=%q, want %q", name, k, e[k], want)
			}
		}

		// Listeners: each has a protocol, and each advertised one is
		// reachable where it is advertised: PLAINTEXT at the node's name,
		// HOST at the port published on the host.
		listeners := listenerMap(e["KAFKA_LISTENERS"])
		protocols := listenerMap(e["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"])
		for l := range listeners {
			if protocols[l] == "" {
				t.Errorf("%s: listener %s has no security protocol in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", name, l)
			}
		}
		if listeners["CONTROLLER"] != "//:9093" {
			t.Errorf("%s: CONTROLLER listener %q, want //:9093 (the quorum voters' port)", name, listeners["CONTROLLER"])
		}
		advertised := listenerMap(e["KAFKA_ADVERTISED_LISTENERS"])
		if advertised["PLAINTEXT"] != "//"+name+":9092" || listeners["PLAINTEXT"] != "//:9092" {
			t.Errorf("%s: PLAINTEXT listener %q advertised %q, want //:9092 advertised as //%s:9092", name, listeners["PLAINTEXT"], advertised["PLAINTEXT"], name)
		}
		if _, ok := advertised["CONTROLLER"]; ok {
			t.Errorf("%s: the CONTROLLER listener is advertised; it must not be", name)
		}
		hostListener := strings.TrimPrefix(listeners["HOST"], "//:")
		published := map[string]port{}
		for _, ps := range s.Ports {
			p, err := parsePort(ps)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			published[p.Container] = p
		}
		p, ok := published[hostListener]
		if !ok {
			t.Errorf("%s: the HOST listener's port %q is not published", name, hostListener)
		} else if want := "//127.0.0.1:" + p.Host; advertised["HOST"] != want {
			t.Errorf("%s: HOST listener advertised as %q, want %q (where it is published)", name, advertised["HOST"], want)
		}
		hostPorts[name] = p.Host
		if len(s.Volumes) != 1 || !strings.HasSuffix(s.Volumes[0], ":/var/lib/kafka/data") {
			t.Errorf("%s: volumes %q, want one named volume on /var/lib/kafka/data", name, s.Volumes)
		}
	}
	for _, name := range kafkaNodes {
		if got, want := c.service(t, name).Environment["KAFKA_CONTROLLER_QUORUM_VOTERS"], strings.Join(voters, ","); got != want {
			t.Errorf("%s: KAFKA_CONTROLLER_QUORUM_VOTERS %q, want %q", name, got, want)
		}
	}
	// kafka-1 on 127.0.0.1:9092, as `waybill dev`, so the same client
	// settings work against both.
	if hostPorts["kafka-1"] != "9092" {
		t.Errorf("kafka-1: published on host port %q, want 9092", hostPorts["kafka-1"])
	}
}

// listenerMap parses "NAME://host:port,..." and "NAME:PROTOCOL,...".
func listenerMap(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, ",") {
		if name, rest, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			m[name] = rest
		}
	}
	return m
}

// TestComposeBootstrap: every bootstrap server a client is given is a Kafka
// node's PLAINTEXT listener, all three of them, and the registry URL is the
// registry's.
func TestComposeBootstrap(t *testing.T) {
	c := stack(t)
	want := make([]string, len(kafkaNodes))
	for i, n := range kafkaNodes {
		want[i] = n + ":9092"
	}
	check := func(who, servers string) {
		got := strings.Split(servers, ",")
		for i := range got {
			got[i] = strings.TrimPrefix(strings.TrimSpace(got[i]), "PLAINTEXT://")
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: bootstrap servers %q, want %q", who, servers, strings.Join(want, ","))
		}
	}
	check("schema-registry", c.service(t, "schema-registry").Environment["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"])
	registryURL := "http://" + registryHost + ":8081"
	if got := c.service(t, "schema-registry").Environment["SCHEMA_REGISTRY_LISTENERS"]; got != "http://0.0.0.0:8081" {
		t.Errorf("schema-registry: SCHEMA_REGISTRY_LISTENERS %q, want http://0.0.0.0:8081", got)
	}
	for _, name := range append(sortedKeys(appServices), oneShots...) {
		e := c.service(t, name).Environment
		check(name, e["WAYBILL_KAFKA_BOOTSTRAP_SERVERS"])
		if e[registry.EnvURL] != registryURL {
			t.Errorf("%s: %s=%q, want %q", name, registry.EnvURL, e[registry.EnvURL], registryURL)
		}
	}
}

// TestComposeServiceConfig: the five services are configured through the
// environment only, serve on the port they publish and probe, and keep their
// state on their own volume.
func TestComposeServiceConfig(t *testing.T) {
	c := stack(t)
	for _, name := range sortedKeys(appServices) {
		port := appServices[name]
		s := c.service(t, name)
		if len(s.Command) > 0 || len(s.Entrypoint) > 0 {
			t.Errorf("%s: command %q entrypoint %q: a service takes its configuration from the environment only", name, s.Command, s.Entrypoint)
		}
		e := s.Environment
		if want := "0.0.0.0:" + port; e["WAYBILL_HTTP_ADDR"] != want {
			t.Errorf("%s: WAYBILL_HTTP_ADDR=%q, want %q", name, e["WAYBILL_HTTP_ADDR"], want)
		}
		if e["WAYBILL_DATA_DIR"] != dataDir {
			t.Errorf("%s: WAYBILL_DATA_DIR=%q, want %s (the image's volume directory)", name, e["WAYBILL_DATA_DIR"], dataDir)
		}
		if f := e["WAYBILL_LOG_FORMAT"]; f != "" && f != "json" && f != "text" {
			t.Errorf("%s: WAYBILL_LOG_FORMAT=%q, want json or text", name, f)
		}
		if l := e["WAYBILL_LOG_LEVEL"]; l != "" && !slices.Contains([]string{"debug", "info", "warn", "error"}, l) {
			t.Errorf("%s: WAYBILL_LOG_LEVEL=%q, want debug, info, warn or error", name, l)
		}
		if want := []string{"127.0.0.1:" + port + ":" + port}; !slices.Equal(s.Ports, want) {
			t.Errorf("%s: ports %q, want %q", name, s.Ports, want)
		}
		var mounts []mount
		for _, v := range s.Volumes {
			m, err := parseMount(v)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			mounts = append(mounts, m)
		}
		if len(mounts) != 1 || mounts[0].Target != dataDir || mounts[0].bind() {
			t.Errorf("%s: volumes %q, want one named volume on %s", name, s.Volumes, dataDir)
		}
		if h := s.Healthcheck; h == nil {
			t.Errorf("%s: no healthcheck", name)
		} else if want := []string{"CMD", "/usr/local/bin/healthcheck", "http://127.0.0.1:" + port + "/healthz"}; !slices.Equal(h.Test, want) {
			t.Errorf("%s: healthcheck %q, want %q", name, h.Test, want)
		}
		for dep, cond := range map[string]string{
			"init-topics":     "service_completed_successfully",
			"init-schemas":    "service_completed_successfully",
			"schema-registry": "service_healthy",
		} {
			if got := s.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s: depends on %s with condition %q, want %s", name, dep, got, cond)
			}
		}
	}
	for _, name := range oneShots {
		for _, k := range []string{"WAYBILL_KAFKA_BOOTSTRAP_SERVERS", registry.EnvURL} {
			if c.service(t, name).Environment[k] == "" {
				t.Errorf("%s: %s not set", name, k)
			}
		}
	}
}

// TestComposeInit: the one-shots create the catalog's topics and push the
// schemas, after what they need is healthy; nothing restarts them.
func TestComposeInit(t *testing.T) {
	c := stack(t)
	topics := c.service(t, "init-topics")
	if !slices.Equal(topics.Command[:min(2, len(topics.Command))], []string{"topics", "create"}) {
		t.Errorf("init-topics: command %q, want waybill topics create ...", topics.Command)
	}
	for _, n := range kafkaNodes {
		if got := topics.DependsOn[n].Condition; got != "service_healthy" {
			t.Errorf("init-topics: depends on %s with condition %q, want service_healthy", n, got)
		}
	}
	schemas := c.service(t, "init-schemas")
	if !slices.Equal(schemas.Command[:min(2, len(schemas.Command))], []string{"registry", "push"}) {
		t.Errorf("init-schemas: command %q, want waybill registry push ...", schemas.Command)
	}
	if i := slices.Index(schemas.Command, "--url"); i >= 0 && (i+1 >= len(schemas.Command) || schemas.Command[i+1] != "http://"+registryHost+":8081") {
		t.Errorf("init-schemas: command %q: --url is not the registry", schemas.Command)
	}
	if got := schemas.DependsOn[registryHost].Condition; got != "service_healthy" {
		t.Errorf("init-schemas: depends on %s with condition %q, want service_healthy", registryHost, got)
	}
	for _, name := range oneShots {
		s := c.service(t, name)
		if s.Restart != "no" {
			t.Errorf("%s: restart %q, want \"no\" (a one-shot)", name, s.Restart)
		}
		if i := slices.Index(s.Command, "--schemas"); i < 0 || i+1 >= len(s.Command) || s.Command[i+1] != "/usr/share/waybill/schemas" {
			t.Errorf("%s: command %q, want --schemas /usr/share/waybill/schemas (where the image has them)", name, s.Command)
		}
	}
	ui := c.service(t, "registry-ui")
	if !slices.Equal(ui.Command[:min(1, len(ui.Command))], []string{"browse"}) || !containsPair(ui.Command, "--registry", "http://"+registryHost+":8081") || !containsPair(ui.Command, "--addr", "0.0.0.0:8082") {
		t.Errorf("registry-ui: command %q, want browse --registry http://%s:8081 --addr 0.0.0.0:8082", ui.Command, registryHost)
	}
}

func containsPair(args []string, flag, value string) bool {
	i := slices.Index(args, flag)
	return i >= 0 && i+1 < len(args) && args[i+1] == value
}

// TestComposeCLICommands: the CLI accepts each command the stack runs, with
// its flags: run with --help, an unknown command or flag fails.
func TestComposeCLICommands(t *testing.T) {
	c := stack(t)
	bin := filepath.Join(t.TempDir(), "waybill")
	goCmd(t, nil, "build", "-ldflags=-s -w", "-o", bin, cliPackage)
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if s.Build == nil || s.Build.Args["PACKAGE"] != cliPackage {
			continue
		}
		if len(s.Command) == 0 {
			t.Errorf("%s: runs the waybill CLI without a command", name)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, append(slices.Clone(s.Command), "--help")...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Errorf("%s: waybill %s --help: %v\n%s", name, strings.Join(s.Command, " "), err, out.String())
		}
	}
}

// TestComposeDependencies: every depends_on names a service, with a
// condition its target can meet (a healthcheck for service_healthy, a
// one-shot for service_completed_successfully), and without a cycle; every
// service that keeps running has a healthcheck.
func TestComposeDependencies(t *testing.T) {
	c := stack(t)
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		oneShot := slices.Contains(oneShots, name)
		if !oneShot && (s.Healthcheck == nil || s.Healthcheck.Disable || len(s.Healthcheck.Test) == 0) {
			t.Errorf("%s: no healthcheck", name)
		}
		if h := s.Healthcheck; h != nil && len(h.Test) > 0 && h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL" {
			t.Errorf("%s: healthcheck test %q: want [CMD, ...] or [CMD-SHELL, ...]", name, h.Test)
		}
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			if !ok {
				t.Errorf("%s: depends on %s, which is no service", name, dep)
				continue
			}
			switch d.Condition {
			case "service_healthy":
				if target.Healthcheck == nil {
					t.Errorf("%s: waits for %s to be healthy, which has no healthcheck", name, dep)
				}
			case "service_completed_successfully":
				if !slices.Contains(oneShots, dep) {
					t.Errorf("%s: waits for %s to complete, which is no one-shot", name, dep)
				}
			case "service_started":
			default:
				t.Errorf("%s: depends on %s with condition %q", name, dep, d.Condition)
			}
		}
	}
	// No cycle: a depth-first walk never meets a service it is inside.
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, path []string)
	visit = func(name string, path []string) {
		switch state[name] {
		case 1:
			t.Errorf("%s: depends_on cycle %s", composeFile, strings.Join(append(path, name), " -> "))
			return
		case 2:
			return
		}
		state[name] = 1
		if s := c.Services[name]; s != nil {
			for _, dep := range sortedKeys(s.DependsOn) {
				visit(dep, append(path, name))
			}
		}
		state[name] = 2
	}
	for _, name := range sortedKeys(c.Services) {
		visit(name, nil)
	}
}

// TestComposePorts: every published port is on 127.0.0.1 (nothing in the
// stack has authentication), and no host port twice.
func TestComposePorts(t *testing.T) {
	c := stack(t)
	seen := map[string]string{}
	for _, name := range sortedKeys(c.Services) {
		for _, ps := range c.Services[name].Ports {
			p, err := parsePort(ps)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if p.IP != "127.0.0.1" {
				t.Errorf("%s: port %q is published on all interfaces; want 127.0.0.1:HOST:CONTAINER", name, ps)
			}
			if prev, ok := seen[p.Host]; ok {
				t.Errorf("%s: host port %s is %s's too", name, p.Host, prev)
			}
			seen[p.Host] = name
		}
	}
	for host, want := range map[string]string{"9092": "kafka-1", "8081": registryHost} {
		if seen[host] != want {
			t.Errorf("host port %s is %q, want %s (as in `waybill dev`)", host, seen[host], want)
		}
	}
}

// TestComposeVolumes: named volumes are declared, declared volumes used, and
// bind mounts point at files of the repository.
func TestComposeVolumes(t *testing.T) {
	c := stack(t)
	used := map[string]string{}
	for _, name := range sortedKeys(c.Services) {
		for _, v := range c.Services[name].Volumes {
			m, err := parseMount(v)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if m.bind() {
				if _, err := os.Stat(filepath.Join(root(t), m.Source)); err != nil {
					t.Errorf("%s: bind mount %s: %v", name, m.Source, err)
				}
				if m.Mode != "ro" {
					t.Errorf("%s: bind mount %s is writable; mount the repository's files :ro", name, m.Source)
				}
				continue
			}
			if _, ok := c.Volumes[m.Source]; !ok {
				t.Errorf("%s: volume %s is not declared under volumes", name, m.Source)
			}
			if prev, ok := used[m.Source]; ok {
				t.Errorf("%s: volume %s is %s's too", name, m.Source, prev)
			}
			used[m.Source] = name
		}
	}
	for v := range c.Volumes {
		if _, ok := used[v]; !ok {
			t.Errorf("volume %s is declared and not used", v)
		}
	}
}

// TestComposeEnvRead: every WAYBILL_* variable the stack sets is one the Go
// code reads (a string constant in a non-test file), and the
// WAYBILL_KAFKA_<PROPERTY> ones name librdkafka properties that a producer
// accepts.
func TestComposeEnvRead(t *testing.T) {
	c := stack(t)
	read := envNamesInSource(t)
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		var environ []string
		for _, k := range sortedKeys(s.Environment) {
			if !strings.HasPrefix(k, "WAYBILL_") {
				continue
			}
			environ = append(environ, k+"="+s.Environment[k])
			if strings.HasPrefix(k, kafka.EnvPrefix) {
				continue // a librdkafka property, checked below
			}
			if !read[k] {
				t.Errorf("%s: sets %s, which no Go code of the module reads (a typo?)", name, k)
			}
		}
		cfg, err := kafka.LoadConfig("", environ)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(cfg.Properties) == 0 {
			continue
		}
		rc, err := registry.New(registry.Config{URL: "http://127.0.0.1:1"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := producer.New(producer.Config{Kafka: cfg, Source: name, Logger: slog.New(slog.DiscardHandler)}, serde.New(rc))
		if err != nil {
			t.Errorf("%s: the WAYBILL_KAFKA_* variables: %v", name, err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.Close(ctx) // nothing was sent
		cancel()
	}
}

var envName = regexp.MustCompile(`^WAYBILL_[A-Z0-9_]*[A-Z0-9]$`)

// envNamesInSource returns the WAYBILL_* string constants of the module's
// non-test Go files.
func envNamesInSource(t *testing.T) map[string]bool {
	t.Helper()
	dir := root(t)
	names := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "bin", ".waybill", "composecheck":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(s) {
					names[s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("composecheck: reading the Go source: %v", err)
	}
	return names
}
