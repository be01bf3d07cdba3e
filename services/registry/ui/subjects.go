package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
)

// subjectRow is a row of the subjects list.
type subjectRow struct {
	Name    string
	Deleted bool
	Level   level
	// Versions counts the live versions (the soft-deleted ones of a deleted
	// subject); Latest is the newest and LatestID its schema ID.
	Versions, Latest, LatestID int
	Event                      *catalog.Event
	// Match says what a search inside the schemas found, and in which
	// version.
	Match        string
	MatchVersion int
}

// idRow is a use of a schema ID.
type idRow struct {
	Subject string
	Version int
	Deleted bool
	Event   *catalog.Event
}

type subjectsData struct {
	base
	Deleted bool
	// Total is how many subjects the registry has (in the view), Rows the
	// ones shown.
	Total  int
	Rows   []subjectRow
	Global compat.Level
	// For a search by ID: the ID, its uses, or why there are none.
	ID       int
	IDRows   []idRow
	Notice   string
	NoticeID int
	// ToggleURL is this page with soft-deleted subjects shown or hidden.
	ToggleURL string
}

// The search modes of the subjects list.
const (
	bySubject = "subject"
	byField   = "field"
	byID      = "id"
)

func (s *server) subjectsPage(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	by := r.URL.Query().Get("by")
	if by == "" {
		by = bySubject
	}
	d := subjectsData{base: s.base("Subjects", "subjects"), Deleted: flag(r, "deleted")}
	d.Query, d.By = q, by
	toggle := url.Values{}
	if q != "" {
		toggle.Set("q", q)
		toggle.Set("by", by)
	}
	if !d.Deleted {
		toggle.Set("deleted", "1")
	}
	d.ToggleURL = s.cfg.Prefix
	if len(toggle) > 0 {
		d.ToggleURL += "?" + toggle.Encode()
	}
	switch {
	case q != "" && by == byID:
		d.Title = "Schema ID " + q
	case q != "":
		d.Title = "Subjects matching " + strconv.Quote(q)
	}
	switch by {
	case bySubject, byField:
	case byID:
		if q == "" {
			break
		}
		id, err := strconv.Atoi(q)
		if err != nil || id < 0 {
			d.Notice = "A schema ID is a whole number, such as 42; " + strconv.Quote(q) + " is not one."
			break
		}
		d.ID = id
		uses, err := s.src.idVersions(ctx, id)
		if errors.Is(err, registry.ErrSchemaNotFound) {
			d.Notice = "No schema has ID " + q + "."
			d.NoticeID = int(registry.ErrSchemaNotFound.Code)
			break
		}
		if err != nil {
			return err
		}
		rows, err := s.idRows(ctx, uses)
		if err != nil {
			return err
		}
		d.IDRows = rows
		d.Elapsed = since(start)
		return s.render(w, http.StatusOK, "subjects", d)
	default:
		return badRequest("by=%q: search by subject, field or id", by)
	}
	if by != byID {
		rows, total, err := s.subjectRows(ctx, d.Deleted, by, strings.ToLower(q))
		if err != nil {
			return err
		}
		d.Rows, d.Total = rows, total
		if d.Global, err = s.src.globalLevel(ctx); err != nil {
			return err
		}
	}
	d.Elapsed = since(start)
	return s.render(w, http.StatusOK, "subjects", d)
}

