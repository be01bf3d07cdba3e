// Package root is the waybill command tree: it wires the subcommands
// together and turns what they return into an exit code.
package root

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/browsecmd"
	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/cmd/waybill/internal/compatcmd"
	"github.com/waybill/waybill/cmd/waybill/internal/devcmd"
	"github.com/waybill/waybill/cmd/waybill/internal/dlq"
	"github.com/waybill/waybill/cmd/waybill/internal/gencmd"
	"github.com/waybill/waybill/cmd/waybill/internal/lintcmd"
	"github.com/waybill/waybill/cmd/waybill/internal/registrycmd"
	"github.com/waybill/waybill/cmd/waybill/internal/replay"
	"github.com/waybill/waybill/cmd/waybill/internal/tailcmd"
	"github.com/waybill/waybill/cmd/waybill/internal/topicscmd"
)

// Run runs the waybill command line args (without the program name) and
// returns the exit code: 0 passed, 1 findings, 2 could not run. On 2 it prints
// one line, "waybill: <reason>", on stderr; never a stack trace.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	env := &cli.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "waybill: internal error: %s\n", strings.Join(strings.Fields(fmt.Sprint(p)), " "))
			code = cli.ExitError
		}
	}()

	cmd := New(env)
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	code, msg := cli.ExitCode(cmd.ExecuteContext(ctx))
	if msg != "" {
		fmt.Fprintln(stderr, msg)
	}
	return code
}

// New returns the root command.
func New(env *cli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "waybill",
		Short: "Waybill: a schema-governed Kafka event platform",
		Long: `Waybill keeps the Avro schemas of every event type in the repository, versioned,
checks every change to them for compatibility before it merges, generates typed Go
code from them, and runs the services that exchange them.

Exit codes: 0 passed, 1 findings (incompatible, lint violations), 2 could not run.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("format") && cmd.Annotations["defaultFormat"] != "" {
				env.Format = cmd.Annotations["defaultFormat"]
			}
			if _, err := env.ReportFormat(); err != nil {
				return err
			}
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&env.Format, "format", "text", "output format: text, json, github or markdown")
	cmd.PersistentFlags().BoolVar(&env.FailOnWarnings, "fail-on-warnings", false, "exit 1 on warnings too (semantic changes such as a decimal's scale or a timestamp's unit)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cli.Usagef("%s: %v", c.CommandPath(), err)
	})
	cmd.AddCommand(lintcmd.New(env), compatcmd.New(env), registrycmd.New(env), browsecmd.New(env), gencmd.New(env), devcmd.New(env), dlq.New(env), replay.New(env), topicscmd.New(env), tailcmd.New(env))
	return cmd
}
