// Package dlq is `waybill dlq`: list the dead letters of a topic, decoded
// (ls), and send them back to their original topic (replay).
//
// A consumer gives an event up, and sends it to the topic's dead-letter
// topic, "<topic>.dlq", when it cannot decode it, when its handler fails with
// an error that is not retryable, or when retries run out. The dead letter is
// the original record byte for byte, plus waybill_dlq_* headers saying why,
// where from and when (pkg/kafka: HeaderDeadLetter*).
package dlq

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/cmd/waybill/internal/kafkaflags"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/kafka"
)

// New returns the dlq command and its subcommands.
func New(env *cli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List the dead letters of a topic, or send them back to it",
		Long: `The dead letters of TOPIC are on TOPIC.dlq: the events its consumers gave up on
(undecodable, a handler's permanent error, retries exhausted), each the original
record byte for byte plus headers saying why, where from and when. Both
subcommands take TOPIC or TOPIC.dlq.`,
		RunE: cli.Group,
	}
	cmd.AddCommand(newLs(env), newReplay(env))
	return cmd
}

// checkFormat checks that --format is one the dlq commands write.
func checkFormat(env *cli.Env, name string) error {
	if env.Format != "text" && env.Format != "json" {
		return cli.Usagef("dlq %s: --format %s: want text or json", name, env.Format)
	}
	return nil
}

// oneTopic is the argument check of both subcommands.
func oneTopic(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return cli.Usagef("dlq %s: which topic? (waybill dlq %s TOPIC)", name, name)
		case len(args) > 1:
			return cli.Usagef("dlq %s: unexpected argument %q", name, args[1])
		case args[0] == "" || args[0] == kafka.DeadLetterSuffix:
			return cli.Usagef("dlq %s: topic %q: want a topic name", name, args[0])
		}
		return nil
	}
}

func addKafkaFlags(cmd *cobra.Command, f *kafkaflags.Flags) {
	kafkaflags.Add(cmd, f)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// letterJSON is a dead letter in --format json.
type letterJSON struct {
	DLQPartition   int32           `json:"dlq_partition"`
	DLQOffset      int64           `json:"dlq_offset"`
	Code           string          `json:"code"`
	Reason         string          `json:"reason"`
	Topic          string          `json:"topic"`
	Partition      int32           `json:"partition"`
	Offset         int64           `json:"offset"`
	Timestamp      string          `json:"timestamp,omitempty"`
	DeadLetteredAt string          `json:"dead_lettered_at,omitempty"`
	Group          string          `json:"group,omitempty"`
	Attempts       int             `json:"attempts"`
	Type           string          `json:"ce_type,omitempty"`
	ID             string          `json:"ce_id,omitempty"`
	EventVersion   string          `json:"event_version,omitempty"`
	SchemaID       *uint32         `json:"schema_id,omitempty"`
	Key            *string         `json:"key,omitempty"`
	KeyBase64      string          `json:"key_base64,omitempty"`
	Event          json.RawMessage `json:"event,omitempty"`
	DecodeError    string          `json:"decode_error,omitempty"`
}

func newLetterJSON(d kafka.DeadLetter) letterJSON {
	j := letterJSON{
		DLQPartition: d.DLQPartition, DLQOffset: d.DLQOffset,
		Code: d.Code, Reason: d.Reason, Topic: d.Topic, Partition: d.Partition, Offset: d.Offset,
		Timestamp: timeString(d.Timestamp), DeadLetteredAt: timeString(d.DeadLetteredAt),
		Group: d.Group, Attempts: d.Attempts,
		Type: header(d, envelope.HeaderType), ID: d.ID(), EventVersion: header(d, envelope.HeaderEventVersion),
	}
	if id, _, err := envelope.ParseWire(d.Message.Value); err == nil {
		j.SchemaID = &id
	}
	if d.Message.Key != nil {
		if utf8.Valid(d.Message.Key) {
			k := string(d.Message.Key)
			j.Key = &k
		} else {
			j.KeyBase64 = base64.StdEncoding.EncodeToString(d.Message.Key)
		}
	}
	return j
}

func header(d kafka.DeadLetter, name string) string {
	v, _ := d.Message.Header(name)
	return string(v)
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
