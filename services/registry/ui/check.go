package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/schemacheck"
)

// maxCandidate bounds a pasted candidate schema (and its references).
const maxCandidate = 1 << 20

type checkData struct {
	base
	Subject string
	Event   *catalog.Event
	Level   level
	// Schema and References are the form's fields.
	Schema, References string
	// Checked: a candidate was given, and the rest is its verdict.
	Checked bool
	// Problem says why the candidate could not be checked by compat (it does
	// not parse, a reference is not in the registry).
	Problem string
	// Existing are the live versions checked against.
	Existing []int
	// Skipped are live versions that could not be parsed, and why.
	Skipped []string
	// Findings are compat's, as the PR check reports them.
	Findings []schemacheck.Finding
	Accepted bool
	// Registry is the registry's own verdict (nil when it gave none);
	// RegistryError its error answer instead.
	Verdict       *registry.Compatibility
	RegistryError *registry.Error
	// Agree: compat and the registry reached the same verdict.
	Agree bool
	// Registered is the version this exact schema already is, if any.
	Registered   *registry.SchemaVersion
	CatalogLevel string
}

// checkPage answers "would this be accepted?": the candidate is checked
// with compat against the subject's live versions at the subject's level
// in the registry, as `waybill compat check --against registry:URL` checks a
// new version, and the registry is asked the same question
// (POST /compatibility/subjects/{subject}/versions?verbose=true). The form
// is sent with GET, so a verdict has a URL.
func (s *server) checkPage(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx := r.Context()
	subject := r.PathValue("subject")
	r.Body = http.MaxBytesReader(w, r.Body, 4*maxCandidate)
	if err := r.ParseForm(); err != nil {
		return badRequest("the form could not be read: it is larger than %d bytes", 4*maxCandidate)
	}
	d := checkData{base: s.base(subject+": would this be accepted?", "subjects"), Subject: subject, Event: s.events[subject]}
	d.Schema = r.Form.Get("schema")
	d.References = strings.TrimSpace(r.Form.Get("references"))
	if len(d.Schema) > maxCandidate || len(d.References) > maxCandidate {
		return badRequest("the candidate is larger than %d bytes", maxCandidate)
	}
	var err error
	if d.Level, err = s.src.level(ctx, subject); err != nil {
		return err
	}
	if d.Event != nil && d.Event.Compatibility != "" && d.Event.Compatibility != d.Level.Level {
		d.CatalogLevel = string(d.Event.Compatibility)
	}
	live, err := s.src.versions(ctx, subject, false)
	if err != nil && !errors.Is(err, registry.ErrSubjectNotFound) {
		return err
	}
	d.Existing = live

	if strings.TrimSpace(d.Schema) == "" {
		// An empty form starts from the latest version, to edit.
		if len(live) > 0 {
			e, err := s.src.version(ctx, subject, live[len(live)-1])
			if err != nil {
				return err
			}
			d.Schema = pretty(e.Schema)
			if len(e.References) > 0 {
				b, _ := json.MarshalIndent(e.References, "", "  ")
				d.References = string(b)
			}
		}
		d.Elapsed = since(start)
		return s.render(w, http.StatusOK, "check", d)
	}

	d.Checked = true
	var refs []registry.Reference
	if d.References != "" {
		if err := json.Unmarshal([]byte(d.References), &refs); err != nil {
			d.Problem = "The references are not a JSON array of {\"name\", \"subject\", \"version\"}: " + err.Error()
		}
	}
	if d.Problem == "" {
		if err := s.compatVerdict(ctx, &d, subject, live, refs); err != nil {
			return err
		}
	}

	res, err := s.src.c.CheckCompatibility(ctx, subject, d.Schema, refs)
	var re *registry.Error
	switch {
	case errors.As(err, &re):
		if isRegistryFault(err) {
			return err
		}
		d.RegistryError = re
	case err != nil:
		return err
	default:
		d.Verdict = res
	}
	registryOK := d.Verdict != nil && d.Verdict.Compatible
	d.Agree = d.Problem == "" && d.Accepted == registryOK
	if d.Problem != "" && !registryOK {
		d.Agree = true // both refuse it
	}
	if sv, err := s.src.c.Lookup(ctx, subject, d.Schema, refs); err == nil {
		d.Registered = sv
	}
	d.Elapsed = since(start)
	return s.render(w, http.StatusOK, "check", d)
}

// compatVerdict checks the candidate with compat against the live versions,
// as the PR check does (schemacheck.CheckLevel, which groups compat's
// findings per version and adds hints).
func (s *server) compatVerdict(ctx context.Context, d *checkData, subject string, live []int, refs []registry.Reference) error {
	deps, err := s.src.res.References(ctx, refs)
	if err != nil {
		if isRegistryFault(err) {
			return err
		}
		d.Problem = "The candidate's " + problem(err).Error()
		return nil
	}
	cand, err := compat.Parse([]byte(d.Schema), deps...)
	if err != nil {
		d.Problem = "The candidate is not a valid Avro schema: " + parseMessage(err)
		return nil
	}
	var existing []schemacheck.Schema
	for _, v := range live {
		e, err := s.src.version(ctx, subject, v)
		if err != nil {
			return err
		}
		p, err := s.src.parse(ctx, e)
		if err != nil {
			if isRegistryFault(err) {
				return err
			}
			// As the check against a registry does: a version that does not
			// parse cannot be compared with.
			d.Skipped = append(d.Skipped, fmt.Sprintf("version %d: %v", v, problem(err)))
			continue
		}
		existing = append(existing, schemacheck.Schema{File: "v" + strconv.Itoa(v), Text: []byte(e.Schema), Schema: p, Version: v})
	}
	cs := schemacheck.Schema{File: "candidate", Text: []byte(d.Schema), Schema: cand}
	d.Findings = schemacheck.CheckLevel(d.Level.Level, cs, existing)
	d.Accepted = true
	for _, f := range d.Findings {
		if f.Severity == schemacheck.Error {
			d.Accepted = false
		}
	}
	return nil
}

// parseMessage says where a schema fails to parse.
func parseMessage(err error) string {
	err = problem(err)
	var pe *compat.ParseError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	var where []string
	if pe.Path != "" {
		where = append(where, "at "+pe.Path)
	}
	if pe.Line > 0 {
		where = append(where, fmt.Sprintf("line %d, column %d", pe.Line, pe.Column))
	}
	if len(where) == 0 {
		return pe.Msg
	}
	return strings.Join(where, ", ") + ": " + pe.Msg
}

// isRegistryFault reports whether err is the registry failing or refusing
// the UI (unreachable, 5xx, 401, 403) rather than an answer about a schema.
func isRegistryFault(err error) bool {
	var te *registry.TransportError
	if errors.As(err, &te) {
		return true
	}
	var re *registry.Error
	if errors.As(err, &re) {
		return re.HTTPStatus >= 500 || re.HTTPStatus == http.StatusUnauthorized || re.HTTPStatus == http.StatusForbidden
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
