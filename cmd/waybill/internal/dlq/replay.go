package dlq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/cmd/waybill/internal/kafkaflags"
	"github.com/waybill/waybill/pkg/kafka"
)

type replayFlags struct {
	kafka  kafkaflags.Flags
	ids    []string
	codes  []string
	dryRun bool
}

func newReplay(env *cli.Env) *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay TOPIC [--id ID ...] [--code CODE ...] [--dry-run]",
		Short: "Send dead letters back to their original topic",
		Long: `Replay sends the dead letters of TOPIC (on TOPIC.dlq) back to the topic they
came from, for its consumers to handle again once the cause is fixed (a handler
deployed, a schema registered, a downstream service back): every one, or those
whose event ID (ce_id) is given with --id, or whose code is given with --code
(both: those matching both).

Each goes back with its original key, value and headers byte for byte, plus
one header, waybill_replayed_at (when), through an idempotent producer; the
command returns once the broker acknowledged all of them. An event keeps its
ce_id, so consumers de-duplicate it as usual: it was never recorded as handled,
so the replay is handled once, and replaying it again later is skipped for as
long as the consumer's de-duplication store remembers the ID. Dead letters with
the same ce_id (an event dead-lettered again after a replay) are sent once.

The dead letters stay on TOPIC.dlq (Kafka deletes records only by retention).
An --id that matches no dead letter exits 2 before anything is sent.
--dry-run lists what would be sent and sends nothing.

` + kafkaflags.Help + `

Exit codes: 0 replayed (or nothing to replay), 2 could not run.`,
		Args: oneTopic("replay"),
		RunE: func(cmd *cobra.Command, args []string) error { return runReplay(cmd.Context(), env, f, args[0]) },
	}
	addKafkaFlags(cmd, &f.kafka)
	fl := cmd.Flags()
	fl.StringSliceVar(&f.ids, "id", nil, "replay the dead letter of this event ID (ce_id); repeat or comma-separate for several")
	fl.StringSliceVar(&f.codes, "code", nil, "replay the dead letters with this code (handler, retries-exhausted, unknown-schema-id, ...)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "list what would be replayed; send nothing")
	return cmd
}

type replayJSON struct {
	Topic       string       `json:"topic"`
	DryRun      bool         `json:"dry_run"`
	Selected    int          `json:"selected"`
	Replayed    int          `json:"replayed"`
	DeadLetters []letterJSON `json:"dead_letters"`
}

func runReplay(ctx context.Context, env *cli.Env, f replayFlags, topic string) error {
	if err := checkFormat(env, "replay"); err != nil {
		return err
	}
	for _, id := range f.ids {
		if id == "" {
			return cli.Usagef("dlq replay: --id: empty event ID")
		}
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
		return fmt.Errorf("dlq replay: %w", err)
	}
	// A malformed record names no topic to go back to: it is never
	// selected, and ls shows it.

	found := map[string]bool{}
	selected := slices.DeleteFunc(letters, func(d kafka.DeadLetter) bool {
		if len(f.ids) > 0 && !slices.Contains(f.ids, d.ID()) {
			return true
		}
		if len(f.codes) > 0 && !slices.Contains(f.codes, d.Code) {
			return true
		}
		found[d.ID()] = true
		return false
	})
	var missing []string
	for _, id := range f.ids {
		if !found[id] && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		what := "no dead letter"
		if len(f.codes) > 0 {
			what += " with code " + strings.Join(f.codes, " or ")
		}
		return fmt.Errorf("dlq replay: %s for event ID %s in %s; nothing was sent", what, strings.Join(missing, ", "), dlqTopic)
	}

	n := 0
	if !f.dryRun && len(selected) > 0 {
		n, err = kafka.ReplayLetters(ctx, cfg, selected)
		if err != nil {
			return fmt.Errorf("dlq replay: %d sent before: %w", n, err)
		}
	}
	out := replayJSON{Topic: dlqTopic, DryRun: f.dryRun, Selected: len(selected), Replayed: n, DeadLetters: make([]letterJSON, len(selected))}
	for i, d := range selected {
		out.DeadLetters[i] = newLetterJSON(d)
	}
	if env.Format == "json" {
		return writeJSON(env.Stdout, out)
	}
	return writeReplayText(env.Stdout, out)
}

func writeReplayText(w io.Writer, r replayJSON) error {
	var b strings.Builder
	verb := "replayed"
	if r.DryRun {
		verb = "would replay"
	}
	for _, d := range r.DeadLetters {
		fmt.Fprintf(&b, "%s %s %d/%d -> %s: %s, ce_id %s (%s: %s)\n", verb, r.Topic, d.DLQPartition, d.DLQOffset, d.Topic,
			cmpOrNone(d.Type), cmpOrNone(d.ID), d.Code, oneLine(d.Reason))
	}
	switch {
	case r.Selected == 0:
		fmt.Fprintf(&b, "nothing to replay in %s\n", r.Topic)
	case r.DryRun:
		fmt.Fprintf(&b, "dry run: %d dead letter%s would be replayed; nothing was sent\n", r.Selected, plural(r.Selected))
	default:
		fmt.Fprintf(&b, "%d dead letter%s replayed from %s, acknowledged", r.Replayed, plural(r.Replayed), r.Topic)
		if r.Replayed < r.Selected {
			fmt.Fprintf(&b, " (%d repeated an event ID and went once)", r.Selected-r.Replayed)
		}
		b.WriteString("; they stay on the dead-letter topic\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cmpOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