func flag(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

// idRows are the uses of a schema ID, live or not.
func (s *server) idRows(ctx context.Context, uses []registry.SubjectVersion) ([]idRow, error) {
	rows := make([]idRow, len(uses))
	err := parallel(ctx, len(uses), s.cfg.Concurrency, func(ctx context.Context, i int) error {
		u := uses[i]
		rows[i] = idRow{Subject: u.Subject, Version: u.Version, Event: s.events[u.Subject]}
		live, err := s.src.versions(ctx, u.Subject, false)
		if err != nil && !errors.Is(err, registry.ErrSubjectNotFound) {
			return err
		}
		rows[i].Deleted = !slices.Contains(live, u.Version)
		return nil
	})
	return rows, err
}

// subjectRows lists the subjects (with deleted, the soft-deleted ones too)
// that match q, searching by subject name or inside the schemas; total
// counts them all. Levels are fetched for the matching rows only.
func (s *server) subjectRows(ctx context.Context, deleted bool, by, q string) ([]subjectRow, int, error) {
	live, err := s.src.subjects(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	names := live
	if deleted {
		if names, err = s.src.subjects(ctx, true); err != nil {
			return nil, 0, err
		}
	}
	// Every version of every subject, in one request where the registry
	// lists schemas; the soft-deleted ones only when asked for.
	versions := map[string][]registry.SchemaVersion{}
	listed := true
	for _, del := range []bool{false, true} {
		if del && !deleted {
			break
		}
		all, err := s.src.allSchemas(ctx, del)
		if errors.Is(err, errNoListing) {
			listed = false
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if del {
			// Keep only the deleted subjects' versions: a live subject
			// shows its live versions.
			for _, e := range all {
				if !slices.Contains(live, e.Subject) {
					versions[e.Subject] = append(versions[e.Subject], e)
				}
			}
			continue
		}
		for _, e := range all {
			versions[e.Subject] = append(versions[e.Subject], e)
		}
	}

	isLive := make(map[string]bool, len(live))
	for _, n := range live {
		isLive[n] = true
	}
	var rows []subjectRow
	for _, n := range names {
		if by == bySubject && q != "" && !strings.Contains(strings.ToLower(n), q) {
			continue
		}
		rows = append(rows, subjectRow{Name: n, Deleted: !isLive[n], Event: s.events[n]})
	}

	// A registry that cannot list schemas: each subject's versions, and its
	// latest schema, one subject at a time.
	if !listed {
		err := parallel(ctx, len(rows), s.cfg.Concurrency, func(ctx context.Context, i int) error {
			row := &rows[i]
			vs, err := s.src.versions(ctx, row.Name, row.Deleted)
			if errors.Is(err, registry.ErrSubjectNotFound) {
				return nil // deleted since it was listed
			}
			if err != nil {
				return err
			}
			if len(vs) == 0 {
				return nil
			}
			var got []registry.SchemaVersion
			todo := vs[len(vs)-1:]
			if by == byField && q != "" {
				todo = vs
			}
			for _, v := range todo {
				e, err := s.src.version(ctx, row.Name, v)
				if err != nil {
					return err
				}
				got = append(got, *e)
			}
			row.Versions = len(vs)
			row.Latest = vs[len(vs)-1]
			row.LatestID = got[len(got)-1].ID
			if by == byField {
				row.Match, row.MatchVersion = s.match(got, q)
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	} else {
		for i := range rows {
			row := &rows[i]
			vs := versions[row.Name]
			if len(vs) == 0 {
				continue
			}
			row.Versions = len(vs)
			row.Latest, row.LatestID = vs[len(vs)-1].Version, vs[len(vs)-1].ID
			if by == byField && q != "" {
				row.Match, row.MatchVersion = s.match(vs, q)
			}
		}
	}
	if by == byField && q != "" {
		rows = slices.DeleteFunc(rows, func(r subjectRow) bool { return r.Match == "" })
	}

	err = parallel(ctx, len(rows), s.cfg.Concurrency, func(ctx context.Context, i int) error {
		l, err := s.src.level(ctx, rows[i].Name)
		rows[i].Level = l
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return rows, len(names), nil
}

// match searches a subject's versions, newest first, for a type or field
// whose name contains q.
func (s *server) match(versions []registry.SchemaVersion, q string) (string, int) {
	for i := len(versions) - 1; i >= 0; i-- {
		e := &versions[i]
		if !e.IsAvro() {
			continue
		}
		s.imu.Lock()
		ix, ok := s.index[e.ID]
		s.imu.Unlock()
		if !ok {
			ix = newIndex(e.Schema)
			s.imu.Lock()
			if len(s.index) >= maxEntries {
				clear(s.index)
			}
			s.index[e.ID] = ix
			s.imu.Unlock()
		}
		if m := ix.match(q); m != "" {
			return m, e.Version
		}
	}
	return "", 0
}
