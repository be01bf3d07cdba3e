package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
)

//go:embed templates/*.tmpl static/*
var assets embed.FS

// server serves the pages.
type server struct {
	cfg    Config
	src    *source
	mux    *http.ServeMux
	pages  map[string]*template.Template
	static http.Handler
	// events maps a subject to the catalog's event type or shared type.
	events map[string]*catalog.Event

	imu   sync.Mutex
	index map[int]index // the search index of a schema, by ID
}

func newServer(cfg Config, src *source) *server {
	s := &server{cfg: cfg, src: src, mux: http.NewServeMux(), pages: map[string]*template.Template{},
		events: map[string]*catalog.Event{}, index: map[int]index{}}
	if cfg.Catalog != nil {
		for _, e := range cfg.Catalog.Events {
			s.events[e.Subject()] = e
		}
		for _, e := range cfg.Catalog.Shared {
			s.events[e.Subject()] = e
		}
	}
	layout := template.Must(template.New("layout").Funcs(s.funcs()).ParseFS(assets, "templates/layout.tmpl"))
	for _, page := range []string{"subjects", "subject", "version", "diff", "check", "id", "topics", "topic", "error"} {
		t := template.Must(layout.Clone())
		s.pages[page] = template.Must(t.ParseFS(assets, "templates/"+page+".tmpl"))
	}
	static, _ := fs.Sub(assets, "static")
	s.static = http.StripPrefix(cfg.Prefix+"static/", http.FileServer(http.FS(static)))

	p := cfg.Prefix
	s.handle("GET "+p+"{$}", s.subjectsPage)
	s.handle("GET "+p+"subjects/{subject}", s.subjectPage)
	s.handle("GET "+p+"subjects/{subject}/versions/{version}", s.versionPage)
	s.handle("GET "+p+"subjects/{subject}/diff", s.diffPage)
	s.handle("GET "+p+"subjects/{subject}/check", s.checkPage)
	s.handle("POST "+p+"subjects/{subject}/check", s.checkPage)
	s.handle("GET "+p+"ids/{id}", s.idPage)
	s.handle("GET "+p+"topics", s.topicsPage)
	s.handle("GET "+p+"topics/{topic}", s.topicPage)
	s.mux.Handle("GET "+p+"static/", s.static)
	s.handle(p, func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return &pageError{Status: http.StatusMethodNotAllowed, Heading: "Method not allowed", Message: "The UI's pages are read with GET."}
		}
		return &pageError{Status: http.StatusNotFound, Heading: "No such page", Message: "The UI has no page at " + r.URL.Path + "."}
	})
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Prefix != "/" && r.URL.Path+"/" == s.cfg.Prefix {
		http.Redirect(w, r, s.cfg.Prefix, http.StatusMovedPermanently)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// handle registers a page: its error, if any, becomes an error page.
func (s *server) handle(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.ForwardAuth {
			r = r.WithContext(withAuth(r.Context(), r.Header.Get("Authorization")))
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// base is what every page shows: its title and where it is.
type base struct {
	Title    string
	Nav      string // "subjects", "topics": the section to mark current
	Registry string
	Catalog  bool
	Prefix   string
	// Query is the search box's text, By its mode.
	Query, By string
	Elapsed   string
}

func (s *server) base(title, nav string) base {
	return base{Title: title, Nav: nav, Registry: s.src.base, Catalog: s.cfg.Catalog != nil, Prefix: s.cfg.Prefix}
}

// render writes a page. It renders into a buffer first, so a template error
// is an error page rather than half a page.
func (s *server) render(w http.ResponseWriter, status int, page string, data any) error {
	var b bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("ui: rendering %s: %w", page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes()) // an error is the client gone: nothing to tell it
	return nil
}

// pageError is an error of the UI's own: a bad parameter, a page that does
// not exist.
type pageError struct {
	Status           int
	Heading, Message string
}

func (e *pageError) Error() string { return "ui: " + e.Heading + ": " + e.Message }

func badRequest(format string, args ...any) error {
	return &pageError{Status: http.StatusBadRequest, Heading: "Bad request", Message: fmt.Sprintf(format, args...)}
}

// errorData is the error page.
type errorData struct {
	base
	Status  int
	Heading string
	Message string
	// Code is the registry's error code, 0 when it did not answer.
	Code int
	// Request is the request to the registry that failed.
	Request string
	// Reason says why the registry could not be reached.
	Reason string
	Hint   string
}

// fail renders err as an error page: the registry's answer with its error
// code, the registry being unreachable, or the UI's own error.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	d := errorData{base: s.base("Error", "")}
	var (
		pe *pageError
		re *registry.Error
		te *registry.TransportError
	)
	if errors.As(err, &re) && re.Path != "" {
		d.Request = re.Method + " " + s.src.base + re.Path
	}
	switch {
	case errors.As(err, &pe):
		d.Status, d.Heading, d.Message = pe.Status, pe.Heading, pe.Message
	case errors.As(err, &te):
		d.Status = http.StatusBadGateway
		d.Heading = "The registry cannot be reached"
		d.Request = te.Method + " " + te.URL + te.Path
		d.Reason = reason(te.Err)
		d.Message = "The UI asked the registry at " + te.URL + " and got no answer."
		d.Hint = "Check that the registry is running and that this URL reaches it; the page works again as soon as it answers."
	case errors.As(err, &re):
		d.Code = int(re.Code)
		d.Message = re.Message
		switch {
		case re.HTTPStatus == http.StatusNotFound:
			d.Status = http.StatusNotFound
			d.Heading = "Not found in the registry"
		case re.HTTPStatus == http.StatusUnauthorized:
			d.Status = http.StatusUnauthorized
			d.Heading = "The registry wants credentials"
			if s.cfg.ForwardAuth {
				w.Header().Set("WWW-Authenticate", `Basic realm="waybill"`)
				d.Hint = "Sign in with a user of the registry."
			} else {
				d.Hint = "Give the UI a user of the registry (waybill browse reads $" + registry.EnvUsername + " and $" + registry.EnvPassword + ")."
			}
		case re.HTTPStatus == http.StatusForbidden:
			d.Status = http.StatusForbidden
			d.Heading = "The registry refused the request"
		case re.HTTPStatus >= 500:
			d.Status = http.StatusBadGateway
			d.Heading = fmt.Sprintf("The registry failed (HTTP %d)", re.HTTPStatus)
			d.Hint = "An error on the registry's side; try again shortly. If it persists, the registry's log says more."
		default:
			d.Status = http.StatusBadGateway
			d.Heading = fmt.Sprintf("The registry refused the request (HTTP %d)", re.HTTPStatus)
		}
	case errors.Is(err, context.Canceled):
		return // the client went away
	default:
		s.cfg.Logger.Error("ui: serving a page", "path", r.URL.Path, "err", err)
		d.Status = http.StatusInternalServerError
		d.Heading = "The page could not be shown"
		d.Message = "Something unexpected went wrong while preparing this page; the UI's log has the details."
	}
	d.Title = d.Heading
	if err := s.render(w, d.Status, "error", d); err != nil {
		s.cfg.Logger.Error("ui: rendering the error page", "err", err)
		http.Error(w, d.Heading, d.Status)
	}
}

// reason says in a few words why a request got no answer.
func reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer in time (timeout)"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		msg := oe.Err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return msg
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return "unknown host " + de.Name
	}
	return "the connection failed"
}

