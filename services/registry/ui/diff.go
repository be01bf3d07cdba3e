package ui

import (
	"net/http"
	"strconv"
	"time"

	"github.com/waybill/waybill/compat"
)

type consequenceCount struct {
	Consequence compat.Consequence
	N           int
}

// diffRow is a change, and whether the level being looked at forbids it.
type diffRow struct {
	compat.Change
	// Breaks: the change breaks readers the level protects
	// (Consequence.Breaks).
	Breaks bool
}

type diffData struct {
	base
	Subject string
	// Versions are every version of the subject, soft-deleted ones too.
	Versions     []int
	From, To     int
	FromID, ToID int
	Level        compat.Level
	SubjectLevel level
	Levels       []compat.Level
	Changes      []diffRow
	// Breaking counts the changes that break readers the level protects.
	Breaking       int
	Counts         []consequenceCount
	Compatible     bool
	Incompatible   compat.Findings
	Warnings       compat.Findings
	Problem        string
	SameSchema     bool
	CheckDirection string
}

// diffPage is the structural diff of two versions: compat.Diff at the
// subject's level (or ?level=), each change marked with its consequence, and
// the verdict of compat.CheckLevel on the pair.
func (s *server) diffPage(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx := r.Context()
	subject := r.PathValue("subject")
	all, err := s.src.versions(ctx, subject, true)
	if err != nil {
		return err
	}
	d := diffData{base: s.base(subject+": diff", "subjects"), Subject: subject, Versions: all, Levels: compat.Levels()}
	if d.SubjectLevel, err = s.src.level(ctx, subject); err != nil {
		return err
	}
	d.Level = d.SubjectLevel.Level
	q := r.URL.Query()
	if l := q.Get("level"); l != "" {
		if d.Level, err = compat.ParseLevel(l); err != nil {
			return badRequest("level=%q is not a compatibility level", l)
		}
	}
	version := func(name string, def int) (int, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, badRequest("%s=%q is not a version: a version is a number from 1", name, v)
		}
		return n, nil
	}
	last := all[len(all)-1]
	if d.To, err = version("to", last); err != nil {
		return err
	}
	prev := d.To - 1
	for _, v := range all {
		if v < d.To {
			prev = v
		}
	}
	if d.From, err = version("from", max(prev, 1)); err != nil {
		return err
	}
	d.Title = subject + ": version " + strconv.Itoa(d.From) + " to " + strconv.Itoa(d.To)

	from, err := s.src.version(ctx, subject, d.From)
	if err != nil {
		return err
	}
	to, err := s.src.version(ctx, subject, d.To)
	if err != nil {
		return err
	}
	d.FromID, d.ToID = from.ID, to.ID
	d.SameSchema = from.ID == to.ID
	old, err := s.src.parse(ctx, from)
	if err != nil {
		if isRegistryFault(err) {
			return err
		}
		d.Problem = "Version " + strconv.Itoa(d.From) + " cannot be compared: " + parseMessage(err)
	}
	cur, err := s.src.parse(ctx, to)
	if err != nil {
		if isRegistryFault(err) {
			return err
		}
		d.Problem = "Version " + strconv.Itoa(d.To) + " cannot be compared: " + parseMessage(err)
	}
	if d.Problem == "" {
		counts := map[compat.Consequence]int{}
		for _, c := range compat.Diff(old, cur, d.Level) {
			row := diffRow{Change: c, Breaks: c.Consequence.Breaks(d.Level)}
			d.Changes = append(d.Changes, row)
			counts[c.Consequence]++
			if row.Breaks {
				d.Breaking++
			}
		}
		for _, c := range []compat.Consequence{compat.BreaksBoth, compat.BreaksOldReaders, compat.BreaksNewReaders, compat.SemanticWarning, compat.Safe} {
			if counts[c] > 0 {
				d.Counts = append(d.Counts, consequenceCount{c, counts[c]})
			}
		}
		res := compat.CheckLevel(d.Level, cur, []*compat.Schema{old})
		d.Compatible, d.Incompatible, d.Warnings = res.Compatible(), res.Incompatibilities, res.Warnings
	}
	d.Elapsed = since(start)
	return s.render(w, http.StatusOK, "diff", d)
}
