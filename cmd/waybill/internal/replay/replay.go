// Package replay is `waybill replay`: rewind a consumer group on a topic to a
// time, so that its consumers handle every event since then again.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/cmd/waybill/internal/kafkaflags"
	"github.com/waybill/waybill/pkg/kafka"
)

type flags struct {
	kafka  kafkaflags.Flags
	group  string
	topic  string
	from   string
	dryRun bool
}

// New returns the replay command.
func New(env *cli.Env) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "replay --group G --topic T --from TIME [--dry-run]",
		Short: "Rewind a consumer group on a topic to a time",
		Long: `Replay moves the committed offsets of consumer group G on every partition of
topic T to the first record at or after TIME (Kafka's offsets for times), or to
the partition's end when no record is that recent. When the group's consumers
start again they handle every event since TIME again; their de-duplication by
event ID (ce_id) skips those they remember having handled, so a replay re-runs
side effects only for events the store has forgotten or never saw.

TIME is an RFC 3339 time (2026-11-22T09:30:00Z, 2026-11-22T10:30:00+01:00), a
date (2026-11-22, midnight UTC), or a duration ago: 15m, 2h, 36h, 7d.

The group must be stopped: a running consumer commits its own position over a
rewind, so replay refuses (exit 2) while the group has members. Stop its
consumers, replay, start them. A TIME later than a partition's committed offset
moves the group forward there, skipping records; the output says so.

--dry-run prints the offsets it would commit, next to the committed ones, and
commits nothing (it works on a running group, and says it would be refused).

` + kafkaflags.Help + `

Exit codes: 0 rewound (or dry run), 2 could not run (the group is running, the
topic does not exist, Kafka unreachable, bad flags).`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), env, f, time.Now()) },
	}
	kafkaflags.Add(cmd, &f.kafka)
	fl := cmd.Flags()
	fl.StringVar(&f.group, "group", "", "the consumer group to rewind (required)")
	fl.StringVar(&f.topic, "topic", "", "the topic to rewind it on (required)")
	fl.StringVar(&f.from, "from", "", "the time to rewind to: RFC 3339, a date, or a duration ago like 15m, 2h, 7d (required)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the offsets; commit nothing")
	return cmd
}

// ParseTime parses a --from TIME as of now: RFC 3339, a date (midnight
// UTC), or a duration ago (Go's durations, plus whole days as "7d").
func ParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (2026-11-22T09:30:00Z), a date (2026-11-22) or a duration ago (15m, 2h, 7d)", s)
}

type partitionJSON struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
	Previous  int64 `json:"previous"`
}

type outputJSON struct {
	Group      string          `json:"group"`
	Topic      string          `json:"topic"`
	From       string          `json:"from"`
	DryRun     bool            `json:"dry_run"`
	Committed  bool            `json:"committed"`
	Partitions []partitionJSON `json:"partitions"`
	// Refused says why a rewind now would be refused (dry run only).
	Refused string `json:"refused,omitempty"`
}

func run(ctx context.Context, env *cli.Env, f flags, now time.Time) error {
	if env.Format != "text" && env.Format != "json" {
		return cli.Usagef("replay: --format %s: want text or json", env.Format)
	}
	switch {
	case f.group == "":
		return cli.Usagef("replay: --group is required")
	case f.topic == "":
		return cli.Usagef("replay: --topic is required")
	case f.from == "":
		return cli.Usagef("replay: --from is required")
	}
	from, err := ParseTime(f.from, now)
	if err != nil {
		return cli.Usagef("replay: --from: %v", err)
	}
	cfg, err := f.kafka.Config()
	if err != nil {
		return err
	}
	ctx, cancel := f.kafka.Context(ctx)
	defer cancel()

	var offsets []kafka.PartitionOffset
	out := outputJSON{Group: f.group, Topic: f.topic, From: from.UTC().Format(time.RFC3339Nano), DryRun: f.dryRun}
	if f.dryRun {
		offsets, err = kafka.PlanRewind(ctx, cfg, f.group, f.topic, from)
		var active *kafka.GroupActiveError
		if errors.As(err, &active) {
			out.Refused = fmt.Sprintf("group %s has %d active member%s (state %s): stop its consumers first; a running group commits over a rewind",
				active.Group, active.Members, plural(active.Members), active.State)
			err = nil
		}
	} else {
		offsets, err = kafka.Rewind(ctx, cfg, f.group, f.topic, from)
		out.Committed = err == nil
	}
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	for _, po := range offsets {
		out.Partitions = append(out.Partitions, partitionJSON(po))
	}
	if env.Format == "json" {
		if out.Partitions == nil {
			out.Partitions = []partitionJSON{}
		}
		return writeJSON(env.Stdout, out)
	}
	return writeText(env.Stdout, out)
}

func writeText(w io.Writer, o outputJSON) error {
	var b strings.Builder
	if o.DryRun {
		fmt.Fprintf(&b, "dry run: would rewind group %s on %s to %s (nothing committed)\n", o.Group, o.Topic, o.From)
	} else {
		fmt.Fprintf(&b, "rewound group %s on %s to %s\n", o.Group, o.Topic, o.From)
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tOFFSET\tCOMMITTED BEFORE\t")
	again, skipped := int64(0), int64(0)
	for _, p := range o.Partitions {
		prev, note := "-", ""
		if p.Previous >= 0 {
			prev = strconv.FormatInt(p.Previous, 10)
			switch d := p.Previous - p.Offset; {
			case d > 0:
				note = fmt.Sprintf("%d again", d)
				again += d
			case d < 0:
				note = fmt.Sprintf("skips %d", -d)
				skipped += -d
			}
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\n", p.Partition, p.Offset, prev, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "%d record%s to handle again", again, plural64(again))
	if skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped (the time is past the committed offset)", skipped)
	}
	b.WriteString(" (partitions with no committed offset start at OFFSET)\n")
	if o.Refused != "" {
		fmt.Fprintf(&b, "not now: %s\n", o.Refused)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int) string { return plural64(int64(n)) }

func plural64(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
