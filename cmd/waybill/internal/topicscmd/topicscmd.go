// Package topicscmd is `waybill topics`: the Kafka topics the catalog
// declares, created where they are missing (the production stack's init
// container runs it; `waybill dev` does the same in process).
package topicscmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/cmd/waybill/internal/kafkaflags"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/kafka"
)

type flags struct {
	kafka   kafkaflags.Flags
	schemas string
}

// New returns the topics command and its subcommands.
func New(env *cli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create the catalog's Kafka topics",
		Args:  cli.Group,
	}
	var f flags
	create := &cobra.Command{
		Use:   "create [--brokers HOST:PORT] [--schemas DIR]",
		Short: "Create the catalog's topics and their dead-letter topics where missing",
		Long: `Create creates every topic schemas/catalog.yaml declares, with its partitions,
retention and cleanup policy, and the dead-letter topic of each (<topic>.dlq:
the same partitions and retention, cleanup.policy=delete), at the broker's
default replication factor. Topics that exist already are left as they are.
It is safe to run again: the production stack's init container runs it on
every start.

` + kafkaflags.Help + `

Exit codes: 0 done (created or already there), 2 could not run (Kafka
unreachable, bad catalog, bad flags).`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), env, f) },
	}
	kafkaflags.Add(create, &f.kafka)
	cli.SchemasFlag(create, &f.schemas)
	cmd.AddCommand(create)
	return cmd
}

func run(ctx context.Context, env *cli.Env, f flags) error {
	if err := cli.CheckSchemasDir(f.schemas); err != nil {
		return err
	}
	cat, err := catalog.Load(os.DirFS(f.schemas))
	if err != nil {
		return err
	}
	cfg, err := f.kafka.Config()
	if err != nil {
		return err
	}
	ctx, cancel := f.kafka.Context(ctx)
	defer cancel()
	created, err := kafka.CreateTopics(ctx, cfg, cat)
	if err != nil {
		return err
	}
	if env.Format == "json" {
		if created == nil {
			created = []string{}
		}
		return json.NewEncoder(env.Stdout).Encode(map[string]any{"created": created, "topics": 2 * len(cat.Topics)})
	}
	if len(created) == 0 {
		fmt.Fprintf(env.Stdout, "topics: all %d there already\n", 2*len(cat.Topics))
		return nil
	}
	for _, t := range created {
		fmt.Fprintf(env.Stdout, "created %s\n", t)
	}
	fmt.Fprintf(env.Stdout, "topics: %d created, %d there already\n", len(created), 2*len(cat.Topics)-len(created))
	return nil
}
