package compatcmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/schemacheck"
)

type levelFlags struct {
	level     string
	candidate string
	refs      []string
}

func newLevel(env *cli.Env) *cobra.Command {
	var f levelFlags
	cmd := &cobra.Command{
		Use:   "level --level LEVEL --candidate NEW.avsc [OLD1.avsc OLD2.avsc...]",
		Short: "Check a candidate schema against existing versions at a compatibility level",
		Long: `Level checks a candidate schema against existing versions, oldest first, as a
Schema Registry does at the given level: BACKWARD, BACKWARD_TRANSITIVE, FORWARD,
FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE. BACKWARD: the candidate reads
the latest version's data; FORWARD: the latest version reads the candidate's data;
FULL: both; _TRANSITIVE: against every version, not only the latest.

Named types the schemas use but do not define are taken from the --ref files, in
order. A schema that does not parse is exit code 2.`,
		RunE: func(cmd *cobra.Command, args []string) error { return runLevel(env, f, args) },
	}
	cmd.Flags().StringVar(&f.level, "level", "", "the compatibility level (required)")
	cmd.Flags().StringVar(&f.candidate, "candidate", "", "the candidate schema file (required)")
	cmd.Flags().StringArrayVar(&f.refs, "ref", nil, "a schema file defining named types the others use (repeatable)")
	return cmd
}

func runLevel(env *cli.Env, f levelFlags, existingFiles []string) error {
	if f.level == "" || f.candidate == "" {
		return cli.Usagef("compat level: --level and --candidate are required")
	}
	level, err := compat.ParseLevel(f.level)
	if err != nil {
		return cli.Usagef("compat level: %v", err)
	}
	if _, err := env.ReportFormat(); err != nil {
		return err
	}
	refs, err := parseRefs(f.refs)
	if err != nil {
		return err
	}
	candidate, err := parseFile(f.candidate, refs)
	if err != nil {
		return err
	}
	existing := make([]schemacheck.Schema, len(existingFiles))
	for i, file := range existingFiles {
		if existing[i], err = parseFile(file, refs); err != nil {
			return err
		}
	}
	r := &schemacheck.Report{Findings: []schemacheck.Finding{}}
	r.Add(schemacheck.CheckLevel(level, candidate, existing)...)
	r.Subject = fmt.Sprintf("%s against %d existing version(s) at %s", f.candidate, len(existing), level)
	return env.WriteReport(r)
}
