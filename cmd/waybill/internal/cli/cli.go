// Package cli holds what the waybill subcommands share: their input and
// output streams, the --format flag, and the mapping of errors to exit codes
// (0 passed, 1 findings, 2 could not run).
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/pkg/schemacheck"
)

// The exit codes. Each means one thing; scripts and CI depend on them.
const (
	ExitPassed   = 0
	ExitFindings = 1
	ExitError    = 2
)

// ErrFindings is returned by a command that ran and found problems, after it
// has written them: the exit code is 1 and nothing more is printed.
var ErrFindings = errors.New("findings")

// Env is a command's world: its streams. Tests give their own.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Format is the value of the persistent --format flag.
	Format string
	// FailOnWarnings makes warnings fail a check (--fail-on-warnings):
	// semantic warnings are reported but pass unless asked.
	FailOnWarnings bool
}

// ReportFormat returns the --format flag as a report format.
func (e *Env) ReportFormat() (schemacheck.Format, error) {
	f, err := schemacheck.ParseFormat(e.Format)
	if err != nil {
		return "", Usagef("--format %q: want text, json, github or markdown", e.Format)
	}
	return f, nil
}

// WriteReport writes r in the --format the user chose, and returns
// ErrFindings if it has errors, or warnings under --fail-on-warnings.
func (e *Env) WriteReport(r *schemacheck.Report) error {
	f, err := e.ReportFormat()
	if err != nil {
		return err
	}
	if err := r.Write(e.Stdout, f); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if !r.Passed() || (e.FailOnWarnings && r.Warnings() > 0) {
		return ErrFindings
	}
	return nil
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Usagef returns an error for a mistake on the command line.
func Usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// ExitCode returns the exit code for the error a command returned and, for
// exit code 2, the one-line message to print on standard error.
func ExitCode(err error) (int, string) {
	switch {
	case err == nil:
		return ExitPassed, ""
	case errors.Is(err, ErrFindings):
		return ExitFindings, ""
	}
	return ExitError, "waybill: " + oneLine(err.Error())
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// CheckDir returns why dir is not a readable directory, or nil.
func CheckDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	if !info.IsDir() {
		return errors.New("not a directory")
	}
	f, err := os.Open(dir)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	return f.Close()
}

// CheckSchemasDir returns an error if the --schemas directory cannot be read.
func CheckSchemasDir(dir string) error {
	if err := CheckDir(dir); err != nil {
		return fmt.Errorf("schemas directory %q: %w", dir, err)
	}
	return nil
}

// NoArgs is cobra.NoArgs with an error that says which command.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("%s: unexpected argument %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// SchemasFlag adds the --schemas flag, the directory of the schema tree.
func SchemasFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "schemas", "schemas", "the schemas directory (catalog.yaml and <domain>/<Event>/v<N>.avsc)")
}

// Group is the RunE of a command that only groups subcommands: without
// arguments it prints its help; an argument is an unknown subcommand.
func Group(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}
