// Package registry is Waybill's Schema Registry server: the REST API of
// Confluent's Schema Registry (7.x behaviour; see
// ../shared/reference/schema-registry-api.md and
// https://docs.confluent.io/platform/current/schema-registry/develop/api.html),
// so Confluent's clients and serializers work against it unchanged.
//
// The server is storage-agnostic. Its state is what replaying a Log (in
// memory, or a Kafka topic) produces — records in the formats Confluent's registry writes
// to its `_schemas` topic — so it starts from a topic written by Confluent's
// registry and Confluent's registry can read the topic it writes. Every write
// goes through Log.Update: the new records are computed against the state
// this instance has caught up to, while no other instance can append, and the
// request returns only once they have been applied locally. A failed write
// changes nothing.
//
// Compatibility decisions are compat.CheckLevel's, the engine of Waybill's PR
// check, so the repository and the registry cannot disagree.
//
// Where it differs from Confluent's registry, and why:
//
//   - Schemas are stored as compat's compact JSON (full names, docs, defaults
//     and custom attributes kept), not Avro Java's toString(); "the same
//     schema" compares that form of both sides plus the references, so a
//     schema stored by Confluent's registry is found again.
//   - normalize=true stores and compares Confluent's normalized Avro form
//     (see normalized), on both sides; the Parsing Canonical Form would drop
//     defaults and change later compatibility answers.
//   - Only AVRO is parsed. Other schema types are refused (42201) on
//     register; replayed ones are served, and a check against them fails.
//   - A body over the limit is 422 with error code 42209, the JSON error
//     clients decode, where a bare 413 would not be.
//   - In IMPORT, an explicit version that exists and is live is refused
//     (42205); Confluent's registry overwrites it.
//   - An "id" of 0 or less in a register request means no id.
//   - PUT /config needs a compatibility level (42203 without one); the other
//     fields of Confluent 7.4+ configs (normalize, alias, metadata, rules) are
//     ignored.
//   - Compatibility messages are compat's findings (Finding.String()), with
//     the registry's version numbers, rather than Avro Java's texts.
package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waybill/waybill/internal/httpserve"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is
// 0: 4 MiB, four times the largest record a Kafka topic takes by default
// (message.max.bytes, 1 MiB), so no schema that could be stored is refused.
const DefaultMaxBodyBytes = 4 << 20

// DefaultWriteTimeout bounds a write when Config.WriteTimeout is 0.
const DefaultWriteTimeout = 10 * time.Second

// Access is what a user may do.
type Access int

// The two kinds of users. ReadOnly users may call every endpoint that changes
// nothing, including a lookup (POST /subjects/{s}) and a compatibility check,
// which are POSTs but read-only; ReadWrite users may also register, delete and
// change config and mode.
const (
	ReadOnly Access = iota + 1
	ReadWrite
)

// User is an HTTP basic auth user.
type User struct {
	Name, Password string
	Access         Access
}

// Config configures a Server. The zero value of every field but Log is a
// working default.
type Config struct {
	// Log is the storage (MemoryLog, KafkaLog). Required. The server starts
	// it, and closes it in Close.
	Log Log
	// Users enables HTTP basic auth on every endpoint, /metrics included: a
	// request without the credentials of one of them gets 401, a write by a
	// ReadOnly user 403. Nil: no auth.
	Users []User
	// MaxBodyBytes limits request bodies (0: DefaultMaxBodyBytes). A larger
	// body is answered 422 with error code 42209 (schema too large): a JSON
	// error Confluent's clients decode, where a bare 413 would not be.
	MaxBodyBytes int64
	// WriteTimeout bounds a write to the log (0: DefaultWriteTimeout); a
	// write that times out is answered 500 with error code 50002.
	WriteTimeout time.Duration
	// Logger receives the server's log (nil: slog.Default()).
	Logger *slog.Logger
}

// Server is a Schema Registry: an http.Handler over a schemalog.Log.
type Server struct {
	cfg     Config
	log     *slog.Logger
	st      *state
	routes  *router
	metrics *metrics
}

// New replays cfg.Log into memory and returns a Server serving it. It returns
// once the records that were in the log have been applied; records appended
// later, by this instance or another, keep being applied until Close.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		return nil, errors.New("registry: Config.Log is nil")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, u := range cfg.Users {
		if u.Access != ReadOnly && u.Access != ReadWrite {
			return nil, fmt.Errorf("registry: user %q has no access level", u.Name)
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, st: newState(cfg.Logger)}
	s.metrics = newMetrics(s.st)
	s.routes = s.newRouter()
	if err := cfg.Log.Start(ctx, s.st.apply); err != nil {
		return nil, fmt.Errorf("registry: replaying the schema log: %w", err)
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }

// Gatherer returns the registry of the server's Prometheus metrics (also
// served at /metrics), for embedding them in another exposition.
func (s *Server) Gatherer() prometheus.Gatherer { return s.metrics.reg }

// Close stops applying records and closes the log.
func (s *Server) Close() error { return s.cfg.Log.Close() }

// Serve serves s on ln, over TLS when tlsConfig is not nil, until ctx is
// done; then it stops accepting connections and waits up to grace for the
// requests in flight (http.Server.Shutdown). It returns nil after a clean
// shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config, grace time.Duration) error {
	if err := httpserve.Serve(ctx, ln, tlsConfig, grace, s, s.log); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}
