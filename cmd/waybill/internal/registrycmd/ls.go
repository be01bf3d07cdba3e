package registrycmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
)

// defaultURL is the registry the browsing commands read when neither --url
// nor $WAYBILL_REGISTRY_URL names one: `waybill registry serve`'s address.
const defaultURL = "http://127.0.0.1:8081"

// browseConcurrency bounds the requests ls makes at once: enough to list a
// thousand subjects quickly, few enough not to hammer the registry.
const browseConcurrency = 8

// browseFlags are the flags every browsing command has: how to reach the
// registry.
type browseFlags struct {
	url                string
	username, password string
	timeout            time.Duration
}

func addBrowseFlags(cmd *cobra.Command, f *browseFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "the registry's URL (default $"+registry.EnvURL+", else "+defaultURL+")")
	fl.StringVar(&f.username, "username", "", "basic auth user (default $"+registry.EnvUsername+")")
	fl.StringVar(&f.password, "password", "", "basic auth password (default $"+registry.EnvPassword+")")
	fl.DurationVar(&f.timeout, "timeout", registry.DefaultTimeout, "timeout of each request to the registry")
}

func (f browseFlags) client() (*registry.Client, error) {
	url := f.url
	if url == "" {
		url = os.Getenv(registry.EnvURL)
	}
	if url == "" {
		url = defaultURL
	}
	return newClient(url, f.username, f.password, f.timeout)
}

// browseFormat checks that --format is one the browsing commands write.
func browseFormat(env *cli.Env, name string) error {
	if env.Format != "text" && env.Format != "json" {
		return cli.Usagef("registry %s: --format %s: want text or json", name, env.Format)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// catalogFlag adds --schemas, whose catalog adds each subject's event type
// (topic, owner, services) to what the registry says.
func catalogFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "schemas", "schemas", "the schemas directory whose catalog names each subject's topic and owner (skipped when the default is absent)")
}

// loadCatalog loads the catalog of dir. The default directory may be absent
// (browsing needs no repository); one given with --schemas must load. A
// catalog with problems still says who owns what, so it is used as loaded.
func loadCatalog(cmd *cobra.Command, dir string) (*catalog.Catalog, error) {
	explicit := cmd.Flags().Changed("schemas")
	if err := cli.CheckDir(dir); err != nil {
		if explicit {
			return nil, cli.CheckSchemasDir(dir)
		}
		return nil, nil
	}
	cat, err := catalog.Load(os.DirFS(dir))
	var probs catalog.Problems
	if err != nil && !errors.As(err, &probs) {
		if explicit {
			return nil, fmt.Errorf("loading %s: %w", dir, err)
		}
		return nil, nil
	}
	return cat, nil
}

// eventOf returns the catalog's event or shared type whose subject is
// subject, or nil.
func eventOf(cat *catalog.Catalog, subject string) *catalog.Event {
	if cat == nil {
		return nil
	}
	for _, list := range [][]*catalog.Event{cat.Events, cat.Shared} {
		for _, e := range list {
			if e.Subject() == subject {
				return e
			}
		}
	}
	return nil
}

// levels finds subjects' compatibility levels, asking for the global level
// once.
type levels struct {
	c      *registry.Client
	once   sync.Once
	global compat.Level
	err    error
}

// of returns subject's level and where it comes from: "subject" when set on
// the subject, "global" when it follows the registry's default.
func (l *levels) of(ctx context.Context, subject string) (compat.Level, string, error) {
	level, err := l.c.SubjectCompatibility(ctx, subject)
	if err != nil {
		return "", "", err
	}
	if level != "" {
		return level, "subject", nil
	}
	l.once.Do(func() { l.global, l.err = l.c.GlobalCompatibility(ctx) })
	return l.global, "global", l.err
}

