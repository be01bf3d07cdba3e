package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/registry"
)

// source reads the registry through pkg/registry's Client. Answers are
// cached for ttl, concurrent asks for the same answer share one request, and
// at most cap(sem) requests are in flight. Schemas are parsed with their
// references by a registry.Resolver reading through the cache.
type source struct {
	c       *registry.Client
	base    string
	forward bool
	ttl     time.Duration
	sem     chan struct{}
	res     *registry.Resolver

	mu      sync.Mutex
	entries map[string]*entry
}

// entry is a cached answer, or one being fetched (done not yet closed).
type entry struct {
	done    chan struct{}
	val     any
	err     error
	expires time.Time
}

// maxEntries bounds the cache: past it, expired entries are swept.
const maxEntries = 50_000

func newSource(cfg Config) (*source, error) {
	rc := cfg.Registry
	transport := rc.Transport
	if transport == nil {
		// Keep a connection for each request that may be in flight: the
		// default transport keeps two a host, and would dial (and close)
		// the others on every page.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.Concurrency
		transport = t
	}
	if cfg.ForwardAuth {
		transport = forwardAuth{transport}
	}
	rc.Transport = transport
	c, err := registry.New(rc)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	s := &source{
		c: c, base: c.URL(), forward: cfg.ForwardAuth,
		ttl: cfg.CacheTTL, sem: make(chan struct{}, cfg.Concurrency),
		entries: map[string]*entry{},
	}
	s.res = registry.NewResolverFunc(s.version)
	return s, nil
}

type authKey struct{}

// withAuth carries a request's Authorization header to the registry calls
// made for it (Config.ForwardAuth).
func withAuth(ctx context.Context, header string) context.Context {
	return context.WithValue(ctx, authKey{}, header)
}

// forwardAuth sets the Authorization header a request's context carries.
type forwardAuth struct{ next http.RoundTripper }

func (f forwardAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	if h, _ := req.Context().Value(authKey{}).(string); h != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", h)
	}
	return f.next.RoundTrip(req)
}

// cached returns the answer cached under key, or fetches it. fetch makes
// one request: it runs holding one of the source's request slots, so it must
// not wait on another cached answer. Errors are not cached, but callers
// waiting on the same fetch share its error. ttl < 0 keeps the answer for as
// long as the source lives.
func cached[T any](ctx context.Context, s *source, key string, ttl time.Duration, fetch func(context.Context) (T, error)) (T, error) {
	if s.forward {
		if h, _ := ctx.Value(authKey{}).(string); h != "" {
			sum := sha256.Sum256([]byte(h))
			key = string(sum[:8]) + key
		}
	}
	now := time.Now()
	s.mu.Lock()
	e := s.entries[key]
	if e != nil {
		select {
		case <-e.done:
			if e.err != nil || (!e.expires.IsZero() && now.After(e.expires)) {
				e = nil
			}
		default: // in flight: share it
		}
	}
	if e == nil {
		e = &entry{done: make(chan struct{})}
		if len(s.entries) >= maxEntries {
			s.sweep(now)
		}
		s.entries[key] = e
		s.mu.Unlock()
		// The fetch outlives the request that started it, which others may
		// be waiting on too; the client's timeout bounds it.
		s.sem <- struct{}{}
		v, err := fetch(context.WithoutCancel(ctx))
		<-s.sem
		e.val, e.err = v, err
		switch {
		case ttl < 0:
		case s.ttl < 0:
			e.expires = time.Now().Add(-time.Nanosecond)
		default:
			e.expires = time.Now().Add(min(ttl, s.ttl))
		}
		close(e.done)
	} else {
		s.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	if e.err != nil {
		var zero T
		return zero, e.err
	}
	return e.val.(T), nil
}

// sweep drops expired and failed entries; the caller holds s.mu.
func (s *source) sweep(now time.Time) {
	for k, e := range s.entries {
		select {
		case <-e.done:
			if e.err != nil || (!e.expires.IsZero() && now.After(e.expires)) {
				delete(s.entries, k)
			}
		default:
		}
	}
	if len(s.entries) >= maxEntries {
		clear(s.entries) // all fresh: start over rather than grow without bound
	}
}

// short is the TTL of answers that change (subjects, versions, levels);
// forever of those that do not (a schema ID's schema).
const (
	short   = time.Duration(1<<63 - 1)
	forever = time.Duration(-1)
)

// subjects returns the subjects, sorted: the live ones, or with deleted also
// those whose versions are all soft-deleted.
func (s *source) subjects(ctx context.Context, deleted bool) ([]string, error) {
	return cached(ctx, s, "subjects?deleted="+strconv.FormatBool(deleted), short, func(ctx context.Context) ([]string, error) {
		if deleted {
			return s.c.SubjectsIncludingDeleted(ctx)
		}
		return s.c.Subjects(ctx)
	})
}

// errNoListing is a registry without GET /schemas (Confluent before 7.x).
var errNoListing = errors.New("ui: the registry cannot list schemas")

// allSchemas returns every version of every subject (GET /schemas), live
// ones or with deleted also soft-deleted ones: one request instead of one a
// subject. errNoListing when the registry has no such endpoint.
func (s *source) allSchemas(ctx context.Context, deleted bool) ([]registry.SchemaVersion, error) {
	return cached(ctx, s, "schemas?deleted="+strconv.FormatBool(deleted), short, func(ctx context.Context) ([]registry.SchemaVersion, error) {
		out, err := s.c.Schemas(ctx, deleted)
		if errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrMethodNotAllowed) {
			return nil, errNoListing
		}
		return out, err
	})
}

