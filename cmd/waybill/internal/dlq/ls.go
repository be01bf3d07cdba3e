package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/avrojson"
	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/cmd/waybill/internal/kafkaflags"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/registry"
)

// defaultRegistry is the registry ls decodes with when neither --registry nor
// $WAYBILL_REGISTRY_URL names one: `waybill registry serve`'s address.
const defaultRegistry = "http://127.0.0.1:8081"

type lsFlags struct {
	kafka              kafkaflags.Flags
	registry           string
	username, password string
	registryTimeout    time.Duration
}

func newLs(env *cli.Env) *cobra.Command {
	var f lsFlags
	cmd := &cobra.Command{
		Use:   "ls TOPIC",
		Short: "List the dead letters of TOPIC, decoded",
		Long: `Ls lists the dead letters of TOPIC (on TOPIC.dlq), oldest first in each
partition, each with why it was given up on (code and reason), where it came
from (topic, partition, offset, time, consumer group, attempts), the event's
ce_type, ce_id and key, and its body decoded with the writer's schema from the
registry, as JSON. A body that does not decode, or a registry that does not
answer, shows why instead: the listing never stops for it.

It reads the dead-letter topic from its beginning to its end now, with no
consumer group: it commits nothing and changes nothing.

Codes: an envelope error kind (no-magic-byte, unknown-schema-id,
undecodable-body, ...) for an event that did not decode, "handler" for a
handler's permanent error, "retries-exhausted" when retryable errors ran out
of attempts.

` + kafkaflags.Help + `

Registry: --registry, else $` + registry.EnvURL + `, else ` + defaultRegistry + `.

Exit codes: 0 listed (none is fine), 2 could not run.`,
		Args: oneTopic("ls"),
		RunE: func(cmd *cobra.Command, args []string) error { return runLs(cmd.Context(), env, f, args[0]) },
	}
	addKafkaFlags(cmd, &f.kafka)
	fl := cmd.Flags()
	fl.StringVar(&f.registry, "registry", "", "the registry to decode bodies with (default $"+registry.EnvURL+", else "+defaultRegistry+")")
	fl.StringVar(&f.username, "username", "", "the registry's basic auth user (default $"+registry.EnvUsername+")")
	fl.StringVar(&f.password, "password", "", "the registry's basic auth password (default $"+registry.EnvPassword+")")
	fl.DurationVar(&f.registryTimeout, "registry-timeout", 5*time.Second, "timeout of each request to the registry")
	return cmd
}

func runLs(ctx context.Context, env *cli.Env, f lsFlags, topic string) error {
	if err := checkFormat(env, "ls"); err != nil {
		return err
	}
	cfg, err := f.kafka.Config()
	if err != nil {
		return err
	}
	ctx, cancel := f.kafka.Context(ctx)
	defer cancel()
	dlqTopic := kafka.DeadLetterTopicOf(topic)
	letters, err := kafka.ReadDeadLetters(ctx, cfg, topic)
	var malformed *kafka.MalformedError
	if err != nil && !errors.As(err, &malformed) {
		return fmt.Errorf("dlq ls: %w", err)
	}

	url := cmp.Or(f.registry, os.Getenv(registry.EnvURL), defaultRegistry)
	dec := avrojson.New(url, cmp.Or(f.username, os.Getenv(registry.EnvUsername)), cmp.Or(f.password, os.Getenv(registry.EnvPassword)), f.registryTimeout)
	out := make([]letterJSON, len(letters))
	for i, d := range letters {
		out[i] = newLetterJSON(d)
		event, err := dec.Decode(ctx, d.Message.Value)
		if err != nil {
			out[i].DecodeError = oneLine(err.Error())
		} else {
			out[i].Event = event
		}
	}
	var bad []malformedJSON
	if malformed != nil {
		for i, d := range malformed.Letters {
			bad = append(bad, malformedJSON{DLQPartition: d.DLQPartition, DLQOffset: d.DLQOffset, Error: oneLine(malformed.Errs[i].Error())})
		}
	}
	if env.Format == "json" {
		return writeJSON(env.Stdout, lsJSON{Topic: dlqTopic, Count: len(out), DeadLetters: out, Malformed: bad})
	}
	return writeLsText(env.Stdout, dlqTopic, out, bad)
}

type lsJSON struct {
	Topic       string          `json:"topic"`
	Count       int             `json:"count"`
	DeadLetters []letterJSON    `json:"dead_letters"`
	Malformed   []malformedJSON `json:"malformed,omitempty"`
}

// malformedJSON is a record of the dead-letter topic that is no dead letter.
type malformedJSON struct {
	DLQPartition int32  `json:"dlq_partition"`
	DLQOffset    int64  `json:"dlq_offset"`
	Error        string `json:"error"`
}

func writeLsText(w io.Writer, dlqTopic string, letters []letterJSON, bad []malformedJSON) error {
	var b strings.Builder
	for _, d := range letters {
		fmt.Fprintf(&b, "%s %d/%d  %s", dlqTopic, d.DLQPartition, d.DLQOffset, d.Code)
		if d.DeadLetteredAt != "" {
			fmt.Fprintf(&b, "  dead-lettered %s", d.DeadLetteredAt)
		}
		b.WriteByte('\n')
		fmt.Fprintf(&b, "  reason:   %s\n", oneLine(d.Reason))
		fmt.Fprintf(&b, "  from:     %s %s", d.Topic, location(d.Partition, d.Offset))
		if d.Timestamp != "" {
			fmt.Fprintf(&b, " at %s", d.Timestamp)
		}
		b.WriteByte('\n')
		group := d.Group
		if group == "" {
			group = "(not said)"
		}
		fmt.Fprintf(&b, "  group:    %s, %d attempt%s\n", group, d.Attempts, plural(d.Attempts))
		fmt.Fprintf(&b, "  event:    %s", cmp.Or(d.Type, "(no ce_type)"))
		if d.EventVersion != "" {
			fmt.Fprintf(&b, " v%s", d.EventVersion)
		}
		fmt.Fprintf(&b, ", ce_id %s", cmp.Or(d.ID, "(none)"))
		switch {
		case d.Key != nil:
			fmt.Fprintf(&b, ", key %q", *d.Key)
		case d.KeyBase64 != "":
			fmt.Fprintf(&b, ", key (base64) %s", d.KeyBase64)
		default:
			b.WriteString(", no key")
		}
		if d.SchemaID != nil {
			fmt.Fprintf(&b, ", schema ID %d", *d.SchemaID)
		}
		b.WriteByte('\n')
		if d.DecodeError != "" {
			fmt.Fprintf(&b, "  body:     not decoded: %s\n", d.DecodeError)
		} else {
			fmt.Fprintf(&b, "  body:     %s\n", d.Event)
		}
		b.WriteByte('\n')
	}
	for _, m := range bad {
		fmt.Fprintf(&b, "%s %d/%d  not a dead letter: %s\n\n", dlqTopic, m.DLQPartition, m.DLQOffset, m.Error)
	}
	switch len(letters) {
	case 0:
		fmt.Fprintf(&b, "no dead letters in %s\n", dlqTopic)
	default:
		fmt.Fprintf(&b, "%d dead letter%s in %s\n", len(letters), plural(len(letters)), dlqTopic)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func location(partition int32, offset int64) string {
	p, o := "?", "?"
	if partition >= 0 {
		p = fmt.Sprint(partition)
	}
	if offset >= 0 {
		o = fmt.Sprint(offset)
	}
	return p + "/" + o
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
