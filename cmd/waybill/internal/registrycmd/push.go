package registrycmd

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
)

func newPush(env *cli.Env) *cobra.Command {
	return &cobra.Command{
		Use:   "push --url URL [--dry-run]",
		Short: "Sync schemas/ to a registry: a plan, then apply",
		Args:  cli.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return errors.New("registry push: not yet implemented") },
	}
}
