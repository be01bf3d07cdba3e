// Package tailcmd is `waybill tail TOPIC`: the events on a topic as they
// arrive, decoded, with their envelope headers, the live view of the
// platform at work.
package tailcmd

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/avrojson"
	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/cmd/waybill/internal/kafkaflags"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/registry"
)

const defaultRegistry = "http://127.0.0.1:8081"

type flags struct {
	kafka         kafkaflags.Flags
	registry      string
	fromBeginning bool
	max           int
}

// New returns the tail command.
func New(env *cli.Env) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "tail TOPIC [--from-beginning] [--max N]",
		Short: "Show the events on TOPIC as they arrive, decoded, with their envelope headers",
		Long: `Tail prints every event written to TOPIC from now on (from the topic's
beginning with --from-beginning): where it is (partition@offset), its time,
ce_type and version, ce_id, key, ce_source and trace ID, and its body decoded
with the writer's schema from the registry, as JSON. A record that is not a
valid envelope (a poison message) is shown with the reason a consumer would
dead-letter it. --format json prints one JSON object a line.

It reads with no consumer group: it commits nothing and changes nothing. It
runs until Ctrl-C, or until it has shown --max events.

` + kafkaflags.Help + ` (Here --timeout bounds finding the topic.)

Registry: --registry, else $` + registry.EnvURL + `, else ` + defaultRegistry + `.

Exit codes: 0 stopped (Ctrl-C or --max), 2 could not run (no such topic,
Kafka unreachable, bad flags).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("tail: want one TOPIC, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return run(cmd.Context(), env, f, args[0]) },
	}
	kafkaflags.Add(cmd, &f.kafka)
	fl := cmd.Flags()
	fl.StringVar(&f.registry, "registry", "", "the registry to decode bodies with (default $"+registry.EnvURL+", else "+defaultRegistry+")")
	fl.BoolVar(&f.fromBeginning, "from-beginning", false, "start at the topic's first record rather than its end")
	fl.IntVar(&f.max, "max", 0, "stop after this many records (0: until Ctrl-C)")
	return cmd
}

// event is one record as tail shows it.
type event struct {
	Topic       string            `json:"topic"`
	Partition   int32             `json:"partition"`
	Offset      int64             `json:"offset"`
	Timestamp   string            `json:"timestamp"`
	Key         string            `json:"key"`
	Type        string            `json:"type,omitempty"`
	Version     int               `json:"version,omitempty"`
	ID          string            `json:"id,omitempty"`
	Source      string            `json:"source,omitempty"`
	TraceID     string            `json:"trace_id,omitempty"`
	SchemaID    uint32            `json:"schema_id,omitempty"`
	Headers     map[string]string `json:"headers"`
	Event       json.RawMessage   `json:"event,omitempty"`
	Error       string            `json:"error,omitempty"`
	DecodeError string            `json:"decode_error,omitempty"`
}

func run(ctx context.Context, env *cli.Env, f flags, topic string) error {
	if env.Format != "text" && env.Format != "json" {
		return cli.Usagef("tail: --format %s: want text or json", env.Format)
	}
	if f.max < 0 {
		return cli.Usagef("tail: --max %d: want 0 or more", f.max)
	}
	cfg, err := f.kafka.Config()
	if err != nil {
		return err
	}
	m := cfg.ConfigMap(map[string]any{
		"group.id":           "waybill-tail", // required by librdkafka; never joined: partitions are assigned
		"enable.auto.commit": false,
		"isolation.level":    "read_committed",
	})
	m["go.logs.channel.enable"] = true // librdkafka's log lines are not for the terminal
	c, err := ck.NewConsumer(&m)
	if err != nil {
		return fmt.Errorf("tail: %s", cfg.Redact(err.Error()))
	}
	defer c.Close()
	go func() {
		for range c.Logs() {
		}
	}()
	md, err := c.GetMetadata(&topic, false, int(f.kafka.Timeout.Milliseconds()))
	if err != nil {
		return fmt.Errorf("tail: reaching Kafka at %s: %s", cfg.Brokers(), cfg.Redact(err.Error()))
	}
	tm, ok := md.Topics[topic]
	if !ok || tm.Error.Code() == ck.ErrUnknownTopicOrPart || len(tm.Partitions) == 0 {
		return fmt.Errorf("tail: no topic %q on %s", topic, cfg.Brokers())
	}
	start := ck.OffsetEnd
	if f.fromBeginning {
		start = ck.OffsetBeginning
	}
	parts := make([]ck.TopicPartition, 0, len(tm.Partitions))
	for _, p := range tm.Partitions {
		parts = append(parts, ck.TopicPartition{Topic: &topic, Partition: p.ID, Offset: start})
	}
	if err := c.Assign(parts); err != nil {
		return fmt.Errorf("tail: %s", cfg.Redact(err.Error()))
	}
	url := cmp.Or(f.registry, os.Getenv(registry.EnvURL), defaultRegistry)
	dec := avrojson.New(url, os.Getenv(registry.EnvUsername), os.Getenv(registry.EnvPassword), 5*time.Second)
	if env.Format == "text" {
		from := "its end"
		if f.fromBeginning {
			from = "its beginning"
		}
		fmt.Fprintf(env.Stdout, "tailing %s (%d partitions) from %s; Ctrl-C stops\n", topic, len(parts), from)
	}
	for shown := 0; f.max == 0 || shown < f.max; {
		if ctx.Err() != nil {
			return nil
		}
		switch e := c.Poll(200).(type) {
		case *ck.Message:
			ev := describe(ctx, dec, e)
			if err := write(env.Stdout, env.Format, ev); err != nil {
				return err
			}
			shown++
		case ck.Error:
			if e.IsFatal() {
				return fmt.Errorf("tail: %s", cfg.Redact(e.Error()))
			}
		}
	}
	return nil
}

// describe decodes m: the envelope, then the body.
func describe(ctx context.Context, dec *avrojson.Decoder, m *ck.Message) event {
	ev := event{
		Topic: *m.TopicPartition.Topic, Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset),
		Timestamp: m.Timestamp.UTC().Format(time.RFC3339Nano), Key: string(m.Key), Headers: map[string]string{},
	}
	msg := envelope.Message{Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		ev.Headers[h.Key] = string(h.Value)
		msg.Headers = append(msg.Headers, envelope.Header{Key: h.Key, Value: h.Value})
	}
	env, err := envelope.Decode(msg)
	if err != nil {
		code, reason := envelope.Reason(err)
		ev.Error = code + ": " + reason
		return ev
	}
	ev.Type, ev.Version, ev.ID, ev.Source, ev.SchemaID = env.Type, env.EventVersion, env.ID, env.Source, env.SchemaID
	if !env.TraceParent.IsZero() {
		ev.TraceID = fmt.Sprintf("%x", env.TraceParent.TraceID)
	}
	body, err := dec.Decode(ctx, m.Value)
	if err != nil {
		ev.DecodeError = err.Error()
	} else {
		ev.Event = body
	}
	return ev
}

func write(w io.Writer, format string, ev event) error {
	if format == "json" {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	where := fmt.Sprintf("%s/%d@%d", ev.Topic, ev.Partition, ev.Offset)
	var b strings.Builder
	if ev.Error != "" {
		fmt.Fprintf(&b, "%s  %s  key=%s  NOT AN ENVELOPE: %s\n", where, ev.Timestamp, ev.Key, ev.Error)
	} else {
		fmt.Fprintf(&b, "%s  %s  %s v%d  key=%s  id=%s  source=%s", where, ev.Headers[envelope.HeaderTime], ev.Type, ev.Version, ev.Key, ev.ID, ev.Source)
		if ev.TraceID != "" {
			fmt.Fprintf(&b, "  trace=%s", ev.TraceID)
		}
		b.WriteString("\n")
		if ev.DecodeError != "" {
			fmt.Fprintf(&b, "  (body not decoded: %s)\n", strings.Join(strings.Fields(ev.DecodeError), " "))
		} else {
			fmt.Fprintf(&b, "  %s\n", ev.Event)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