// The URLs of the pages.

func (s *server) subjectURL(subject string) string {
	return s.cfg.Prefix + "subjects/" + url.PathEscape(subject)
}

func (s *server) versionURL(subject string, v any) string {
	return s.subjectURL(subject) + "/versions/" + fmt.Sprint(v)
}

func (s *server) diffURL(subject string, from, to int) string {
	return fmt.Sprintf("%s/diff?from=%d&to=%d", s.subjectURL(subject), from, to)
}

func (s *server) checkURL(subject string) string { return s.subjectURL(subject) + "/check" }

func (s *server) idURL(id int) string { return s.cfg.Prefix + "ids/" + strconv.Itoa(id) }

func (s *server) topicURL(topic string) string {
	return s.cfg.Prefix + "topics/" + url.PathEscape(topic)
}

func (s *server) funcs() template.FuncMap {
	return template.FuncMap{
		"subjectURL": s.subjectURL,
		"versionURL": s.versionURL,
		"diffURL":    s.diffURL,
		"checkURL":   s.checkURL,
		"compareURL": func(subject string) string { return s.subjectURL(subject) + "/diff" },
		"idURL":      s.idURL,
		"topicURL":   s.topicURL,
		"topicsURL":  func() string { return s.cfg.Prefix + "topics" },
		"rootURL":    func() string { return s.cfg.Prefix },
		"styleURL":   func() string { return s.cfg.Prefix + "static/style.css" },
		"searchURL": func(by, q string) string {
			return s.cfg.Prefix + "?" + url.Values{"by": {by}, "q": {q}}.Encode()
		},
		"join":        strings.Join,
		"consequence": consequenceLabel,
		"indent":      func(depth int) int { return depth * 16 },
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
		"levelHelp": levelHelp,
	}
}

// consequenceLabel says what a consequence means to a reader of the page.
func consequenceLabel(c compat.Consequence) string {
	switch c {
	case compat.Safe:
		return "safe"
	case compat.BreaksOldReaders:
		return "breaks old readers"
	case compat.BreaksNewReaders:
		return "breaks new readers"
	case compat.BreaksBoth:
		return "breaks old and new readers"
	case compat.SemanticWarning:
		return "semantic warning"
	}
	return string(c)
}

// levelHelp says in a sentence what a level promises.
func levelHelp(l compat.Level) string {
	switch l {
	case compat.Backward:
		return "a new version reads data written with the latest one (consumers upgrade first)"
	case compat.BackwardTransitive:
		return "a new version reads data written with every earlier one (consumers upgrade first)"
	case compat.Forward:
		return "the latest version reads data written with a new one (producers upgrade first)"
	case compat.ForwardTransitive:
		return "every earlier version reads data written with a new one (producers upgrade first)"
	case compat.Full:
		return "a new version and the latest one read each other's data"
	case compat.FullTransitive:
		return "a new version and every earlier one read each other's data"
	case compat.None:
		return "no compatibility check"
	}
	return ""
}

// since formats how long a page took to prepare, for the footer.
func since(start time.Time) string {
	return time.Since(start).Round(100 * time.Microsecond).String()
}
