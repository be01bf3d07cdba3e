// Package compatcmd is `waybill compat`: compatibility checks of a schema
// tree against another (check), of two schemas (pair), of a batch of pairs
// (pairs) and of a candidate against existing versions at a level (level).
package compatcmd

import (
	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
)

// New returns the compat command and its subcommands.
func New(env *cli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compat",
		Short: "Check Avro schemas for compatibility",
		RunE:  cli.Group,
	}
	cmd.AddCommand(newCheck(env), newPair(env), newPairs(env), newLevel(env))
	return cmd
}
