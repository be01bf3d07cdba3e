package registrycmd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/registry"
)

func newDiff(env *cli.Env) *cobra.Command {
	var f browseFlags
	cmd := &cobra.Command{
		Use:   "diff SUBJECT V1 V2",
		Short: "Structural diff of two versions of a subject, with each change's consequence",
		Long: `Diff compares two versions of a subject (numbers, or latest) structurally, as
compat.Diff does: fields added, removed and renamed by alias, type changes,
enum symbols, union branches, defaults, logical types, docs. Each change is
marked with what it does to readers, as Waybill's compatibility checker finds
it in both directions:

  safe                nobody notices
  breaks new readers  consumers on V2 cannot read data written with V1
  breaks old readers  consumers on V1 cannot read data written with V2
  breaks both
  semantic warning    the bytes still decode, but mean something else

A break in a direction the subject's level does not check (old readers under
BACKWARD, new readers under FORWARD, both under NONE) is still shown, marked
"(not checked at LEVEL)".

Exit codes: 0 no change breaks readers the subject's level protects; 1 some
change does; 2 could not run (unreachable registry, unknown subject or
version, a schema that does not parse).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 3 {
				return cli.Usagef("%s: want SUBJECT V1 V2, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runDiff(cmd, env, f, args) },
	}
	addBrowseFlags(cmd, &f)
	return cmd
}

// diffView is what diff prints.
type diffView struct {
	Subject             string       `json:"subject"`
	Old                 versionRef   `json:"old"`
	New                 versionRef   `json:"new"`
	Compatibility       compat.Level `json:"compatibility"`
	CompatibilitySource string       `json:"compatibility_source"`
	Changes             []diffChange `json:"changes"`
	// Breaking counts the changes that break readers the level protects.
	Breaking int `json:"breaking"`
}

type versionRef struct {
	Version int `json:"version"`
	ID      int `json:"id"`
}

// diffChange is a change and whether the subject's level protects the
// readers it breaks.
type diffChange struct {
	compat.Change
	Protected bool `json:"breaks_protected_readers"`
}

func runDiff(cmd *cobra.Command, env *cli.Env, f browseFlags, args []string) error {
	if err := browseFormat(env, "diff"); err != nil {
		return err
	}
	v1, err := parseVersion("diff", args[1])
	if err != nil {
		return err
	}
	v2, err := parseVersion("diff", args[2])
	if err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	subject := args[0]
	var parsed [2]*compat.Schema
	var svs [2]*registry.SchemaVersion
	res := registry.NewResolver(c)
	for i, v := range []int{v1, v2} {
		sv, _, err := subjectVersion(ctx, c, "diff", subject, v)
		if err != nil {
			return err
		}
		s, err := res.Parse(ctx, sv)
		if err != nil {
			return fmt.Errorf("registry diff: %w", err)
		}
		svs[i], parsed[i] = sv, s
	}
	view := &diffView{Subject: subject, Old: versionRef{svs[0].Version, svs[0].ID}, New: versionRef{svs[1].Version, svs[1].ID}, Changes: []diffChange{}}
	view.Compatibility, view.CompatibilitySource, err = (&levels{c: c}).of(ctx, subject)
	if err != nil {
		return fmt.Errorf("registry diff: %w", err)
	}
	for _, ch := range compat.Diff(parsed[0], parsed[1], view.Compatibility) {
		dc := diffChange{Change: ch, Protected: ch.Consequence.Breaks(view.Compatibility)}
		if dc.Protected {
			view.Breaking++
		}
		view.Changes = append(view.Changes, dc)
	}
	if env.Format == "json" {
		err = writeJSON(env.Stdout, view)
	} else {
		err = writeDiff(env.Stdout, view)
	}
	if err != nil {
		return fmt.Errorf("registry diff: %w", err)
	}
	if view.Breaking > 0 {
		return cli.ErrFindings
	}
	return nil
}

func writeDiff(w io.Writer, v *diffView) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: version %d (ID %d) -> version %d (ID %d), level %s\n",
		v.Subject, v.Old.Version, v.Old.ID, v.New.Version, v.New.ID, v.Compatibility)
	if len(v.Changes) == 0 {
		b.WriteString("no structural changes\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	warnings := 0
	for _, c := range v.Changes {
		if c.Consequence == compat.SemanticWarning {
			warnings++
		}
		where := c.Field
		if where == "" {
			where = c.Path
		}
		what := c.New
		switch {
		case c.Old != "" && c.New != "":
			what = c.Old + " -> " + c.New
		case c.Old != "":
			what = c.Old
		}
		mark := " "
		if c.Protected {
			mark = "!"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s", mark, strings.ReplaceAll(string(c.Consequence), "-", " "), c.Kind, where, what)
		if c.Detail != "" {
			fmt.Fprintf(tw, "\t%s", c.Detail)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "%d %s; %d %s readers %s protects (marked !); %d semantic %s.\n",
		len(v.Changes), plural(len(v.Changes), "change", "changes"),
		v.Breaking, plural(v.Breaking, "breaks", "break"), v.Compatibility,
		warnings, plural(warnings, "warning", "warnings"))
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
