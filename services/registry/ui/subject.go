package ui

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
)

// versionRow is a row of a subject's version history.
type versionRow struct {
	Version, ID int
	Deleted     bool
	References  int
	// Previous is the live version before it, 0 for none: the diff link.
	Previous int
}

type subjectData struct {
	base
	Subject string
	// Deleted: every version is soft-deleted.
	Deleted  bool
	Level    level
	Mode     string
	Event    *catalog.Event
	Versions []versionRow
	// Latest is the newest live version, 0 when none.
	Latest int
}

func (s *server) subjectPage(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx := r.Context()
	subject := r.PathValue("subject")
	all, err := s.src.versions(ctx, subject, true)
	if err != nil {
		return err
	}
	live, err := s.src.versions(ctx, subject, false)
	if err != nil && !errors.Is(err, registry.ErrSubjectNotFound) {
		return err
	}
	d := subjectData{base: s.base(subject, "subjects"), Subject: subject, Event: s.events[subject], Deleted: len(live) == 0}
	if len(live) > 0 {
		d.Latest = live[len(live)-1]
	}
	d.Versions = make([]versionRow, len(all))
	err = parallel(ctx, len(all), s.cfg.Concurrency, func(ctx context.Context, i int) error {
		e, err := s.src.version(ctx, subject, all[i])
		if err != nil {
			return err
		}
		d.Versions[i] = versionRow{Version: e.Version, ID: e.ID, References: len(e.References), Deleted: !slices.Contains(live, e.Version)}
		return nil
	})
	if err != nil {
		return err
	}
	prev := 0
	for i := range d.Versions {
		d.Versions[i].Previous = prev
		if !d.Versions[i].Deleted {
			prev = d.Versions[i].Version
		}
	}
	slices.Reverse(d.Versions) // newest first
	if d.Level, err = s.src.level(ctx, subject); err != nil {
		return err
	}
	if d.Mode, err = s.src.mode(ctx, subject); err != nil {
		return err
	}
	d.Elapsed = since(start)
	return s.render(w, http.StatusOK, "subject", d)
}

// link is a subject's version, linked.
type link struct {
	Subject string
	Version int
	ID      int
	Name    string // the reference's name, for references
	Deleted bool
}

type versionData struct {
	base
	Subject string
	Entry   *registry.SchemaVersion
	// Requested is the version as the URL says it ("latest" or a number).
	Requested string
	Deleted   bool
	Avro      bool
	Pretty    string
	Fields    []fieldRow
	Named     []namedType
	// FieldError says why there is no field table.
	FieldError   string
	References   []link
	ReferencedBy []link
	// ReferencedByUnknown: the registry cannot say what references it.
	ReferencedByUnknown bool
	// SameID are the other subjects and versions with this schema ID.
	SameID   []link
	Previous int
	Next     int
	Latest   int
	Event    *catalog.Event
	Level    level
}

func (s *server) versionPage(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx := r.Context()
	subject := r.PathValue("subject")
	req := r.PathValue("version")
	n := -1
	if req != "latest" {
		var err error
		if n, err = strconv.Atoi(req); err != nil || n < 1 {
			return badRequest("%q is not a version: a version is a number from 1, or latest", req)
		}
	}
	e, err := s.src.version(ctx, subject, n)
	if err != nil {
		return err
	}
	all, err := s.src.versions(ctx, subject, true)
	if err != nil {
		return err
	}
	live, err := s.src.versions(ctx, subject, false)
	if err != nil && !errors.Is(err, registry.ErrSubjectNotFound) {
		return err
	}
	d := versionData{base: s.base(subject+" version "+strconv.Itoa(e.Version), "subjects"), Subject: subject, Entry: e,
		Requested: req, Deleted: !slices.Contains(live, e.Version), Avro: e.IsAvro(), Pretty: pretty(e.Schema), Event: s.events[subject]}
	if len(live) > 0 {
		d.Latest = live[len(live)-1]
	}
	if i := slices.Index(all, e.Version); i >= 0 {
		if i > 0 {
			d.Previous = all[i-1]
		}
		if i+1 < len(all) {
			d.Next = all[i+1]
		}
	}
	if d.Level, err = s.src.level(ctx, subject); err != nil {
		return err
	}
	refHref := map[string]string{}
	for _, ref := range e.References {
		d.References = append(d.References, link{Subject: ref.Subject, Version: ref.Version, Name: ref.Name})
		refHref[ref.Name] = s.versionURL(ref.Subject, ref.Version)
	}
	if d.Avro {
		t, err := newFieldTable(e.Schema, func(name string) string { return refHref[name] })
		if err != nil {
			d.FieldError = "The schema is not valid JSON: " + err.Error()
		} else {
			d.Fields, d.Named = t.rows, t.named
		}
	} else {
		d.FieldError = "A " + e.SchemaType + " schema: the field table is for Avro schemas."
	}

	ids, err := s.src.referencedBy(ctx, subject, e.Version)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		d.ReferencedByUnknown = true // a registry without the endpoint
	case err != nil && !isNotFound(err):
		return err
	}
	d.ReferencedBy, err = s.uses(ctx, ids)
	if err != nil {
		return err
	}
	same, err := s.uses(ctx, []int{e.ID})
	if err != nil {
		return err
	}
	for _, l := range same {
		if l.Subject != subject || l.Version != e.Version {
			d.SameID = append(d.SameID, l)
		}
	}
	d.Elapsed = since(start)
	return s.render(w, http.StatusOK, "version", d)
}

// isNotFound reports whether the registry answered 404 (a registry without
// the endpoint, or a thing that is gone).
func isNotFound(err error) bool {
	var re *registry.Error
	return errors.As(err, &re) && re.HTTPStatus == http.StatusNotFound
}

// uses returns every subject and version using the schema IDs.
func (s *server) uses(ctx context.Context, ids []int) ([]link, error) {
	per := make([][]link, len(ids))
	err := parallel(ctx, len(ids), s.cfg.Concurrency, func(ctx context.Context, i int) error {
		svs, err := s.src.idVersions(ctx, ids[i])
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := s.idRows(ctx, svs)
		for _, r := range rows {
			per[i] = append(per[i], link{Subject: r.Subject, Version: r.Version, ID: ids[i], Deleted: r.Deleted})
		}
		return err
	})
	return slices.Concat(per...), err
}

type idData struct {
	base
	ID     int
	Entry  *registry.SchemaVersion
	Pretty string
	Uses   []idRow
}

func (s *server) idPage(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx := r.Context()
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 {
		return badRequest("%q is not a schema ID: an ID is a whole number", r.PathValue("id"))
	}
	e, err := s.src.schemaByID(ctx, id)
	if err != nil {
		return err
	}
	svs, err := s.src.idVersions(ctx, id)
	if err != nil && !isNotFound(err) {
		return err
	}
	d := idData{base: s.base("Schema ID "+strconv.Itoa(id), "subjects"), ID: id, Entry: e, Pretty: pretty(e.Schema)}
	if d.Uses, err = s.idRows(ctx, svs); err != nil {
		return err
	}
	d.Elapsed = since(start)
	return s.render(w, http.StatusOK, "id", d)
}
