// Package ui is the registry's browsing UI: server-rendered HTML pages over
// any Confluent-compatible Schema Registry. It reads the registry only
// through its REST API
// (https://docs.confluent.io/platform/current/schema-registry/develop/api.html),
// so it works in front of Confluent's registry as well as Waybill's, and it
// adds what only the repository knows when it is given the catalog: each
// event type's topic, key field, owner, producing and consuming services and
// description.
//
// Every page has a stable URL whose query string holds its state, so a link
// pasted into a pull request opens the same view (paths are relative to
// where the UI is mounted, Config.Prefix):
//
//	/                                   subjects; ?q=TEXT&by=subject|field|id, &deleted=1
//	/subjects/{subject}                 a subject: versions, level, mode, catalog metadata
//	/subjects/{subject}/versions/{v}    a version: schema, fields, references both ways
//	/subjects/{subject}/diff?from=&to=  the structural diff of two versions (compat.Diff)
//	/subjects/{subject}/check?schema=   would a candidate be accepted (compat and the registry)
//	/ids/{id}                           a schema ID: its schema, every subject and version using it
//	/topics, /topics/{topic}            topics and the event types on each
//
// Registry answers are cached for Config.CacheTTL and fetched with at most
// Config.Concurrency requests in flight, so a page over a thousand subjects
// renders quickly without hammering the registry. A registry error (it is
// unreachable, a 404, a 5xx) is a page that says which request failed and
// the registry's error code.
package ui

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
)

// DefaultCacheTTL is how long registry answers are reused when
// Config.CacheTTL is zero: long enough that the requests a page makes, and
// the pages someone clicks through, share them; short enough that a new
// version shows up by the time someone reloads.
const DefaultCacheTTL = 5 * time.Second

// DefaultConcurrency bounds the requests in flight to the registry when
// Config.Concurrency is zero.
const DefaultConcurrency = 8

// Config says which registry the UI shows, and how.
type Config struct {
	// Registry says how to reach the registry: its URL, credentials and
	// transport.
	Registry registry.Config
	// Catalog, when not nil, adds the repository's knowledge of each event
	// type to the pages: topic, key, owner, producers, consumers and
	// description, and the topic views.
	Catalog *catalog.Catalog
	// Prefix is the path the UI is served under, with a trailing slash
	// ("/ui/"); "/" when empty. Requests reach the handler with the prefix
	// still on their path.
	Prefix string
	// CacheTTL is how long a registry answer is reused (0: DefaultCacheTTL;
	// negative: never).
	CacheTTL time.Duration
	// Concurrency is the most requests the UI has in flight to the registry
	// at once, all pages together (0: DefaultConcurrency).
	Concurrency int
	// ForwardAuth passes the Authorization header of each request to the
	// registry, so the registry's own users and access rules apply to the
	// UI (the registry answers 401, and the browser asks for credentials).
	// Cached answers are reused only for the same credentials.
	ForwardAuth bool
	// Logger receives errors that are not the registry's (nil:
	// slog.Default()).
	Logger *slog.Logger
}

// New returns the UI as an http.Handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "/"
	}
	if !strings.HasPrefix(cfg.Prefix, "/") || !strings.HasSuffix(cfg.Prefix, "/") {
		return nil, errors.New("ui: Config.Prefix must start and end with a slash, as /ui/ does")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	src, err := newSource(cfg)
	if err != nil {
		return nil, err
	}
	return newServer(cfg, src), nil
}

// InProcess returns a transport that hands each request to h directly,
// without a network: for a UI served by the registry it shows, which reaches
// the registry's API this way (Config.Registry.Transport), whatever address
// and TLS settings it listens with.
func InProcess(h http.Handler) http.RoundTripper { return inProcess{h} }