// parseVersion reads a VERSION argument: a number from 1, or "latest" (0).
func parseVersion(cmd, arg string) (int, error) {
	if strings.EqualFold(arg, "latest") {
		return 0, nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 {
		return 0, cli.Usagef("registry %s: version %q: want a number from 1, or latest", cmd, arg)
	}
	return n, nil
}

// subjectVersion fetches version v of subject (0: the latest), with errors
// that say which subject or version is missing.
func subjectVersion(ctx context.Context, c *registry.Client, cmd, subject string, v int) (*registry.SchemaVersion, []int, error) {
	versions, err := c.Versions(ctx, subject, false)
	if errors.Is(err, registry.ErrSubjectNotFound) {
		if all, err2 := c.Versions(ctx, subject, true); err2 == nil && len(all) > 0 {
			return nil, nil, fmt.Errorf("registry %s: subject %q is soft-deleted (registry ls --deleted lists it)", cmd, subject)
		}
		return nil, nil, fmt.Errorf("registry %s: subject %q not found in %s", cmd, subject, c.URL())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("registry %s: %w", cmd, err)
	}
	if v == 0 {
		v = versions[len(versions)-1]
	}
	sv, err := c.Version(ctx, subject, v)
	if errors.Is(err, registry.ErrVersionNotFound) {
		return nil, nil, fmt.Errorf("registry %s: subject %q has no version %d (its versions: %s)", cmd, subject, v, joinInts(versions))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("registry %s: %w", cmd, err)
	}
	return sv, versions, nil
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ", ")
}

type lsFlags struct {
	browseFlags
	prefix  string
	deleted bool
	schemas string
}

func newLs(env *cli.Env) *cobra.Command {
	var f lsFlags
	cmd := &cobra.Command{
		Use:   "ls [--url URL] [--prefix P] [--deleted]",
		Short: "List a registry's subjects: versions, latest ID, level, topic and owner",
		Long: `Ls lists the subjects of any Confluent-compatible Schema Registry, sorted: how
many versions each has, the latest version and its schema ID, its compatibility
level (marked "(global)" when it follows the registry's default), and, when the
catalog in --schemas knows the subject, the event type's topic and owner.

--deleted adds the subjects whose versions are all soft-deleted, and counts
soft-deleted versions.

Exit codes: 0 listed; 2 could not run (unreachable registry, bad flags).`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLs(cmd, env, f) },
	}
	addBrowseFlags(cmd, &f.browseFlags)
	cmd.Flags().StringVar(&f.prefix, "prefix", "", "only the subjects whose names start with this")
	cmd.Flags().BoolVar(&f.deleted, "deleted", false, "include soft-deleted subjects and versions")
	catalogFlag(cmd, &f.schemas)
	return cmd
}

// subjectRow is one line of ls.
type subjectRow struct {
	Subject string `json:"subject"`
	// Versions counts the live versions; DeletedVersions the soft-deleted
	// ones (with --deleted).
	Versions        int `json:"versions"`
	DeletedVersions int `json:"deleted_versions,omitempty"`
	// Deleted: every version is soft-deleted.
	Deleted       bool         `json:"deleted,omitempty"`
	LatestVersion int          `json:"latest_version"`
	LatestID      int          `json:"latest_id"`
	Compatibility compat.Level `json:"compatibility"`
	// CompatibilitySource is "subject" or "global".
	CompatibilitySource string `json:"compatibility_source"`
	Event               string `json:"event,omitempty"`
	Topic               string `json:"topic,omitempty"`
	Owner               string `json:"owner,omitempty"`
}

