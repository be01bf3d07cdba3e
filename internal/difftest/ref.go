package difftest

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed testdata/ref/CompatRef.java
var javaSource []byte

//go:embed testdata/ref/compat_ref.py
var pythonSource []byte

// PythonInterpreter is the interpreter that sees Debian's python3-avro; the
// python3 first on PATH may be another installation without it.
const PythonInterpreter = "/usr/bin/python3"

// JavaClasspath lists the jars the Java reference needs, as Debian's
// libavro-java installs them.
var JavaClasspath = []string{
	"/usr/share/java/avro.jar",
	"/usr/share/java/jackson-core-asl.jar",
	"/usr/share/java/jackson-mapper-asl.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-nop.jar", // silences slf4j's "no binding" warning
}

// Reference is an Avro reference checker run as one child process per batch.
type Reference struct {
	// Name says which implementation this is ("java", "python").
	Name string
	argv []string
}

// Java compiles the Java reference into dir (a scratch directory the caller
// owns) and returns it. The error says what is missing when java, javac or
// the Avro jars are not installed.
func Java(ctx context.Context, dir string) (*Reference, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New("difftest: java not found on PATH (apt-get install default-jdk-headless)")
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		return nil, errors.New("difftest: javac not found on PATH (apt-get install default-jdk-headless)")
	}
	var cp []string
	for _, jar := range JavaClasspath {
		if _, err := os.Stat(jar); err != nil {
			if strings.Contains(jar, "slf4j-nop") {
				continue // only quiets a warning
			}
			return nil, fmt.Errorf("difftest: %s missing (apt-get install libavro-java)", jar)
		}
		cp = append(cp, jar)
	}
	src := filepath.Join(dir, "CompatRef.java")
	if err := os.WriteFile(src, javaSource, 0o644); err != nil {
		return nil, fmt.Errorf("difftest: %w", err)
	}
	classpath := strings.Join(cp, string(os.PathListSeparator))
	out, err := exec.CommandContext(ctx, javac, "-nowarn", "-d", dir, "-cp", classpath, src).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("difftest: javac CompatRef.java: %w\n%s", err, out)
	}
	return &Reference{
		Name: "java",
		// A small heap and no JIT tiers beyond C1 start the JVM faster for a
		// batch that runs for a second or two.
		argv: []string{java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", dir + string(os.PathListSeparator) + classpath, "CompatRef"},
	}, nil
}

// Python writes the Python reference into dir and returns it. The error
// says what is missing when PythonInterpreter or its avro package is not
// installed.
func Python(ctx context.Context, dir string) (*Reference, error) {
	if _, err := os.Stat(PythonInterpreter); err != nil {
		return nil, fmt.Errorf("difftest: %s not found (apt-get install python3-avro)", PythonInterpreter)
	}
	out, err := exec.CommandContext(ctx, PythonInterpreter, "-c", "import avro.compatibility, avro.schema").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("difftest: %s cannot import avro.compatibility (apt-get install python3-avro): %w\n%s", PythonInterpreter, err, out)
	}
	script := filepath.Join(dir, "compat_ref.py")
	if err := os.WriteFile(script, pythonSource, 0o644); err != nil {
		return nil, fmt.Errorf("difftest: %w", err)
	}
	return &Reference{Name: "python", argv: []string{PythonInterpreter, script}}, nil
}

// Check runs the reference once over all pairs and returns its verdicts, in
// the order of pairs.
func (r *Reference) Check(ctx context.Context, pairs []Pair) ([]Verdict, error) {
	var in bytes.Buffer
	for _, p := range pairs {
		in.Write(p.JSONLine())
		in.WriteByte('\n')
	}
	cmd := exec.CommandContext(ctx, r.argv[0], r.argv[1:]...)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("difftest: %s reference: %w\n%s", r.Name, err, stderr.Bytes())
	}
	verdicts := make([]Verdict, 0, len(pairs))
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var v Verdict
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("difftest: %s reference: line %d: %w", r.Name, len(verdicts)+1, err)
		}
		verdicts = append(verdicts, v)
	}
	if len(verdicts) != len(pairs) {
		return nil, fmt.Errorf("difftest: %s reference answered %d of %d pairs\n%s", r.Name, len(verdicts), len(pairs), stderr.Bytes())
	}
	return verdicts, nil
}
