package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riferrei/srclient"

	"github.com/waybill/waybill/compat"
)

// DefaultTimeout bounds each request when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// The environment variables the command line reads a registry's basic auth
// credentials from, so that they need not appear in a command line (or a
// shell's history).
const (
	EnvUsername = "WAYBILL_REGISTRY_USERNAME"
	EnvPassword = "WAYBILL_REGISTRY_PASSWORD"
)

// contentType is what Confluent's clients send and its registry answers.
const contentType = "application/vnd.schemaregistry.v1+json"

// Config says how to reach a registry. The zero value of every field but URL
// is usable.
type Config struct {
	// URL is the registry's base URL, "http://localhost:8081". User
	// information in it ("http://user:secret@host:8081") is taken as basic
	// auth credentials when Username is empty.
	URL string
	// Username and Password are HTTP basic auth credentials; none when
	// Username is empty.
	Username, Password string
	// Timeout bounds each request; DefaultTimeout when zero.
	Timeout time.Duration
	// Transport carries the requests (TLS settings, a proxy);
	// http.DefaultTransport when nil.
	Transport http.RoundTripper
}

// Client talks to one Confluent-compatible registry. What riferrei/srclient
// offers goes through it; what it lacks (soft-deleted versions, subject-level
// config without the global fallback, verbose compatibility, context
// cancellation) is a thin call on the same base URL. Every error the registry
// answers is an *Error, so errors.Is(err, ErrSubjectNotFound) works either
// way. A Client is safe for concurrent use; it caches nothing, so what it
// returns is what the registry holds now.
type Client struct {
	base       string
	user, pass string
	hc         *http.Client
}

// Reference is a schema reference as the registry has it: the name the
// schema uses, and the subject and version that define it.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// SchemaVersion is one version of a subject as the registry holds it.
type SchemaVersion struct {
	Subject string
	Version int
	ID      int
	// SchemaType is the registry's schemaType: "" (which means Avro),
	// "AVRO", "PROTOBUF" or "JSON".
	SchemaType string
	Schema     string
	References []Reference
}

// IsAvro reports whether the schema is an Avro schema (the registry leaves
// the type out for Avro).
func (sv *SchemaVersion) IsAvro() bool {
	return sv.SchemaType == "" || strings.EqualFold(sv.SchemaType, "AVRO")
}

// New returns a client for the registry cfg names.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("registry: invalid URL %q: want http://host:port or https://host:port", cfg.URL)
	}
	c := &Client{user: cfg.Username, pass: cfg.Password}
	if u.User != nil {
		if c.user == "" {
			c.user = u.User.Username()
			c.pass, _ = u.User.Password()
		}
		u.User = nil
	}
	c.base = strings.TrimRight(u.String(), "/")
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	c.hc = &http.Client{Timeout: timeout, Transport: transport}
	return c, nil
}

// URL returns the registry's base URL, without credentials.
func (c *Client) URL() string { return c.base }

// Srclient returns a riferrei/srclient client for the same registry, with the
// same credentials and timeout, for code that wants srclient's own API
// (schema caching, codecs). It is not bound to any context.
func (c *Client) Srclient() *srclient.SchemaRegistryClient {
	return c.sr(context.Background(), true)
}

// sr returns an srclient bound to ctx. srclient predates context.Context: its
// requests are made with http.NewRequest, so each call gets a client whose
// pre-request hook moves the request onto ctx. A client is two small maps;
// caching stays off, since sync must see the registry as it is now.
func (c *Client) sr(ctx context.Context, caching bool) *srclient.SchemaRegistryClient {
	sr := srclient.NewSchemaRegistryClient(c.base,
		srclient.WithClient(c.hc),
		srclient.WithPreReqFn(func(req *http.Request) error {
			*req = *req.WithContext(ctx)
			if c.user != "" {
				req.SetBasicAuth(c.user, c.pass)
			}
			return nil
		}))
	sr.CachingEnabled(caching)
	return sr
}

// Subjects returns the live subjects, sorted.
func (c *Client) Subjects(ctx context.Context) ([]string, error) {
	subjects, err := c.sr(ctx, false).GetSubjects()
	if err != nil {
		return nil, c.wrap(err, "GET", "/subjects")
	}
	slices.Sort(subjects)
	return subjects, nil
}