func runLs(cmd *cobra.Command, env *cli.Env, f lsFlags) error {
	if err := browseFormat(env, "ls"); err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	cat, err := loadCatalog(cmd, f.schemas)
	if err != nil {
		return fmt.Errorf("registry ls: %w", err)
	}
	ctx := cmd.Context()
	var subjects []string
	if f.deleted {
		subjects, err = c.SubjectsIncludingDeleted(ctx)
	} else {
		subjects, err = c.Subjects(ctx)
	}
	if err != nil {
		return fmt.Errorf("registry ls: %w", err)
	}
	kept := subjects[:0]
	for _, s := range subjects {
		if strings.HasPrefix(s, f.prefix) {
			kept = append(kept, s)
		}
	}
	subjects = kept

	rows := make([]*subjectRow, len(subjects))
	errs := make([]error, len(subjects))
	lv := &levels{c: c}
	sem := make(chan struct{}, browseConcurrency)
	var wg sync.WaitGroup
	for i, s := range subjects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rows[i], errs[i] = describeSubject(ctx, c, lv, s, f.deleted)
		}()
	}
	wg.Wait()
	var out []*subjectRow
	for i, r := range rows {
		if errs[i] != nil {
			return fmt.Errorf("registry ls: %s: %w", subjects[i], errs[i])
		}
		if r == nil {
			continue // gone since it was listed
		}
		if e := eventOf(cat, r.Subject); e != nil {
			r.Event, r.Topic, r.Owner = e.FullName, e.Topic, e.Owner
		}
		out = append(out, r)
	}

	if env.Format == "json" {
		if out == nil {
			out = []*subjectRow{}
		}
		return writeJSON(env.Stdout, struct {
			Registry string        `json:"registry"`
			Subjects []*subjectRow `json:"subjects"`
		}{c.URL(), out})
	}
	return writeSubjects(env.Stdout, c.URL(), f.prefix, out)
}

// describeSubject reads what ls shows of one subject: nil when it no longer
// exists.
func describeSubject(ctx context.Context, c *registry.Client, lv *levels, subject string, deleted bool) (*subjectRow, error) {
	row := &subjectRow{Subject: subject}
	live, err := c.Versions(ctx, subject, false)
	switch {
	case errors.Is(err, registry.ErrSubjectNotFound) && deleted:
		live = nil // soft-deleted: its versions come next
	case errors.Is(err, registry.ErrSubjectNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	row.Versions = len(live)
	latest := func() (*registry.SchemaVersion, error) { return c.Version(ctx, subject, row.LatestVersion) }
	if len(live) > 0 {
		row.LatestVersion = live[len(live)-1]
	}
	if deleted {
		all, err := c.Versions(ctx, subject, true)
		if errors.Is(err, registry.ErrSubjectNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		row.DeletedVersions = len(all) - len(live)
		if len(live) == 0 && len(all) > 0 {
			row.Deleted = true
			row.LatestVersion = all[len(all)-1]
			latest = func() (*registry.SchemaVersion, error) {
				return c.VersionIncludingDeleted(ctx, subject, row.LatestVersion)
			}
		}
	}
	if row.LatestVersion > 0 {
		sv, err := latest()
		if err != nil {
			return nil, err
		}
		row.LatestID = sv.ID
	}
	row.Compatibility, row.CompatibilitySource, err = lv.of(ctx, subject)
	if err != nil {
		return nil, err
	}
	return row, nil
}

func writeSubjects(w io.Writer, url, prefix string, rows []*subjectRow) error {
	if len(rows) == 0 {
		what := "no subjects"
		if prefix != "" {
			what += " starting with " + strconv.Quote(prefix)
		}
		_, err := fmt.Fprintf(w, "%s in %s\n", what, url)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tVERSIONS\tLATEST\tID\tLEVEL\tTOPIC\tOWNER")
	for _, r := range rows {
		versions := strconv.Itoa(r.Versions)
		if r.DeletedVersions > 0 {
			versions += fmt.Sprintf(" (+%d deleted)", r.DeletedVersions)
		}
		subject := r.Subject
		if r.Deleted {
			subject += " (deleted)"
		}
		level := string(r.Compatibility)
		if r.CompatibilitySource == "global" {
			level += " (global)"
		}
		fmt.Fprintf(tw, "%s\t%s\tv%d\t%d\t%s\t%s\t%s\n", subject, versions, r.LatestVersion, r.LatestID, level, dash(r.Topic), dash(r.Owner))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n := "subjects"
	if len(rows) == 1 {
		n = "subject"
	}
	_, err := fmt.Fprintf(w, "%d %s in %s\n", len(rows), n, url)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
