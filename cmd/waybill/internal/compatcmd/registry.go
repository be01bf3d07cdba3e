package compatcmd

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/waybill/waybill/cmd/waybill/internal/cli"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/schemacheck"
)

// checkRegistry is check --against registry:URL: the schemas directory
// against what a live registry holds (registry.Check). Credentials come from
// the URL (user:password@) or $WAYBILL_REGISTRY_USERNAME and
// $WAYBILL_REGISTRY_PASSWORD.
func checkRegistry(ctx context.Context, env *cli.Env, f checkFlags, url string) error {
	c, err := registry.New(registry.Config{URL: url, Username: os.Getenv(registry.EnvUsername), Password: os.Getenv(registry.EnvPassword)})
	if err != nil {
		return cli.Usagef("compat check: --against %s: %v", f.against, strings.TrimPrefix(err.Error(), "registry: "))
	}
	head, err := schemacheck.Load(os.DirFS(f.schemas))
	if err != nil {
		return fmt.Errorf("loading %s: %w", f.schemas, err)
	}
	r, err := registry.Check(ctx, c, head)
	if err != nil {
		return fmt.Errorf("compat check: --against registry:%s: %w", c.URL(), err)
	}
	return env.WriteReport(r.WithRoot(f.schemas))
}
