package kafka_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/kafka"
)

// The file is read, then the environment wins over it; other variables are
// ignored.
func TestLoadConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "client.properties")
	text := `# a comment
bootstrap.servers = file:9092
  security.protocol=SASL_SSL

sasl.password=from-file
linger.ms=5
`
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := kafka.LoadConfig(file, []string{
		"WAYBILL_KAFKA_BOOTSTRAP_SERVERS=env:9092,env2:9092",
		"WAYBILL_KAFKA_SASL_PASSWORD=from=env", // "=" in a value
		"WAYBILL_KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM=none",
		"WAYBILL_KAFKA_=ignored",
		"WAYBILL_KAFKA_CONFIG=" + file, // names the file; not a property
		"WAYBILL_KAFKA_NOVALUE",
		"KAFKA_LINGER_MS=1",
		"PATH=/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"bootstrap.servers":                     "env:9092,env2:9092",
		"security.protocol":                     "SASL_SSL",
		"sasl.password":                         "from=env",
		"linger.ms":                             "5",
		"ssl.endpoint.identification.algorithm": "none",
	}
	if diff := cmp.Diff(want, got.Properties); diff != "" {
		t.Errorf("LoadConfig (-want +got):\n%s", diff)
	}
	if got.Brokers() != "env:9092,env2:9092" {
		t.Errorf("Brokers() = %q", got.Brokers())
	}

	// Without a file: the environment alone.
	env, err := kafka.LoadConfig("", []string{"WAYBILL_KAFKA_CLIENT_ID=x"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"client.id": "x"}, env.Properties); diff != "" {
		t.Errorf("LoadConfig without a file (-want +got):\n%s", diff)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.properties")
	if err := os.WriteFile(bad, []byte("bootstrap.servers=x:1\nno equals sign\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noKey := filepath.Join(dir, "nokey.properties")
	if err := os.WriteFile(noKey, []byte(" =value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{
		"missing file": filepath.Join(dir, "nope.properties"),
		"no equals":    bad,
		"empty key":    noKey,
		"not a file":   dir,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := kafka.LoadConfig(file, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "kafka: ") {
				t.Errorf("error %q does not start with the package name", err)
			}
			if name == "no equals" && !strings.Contains(err.Error(), ":2:") {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

func TestEnvProperty(t *testing.T) {
	for in, want := range map[string]string{
		"WAYBILL_KAFKA_BOOTSTRAP_SERVERS":                     "bootstrap.servers",
		"WAYBILL_KAFKA_SASL_PASSWORD":                         "sasl.password",
		"WAYBILL_KAFKA_SSL_CA_LOCATION":                       "ssl.ca.location",
		"WAYBILL_KAFKA_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION": "max.in.flight.requests.per.connection",
		// "__" is a literal underscore.
		"WAYBILL_KAFKA_SASL_OAUTHBEARER_CLIENT__ID": "sasl.oauthbearer.client_id",
		"WAYBILL_KAFKA_A__B__C":                     "a_b_c",
		"WAYBILL_KAFKA_A___B":                       "a_.b",
		"WAYBILL_KAFKA_X":                           "x",
	} {
		if got := kafka.EnvProperty(in); got != want {
			t.Errorf("EnvProperty(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsSecret(t *testing.T) {
	for _, p := range []string{
		"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem", "ssl.keystore.location",
		"sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "sasl.jaas.config", "SASL.PASSWORD",
		"ssl.truststore.password", "some.token", "my.private.key",
	} {
		if !kafka.IsSecret(p) {
			t.Errorf("IsSecret(%q) = false", p)
		}
	}
	for _, p := range []string{"bootstrap.servers", "sasl.username", "sasl.mechanism", "ssl.ca.location", "security.protocol", "client.id"} {
		if kafka.IsSecret(p) {
			t.Errorf("IsSecret(%q) = true", p)
		}
	}
}

func TestStringAndRedact(t *testing.T) {
	c := kafka.NewConfig("b:9092").With("sasl.username", "alice").With("sasl.password", "hunter2-secret").
		With("ssl.key.password", "k3y-pass").With("sasl.oauthbearer.client.secret", "")
	s := c.String()
	want := "bootstrap.servers=b:9092 sasl.oauthbearer.client.secret=[redacted] sasl.password=[redacted] sasl.username=alice ssl.key.password=[redacted]"
	if s != want {
		t.Errorf("String() =\n%s\nwant\n%s", s, want)
	}
	for _, secret := range []string{"hunter2-secret", "k3y-pass"} {
		if strings.Contains(s, secret) {
			t.Errorf("String() shows %q", secret)
		}
	}
	msg := `SASL authentication failed for alice with password "hunter2-secret"; ssl key k3y-pass; hunter2-secret again`
	got := c.Redact(msg)
	if want := `SASL authentication failed for alice with password "[redacted]"; ssl key [redacted]; [redacted] again`; got != want {
		t.Errorf("Redact =\n%s\nwant\n%s", got, want)
	}
	// An empty secret redacts nothing (it would otherwise match between
	// every two characters).
	if got := kafka.NewConfig("b").With("sasl.password", "").Redact("abc"); got != "abc" {
		t.Errorf("Redact with an empty secret = %q", got)
	}
	// With returns a copy.
	if _, ok := c.Properties["x"]; ok {
		t.Fatal("setup")
	}
	_ = c.With("x", "1")
	if _, ok := c.Properties["x"]; ok {
		t.Error("With changed the original Config")
	}
}

func TestConfigMap(t *testing.T) {
	c := kafka.NewConfig("b:1").With("acks", "1")
	m := c.ConfigMap(map[string]any{"acks": "all", "linger.ms": 5})
	if m["acks"] != "1" || m["linger.ms"] != 5 || m["bootstrap.servers"] != "b:1" {
		t.Errorf("ConfigMap = %v: the Config's properties win over the defaults", m)
	}
	m["x"] = "y"
	if _, ok := c.Properties["x"]; ok {
		t.Error("ConfigMap shares memory with the Config")
	}
}

func TestTraceContext(t *testing.T) {
	ctx := context.Background()
	if !kafka.TraceFromContext(ctx).IsZero() {
		t.Error("a context without a trace has one")
	}
	tp := envelope.NewTrace()
	if got := kafka.TraceFromContext(kafka.ContextWithTrace(ctx, tp)); got != tp {
		t.Errorf("TraceFromContext = %v, want %v", got, tp)
	}
}

func TestDeadLetterTopic(t *testing.T) {
	if got := kafka.DeadLetterTopic("order-events"); got != "order-events.dlq" {
		t.Errorf("DeadLetterTopic = %q", got)
	}
}
