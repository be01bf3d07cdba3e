package compatcmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/pkg/gittree"
	"github.com/waybill/waybill/pkg/schemacheck"
)

type checkFlags struct {
	against string
	schemas string
}

func newCheck(env *cli.Env) *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check [--against git:REF|dir:PATH|registry:URL] [--schemas DIR]",
		Short: "Check the schemas directory against a base tree (the pull-request check)",
		Long: `Check compares the schemas directory with a base tree and reports every change
that breaks producers or consumers:

  - a file that does not load (with its line and column);
  - a new version that fails its event type's compatibility level against the
    versions before it;
  - a published version whose schema changed (doc-only changes are allowed);
  - a published version or event type that was removed;
  - a lint violation in a new version or event type.

The base is git:REF (the schemas directory as it is in a commit, e.g.
git:origin/main), or dir:PATH (another schemas directory, or a checkout containing
one). Without --against the tree is checked on its own: every version against
the versions before it at its level, and every version linted.

With registry:URL the base is what a live Schema Registry holds: a registered
version that differs from its file is drift (REGISTRY_DRIFT), and a version the
registry lacks is new: compat checks it against the registry's versions, and the
registry's own check (verbose) is asked about the first new version of each
subject; findings say which of the two found them ("compat:", "registry"), and a
disagreement between them is a warning. Credentials: user:password@ in the URL,
or $WAYBILL_REGISTRY_USERNAME and $WAYBILL_REGISTRY_PASSWORD.`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCheck(cmd.Context(), env, f) },
	}
	cmd.Flags().StringVar(&f.against, "against", "", "the base tree: git:REF, dir:PATH or registry:URL")
	cli.SchemasFlag(cmd, &f.schemas)
	return cmd
}

func runCheck(ctx context.Context, env *cli.Env, f checkFlags) error {
	if _, err := env.ReportFormat(); err != nil {
		return err
	}
	if err := cli.CheckSchemasDir(f.schemas); err != nil {
		return err
	}
	if url, ok := strings.CutPrefix(f.against, "registry:"); ok && url != "" {
		// Not a tree: the registry is asked, version by version.
		return checkRegistry(ctx, env, f, url)
	}
	base, desc, err := loadBase(ctx, f)
	if err != nil {
		return err
	}
	head, err := schemacheck.Load(os.DirFS(f.schemas))
	if err != nil {
		return fmt.Errorf("loading %s: %w", f.schemas, err)
	}
	r := schemacheck.Compare(base, head)
	r.Subject = strings.TrimPrefix(r.Subject+" "+desc, " ")
	return env.WriteReport(r.WithRoot(f.schemas))
}

// loadBase loads the tree named by --against, and describes it for the
// report's summary.
func loadBase(ctx context.Context, f checkFlags) (schemacheck.Tree, string, error) {
	kind, ref, _ := strings.Cut(f.against, ":")
	switch {
	case f.against == "":
		return schemacheck.Tree{}, "checked on their own", nil
	case ref == "":
		return schemacheck.Tree{}, "", cli.Usagef("compat check: --against %q: want git:REF, dir:PATH or registry:URL", f.against)
	case kind == "git":
		fsys, err := gittree.OpenDir(ctx, f.schemas, ref)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// The base has no schemas directory yet: every event type is new.
			return schemacheck.Tree{}, "against " + f.against + " (which has no " + f.schemas + ")", nil
		case errors.Is(err, gittree.ErrUnknownRevision):
			return schemacheck.Tree{}, "", fmt.Errorf("compat check: --against %s: unknown git revision %q", f.against, ref)
		case err != nil:
			return schemacheck.Tree{}, "", fmt.Errorf("compat check: --against %s: %w", f.against, err)
		}
		base, err := schemacheck.Load(fsys)
		if err != nil {
			return schemacheck.Tree{}, "", fmt.Errorf("compat check: loading %s: %w", f.against, err)
		}
		return base, "against " + f.against, nil
	case kind == "dir":
		dir := ref
		if err := cli.CheckDir(dir); err != nil {
			return schemacheck.Tree{}, "", fmt.Errorf("compat check: --against %s: %w", f.against, err)
		}
		// A checkout of the repository rather than its schemas directory.
		if _, err := os.Stat(filepath.Join(dir, "catalog.yaml")); err != nil {
			if info, err := os.Stat(filepath.Join(dir, "schemas", "catalog.yaml")); err == nil && !info.IsDir() {
				dir = filepath.Join(dir, "schemas")
			}
		}
		base, err := schemacheck.Load(os.DirFS(dir))
		if err != nil {
			return schemacheck.Tree{}, "", fmt.Errorf("compat check: loading %s: %w", f.against, err)
		}
		return base, "against " + f.against, nil
	default:
		return schemacheck.Tree{}, "", cli.Usagef("compat check: --against %q: unknown kind %q (want git:REF, dir:PATH or registry:URL)", f.against, kind)
	}
}
