// Package kafka is what Waybill's producer and consumer runtime share: how to
// reach Kafka (Config, every librdkafka property passed through), the trace
// context that flows from a consumed event into the events its handler
// produces, and the headers of the dead-letter topics; and the operations
// on them that `waybill dlq` and `waybill replay` run: ReadDeadLetters and
// Replay (dead letters back to their topic), Rewind (a group back to the
// offsets of a time), CreateTopics (the catalog's topics and their .dlq).
//
// The runtime itself is in the packages below this one:
//
//   - producer: typed, idempotent producers that speak the envelope;
//   - consumer: consumer groups with typed handlers, retries, dead letters,
//     de-duplication and per-key ordering with concurrency;
//   - dedup: the de-duplication stores (bounded in memory, durable on disk);
//   - kafkatest: an in-process broker (kfake) for tests and `waybill dev`.
//
// All of them use confluent-kafka-go (librdkafka); see
// ../shared/reference/kafka-runtime-notes.md for the details they follow.
package kafka

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/envelope"
)

// EnvPrefix starts the environment variables LoadConfig reads: each
// WAYBILL_KAFKA_<PROPERTY> sets one librdkafka property.
const EnvPrefix = "WAYBILL_KAFKA_"

// EnvConfigFile names the properties file services and commands read with
// LoadConfig; it is not a property, so LoadConfig skips it.
const EnvConfigFile = "WAYBILL_KAFKA_CONFIG"

// Config is how to reach Kafka: librdkafka configuration properties
// (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md),
// passed through unchanged, so SASL, TLS and every tuning property work
// without Waybill knowing them. The producer and consumer add their own
// defaults under these (idempotence, partitioner, offset handling) and
// refuse to run with properties that would break their guarantees.
//
// The zero Config has no bootstrap.servers and reaches nothing.
type Config struct {
	// Properties are librdkafka properties by name ("bootstrap.servers",
	// "security.protocol", "sasl.password", ...).
	Properties map[string]string
}

// NewConfig returns a Config with bootstrap.servers set to brokers
// ("host:port[,host:port...]").
func NewConfig(brokers string) Config {
	return Config{Properties: map[string]string{"bootstrap.servers": brokers}}
}

// LoadConfig reads a Config from a properties file (when file is not empty)
// and then from environ (os.Environ()'s form, "NAME=value"), which wins over
// the file.
//
// The file has one "property=value" per line; blank lines and lines starting
// with # are skipped; spaces around the property and the value are trimmed
// (librdkafka's and kcat's -F format).
//
// An environment variable WAYBILL_KAFKA_<PROPERTY> sets <property>: the name
// in lower case with "_" read as "." and "__" as "_", as Confluent's images
// map KAFKA_* variables. WAYBILL_KAFKA_BOOTSTRAP_SERVERS=host:9092 sets
// bootstrap.servers; WAYBILL_KAFKA_SASL_PASSWORD sets sasl.password.
// WAYBILL_KAFKA_CONFIG (EnvConfigFile) is not a property: it names the
// file, for the caller to pass as file.
func LoadConfig(file string, environ []string) (Config, error) {
	c := Config{Properties: map[string]string{}}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return Config{}, fmt.Errorf("kafka: config: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return Config{}, fmt.Errorf("kafka: config %s:%d: want property=value", file, n)
			}
			c.Properties[k] = strings.TrimSpace(v)
		}
		if err := sc.Err(); err != nil {
			return Config{}, fmt.Errorf("kafka: config %s: %w", file, err)
		}
	}
	for _, kv := range environ {
		name, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || len(name) == len(EnvPrefix) || name == EnvConfigFile {
			continue
		}
		c.Properties[EnvProperty(name)] = v
	}
	return c, nil
}

// EnvProperty returns the property an environment variable
// WAYBILL_KAFKA_<PROPERTY> sets (see LoadConfig).
func EnvProperty(name string) string {
	p := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
	p = strings.ReplaceAll(p, "__", "\x00")
	p = strings.ReplaceAll(p, "_", ".")
	return strings.ReplaceAll(p, "\x00", "_")
}

// Brokers returns bootstrap.servers.
func (c Config) Brokers() string { return c.Properties["bootstrap.servers"] }

// With returns a copy of c with property key set to value; c is unchanged.
func (c Config) With(key, value string) Config {
	p := make(map[string]string, len(c.Properties)+1)
	for k, v := range c.Properties {
		p[k] = v
	}
	p[key] = value
	return Config{Properties: p}
}

// ConfigMap returns confluent-kafka-go's form of c with defaults under it:
// a property of defaults applies only when c does not set it. The result is
// a new map.
func (c Config) ConfigMap(defaults map[string]any) ck.ConfigMap {
	m := ck.ConfigMap{}
	for k, v := range defaults {
		m[k] = v
	}
	for k, v := range c.Properties {
		m[k] = v
	}
	return m
}

