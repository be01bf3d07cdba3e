// Package registrycmd is `waybill registry`: run Waybill's Schema Registry
// (serve), sync the repository's schemas to any Confluent-compatible registry
// (push), and browse one from the terminal (ls, show, diff, id).
package registrycmd

import (
	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
)

// New returns the registry command and its subcommands.
func New(env *cli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Run a Schema Registry, sync schemas/ to one, or browse one",
		RunE:  cli.Group,
	}
	cmd.AddCommand(newServe(env), newPush(env), newLs(env), newShow(env), newDiff(env), newID(env))
	return cmd
}
