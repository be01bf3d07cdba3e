package registrycmd

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
)

func newServe(env *cli.Env) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run Waybill's Confluent-compatible Schema Registry",
		Args:  cli.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return errors.New("registry serve: not yet implemented") },
	}
}
