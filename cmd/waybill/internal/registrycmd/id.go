package registrycmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/pkg/registry"
)

func newID(env *cli.Env) *cobra.Command {
	var f browseFlags
	cmd := &cobra.Command{
		Use:   "id ID",
		Short: "Show the schema with a global ID and every subject version that uses it",
		Long: `Id prints the schema registered under a global schema ID (the ID a Confluent
wire-format message carries in its header), every subject and version
registered with it, and its references.

Exit codes: 0 shown; 2 could not run (unreachable registry, unknown ID).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("%s: want one ID, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runID(cmd, env, f, args[0]) },
	}
	addBrowseFlags(cmd, &f)
	return cmd
}

// idView is what id prints.
type idView struct {
	ID         int                       `json:"id"`
	UsedBy     []registry.SubjectVersion `json:"used_by"`
	References []registry.Reference      `json:"references"`
	Schema     json.RawMessage           `json:"schema"`
}

func runID(cmd *cobra.Command, env *cli.Env, f browseFlags, arg string) error {
	if err := browseFormat(env, "id"); err != nil {
		return err
	}
	id, err := strconv.Atoi(arg)
	if err != nil || id < 0 {
		return cli.Usagef("registry id: %q is not a schema ID (a number)", arg)
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	sv, err := c.SchemaByID(ctx, id)
	if errors.Is(err, registry.ErrSchemaNotFound) {
		return fmt.Errorf("registry id: no schema with ID %d in %s", id, c.URL())
	}
	if err != nil {
		return fmt.Errorf("registry id: %w", err)
	}
	users, err := c.SubjectVersionsByID(ctx, id)
	if err != nil {
		return fmt.Errorf("registry id: %w", err)
	}
	view := &idView{ID: id, UsedBy: users, References: sv.References, Schema: rawSchema(sv.Schema)}
	if view.UsedBy == nil {
		view.UsedBy = []registry.SubjectVersion{}
	}
	if view.References == nil {
		view.References = []registry.Reference{}
	}
	if env.Format == "json" {
		return writeJSON(env.Stdout, view)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Schema ID %d\n", id)
	b.WriteString("Used by:\n")
	if len(users) == 0 {
		b.WriteString("  (no live subject version)\n")
	}
	for _, u := range users {
		fmt.Fprintf(&b, "  %s version %d\n", u.Subject, u.Version)
	}
	if len(sv.References) > 0 {
		b.WriteString("References:\n")
		for _, r := range sv.References {
			fmt.Fprintf(&b, "  %s: %s version %d\n", r.Name, r.Subject, r.Version)
		}
	}
	b.WriteString("Schema:\n")
	b.WriteString(indent(pretty(sv.Schema), "  "))
	b.WriteString("\n")
	_, err = io.WriteString(env.Stdout, b.String())
	return err
}
