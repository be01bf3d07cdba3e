package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/catalog"
)

// ActionKind is what an action of a plan does.
type ActionKind string

// The actions, in the order a plan applies them.
const (
	// SetCompatibility sets a subject's own compatibility level to the
	// catalog's. Levels are set before anything is registered, so that new
	// versions are checked at the catalog's level.
	SetCompatibility ActionKind = "set-compatibility"
	// Register registers a version of the repository, references first.
	Register ActionKind = "register"
	// DeleteVersion soft-deletes a version the repository does not have
	// (only when asked: DeleteUnknown).
	DeleteVersion ActionKind = "delete-version"
	// DeleteSubject soft-deletes a subject the repository does not know
	// (only when asked: DeleteUnknown).
	DeleteSubject ActionKind = "delete-subject"
)

// Action is one change a plan makes to the registry.
type Action struct {
	Kind    ActionKind `json:"action"`
	Subject string     `json:"subject"`
	// Event is the full name of the event type or shared type, if any.
	Event string `json:"event,omitempty"`
	// Version is the version to register, which becomes the registry's
	// version of the same number, or the version to delete.
	Version int `json:"version,omitempty"`
	// File is the schema file to register, relative to the schemas
	// directory.
	File string `json:"file,omitempty"`
	// References are the references to register the schema with.
	References []Reference `json:"references,omitempty"`
	// Level is the level to set; From the subject's own level before ("":
	// none, it followed Global, the registry's default).
	Level  compat.Level `json:"level,omitempty"`
	From   compat.Level `json:"from,omitempty"`
	Global compat.Level `json:"global,omitempty"`

	schema string
}

// key names what the action brings about, for the actions that depend on it.
func (a Action) key() string {
	if a.Kind == SetCompatibility {
		return "config:" + a.Subject
	}
	return versionKey(a.Subject, a.Version)
}

// DriftKind is a way the registry disagrees with the repository that a plan
// does not repair: registered versions are immutable, so a person decides.
type DriftKind string

// The kinds of drift.
const (
	// DriftSchema: a registry version's schema differs from the repository's
	// file of the same version (or does not parse).
	DriftSchema DriftKind = "schema"
	// DriftReferences: a registry version's references differ from the ones
	// the repository's file resolves to.
	DriftReferences DriftKind = "references"
	// DriftNumbering: a version of the repository cannot become the
	// registry's version of the same number (deleted versions count when the
	// registry numbers a new one, or the schema is already another version).
	DriftNumbering DriftKind = "numbering"
	// DriftExtraVersion: the registry has a version beyond the repository's.
	DriftExtraVersion DriftKind = "extra-version"
	// DriftUnknownSubject: a subject the repository does not know, under one
	// of its topics or namespaces (or anywhere, with AllSubjects).
	DriftUnknownSubject DriftKind = "unknown-subject"
)

