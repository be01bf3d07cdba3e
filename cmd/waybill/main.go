// Command waybill is Waybill's command line: schema lint and compatibility
// checks, code generation, the Schema Registry and the embedded stack. See
// DESIGN.md ("Command line") for the commands; scripts and CI depend on them
// and on the exit codes: 0 passed, 1 findings, 2 could not run.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/waybill/waybill/cmd/waybill/internal/root"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// run runs the command line args (args[0] is the program) and returns the
// exit code, so tests can run commands in-process.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return root.Run(ctx, args[1:], os.Stdin, stdout, stderr)
}
