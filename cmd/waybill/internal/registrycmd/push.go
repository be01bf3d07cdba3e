package registrycmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
)

type pushFlags struct {
	url                string
	schemas            string
	dryRun             bool
	deleteUnknown      bool
	allSubjects        bool
	username, password string
	timeout            time.Duration
}

func newPush(env *cli.Env) *cobra.Command {
	var f pushFlags
	cmd := &cobra.Command{
		Use:   "push --url URL [--dry-run] [--schemas DIR]",
		Short: "Sync schemas/ to a registry: a plan, then apply",
		Long: `Push makes a Confluent-compatible Schema Registry hold what schemas/ holds, as a
plan that is printed and then applied (like infrastructure as code):

  ~ compatibility levels to set on subjects (the catalog wins);
  + versions to register, so that the repository's version N becomes the
    registry's version N of its subject: in version order, the shared types a
    version references first, each with its references {name, subject, version};
  - subjects and versions the repository does not know, deleted (soft) only
    with --delete-unknown;
  ! drift, which push never repairs: a registry version that differs from the
    repository's file, numbering that no longer lines up (deleted versions
    count when the registry numbers a new one), versions beyond the
    repository's, subjects under the catalog's topics that the repository
    does not know (anywhere, with --all-subjects).

Applying is idempotent: a second push plans nothing. A registration the
registry refuses (409 incompatible, 42201 invalid) fails alone, with the
registry's message; what depends on it is skipped.

Credentials: --username and --password, or $` + registry.EnvUsername + ` and
$` + registry.EnvPassword + `, or user:password@ in the URL.

Exit codes: 0 nothing to do, or applied cleanly (a --dry-run with actions and no
drift is 0 too); 1 drift, or an action failed; 2 could not run (unreachable
registry, schemas/ does not load).`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPush(cmd.Context(), env, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "the registry's URL, e.g. http://localhost:8081 (required; default $"+registry.EnvURL+")")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan, change nothing")
	fl.BoolVar(&f.deleteUnknown, "delete-unknown", false, "soft-delete the subjects and versions the repository does not know")
	fl.BoolVar(&f.allSubjects, "all-subjects", false, "every subject in the registry is the repository's, not only those under its topics and shared namespaces")
	fl.StringVar(&f.username, "username", "", "basic auth user (default $"+registry.EnvUsername+")")
	fl.StringVar(&f.password, "password", "", "basic auth password (default $"+registry.EnvPassword+")")
	fl.DurationVar(&f.timeout, "timeout", registry.DefaultTimeout, "timeout of each request to the registry")
	cli.SchemasFlag(cmd, &f.schemas)
	return cmd
}

func runPush(ctx context.Context, env *cli.Env, f pushFlags) error {
	if env.Format != "text" && env.Format != "json" {
		return cli.Usagef("registry push: --format %s: want text or json", env.Format)
	}
	if f.url == "" {
		f.url = os.Getenv(registry.EnvURL)
	}
	if f.url == "" {
		return cli.Usagef("registry push: --url (or $%s) is required", registry.EnvURL)
	}
	c, err := newClient(f.url, f.username, f.password, f.timeout)
	if err != nil {
		return err
	}
	if err := cli.CheckSchemasDir(f.schemas); err != nil {
		return err
	}
	cat, err := catalog.Load(os.DirFS(f.schemas))
	if err != nil {
		var probs catalog.Problems
		if errors.As(err, &probs) {
			return fmt.Errorf("registry push: %s does not load (%d problems; run waybill lint): %s", f.schemas, len(probs), probs[0].Error())
		}
		return fmt.Errorf("registry push: loading %s: %w", f.schemas, err)
	}

	var opts []registry.PlanOpt
	if f.deleteUnknown {
		opts = append(opts, registry.DeleteUnknown())
	}
	if f.allSubjects {
		opts = append(opts, registry.AllSubjects())
	}
	plan, err := registry.PlanSync(ctx, c, cat, opts...)
	if err != nil {
		return fmt.Errorf("registry push: %w", err)
	}
	var results []registry.Result
	if !f.dryRun && len(plan.Actions) > 0 {
		results, err = registry.Apply(ctx, c, plan)
		if err != nil {
			// The registry stopped answering: say what was done first.
			_ = write(env, plan, results)
			return fmt.Errorf("registry push: %w", err)
		}
	}
	if err := write(env, plan, results); err != nil {
		return fmt.Errorf("registry push: writing the plan: %w", err)
	}
	if !registry.Passed(plan, results) {
		return cli.ErrFindings
	}
	return nil
}

func write(env *cli.Env, plan *registry.Plan, results []registry.Result) error {
	if env.Format == "json" {
		return plan.WriteJSON(env.Stdout, results)
	}
	return plan.WriteText(env.Stdout, results)
}

// newClient returns a client for url with credentials from the flags, or
// else the environment.
func newClient(url, username, password string, timeout time.Duration) (*registry.Client, error) {
	if username == "" {
		username = os.Getenv(registry.EnvUsername)
	}
	if password == "" {
		password = os.Getenv(registry.EnvPassword)
	}
	c, err := registry.New(registry.Config{URL: url, Username: username, Password: password, Timeout: timeout})
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	return c, nil
}
