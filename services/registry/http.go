package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	sr "github.com/waybill/waybill/pkg/registry"
)

// contentType is the media type of every response but /metrics.
const contentType = "application/vnd.schemaregistry.v1+json"

// requestTypes are the media types a request body may have, as Confluent's
// resources declare them (@Consumes); octet-stream is read as JSON.
var requestTypes = map[string]bool{
	"application/vnd.schemaregistry.v1+json": true,
	"application/vnd.schemaregistry+json":    true,
	"application/json":                       true,
	"application/octet-stream":               true,
}

// params are a request's path parameters.
type params struct {
	subject, version, id string
}

type handler func(w http.ResponseWriter, r *http.Request, p params)

// route is one endpoint. Its pattern's segments are literals, or "{subject}",
// "{version}", "{id}".
type route struct {
	method  string
	pattern string // also the metrics label
	segs    []string
	write   bool // needs a ReadWrite user
	body    bool // reads a JSON body: its media type is checked
	h       handler
}

type router struct {
	routes []*route
}

func (rt *router) add(method, pattern string, write, body bool, h handler) {
	segs := strings.Split(strings.Trim(pattern, "/"), "/")
	if pattern == "/" {
		segs = nil
	}
	rt.routes = append(rt.routes, &route{method: method, pattern: pattern, segs: segs, write: write, body: body, h: h})
}

// match finds the route of a request. found is false for an unknown path
// (404); a known path without the method gives a nil route and found true
// (405).
func (rt *router) match(method string, u *url.URL) (rte *route, p params, found bool) {
	segs, ok := splitPath(u)
	if !ok {
		return nil, p, false
	}
	for _, r := range rt.routes {
		if len(r.segs) != len(segs) {
			continue
		}
		var q params
		if !bind(r.segs, segs, &q) {
			continue
		}
		found = true
		if r.method == method || (method == http.MethodHead && r.method == http.MethodGet) {
			return r, q, true
		}
	}
	return nil, p, found
}

func bind(pattern, segs []string, p *params) bool {
	for i, s := range pattern {
		switch s {
		case "{subject}":
			p.subject = segs[i]
		case "{version}":
			p.version = segs[i]
		case "{id}":
			p.id = segs[i]
		default:
			if s != segs[i] {
				return false
			}
		}
	}
	return true
}

// splitPath splits a URL's path into unescaped segments, so that a subject
// may contain an encoded slash. One trailing slash is ignored, as
// Confluent's server ignores it.
func splitPath(u *url.URL) ([]string, bool) {
	if u.RawPath == "" {
		// Nothing in the path was escaped in a way that matters: its
		// segments are the decoded path's.
		path := strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"), "/")
		if path == "" {
			return nil, true
		}
		return strings.Split(path, "/"), true
	}
	escaped := strings.TrimPrefix(u.EscapedPath(), "/")
	escaped = strings.TrimSuffix(escaped, "/")
	if escaped == "" {
		return nil, true
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		if strings.IndexByte(s, '%') < 0 {
			continue
		}
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		segs[i] = u
	}
	return segs, true
}