// IsSecret reports whether a property's value is a secret: passwords, keys,
// tokens, JAAS configurations and OAuth client secrets. Such values never
// appear in logs, errors or metrics (see String).
func IsSecret(property string) bool {
	p := strings.ToLower(property)
	for _, s := range []string{"password", "secret", "token", "jaas", "key.pem", "keystore", "credentials"} {
		if strings.Contains(p, s) {
			return true
		}
	}
	return strings.HasSuffix(p, ".key") || p == "sasl.oauthbearer.config"
}

// Redacted is what String writes in place of a secret value.
const Redacted = "[redacted]"

// String lists the properties, sorted, with secret values replaced by
// [redacted]: safe to log.
func (c Config) String() string {
	keys := make([]string, 0, len(c.Properties))
	for k := range c.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := c.Properties[k]
		if IsSecret(k) {
			v = Redacted
		}
		fmt.Fprintf(&b, "%s=%s", k, v)
	}
	return b.String()
}

// Redact replaces every secret value of c that occurs in s with [redacted]:
// for librdkafka's error and log texts, which may quote a configuration.
func (c Config) Redact(s string) string {
	for k, v := range c.Properties {
		if v != "" && IsSecret(k) {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}

type traceKey struct{}

// ContextWithTrace returns ctx carrying the trace context tp. A consumer puts
// the consumed event's traceparent in its handler's context; a producer
// sending with that context makes the new event a child span of it, so one
// order can be followed across services.
func ContextWithTrace(ctx context.Context, tp envelope.TraceParent) context.Context {
	return context.WithValue(ctx, traceKey{}, tp)
}

// TraceFromContext returns the trace context ctx carries, or the zero
// TraceParent (no trace).
func TraceFromContext(ctx context.Context) envelope.TraceParent {
	tp, _ := ctx.Value(traceKey{}).(envelope.TraceParent)
	return tp
}

// DeadLetterSuffix names a topic's dead-letter topic: events of "order-events"
// a consumer cannot handle go to "order-events.dlq".
const DeadLetterSuffix = ".dlq"

// DeadLetterTopic returns topic's dead-letter topic, topic + ".dlq".
func DeadLetterTopic(topic string) string { return topic + DeadLetterSuffix }

// The headers a dead letter carries in addition to the original record's key,
// value and headers (kept byte for byte). Code and reason are
// envelope.HeaderDeadLetterCode and envelope.HeaderDeadLetterReason.
const (
	// HeaderDeadLetterCode is the error class: an envelope.Kind for an
	// event that does not decode, "handler" for a handler's permanent
	// error, "retries-exhausted" when retryable errors ran out of attempts.
	HeaderDeadLetterCode = envelope.HeaderDeadLetterCode
	// HeaderDeadLetterReason is the error message, one line.
	HeaderDeadLetterReason = envelope.HeaderDeadLetterReason
	// HeaderDeadLetterTopic, ...Partition, ...Offset and ...Timestamp
	// locate the original record: topic, partition and offset in decimal,
	// timestamp as Unix milliseconds in decimal.
	HeaderDeadLetterTopic     = "waybill_dlq_topic"
	HeaderDeadLetterPartition = "waybill_dlq_partition"
	HeaderDeadLetterOffset    = "waybill_dlq_offset"
	HeaderDeadLetterTimestamp = "waybill_dlq_timestamp"
	// HeaderDeadLetterGroup is the consumer group that gave up.
	HeaderDeadLetterGroup = "waybill_dlq_group"
	// HeaderDeadLetterAttempts is how many times the handler ran (0 for an
	// event that did not decode), in decimal.
	HeaderDeadLetterAttempts = "waybill_dlq_attempts"
	// HeaderDeadLetterTime is when the event was dead-lettered (RFC 3339).
	HeaderDeadLetterTime = "waybill_dlq_time"
)

// Dead-letter codes that are not envelope kinds.
const (
	CodeHandler          = "handler"
	CodeRetriesExhausted = "retries-exhausted"
)

// ForwardLogs writes librdkafka's log lines (a client made with
// go.logs.channel.enable) from ch to log, at the slog level of their syslog
// level and with cfg's secrets redacted, until the client closes ch. who
// names the client in each line ("consumer", "producer", ...). The returned
// channel is closed once ch is drained.
func ForwardLogs(ch chan ck.LogEvent, log *slog.Logger, cfg Config, who string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			// syslog levels: 0-3 error, 4 warning, 5-6 notice and info, 7 debug.
			level := slog.LevelDebug
			switch {
			case ev.Level <= 3:
				level = slog.LevelError
			case ev.Level == 4:
				level = slog.LevelWarn
			case ev.Level <= 6:
				level = slog.LevelInfo
			}
			if !log.Enabled(context.Background(), level) {
				continue
			}
			log.Log(context.Background(), level, who+": librdkafka: "+cfg.Redact(ev.Message), "client", ev.Name, "tag", ev.Tag)
		}
	}()
	return done
}
