// Package lintcmd is `waybill lint`: the lint rules over every version of
// every event type and shared type in the schemas directory.
package lintcmd

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/pkg/schemacheck"
)

type flags struct {
	schemas string
}

// New returns the lint command.
func New(env *cli.Env) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "lint [--schemas DIR]",
		Short: "Lint every schema in the schemas directory",
		Long: `Lint loads the schemas directory (catalog.yaml and every <domain>/<Event>/v<N>.avsc)
and applies the lint rules catalog.yaml selects to every version. A file that does
not load is a finding too, with its line and column.`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(env, f) },
	}
	cli.SchemasFlag(cmd, &f.schemas)
	return cmd
}

func run(env *cli.Env, f flags) error {
	if _, err := env.ReportFormat(); err != nil {
		return err
	}
	if err := cli.CheckSchemasDir(f.schemas); err != nil {
		return err
	}
	tree, err := schemacheck.Load(os.DirFS(f.schemas))
	if err != nil {
		return err
	}
	r := schemacheck.Lint(tree)
	return env.WriteReport(r.WithRoot(f.schemas))
}