func (s *Server) newRouter() *router {
	rt := &router{}
	const r, w, body = false, true, true
	rt.add("GET", "/", r, !body, s.getRoot)
	rt.add("GET", "/metrics", r, !body, s.getMetrics)
	rt.add("GET", "/contexts", r, !body, s.getContexts)
	rt.add("GET", "/schemas", r, !body, s.getSchemas)
	rt.add("GET", "/schemas/types", r, !body, s.getSchemaTypes)
	rt.add("GET", "/schemas/ids/{id}", r, !body, s.getSchemaByID)
	rt.add("GET", "/schemas/ids/{id}/schema", r, !body, s.getRawSchemaByID)
	rt.add("GET", "/schemas/ids/{id}/subjects", r, !body, s.getSubjectsByID)
	rt.add("GET", "/schemas/ids/{id}/versions", r, !body, s.getVersionsByID)
	rt.add("GET", "/subjects", r, !body, s.getSubjects)
	rt.add("POST", "/subjects/{subject}", r, body, s.lookup)
	rt.add("DELETE", "/subjects/{subject}", w, !body, s.deleteSubject)
	rt.add("GET", "/subjects/{subject}/versions", r, !body, s.getVersions)
	rt.add("POST", "/subjects/{subject}/versions", w, body, s.register)
	rt.add("GET", "/subjects/{subject}/versions/{version}", r, !body, s.getVersion)
	rt.add("DELETE", "/subjects/{subject}/versions/{version}", w, !body, s.deleteVersion)
	rt.add("GET", "/subjects/{subject}/versions/{version}/schema", r, !body, s.getRawVersion)
	rt.add("GET", "/subjects/{subject}/versions/{version}/referencedby", r, !body, s.getReferencedBy)
	rt.add("POST", "/compatibility/subjects/{subject}/versions", r, body, s.checkAll)
	rt.add("POST", "/compatibility/subjects/{subject}/versions/{version}", r, body, s.checkVersion)
	rt.add("GET", "/config", r, !body, s.getGlobalConfig)
	rt.add("PUT", "/config", w, body, s.putGlobalConfig)
	rt.add("DELETE", "/config", w, !body, s.deleteGlobalConfig)
	rt.add("GET", "/config/{subject}", r, !body, s.getSubjectConfig)
	rt.add("PUT", "/config/{subject}", w, body, s.putSubjectConfig)
	rt.add("DELETE", "/config/{subject}", w, !body, s.deleteSubjectConfig)
	rt.add("GET", "/mode", r, !body, s.getGlobalMode)
	rt.add("PUT", "/mode", w, body, s.putGlobalMode)
	rt.add("GET", "/mode/{subject}", r, !body, s.getSubjectMode)
	rt.add("PUT", "/mode/{subject}", w, body, s.putSubjectMode)
	rt.add("DELETE", "/mode/{subject}", w, !body, s.deleteSubjectMode)
	return rt
}

// statusWriter remembers the status of a response, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serve is the order of Confluent's server: authentication, then the route
// (404, 405), then the media type (415), then the endpoint.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	label := "unmatched"
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // a sentinel panic value, not an error chain
				panic(v)
			}
			s.log.Error("registry: panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", v)
			if sw.status == 0 {
				writeError(sw, sr.FromResponse(http.StatusInternalServerError, 500, "Internal Server Error"))
			}
		}
		s.metrics.observe(label, r.Method, sw.status, time.Since(start))
	}()
	rte, p, found := s.routes.match(r.Method, r.URL)
	if rte != nil {
		label = rte.pattern
	}
	if !s.authorize(sw, r, rte) {
		return
	}
	switch {
	case !found:
		writeError(sw, sr.ErrNotFound)
		return
	case rte == nil:
		writeError(sw, sr.ErrMethodNotAllowed)
		return
	case rte.body && !acceptable(r.Header.Get("Content-Type")):
		writeError(sw, sr.ErrUnsupportedMediaType)
		return
	}
	rte.h(sw, r, p)
}

// acceptable reports whether a request body's media type is one the
// registry reads. A request without one is read as JSON, as Confluent's
// server reads it.
func acceptable(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && requestTypes[strings.ToLower(mt)]
}

// errorBody is the JSON of every error response.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// writeError writes an error response. Errors that are not catalogued
// registry errors are storage errors.
func writeError(w http.ResponseWriter, err error) {
	var e *sr.Error
	if !errors.As(err, &e) {
		e = sr.ErrStore.With("Error in the backend data store: %v", err)
	}
	if e.HTTPStatus == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="waybill"`)
	}
	writeJSON(w, e.HTTPStatus, errorBody{ErrorCode: int(e.Code), Message: e.Message})
}

// writeJSON writes a JSON response, without escaping HTML characters, as
// Confluent's server writes them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeRaw(w, status, marshal(v))
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"error_code":50001,"message":"cannot encode the response"}`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// decode reads a request's JSON body into v. A body over the limit is 42209
// (what Confluent answers a schema too large to store), malformed JSON is
// 400, as Confluent's server answers them.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) *sr.Error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return sr.ErrSchemaTooLarge.With("Request body too large: the limit is %d bytes", s.cfg.MaxBodyBytes)
		}
		return sr.ErrBadRequest.With("Cannot read the request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return sr.ErrBadRequest.With("Unexpected end of input: the request body is empty")
		}
		return sr.ErrBadRequest.With("Unrecognized request body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return sr.ErrBadRequest.With("Unrecognized request body: unexpected data after the JSON value")
	}
	return nil
}

// flag reads a boolean query parameter as Confluent's server does: "true",
// in any case, is true; anything else is false.
func flag(r *http.Request, name string) bool {
	return strings.EqualFold(r.URL.Query().Get(name), "true")
}
