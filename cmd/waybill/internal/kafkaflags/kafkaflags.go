// Package kafkaflags holds the flags of the waybill commands that talk to
// Kafka (dlq, replay): how to reach the brokers, and how long to try.
package kafkaflags

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/pkg/kafka"
)

// DefaultBrokers is where the commands look for Kafka when neither
// --brokers, --kafka-config nor $WAYBILL_KAFKA_BOOTSTRAP_SERVERS says.
const DefaultBrokers = "127.0.0.1:9092"

// DefaultTimeout bounds a command's whole run.
const DefaultTimeout = 30 * time.Second

// Flags are the connection flags.
type Flags struct {
	Brokers    string
	ConfigFile string
	Timeout    time.Duration
}

// Add adds --brokers, --kafka-config and --timeout to cmd.
func Add(cmd *cobra.Command, f *Flags) {
	fl := cmd.Flags()
	fl.StringVar(&f.Brokers, "brokers", "", "Kafka's bootstrap servers, host:port[,host:port...] (default $"+kafka.EnvPrefix+"BOOTSTRAP_SERVERS, else "+DefaultBrokers+")")
	fl.StringVar(&f.ConfigFile, "kafka-config", "", "a librdkafka properties file (property=value lines: SASL, TLS, ...); $"+kafka.EnvPrefix+"<PROPERTY> variables override it")
	fl.DurationVar(&f.Timeout, "timeout", DefaultTimeout, "the longest the command may take, reaching Kafka included")
}

// Help is the paragraph about the connection flags for a command's --help.
const Help = `Kafka: --brokers, else $` + kafka.EnvPrefix + `BOOTSTRAP_SERVERS, else ` + DefaultBrokers + `.
Every librdkafka property can be set in a --kafka-config file (one
property=value a line, as kcat -F reads) or as an environment variable
` + kafka.EnvPrefix + `<PROPERTY> (WAYBILL_KAFKA_SASL_PASSWORD sets sasl.password); the
variables win over the file, and --brokers over both. Secrets never appear in
the output. A broker that does not answer within --timeout exits 2.`

// Config returns the Kafka configuration the flags and the environment say.
func (f Flags) Config() (kafka.Config, error) {
	if f.Timeout <= 0 {
		return kafka.Config{}, cli.Usagef("--timeout %v: want a positive duration", f.Timeout)
	}
	cfg, err := kafka.LoadConfig(f.ConfigFile, os.Environ())
	if err != nil {
		return kafka.Config{}, err
	}
	if f.Brokers != "" {
		cfg = cfg.With("bootstrap.servers", f.Brokers)
	}
	if cfg.Brokers() == "" {
		cfg = cfg.With("bootstrap.servers", DefaultBrokers)
	}
	return cfg, nil
}

// Context returns ctx bounded by --timeout.
func (f Flags) Context(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.Timeout)
}
