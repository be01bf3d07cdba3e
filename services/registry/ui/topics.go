package ui

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
)

// topicRow is a row of the topics list.
type topicRow struct {
	Name string
	// Topic is the catalog's, nil for a topic known only from subject names.
	Topic *catalog.Topic
	// Events counts the catalog's event types on it; Subjects the registry's
	// subjects named after it.
	Events, Subjects int
}

type topicsData struct {
	base
	Rows []topicRow
}

// topicsPage lists the catalog's topics, and the topics the registry's
// subject names imply (<topic>-value and <topic>-key, Confluent's
// TopicNameStrategy; <topic>-<record name> for a topic the catalog knows).
func (s *server) topicsPage(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	subjects, err := s.src.subjects(r.Context(), false)
	if err != nil {
		return err
	}
	rows := map[string]*topicRow{}
	var names []string
	row := func(name string) *topicRow {
		if rows[name] == nil {
			rows[name] = &topicRow{Name: name}
			names = append(names, name)
		}
		return rows[name]
	}
	if s.cfg.Catalog != nil {
		for i := range s.cfg.Catalog.Topics {
			t := &s.cfg.Catalog.Topics[i]
			row(t.Name).Topic = t
		}
		for _, e := range s.cfg.Catalog.Events {
			row(e.Topic).Events++
		}
	}
	for _, sub := range subjects {
		if t := s.topicOf(sub); t != "" {
			row(t).Subjects++
		}
	}
	slices.Sort(names)
	d := topicsData{base: s.base("Topics", "topics")}
	for _, n := range names {
		d.Rows = append(d.Rows, *rows[n])
	}
	d.Elapsed = since(start)
	return s.render(w, http.StatusOK, "topics", d)
}

// topicOf returns the topic a subject's name implies, or "".
func (s *server) topicOf(subject string) string {
	if e := s.events[subject]; e != nil {
		return e.Topic
	}
	if s.cfg.Catalog != nil {
		for _, t := range s.cfg.Catalog.Topics {
			if strings.HasPrefix(subject, t.Name+"-") {
				return t.Name
			}
		}
	}
	for _, suffix := range []string{"-value", "-key"} {
		if t, ok := strings.CutSuffix(subject, suffix); ok && t != "" {
			return t
		}
	}
	return ""
}

// topicEvent is an event type, or a subject, on a topic.
type topicEvent struct {
	Subject string
	Event   *catalog.Event
	// Latest is the newest live version in the registry and LatestID its
	// schema ID; 0 when the registry does not have the subject.
	Latest, LatestID int
	Versions         int
	Level            level
}

type topicData struct {
	base
	Topic *catalog.Topic
	Name  string
	// Events are the catalog's event types on the topic; Others the
	// registry's subjects named after it that the catalog does not know.
	Events, Others []topicEvent
}

func (s *server) topicPage(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx := r.Context()
	name := r.PathValue("topic")
	d := topicData{base: s.base("Topic "+name, "topics"), Name: name}
	if s.cfg.Catalog != nil {
		for i := range s.cfg.Catalog.Topics {
			if s.cfg.Catalog.Topics[i].Name == name {
				d.Topic = &s.cfg.Catalog.Topics[i]
			}
		}
		for _, e := range s.cfg.Catalog.Events {
			if e.Topic == name {
				d.Events = append(d.Events, topicEvent{Subject: e.Subject(), Event: e})
			}
		}
	}
	subjects, err := s.src.subjects(ctx, false)
	if err != nil {
		return err
	}
	for _, sub := range subjects {
		if s.events[sub] == nil && s.topicOf(sub) == name {
			d.Others = append(d.Others, topicEvent{Subject: sub})
		}
	}
	if d.Topic == nil && len(d.Events) == 0 && len(d.Others) == 0 {
		return &pageError{Status: http.StatusNotFound, Heading: "No such topic",
			Message: "Neither the catalog nor the registry's subject names know a topic named " + name + "."}
	}
	for _, list := range [][]topicEvent{d.Events, d.Others} {
		err := parallel(ctx, len(list), s.cfg.Concurrency, func(ctx context.Context, i int) error {
			return s.latest(ctx, &list[i])
		})
		if err != nil {
			return err
		}
	}
	d.Elapsed = since(start)
	return s.render(w, http.StatusOK, "topic", d)
}

// latest fills in a subject's newest live version and level.
func (s *server) latest(ctx context.Context, te *topicEvent) error {
	vs, err := s.src.versions(ctx, te.Subject, false)
	if errors.Is(err, registry.ErrSubjectNotFound) {
		return nil // not registered (yet)
	}
	if err != nil {
		return err
	}
	e, err := s.src.version(ctx, te.Subject, vs[len(vs)-1])
	if err != nil {
		return err
	}
	te.Latest, te.LatestID, te.Versions = e.Version, e.ID, len(vs)
	te.Level, err = s.src.level(ctx, te.Subject)
	return err
}