// Drift is one disagreement between the registry and the repository.
type Drift struct {
	Kind    DriftKind `json:"kind"`
	Subject string    `json:"subject"`
	Event   string    `json:"event,omitempty"`
	Version int       `json:"version,omitempty"`
	// File is the repository's file involved, if any, and Path a JSON
	// pointer into it where the difference is.
	File    string `json:"file,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// Plan is what it takes to make a registry hold what the repository holds:
// actions in the order Apply performs them, and the drift it leaves alone.
type Plan struct {
	// URL is the registry's.
	URL string `json:"url"`
	// Subjects counts the subjects of the catalog (event types and shared
	// types); Versions their versions.
	Subjects int      `json:"subjects"`
	Versions int      `json:"versions"`
	Actions  []Action `json:"actions"`
	Drift    []Drift  `json:"drift"`
}

// Empty reports whether the registry already holds what the repository
// holds: nothing to do, no drift.
func (p *Plan) Empty() bool { return len(p.Actions) == 0 && len(p.Drift) == 0 }

// Count returns how many actions of kind k the plan has.
func (p *Plan) Count(k ActionKind) int {
	n := 0
	for _, a := range p.Actions {
		if a.Kind == k {
			n++
		}
	}
	return n
}

// PlanOpt changes what PlanSync plans.
type PlanOpt interface{ apply(*planConfig) }

type planConfig struct {
	deleteUnknown bool
	allSubjects   bool
}

type planOptFunc func(*planConfig)

func (f planOptFunc) apply(c *planConfig) { f(c) }

// DeleteUnknown plans to soft-delete what the repository does not know:
// subjects (see AllSubjects) and versions beyond the repository's. Without
// it a plan never deletes anything; they are reported as drift.
func DeleteUnknown() PlanOpt { return planOptFunc(func(c *planConfig) { c.deleteUnknown = true }) }

// AllSubjects treats every subject in the registry as the repository's
// business. Without it, only subjects under the catalog's topics
// ("<topic>-") and its shared types' namespaces ("waybill.common.") are, and
// other teams' subjects in the same registry are left alone.
func AllSubjects() PlanOpt { return planOptFunc(func(c *planConfig) { c.allSubjects = true }) }

// PlanSync compares the registry with the catalog and plans the changes that
// make the registry hold the repository's versions: compatibility levels to
// set (the catalog wins), and versions to register, so that the repository's
// version N becomes the registry's version N of its subject, in version
// order, the shared types a version references before it. What it cannot
// repair is drift: a registry version that differs from the repository's
// file, numbering that no longer lines up, versions and subjects the
// repository does not know.
//
// The catalog must have loaded without problems. PlanSync only reads; an
// error means the registry could not be read.
func PlanSync(ctx context.Context, c *Client, cat *catalog.Catalog, opts ...PlanOpt) (*Plan, error) {
	var cfg planConfig
	for _, o := range opts {
		o.apply(&cfg)
	}
	p := &planner{ctx: ctx, c: c, r: newReader(c), cfg: cfg, plan: &Plan{URL: c.URL(), Actions: []Action{}, Drift: []Drift{}}}
	if err := p.run(cat); err != nil {
		return nil, err
	}
	return p.plan, nil
}

type planner struct {
	ctx  context.Context
	c    *Client
	r    *reader
	cfg  planConfig
	plan *Plan

	global   compat.Level
	levels   []Action
	register []Action
	deletes  []Action
}

func (p *planner) run(cat *catalog.Catalog) error {
	global, err := p.c.GlobalCompatibility(p.ctx)
	if err != nil {
		return err
	}
	p.global = global
	known := map[string]bool{}
	for _, list := range [][]*catalog.Event{cat.Shared, cat.Events} {
		for _, e := range list {
			known[e.Subject()] = true
			p.plan.Subjects++
			p.plan.Versions += len(e.Versions)
			if err := p.subject(e); err != nil {
				return err
			}
		}
	}
	if err := p.unknown(cat, known); err != nil {
		return err
	}
	ordered, err := order(p.register)
	if err != nil {
		return err
	}
	p.plan.Actions = slices.Concat(p.levels, ordered, p.deletes)
	return nil
}

func (p *planner) drift(d Drift) { p.plan.Drift = append(p.plan.Drift, d) }

// versions returns subject's live versions and the highest version number it
// ever had (soft-deleted versions included).
func (p *planner) versions(subject string) (live []int, highest int, err error) {
	live, err = p.c.Versions(p.ctx, subject, false)
	if err != nil && !errors.Is(err, ErrSubjectNotFound) {
		return nil, 0, err
	}
	all, err := p.c.Versions(p.ctx, subject, true)
	if err != nil && !errors.Is(err, ErrSubjectNotFound) {
		return nil, 0, err
	}
	for _, v := range slices.Concat(live, all) {
		highest = max(highest, v)
	}
	return live, highest, nil
}

// subject plans one event type or shared type.
func (p *planner) subject(e *catalog.Event) error {
	subject := e.Subject()
	for _, v := range e.Versions {
		if v.Schema == nil {
			return fmt.Errorf("registry: %s does not load: fix the schemas directory first (waybill lint)", v.File)
		}
	}

	own, err := p.c.SubjectCompatibility(p.ctx, subject)
	if err != nil {
		return err
	}
	if want := levelOf(e); own != want {
		p.levels = append(p.levels, Action{Kind: SetCompatibility, Subject: subject, Event: e.FullName, Level: want, From: own, Global: p.global})
	}

	live, highest, err := p.versions(subject)
	if err != nil {
		return err
	}
	isLive := map[int]bool{}
	for _, n := range live {
		isLive[n] = true
	}
	next := highest + 1
	blocked := false
	for _, v := range e.Versions {
		d := Drift{Subject: subject, Event: e.FullName, Version: v.Number, File: v.File}
		switch {
		case isLive[v.Number]:
			reg, err := p.r.version(p.ctx, subject, v.Number)
			if err != nil {
				return err
			}
			if diff := compare(v, reg); diff != nil {
				d.Kind, d.Path = diff.kind, diff.path
				d.Message = fmt.Sprintf("version %d of %s in the registry (ID %d) differs from %s: %s", v.Number, subject, reg.ID, v.File, diff.what)
				p.drift(d)
			}
		case blocked:
			// The reason was reported once, on the first version it stopped.
		case v.Number <= highest:
			d.Kind = DriftNumbering
			d.Message = fmt.Sprintf("version %d of %s is deleted in the registry, which numbers new versions of the subject from %d: %s cannot become version %d, nor can any later version",
				v.Number, subject, next, v.File, v.Number)
			p.drift(d)
			blocked = true
		default:
			refs := fromCatalog(v.References)
			if len(live) > 0 && !p.referencesPlanned(refs) {
				got, err := p.c.Lookup(p.ctx, subject, string(v.Text), refs)
				switch {
				case err == nil:
					d.Kind = DriftNumbering
					d.Message = fmt.Sprintf("%s is already version %d of %s in the registry: registering it would not create version %d; this and later versions are not registered",
						v.File, got.Version, subject, v.Number)
					p.drift(d)
					blocked = true
					continue
				case errors.Is(err, ErrSchemaNotFound), errors.Is(err, ErrSubjectNotFound), errors.Is(err, ErrInvalidSchema):
				default:
					return err
				}
			}
			p.register = append(p.register, Action{Kind: Register, Subject: subject, Event: e.FullName, Version: v.Number,
				File: v.File, References: refs, schema: string(v.Text)})
		}
	}

	var extra []int
	for _, n := range live {
		if n > len(e.Versions) {
			extra = append(extra, n)
		}
	}
	for _, n := range extra {
		p.drift(Drift{Kind: DriftExtraVersion, Subject: subject, Event: e.FullName, Version: n,
			Message: fmt.Sprintf("version %d of %s is in the registry but not in the repository (%s has %d)", n, subject, e.Dir, len(e.Versions))})
	}
	if p.cfg.deleteUnknown {
		for _, n := range slices.Backward(extra) {
			p.deletes = append(p.deletes, Action{Kind: DeleteVersion, Subject: subject, Event: e.FullName, Version: n})
		}
	}
	return nil
}

// referencesPlanned reports whether one of refs is registered by this plan:
// the registry cannot resolve it yet.
func (p *planner) referencesPlanned(refs []Reference) bool {
	for _, r := range refs {
		for _, a := range p.register {
			if a.Subject == r.Subject && a.Version == r.Version {
				return true
			}
		}
	}
	return false
}

// unknown reports the subjects the repository does not know.
func (p *planner) unknown(cat *catalog.Catalog, known map[string]bool) error {
	subjects, err := p.c.Subjects(p.ctx)
	if err != nil {
		return err
	}
	prefixes := scope(cat)
	var unknown []string
	for _, s := range subjects {
		if known[s] {
			continue
		}
		if !p.cfg.allSubjects && !slices.ContainsFunc(prefixes, func(pre string) bool { return strings.HasPrefix(s, pre) }) {
			continue
		}
		unknown = append(unknown, s)
		p.drift(Drift{Kind: DriftUnknownSubject, Subject: s,
			Message: fmt.Sprintf("subject %s is in the registry but the repository has no event type or shared type for it", s)})
	}
	if !p.cfg.deleteUnknown {
		return nil
	}
	// Event subjects first: they may reference shared ones.
	rank := func(s string) int {
		if underTopic(cat, s) {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(unknown, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })
	for _, s := range unknown {
		p.deletes = append(p.deletes, Action{Kind: DeleteSubject, Subject: s})
	}
	return nil
}

// scope returns the subject prefixes that belong to the repository: its
// topics' and its shared types' namespaces.
func scope(cat *catalog.Catalog) []string {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, t := range cat.Topics {
		add(t.Name + "-")
	}
	for _, e := range cat.Events {
		add(e.Topic + "-")
	}
	for _, e := range cat.Shared {
		if i := strings.LastIndexByte(e.FullName, '.'); i > 0 {
			add(e.FullName[:i+1])
		}
	}
	return out
}

func underTopic(cat *catalog.Catalog, subject string) bool {
	for _, t := range cat.Topics {
		if strings.HasPrefix(subject, t.Name+"-") {
			return true
		}
	}
	return false
}

func levelOf(e *catalog.Event) compat.Level {
	if e.Compatibility == "" {
		return catalog.DefaultCompatibility
	}
	return e.Compatibility
}

// order sorts registrations so that each comes after the earlier versions of
// its subject and after the versions it references, keeping the given order
// (shared types, then event types, by name and version) where it is free.
func order(actions []Action) ([]Action, error) {
	planned := map[string]bool{}
	for _, a := range actions {
		planned[a.key()] = true
	}
	done := map[string]bool{}
	out := make([]Action, 0, len(actions))
	left := slices.Clone(actions)
	for len(left) > 0 {
		i := slices.IndexFunc(left, func(a Action) bool {
			for _, dep := range a.deps() {
				if planned[dep] && !done[dep] {
					return false
				}
			}
			return true
		})
		if i < 0 {
			return nil, fmt.Errorf("registry: the references of %s v%d form a cycle", left[0].Subject, left[0].Version)
		}
		done[left[i].key()] = true
		out = append(out, left[i])
		left = slices.Delete(left, i, i+1)
	}
	return out, nil
}

// deps returns the keys of what a registration needs first: its subject's
// level, its previous version and the versions it references.
func (a Action) deps() []string {
	if a.Kind != Register {
		return nil
	}
	deps := []string{"config:" + a.Subject}
	if a.Version > 1 {
		deps = append(deps, versionKey(a.Subject, a.Version-1))
	}
	for _, r := range a.References {
		deps = append(deps, versionKey(r.Subject, r.Version))
	}
	return deps
}

// Status is the outcome of an action.
type Status string

// The statuses.
const (
	// Applied: the registry made the change.
	Applied Status = "applied"
	// Failed: the registry refused it; Result.Err is its answer.
	Failed Status = "failed"
	// Skipped: not attempted, because an action it needs failed.
	Skipped Status = "skipped"
)

// Result is the outcome of one action of a plan.
type Result struct {
	Action Action
	Status Status
	// ID is the schema ID a registration got.
	ID int
	// Err is why it failed or was skipped: for a failure, the registry's
	// answer, an *Error (errors.Is(err, ErrIncompatibleSchema)).
	Err error
}

// Apply performs a plan's actions in order, and returns the outcome of each.
// An action the registry refuses fails alone: the actions that need it (later
// versions of its subject, versions referencing it, registrations after a
// level that could not be set) are skipped, the others still run. A
// registration that does not become the version the repository numbers it
// fails. Apply deletes only what the plan lists, which is nothing unless it
// was made with DeleteUnknown; applying a plan again is harmless (registering
// a registered schema changes nothing).
//
// The error is for a registry that stopped answering (or ctx ending): the
// results so far are returned with it.
func Apply(ctx context.Context, c *Client, p *Plan) ([]Result, error) {
	results := make([]Result, 0, len(p.Actions))
	broken := map[string]string{} // key -> the action that failed
	for _, a := range p.Actions {
		res := Result{Action: a}
		if cause := blockedBy(a, broken); cause != "" {
			res.Status, res.Err = Skipped, fmt.Errorf("registry: not attempted: it needs %s, which failed", cause)
			broken[a.key()] = cause
			results = append(results, res)
			continue
		}
		err := apply(ctx, c, a, &res)
		var regErr *Error
		switch {
		case err == nil:
			res.Status = Applied
		case errors.As(err, &regErr), errors.Is(err, errNumbering):
			res.Status, res.Err = Failed, err
			broken[a.key()] = a.Subject + describeVersion(a)
		default:
			return results, err
		}
		results = append(results, res)
	}
	return results, nil
}

// errNumbering is a registration that did not become the version the
// repository numbers it.
var errNumbering = errors.New("registry: version numbering differs")

func describeVersion(a Action) string {
	if a.Kind == SetCompatibility {
		return "'s compatibility level"
	}
	return fmt.Sprintf(" v%d", a.Version)
}

func blockedBy(a Action, broken map[string]string) string {
	for _, d := range a.deps() {
		if cause, ok := broken[d]; ok {
			return cause
		}
	}
	return ""
}

func apply(ctx context.Context, c *Client, a Action, res *Result) error {
	switch a.Kind {
	case SetCompatibility:
		return c.SetCompatibility(ctx, a.Subject, a.Level)
	case Register:
		id, err := c.Register(ctx, a.Subject, a.schema, a.References)
		if err != nil {
			return err
		}
		res.ID = id
		got, err := c.Lookup(ctx, a.Subject, a.schema, a.References)
		if err != nil {
			return err
		}
		if got.Version != a.Version {
			return fmt.Errorf("%w: %s became version %d of %s, not %d",
				errNumbering, a.File, got.Version, a.Subject, a.Version)
		}
		return nil
	case DeleteVersion:
		return c.DeleteVersion(ctx, a.Subject, a.Version)
	case DeleteSubject:
		return c.DeleteSubject(ctx, a.Subject, false)
	}
	return fmt.Errorf("registry: unknown action %q", a.Kind)
}
