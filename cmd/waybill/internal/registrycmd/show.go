package registrycmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
)

type showFlags struct {
	browseFlags
	schemas string
}

func newShow(env *cli.Env) *cobra.Command {
	var f showFlags
	cmd := &cobra.Command{
		Use:   "show SUBJECT [VERSION|latest]",
		Short: "Show a subject's version: ID, level, references, fields and schema",
		Long: `Show prints one version of a subject (the latest when none is given): its
schema ID, the subject's versions and compatibility level, the catalog's
metadata for its event type (with --schemas), the schema references it uses
and the schemas that reference it, a table of its fields (nested records'
fields as dotted paths) and the schema, pretty-printed.

Exit codes: 0 shown; 2 could not run (unreachable registry, unknown subject or
version).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return cli.Usagef("%s: want SUBJECT [VERSION|latest], got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runShow(cmd, env, f, args) },
	}
	addBrowseFlags(cmd, &f.browseFlags)
	catalogFlag(cmd, &f.schemas)
	return cmd
}

// versionView is what show prints.
type versionView struct {
	Subject             string               `json:"subject"`
	Version             int                  `json:"version"`
	ID                  int                  `json:"id"`
	Versions            []int                `json:"versions"`
	Compatibility       compat.Level         `json:"compatibility"`
	CompatibilitySource string               `json:"compatibility_source"`
	Event               *eventView           `json:"event,omitempty"`
	References          []registry.Reference `json:"references"`
	ReferencedBy        []referrer           `json:"referenced_by"`
	Fields              []fieldRow           `json:"fields"`
	ParseError          string               `json:"parse_error,omitempty"`
	Schema              json.RawMessage      `json:"schema"`
	text                string               // the schema as the registry has it
}

// eventView is the catalog's entry for the subject's event type.
type eventView struct {
	Name        string   `json:"name"`
	Topic       string   `json:"topic,omitempty"`
	Key         string   `json:"key,omitempty"`
	Owner       string   `json:"owner,omitempty"`
	Producers   []string `json:"producers,omitempty"`
	Consumers   []string `json:"consumers,omitempty"`
	Description string   `json:"description,omitempty"`
}

// referrer is a schema that references the version shown, and the subject
// versions that register it.
type referrer struct {
	ID   int                       `json:"id"`
	Uses []registry.SubjectVersion `json:"used_by"`
}

// fieldRow is one line of the field table.
type fieldRow struct {
	Field   string          `json:"field"`
	Type    string          `json:"type"`
	Default json.RawMessage `json:"default,omitempty"`
	Doc     string          `json:"doc,omitempty"`
}

func runShow(cmd *cobra.Command, env *cli.Env, f showFlags, args []string) error {
	if err := browseFormat(env, "show"); err != nil {
		return err
	}
	v := 0
	if len(args) == 2 {
		var err error
		if v, err = parseVersion("show", args[1]); err != nil {
			return err
		}
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	cat, err := loadCatalog(cmd, f.schemas)
	if err != nil {
		return fmt.Errorf("registry show: %w", err)
	}
	ctx := cmd.Context()
	sv, versions, err := subjectVersion(ctx, c, "show", args[0], v)
	if err != nil {
		return err
	}
	view := &versionView{Subject: sv.Subject, Version: sv.Version, ID: sv.ID, Versions: versions,
		References: sv.References, ReferencedBy: []referrer{}, Fields: []fieldRow{}, text: sv.Schema}
	if view.References == nil {
		view.References = []registry.Reference{}
	}
	view.Compatibility, view.CompatibilitySource, err = (&levels{c: c}).of(ctx, sv.Subject)
	if err != nil {
		return fmt.Errorf("registry show: %w", err)
	}
	if e := eventOf(cat, sv.Subject); e != nil {
		view.Event = newEventView(e)
	}
	if view.ReferencedBy, err = referrers(ctx, c, sv.Subject, sv.Version); err != nil {
		return fmt.Errorf("registry show: %w", err)
	}
	s, err := registry.NewResolver(c).Parse(ctx, sv)
	if err != nil {
		if isRegistryFailure(err) {
			return fmt.Errorf("registry show: %w", err)
		}
		view.ParseError = err.Error()
	} else {
		view.Fields = fieldTable(s)
	}
	view.Schema = rawSchema(sv.Schema)
	if env.Format == "json" {
		return writeJSON(env.Stdout, view)
	}
	return writeVersion(env.Stdout, view)
}

func newEventView(e *catalog.Event) *eventView {
	return &eventView{Name: e.FullName, Topic: e.Topic, Key: e.Key, Owner: e.Owner,
		Producers: e.Producers, Consumers: e.Consumers, Description: e.Description}
}

// referrers returns the schemas that reference a version, each with the
// subject versions that use it.
func referrers(ctx context.Context, c *registry.Client, subject string, v int) ([]referrer, error) {
	ids, err := c.ReferencedBy(ctx, subject, v)
	if err != nil {
		return nil, err
	}
	out := []referrer{}
	for _, id := range ids {
		uses, err := c.SubjectVersionsByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, referrer{ID: id, Uses: uses})
	}
	return out, nil
}

// isRegistryFailure tells a registry that failed (unreachable, an error
// answer other than 404) from a schema that does not parse here, or whose
// references are missing: that is shown, not fatal.
func isRegistryFailure(err error) bool {
	var re *registry.Error
	var te *registry.TransportError
	return errors.As(err, &te) || (errors.As(err, &re) && re.HTTPStatus != 404)
}

// rawSchema is the registry's text as JSON, or as a JSON string when it is
// not JSON.
func rawSchema(text string) json.RawMessage {
	if json.Valid([]byte(text)) {
		return json.RawMessage(text)
	}
	b, _ := json.Marshal(text)
	return b
}

// pretty indents a schema's JSON text.
func pretty(text string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(text), "", "  "); err != nil {
		return text
	}
	return b.String()
}

func writeVersion(w io.Writer, v *versionView) error {
	var b strings.Builder
	latest := v.Versions[len(v.Versions)-1]
	fmt.Fprintf(&b, "%s version %d", v.Subject, v.Version)
	if v.Version == latest {
		b.WriteString(" (latest)")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "  ID:\t%d\n", v.ID)
	fmt.Fprintf(tw, "  Versions:\t%s\n", joinInts(v.Versions))
	level := string(v.Compatibility)
	if v.CompatibilitySource == "global" {
		level += " (the registry's default)"
	}
	fmt.Fprintf(tw, "  Level:\t%s\n", level)
	if e := v.Event; e != nil {
		fmt.Fprintf(tw, "  Event:\t%s\n", e.Name)
		if e.Topic != "" {
			fmt.Fprintf(tw, "  Topic:\t%s (key %s)\n", e.Topic, dash(e.Key))
		}
		fmt.Fprintf(tw, "  Owner:\t%s\n", dash(e.Owner))
		if len(e.Producers) > 0 {
			fmt.Fprintf(tw, "  Producers:\t%s\n", strings.Join(e.Producers, ", "))
		}
		if len(e.Consumers) > 0 {
			fmt.Fprintf(tw, "  Consumers:\t%s\n", strings.Join(e.Consumers, ", "))
		}
		if e.Description != "" {
			fmt.Fprintf(tw, "  Description:\t%s\n", e.Description)
		}
	}
	if len(v.References) == 0 {
		fmt.Fprintf(tw, "  References:\t(none)\n")
	}
	for i, r := range v.References {
		label := ""
		if i == 0 {
			label = "References:"
		}
		fmt.Fprintf(tw, "  %s\t%s: %s version %d\n", label, r.Name, r.Subject, r.Version)
	}
	if len(v.ReferencedBy) == 0 {
		fmt.Fprintf(tw, "  Referenced by:\t(none)\n")
	}
	for i, r := range v.ReferencedBy {
		label := ""
		if i == 0 {
			label = "Referenced by:"
		}
		uses := make([]string, len(r.Uses))
		for j, u := range r.Uses {
			uses[j] = fmt.Sprintf("%s version %d", u.Subject, u.Version)
		}
		if len(uses) == 0 {
			uses = []string{"no live version"}
		}
		fmt.Fprintf(tw, "  %s\tID %d: %s\n", label, r.ID, strings.Join(uses, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if v.ParseError != "" {
		fmt.Fprintf(&b, "\nFields: the schema does not parse here: %s\n", v.ParseError)
	} else if len(v.Fields) > 0 {
		b.WriteString("\nFields:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  FIELD\tTYPE\tDEFAULT\tDOC")
		for _, f := range v.Fields {
			def := "-"
			if f.Default != nil {
				def = string(f.Default)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Field, f.Type, def, shorten(oneLine(f.Doc), 80))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	b.WriteString("\nSchema:\n")
	b.WriteString(indent(pretty(v.text), "  "))
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func indent(text, prefix string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// shorten cuts s to n characters, marking the cut (--format json has it
// whole).
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// fieldTable lists a record's fields, and the fields of the records they
// contain (through unions, arrays and maps) as dotted paths; each named
// record is expanded once, so recursive schemas end.
func fieldTable(s *compat.Schema) []fieldRow {
	rows := []fieldRow{}
	seen := map[*compat.Schema]bool{}
	var walk func(s *compat.Schema, prefix string)
	walk = func(s *compat.Schema, prefix string) {
		switch s.Kind {
		case compat.Union:
			for _, b := range s.Branches {
				walk(b, prefix)
			}
		case compat.Array:
			walk(s.Items, prefix)
		case compat.Map:
			walk(s.Values, prefix)
		case compat.Record:
			if seen[s] {
				return
			}
			seen[s] = true
			for _, f := range s.Fields {
				name := f.Name
				if prefix != "" {
					name = prefix + "." + f.Name
				}
				row := fieldRow{Field: name, Type: typeName(f.Type), Doc: f.Doc}
				if f.HasDefault {
					row.Default, _ = json.Marshal(f.Default)
				}
				rows = append(rows, row)
				walk(f.Type, name)
			}
		}
	}
	walk(s, "")
	return rows
}

// typeName is a short rendering of a type: "string", "[null, Address]",
// "array<LineItem>", "long (timestamp-millis)", "bytes (decimal(10,2))".
func typeName(s *compat.Schema) string {
	switch s.Kind {
	case compat.Union:
		parts := make([]string, len(s.Branches))
		for i, b := range s.Branches {
			parts[i] = typeName(b)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case compat.Array:
		return "array<" + typeName(s.Items) + ">"
	case compat.Map:
		return "map<" + typeName(s.Values) + ">"
	}
	base := s.Kind.String()
	if s.Kind.Named() {
		base = s.Name[strings.LastIndexByte(s.Name, '.')+1:]
	}
	switch s.Logical {
	case "":
		return base
	case "decimal":
		return base + " (decimal(" + strconv.Itoa(s.Precision) + "," + strconv.Itoa(s.Scale) + "))"
	}
	return base + " (" + s.Logical + ")"
}