// globalLevel returns the registry's default compatibility level.
func (s *source) globalLevel(ctx context.Context) (compat.Level, error) {
	return cached(ctx, s, "config", short, func(ctx context.Context) (compat.Level, error) {
		return s.c.GlobalCompatibility(ctx)
	})
}

// ownLevel returns the level set on subject itself ("" when none).
func (s *source) ownLevel(ctx context.Context, subject string) (compat.Level, error) {
	return cached(ctx, s, "config/"+subject, short, func(ctx context.Context) (compat.Level, error) {
		return s.c.SubjectCompatibility(ctx, subject)
	})
}

// level is the level a subject is checked at, and where it comes from.
type level struct {
	Level compat.Level
	// Own: set on the subject; otherwise the registry's global level.
	Own bool
}

func (s *source) level(ctx context.Context, subject string) (level, error) {
	own, err := s.ownLevel(ctx, subject)
	if err != nil || own != "" {
		return level{own, true}, err
	}
	g, err := s.globalLevel(ctx)
	return level{g, false}, err
}

// mode returns the subject's mode (READWRITE, READONLY, IMPORT), the
// global one when it has none. Registries without the mode API answer "".
func (s *source) mode(ctx context.Context, subject string) (string, error) {
	return cached(ctx, s, "mode/"+subject, short, func(ctx context.Context) (string, error) {
		m, err := s.c.Mode(ctx, subject)
		var re *registry.Error
		if errors.As(err, &re) && re.HTTPStatus < 500 {
			return "", nil
		}
		return m, err
	})
}

// versions returns subject's version numbers, oldest first: live ones, or
// with deleted also the soft-deleted ones.
func (s *source) versions(ctx context.Context, subject string, deleted bool) ([]int, error) {
	return cached(ctx, s, "versions/"+subject+"?deleted="+strconv.FormatBool(deleted), short, func(ctx context.Context) ([]int, error) {
		return s.c.Versions(ctx, subject, deleted)
	})
}

// version returns version v of subject ("latest" is -1), soft-deleted or
// not.
func (s *source) version(ctx context.Context, subject string, v int) (*registry.SchemaVersion, error) {
	vs := strconv.Itoa(v)
	if v < 0 {
		vs = "latest"
	}
	return cached(ctx, s, "version/"+subject+"/"+vs, short, func(ctx context.Context) (*registry.SchemaVersion, error) {
		if v < 0 {
			return s.c.LatestVersion(ctx, subject)
		}
		return s.c.VersionIncludingDeleted(ctx, subject, v)
	})
}

// schemaByID returns the schema of an ID (without subject or version).
func (s *source) schemaByID(ctx context.Context, id int) (*registry.SchemaVersion, error) {
	return cached(ctx, s, "id/"+strconv.Itoa(id), forever, func(ctx context.Context) (*registry.SchemaVersion, error) {
		return s.c.SchemaByID(ctx, id)
	})
}

// idVersions returns every subject and version that uses a schema ID,
// soft-deleted ones included.
func (s *source) idVersions(ctx context.Context, id int) ([]registry.SubjectVersion, error) {
	return cached(ctx, s, "id-versions/"+strconv.Itoa(id), short, func(ctx context.Context) ([]registry.SubjectVersion, error) {
		return s.c.SubjectVersionsByIDIncludingDeleted(ctx, id)
	})
}

// referencedBy returns the IDs of the schemas that reference version v of
// subject.
func (s *source) referencedBy(ctx context.Context, subject string, v int) ([]int, error) {
	return cached(ctx, s, "referencedby/"+subject+"/"+strconv.Itoa(v), short, func(ctx context.Context) ([]int, error) {
		return s.c.ReferencedBy(ctx, subject, v)
	})
}

// parse parses a registry schema with its references, each resolved from
// the registry through the cache, parsed once per schema ID.
func (s *source) parse(ctx context.Context, sv *registry.SchemaVersion) (*compat.Schema, error) {
	return s.res.Parse(ctx, sv)
}

// problem is what a page says of a schema that does not parse: the
// Resolver's error without its "registry: ..." wrapping.
func problem(err error) error {
	if u := errors.Unwrap(err); u != nil && !isRegistryFault(err) {
		return u
	}
	return err
}

// parallel runs fn(i) for i in [0, n) on at most workers goroutines, and
// returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
		if errors.Is(first, context.Canceled) {
			first = nil
		}
	}
	return first
}

// inProcess is InProcess's transport.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := &recorder{header: http.Header{}}
	// The handler reads the request as a server would: a body that is never
	// nil, and no client-only fields.
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "in-process"
	t.h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status: strconv.Itoa(rec.status) + " " + http.StatusText(rec.status), StatusCode: rec.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()), Request: req,
	}, nil
}

// recorder is the http.ResponseWriter of an in-process request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