// Versions returns the version numbers of subject, oldest first: the live
// ones, or with deleted also the soft-deleted ones (which still count when
// the registry numbers a new version). A subject without live versions is
// ErrSubjectNotFound, unless deleted is set and it has soft-deleted ones.
func (c *Client) Versions(ctx context.Context, subject string, deleted bool) ([]int, error) {
	var versions []int
	if !deleted {
		vs, err := c.sr(ctx, false).GetSchemaVersions(subject)
		if err != nil {
			return nil, c.wrap(err, "GET", subjectPath(subject)+"/versions")
		}
		versions = vs
	} else if err := c.do(ctx, "GET", subjectPath(subject)+"/versions?deleted=true", nil, &versions); err != nil {
		return nil, err
	}
	slices.Sort(versions)
	return versions, nil
}

// Version returns version v of subject.
func (c *Client) Version(ctx context.Context, subject string, v int) (*SchemaVersion, error) {
	s, err := c.sr(ctx, false).GetSchemaByVersion(subject, v)
	if err != nil {
		return nil, c.wrap(err, "GET", fmt.Sprintf("%s/versions/%d", subjectPath(subject), v))
	}
	return fromSrclient(subject, s), nil
}

// Register registers schema (an Avro schema's JSON text) under subject with
// its references and returns the schema's ID. Registering a schema the
// subject already has returns its ID and creates no version.
func (c *Client) Register(ctx context.Context, subject, schema string, refs []Reference) (int, error) {
	// Not srclient's CreateSchema: it fetches the schema by ID afterwards,
	// a second request whose answer sync does not need.
	var resp struct {
		ID int `json:"id"`
	}
	if err := c.do(ctx, "POST", subjectPath(subject)+"/versions", schemaRequest(schema, refs), &resp); err != nil {
		return 0, err
	}
	return resp.ID, nil
}

// Lookup returns the version of subject whose schema and references are
// schema and refs: ErrSubjectNotFound or ErrSchemaNotFound when there is none.
func (c *Client) Lookup(ctx context.Context, subject, schema string, refs []Reference) (*SchemaVersion, error) {
	s, err := c.sr(ctx, false).LookupSchema(subject, schema, srclient.Avro, srReferences(refs)...)
	if err != nil {
		return nil, c.wrap(err, "POST", subjectPath(subject))
	}
	return fromSrclient(subject, s), nil
}

// GlobalCompatibility returns the registry's default compatibility level.
func (c *Client) GlobalCompatibility(ctx context.Context) (compat.Level, error) {
	l, err := c.sr(ctx, false).GetGlobalCompatibilityLevel()
	if err != nil {
		return "", c.wrap(err, "GET", "/config")
	}
	return parseLevel(string(*l))
}

// SubjectCompatibility returns the compatibility level set on subject itself:
// "" when it has none and follows the global level.
func (c *Client) SubjectCompatibility(ctx context.Context, subject string) (compat.Level, error) {
	l, err := c.sr(ctx, false).GetCompatibilityLevel(subject, false)
	err = c.wrap(err, "GET", "/config/"+url.PathEscape(subject))
	switch {
	// Confluent answers 40408 for a subject without a level of its own;
	// some registries 40401 when the subject does not exist.
	case errors.Is(err, ErrSubjectLevelCompatNotSet), errors.Is(err, ErrSubjectNotFound):
		return "", nil
	case err != nil:
		return "", err
	}
	return parseLevel(string(*l))
}

// SetCompatibility sets subject's own compatibility level.
func (c *Client) SetCompatibility(ctx context.Context, subject string, level compat.Level) error {
	if _, err := c.sr(ctx, false).ChangeSubjectCompatibilityLevel(subject, srclient.CompatibilityLevel(level)); err != nil {
		return c.wrap(err, "PUT", "/config/"+url.PathEscape(subject))
	}
	return nil
}

// DeleteSubject deletes subject: soft, or permanently (which Confluent
// allows only after a soft delete).
func (c *Client) DeleteSubject(ctx context.Context, subject string, permanent bool) error {
	if err := c.sr(ctx, false).DeleteSubject(subject, permanent); err != nil {
		return c.wrap(err, "DELETE", subjectPath(subject))
	}
	return nil
}

// DeleteVersion soft-deletes version v of subject.
func (c *Client) DeleteVersion(ctx context.Context, subject string, v int) error {
	if err := c.sr(ctx, false).DeleteSubjectByVersion(subject, v, false); err != nil {
		return c.wrap(err, "DELETE", fmt.Sprintf("%s/versions/%d", subjectPath(subject), v))
	}
	return nil
}

// Compatibility is the registry's verdict on a candidate schema.
type Compatibility struct {
	Compatible bool
	// Messages are the registry's reasons (verbose mode): one per
	// incompatibility, in the registry's words.
	Messages []string
}

