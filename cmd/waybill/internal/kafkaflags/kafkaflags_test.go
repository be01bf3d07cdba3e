package kafkaflags_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/waybill/waybill/cmd/waybill/internal/kafkaflags"
)

func TestConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(file, []byte("# SASL\nbootstrap.servers = file:9092\nsecurity.protocol=SASL_SSL\nsasl.password=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WAYBILL_KAFKA_SASL_PASSWORD", "from-env")
	for _, tc := range []struct {
		name    string
		f       kafkaflags.Flags
		brokers string
	}{
		{"default", kafkaflags.Flags{Timeout: 1}, kafkaflags.DefaultBrokers},
		{"file", kafkaflags.Flags{ConfigFile: file, Timeout: 1}, "file:9092"},
		{"flag wins", kafkaflags.Flags{ConfigFile: file, Brokers: "flag:9092", Timeout: 1}, "flag:9092"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.f.Config()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Brokers() != tc.brokers {
				t.Errorf("brokers %q, want %q", cfg.Brokers(), tc.brokers)
			}
			if p := cfg.Properties["sasl.password"]; p != "from-env" {
				t.Errorf("sasl.password %q: the environment wins over the file", p)
			}
		})
	}
	t.Setenv("WAYBILL_KAFKA_BOOTSTRAP_SERVERS", "env:9092")
	if cfg, _ := (kafkaflags.Flags{Timeout: 1}).Config(); cfg.Brokers() != "env:9092" {
		t.Errorf("brokers %q, want $WAYBILL_KAFKA_BOOTSTRAP_SERVERS", cfg.Brokers())
	}
	if _, err := (kafkaflags.Flags{}).Config(); err == nil {
		t.Error("no timeout: no error")
	}
}
