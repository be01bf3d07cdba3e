package compatcmd

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/schemacheck"
)

type pairFlags struct {
	reader, writer string
	refs           []string
}

func newPair(env *cli.Env) *cobra.Command {
	var f pairFlags
	cmd := &cobra.Command{
		Use:   "pair --reader R.avsc --writer W.avsc [--ref SHARED.avsc...]",
		Short: "Check whether data written with one schema can be read with another",
		Long: `Pair reports whether data written with the writer schema can be read with the
reader schema, under Avro's schema resolution rules, with every incompatibility
and a JSON pointer into the reader schema for each. Semantic changes that resolve
without error (a decimal's scale, a timestamp's unit) are warnings.

Named types the schemas use but do not define are taken from the --ref files, in
order. A schema that does not parse is exit code 2.`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPair(env, f) },
	}
	cmd.Flags().StringVar(&f.reader, "reader", "", "the reader's schema file (required)")
	cmd.Flags().StringVar(&f.writer, "writer", "", "the writer's schema file (required)")
	cmd.Flags().StringArrayVar(&f.refs, "ref", nil, "a schema file defining named types the others use (repeatable)")
	return cmd
}

func runPair(env *cli.Env, f pairFlags) error {
	if f.reader == "" || f.writer == "" {
		return cli.Usagef("compat pair: --reader and --writer are required")
	}
	if _, err := env.ReportFormat(); err != nil {
		return err
	}
	refs, err := parseRefs(f.refs)
	if err != nil {
		return err
	}
	reader, err := parseFile(f.reader, refs)
	if err != nil {
		return err
	}
	writer, err := parseFile(f.writer, refs)
	if err != nil {
		return err
	}
	r := &schemacheck.Report{Findings: []schemacheck.Finding{}}
	r.Add(schemacheck.CheckPair(reader, writer)...)
	r.Subject = fmt.Sprintf("%s reading data written with %s", f.reader, f.writer)
	return env.WriteReport(r)
}

// parseFile reads and parses a schema file. Errors name the file and, for
// JSON syntax errors, the line and column.
func parseFile(file string, refs []*compat.Schema) (schemacheck.Schema, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return schemacheck.Schema{}, fmt.Errorf("reading schema: %w", err)
	}
	s, err := compat.Parse(text, refs...)
	if err != nil {
		hint := ""
		if strings.Contains(err.Error(), "undefined name") {
			hint = " (pass the schema that defines it with --ref)"
		}
		return schemacheck.Schema{}, fmt.Errorf("%s: %w%s", locate(file, text, err), err, hint)
	}
	return schemacheck.Schema{File: file, Text: text, Schema: s}, nil
}

// locate returns "file:line:col" for a parse error.
func locate(file string, text []byte, err error) string {
	var pe *compat.ParseError
	if !errors.As(err, &pe) {
		return file
	}
	line, col := pe.Line, pe.Column
	if line == 0 {
		return file
	}
	return fmt.Sprintf("%s:%d:%d", file, line, col)
}

// parseRefs parses the --ref files in order, each able to use the ones
// before it.
func parseRefs(files []string) ([]*compat.Schema, error) {
	var refs []*compat.Schema
	for _, file := range files {
		s, err := parseFile(file, refs)
		if err != nil {
			return nil, err
		}
		refs = append(refs, s.Schema)
	}
	return refs, nil
}