// CheckCompatibility asks the registry whether schema could be registered
// under subject: the check register would make, against the versions its
// level names (POST /compatibility/subjects/{s}/versions?verbose=true). A
// subject with no versions accepts anything.
func (c *Client) CheckCompatibility(ctx context.Context, subject, schema string, refs []Reference) (*Compatibility, error) {
	var resp struct {
		IsCompatible bool     `json:"is_compatible"`
		Messages     []string `json:"messages"`
	}
	err := c.do(ctx, "POST", "/compatibility"+subjectPath(subject)+"/versions?verbose=true", schemaRequest(schema, refs), &resp)
	if errors.Is(err, ErrSubjectNotFound) {
		return &Compatibility{Compatible: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return &Compatibility{Compatible: resp.IsCompatible, Messages: resp.Messages}, nil
}

func subjectPath(subject string) string { return "/subjects/" + url.PathEscape(subject) }

func schemaRequest(schema string, refs []Reference) any {
	return struct {
		Schema     string      `json:"schema"`
		References []Reference `json:"references,omitempty"`
	}{schema, refs}
}

func srReferences(refs []Reference) []srclient.Reference {
	out := make([]srclient.Reference, len(refs))
	for i, r := range refs {
		out[i] = srclient.Reference(r)
	}
	return out
}

func fromSrclient(subject string, s *srclient.Schema) *SchemaVersion {
	out := &SchemaVersion{Subject: subject, Version: s.Version(), ID: s.ID(), Schema: s.Schema()}
	if t := s.SchemaType(); t != nil {
		out.SchemaType = string(*t)
	}
	for _, r := range s.References() {
		out.References = append(out.References, Reference(r))
	}
	return out
}

func parseLevel(s string) (compat.Level, error) {
	l, err := compat.ParseLevel(s)
	if err != nil {
		return "", fmt.Errorf("registry: the registry answered an unknown compatibility level %q", s)
	}
	return l, nil
}

// do makes a request srclient has no call for, and decodes a 200 answer into
// out and an error answer into an *Error.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	req.Header.Set("Accept", contentType)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return c.transportError(method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) != nil {
			e.Code, e.Message = 0, ""
		}
		return answered(FromResponse(resp.StatusCode, Code(e.Code), e.Message), method, path)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("registry: %s %s%s: unexpected answer: %w", method, c.base, path, err)
	}
	return nil
}

// statusLine matches the error srclient returns for an error answer whose
// body is not {error_code, message}: the status line, "404 Not Found".
var statusLine = regexp.MustCompile(`^([1-5][0-9]{2}) `)

// wrap turns an error from srclient into an *Error when the registry
// answered, and says which request failed otherwise.
func (c *Client) wrap(err error, method, path string) error {
	if err == nil {
		return nil
	}
	var se srclient.Error
	if errors.As(err, &se) {
		return answered(FromResponse(statusOf(Code(se.Code)), Code(se.Code), se.Message), method, path)
	}
	if m := statusLine.FindStringSubmatch(err.Error()); m != nil {
		status, _ := strconv.Atoi(m[1])
		return answered(FromResponse(status, 0, ""), method, path)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return c.transportError(method, path, ue.Err)
	}
	return fmt.Errorf("registry: %s %s%s: %w", method, c.base, path, err)
}

// answered sets the request an error answer is to.
func answered(e *Error, method, path string) *Error {
	e.Method, e.Path = method, path
	return e
}

func (c *Client) transportError(method, path string, err error) error {
	return &TransportError{URL: c.base, Method: method, Path: path, Err: err}
}

// TransportError is a request that got no answer from the registry: it is
// unreachable, too slow, or the context ended.
type TransportError struct {
	URL, Method, Path string
	Err               error
}

func (e *TransportError) Error() string {
	msg := e.Err.Error()
	var ue *url.Error
	if errors.As(e.Err, &ue) {
		msg = ue.Err.Error()
	}
	return fmt.Sprintf("registry: cannot reach %s (%s %s): %s", e.URL, e.Method, e.Path, msg)
}

// Unwrap returns the underlying error (context.DeadlineExceeded, a
// *net.OpError, ...).
func (e *TransportError) Unwrap() error { return e.Err }

// statusOf returns the HTTP status of an error code, for srclient's errors,
// which keep the code but not the status.
func statusOf(code Code) int {
	if e := Lookup(code); e != nil {
		return e.HTTPStatus
	}
	if code >= 10000 {
		return int(code / 100)
	}
	return int(code)
}
