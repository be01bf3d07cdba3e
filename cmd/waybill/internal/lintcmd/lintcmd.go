// Package lintcmd is `waybill lint`: the lint rules over every version of
// every event type and shared type in the schemas directory.
package lintcmd

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/schemacheck"
)

type flags struct {
	schemas   string
	listRules bool
}

// New returns the lint command.
func New(env *cli.Env) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   "lint [--schemas DIR]",
		Short: "Lint every schema in the schemas directory",
		Long: `Lint loads the schemas directory (catalog.yaml and every <domain>/<Event>/v<N>.avsc)
and applies the lint rules catalog.yaml selects to every version. A file that does
not load is a finding too, with its line and column.

catalog.yaml selects rules as buf does: "lint: {use: [...], except: [...]}" with
rule IDs, categories (DOCS, STYLE, EVOLUTION, CORRECTNESS), DEFAULT or ALL.
--list-rules prints every rule with its category, whether it is on by default,
and why it exists.`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.listRules {
				return listRules(env)
			}
			return run(env, f)
		},
	}
	cli.SchemasFlag(cmd, &f.schemas)
	cmd.Flags().BoolVar(&f.listRules, "list-rules", false, "list the lint rules and exit")
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

// listRules prints the rule table: a table for people, a JSON array for
// scripts.
func listRules(env *cli.Env) error {
	rules := compat.LintRules()
	switch env.Format {
	case "json":
		type rule struct {
			ID       string `json:"id"`
			Category string `json:"category"`
			Default  bool   `json:"default"`
			Purpose  string `json:"purpose"`
		}
		out := make([]rule, len(rules))
		for i, r := range rules {
			out[i] = rule{r.ID, r.Category, r.Default, r.Purpose}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "text":
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tCATEGORY\tDEFAULT\tPURPOSE")
		for _, r := range rules {
			on := "off"
			if r.Default {
				on = "on"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Category, on, r.Purpose)
		}
		return tw.Flush()
	}
	return cli.Usagef("lint --list-rules: --format %s: want text or json", env.Format)
}
