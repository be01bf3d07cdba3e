// Package serde turns events.Event values into Kafka record values and back,
// through a Confluent-compatible schema registry: the Confluent wire format
// (magic byte 0, the 4-byte big-endian schema ID, the Avro body).
//
// Serializing looks up (or, with AutoRegister, registers) the schema ID of an
// event type once; after that, serializing makes no registry call.
// Deserializing fetches the writer's schema by ID once, resolves it against
// the reader type's schema (Avro schema resolution) once per (writer ID,
// reader schema), and decodes into the compiled-in type; when the writer's
// schema is the reader's own, the event's generated decoder reads the body
// directly. Everything fetched is kept, so a Serde keeps working through a
// registry outage for every schema it has seen.
package serde

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/hamba/avro/v2"

	"github.com/waybill/waybill/compat"
	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde/internal/transcode"
)

// Opt configures a Serde.
type Opt func(*Serde)

// AutoRegister lets Serialize register an event's schema under its subject
// when the registry does not have it yet. Off by default: schemas reach the
// registry through `waybill registry push`, and a serializer only looks its
// schema up, as Confluent recommends in production.
func AutoRegister() Opt { return func(s *Serde) { s.autoRegister = true } }

// WithLogger sets the logger a Serde reports registry lookups and
// registrations on (at debug level); none by default.
func WithLogger(l *slog.Logger) Opt { return func(s *Serde) { s.log = l } }

// Serde serializes and deserializes events against one registry. It is safe
// for concurrent use; share one per registry.
type Serde struct {
	client       *registry.Client
	autoRegister bool
	log          *slog.Logger

	// last is the entry Serialize used last: a producer of one event type
	// compares two words and never hashes.
	last atomic.Pointer[idEntry]
	// ids maps a reader schema (by identity) to its subject and ID: the
	// hot path of Serialize. Copy on write: readers never lock.
	ids atomic.Pointer[map[avro.Schema]*idEntry]
	// codecs maps (writer ID, reader schema) to how to decode: the hot
	// path of Deserialize. Copy on write.
	codecs atomic.Pointer[map[codecKey]*codec]

	mu sync.Mutex // serializes misses and the maps below
	// byFingerprint is the ID of (subject, schema fingerprint).
	byFingerprint map[fpKey]uint32
	// writers are the schemas fetched by ID, parsed with their references.
	writers map[uint32]avro.Schema
	// sources are the writers' texts and references, for compat.Parse.
	sources map[uint32]source
	// refs are referenced versions fetched, by subject and version.
	refs map[refKey]*registry.SchemaVersion
}

type idEntry struct {
	schema  avro.Schema
	subject string
	id      uint32
}

type fpKey struct {
	subject string
	fp      [32]byte
}

// source is a schema as registered: its text and references.
type source struct {
	text string
	refs []registry.Reference
	// parsed is the schema parsed by hamba, when it came from an event
	// type: its JSON form, references inlined, stands in for references
	// not fetched yet, so reading makes no request of its own.
	parsed avro.Schema
}

type refKey struct {
	subject string
	version int
}

type codecKey struct {
	id     uint32
	reader avro.Schema
}

// codec is how to decode a writer ID's bodies into a reader type.
type codec struct {
	same    bool            // the writer's schema is the reader's: UnmarshalAvro
	version int             // else a repository version the reader's generated code resolves
	plan    *transcode.Plan // else the writer's body is transcoded into the reader's
	err     error           // the writer cannot be read as the reader
}

// bufs are the buffers transcoded bodies are decoded from.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// transcoded decodes body through plan into into.
func transcoded(plan *transcode.Plan, body []byte, into events.Event) error {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	b, err := plan.Transcode((*bp)[:0], body)
	if cap(b) <= 1<<20 {
		*bp = b[:0]
	}
	if err != nil {
		return err
	}
	return into.UnmarshalAvro(b)
}

// New returns a Serde on client.
func New(client *registry.Client, opts ...Opt) *Serde {
	s := &Serde{
		client:        client,
		log:           slog.New(slog.DiscardHandler),
		byFingerprint: map[fpKey]uint32{},
		writers:       map[uint32]avro.Schema{},
		sources:       map[uint32]source{},
		refs:          map[refKey]*registry.SchemaVersion{},
	}
	for _, o := range opts {
		o(s)
	}
	ids := map[avro.Schema]*idEntry{}
	s.ids.Store(&ids)
	codecs := map[codecKey]*codec{}
	s.codecs.Store(&codecs)
	return s
}

// Serialize returns ev as a record value in the Confluent wire format, and
// the schema ID it carries.
func (s *Serde) Serialize(ctx context.Context, ev events.Event) (value []byte, schemaID uint32, err error) {
	return s.AppendSerialize(ctx, make([]byte, 0, 64), ev)
}

// AppendSerialize appends ev's record value to dst: the hot path of a
// producer that reuses its buffer. After the first call for an event type it
// makes no registry call and allocates nothing of its own.
func (s *Serde) AppendSerialize(ctx context.Context, dst []byte, ev events.Event) ([]byte, uint32, error) {
	var id uint32
	sch, subject := ev.Schema(), ev.Subject()
	if e := s.last.Load(); e != nil && e.schema == sch && sameString(e.subject, subject) {
		id = e.id
	} else if e := (*s.ids.Load())[sch]; e != nil && sameString(e.subject, subject) {
		id = e.id
		s.last.Store(e)
	} else {
		var err error
		if id, err = s.schemaID(ctx, ev); err != nil {
			return dst, 0, err
		}
	}
	dst = envelope.AppendWire(dst, id, nil)
	out, err := ev.AppendAvro(dst)
	if err != nil {
		return dst[:len(dst)-headerLen], 0, &EncodeError{Subject: ev.Subject(), Version: ev.EventVersion(), Err: err}
	}
	return out, id, nil
}

// sameString is a == b, first by address: a generated type's subject is a
// constant, the same bytes every call.
func sameString(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// SchemaID returns the registry's ID for ev's schema: from the cache, or
// looked up (registered, with AutoRegister) and cached.
func (s *Serde) SchemaID(ctx context.Context, ev events.Event) (uint32, error) {
	if e := (*s.ids.Load())[ev.Schema()]; e != nil && e.subject == ev.Subject() {
		return e.id, nil
	}
	return s.schemaID(ctx, ev)
}

func (s *Serde) schemaID(ctx context.Context, ev events.Event) (uint32, error) {
	sch, subject := ev.Schema(), ev.Subject()
	key := fpKey{subject, sch.Fingerprint()}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byFingerprint[key]
	if !ok {
		refs := make([]registry.Reference, len(ev.References()))
		for i, r := range ev.References() {
			refs[i] = registry.Reference(r)
		}
		var n int
		var err error
		if s.autoRegister {
			n, err = s.client.Register(ctx, subject, ev.SchemaText(), refs)
			s.log.Debug("serde: registered schema", "subject", subject, "version", ev.EventVersion(), "id", n, "err", err)
		} else {
			var sv *registry.SchemaVersion
			if sv, err = s.client.Lookup(ctx, subject, ev.SchemaText(), refs); err == nil {
				n = sv.ID
			}
			s.log.Debug("serde: looked schema up", "subject", subject, "version", ev.EventVersion(), "id", n, "err", err)
		}
		if err != nil {
			return 0, &SchemaError{Subject: subject, Version: ev.EventVersion(), AutoRegister: s.autoRegister, Err: err}
		}
		id = uint32(n)
		s.byFingerprint[key] = id
		// The ID's schema is this one: Deserialize need not fetch it.
		if _, ok := s.writers[id]; !ok {
			s.writers[id] = sch
			s.sources[id] = source{ev.SchemaText(), refs, sch}
		}
	}
	old := *s.ids.Load()
	if e := old[sch]; e == nil {
		// A schema value shared by two subjects stays on the slow path
		// for the second.
		ids := make(map[avro.Schema]*idEntry, len(old)+1)
		for k, v := range old {
			ids[k] = v
		}
		ids[sch] = &idEntry{sch, subject, id}
		s.ids.Store(&ids)
	}
	return id, nil
}

// Deserialize decodes a record value in the Confluent wire format into into,
// resolving the writer's schema against into's when they differ.
func (s *Serde) Deserialize(ctx context.Context, value []byte, into events.Event) error {
	id, body, err := envelope.ParseWire(value)
	if err != nil {
		return err
	}
	reader := into.Schema()
	c, ok := (*s.codecs.Load())[codecKey{id, reader}]
	if !ok {
		if c, err = s.codec(ctx, id, into); err != nil {
			return err
		}
	}
	switch {
	case c.err != nil:
		return c.err
	case c.same:
		err = into.UnmarshalAvro(body)
	case c.version > 0:
		err = into.(events.VersionedReader).UnmarshalAvroVersion(c.version, body)
	default:
		err = transcoded(c.plan, body, into)
	}
	if err != nil {
		return &DecodeError{ID: id, Subject: into.Subject(), Version: into.EventVersion(),
			Err: envelope.UndecodableBody(into.EventType(), id, err)}
	}
	return nil
}

// codec builds and caches how to decode writer ID id into into's type.
func (s *Serde) codec(ctx context.Context, id uint32, into events.Event) (*codec, error) {
	reader := into.Schema()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := codecKey{id, reader}
	if c, ok := (*s.codecs.Load())[key]; ok {
		return c, nil
	}
	writer, err := s.writer(ctx, id)
	if err != nil {
		return nil, err
	}
	c := &codec{}
	if writer.Fingerprint() == reader.Fingerprint() {
		c.same = true
	} else if vr, ok := into.(events.VersionedReader); ok {
		// Generated resolution code: no reflection, and it sidesteps
		// hamba's reflective decode of a nullable decimal into *big.Rat,
		// which yields 0 (hamba v2.31). 0: a writer it does not know.
		c.version, _ = vr.WriterVersion(writer)
	}
	if !c.same && c.version == 0 {
		// A writer the reader's generated code does not know (a newer
		// producer's version): transcode its bodies into the reader's
		// encoding, then decode them with the generated decoder. hamba's
		// reflective resolved decode would lose nullable decimals.
		if c.plan, err = s.compile(ctx, id, into); err != nil {
			var ie *transcode.IncompatibleError
			if !errors.As(err, &ie) {
				return nil, err
			}
			c.err = s.incompatible(ctx, id, into, err)
		}
	}
	old := *s.codecs.Load()
	codecs := make(map[codecKey]*codec, len(old)+1)
	for k, v := range old {
		codecs[k] = v
	}
	codecs[key] = c
	s.codecs.Store(&codecs)
	return c, nil
}

// compile builds the transcoding plan from writer ID id into into's schema;
// s.mu is held and the writer fetched.
func (s *Serde) compile(ctx context.Context, id uint32, into events.Event) (*transcode.Plan, error) {
	src, ok := s.sources[id]
	if !ok {
		return nil, fmt.Errorf("serde: the writer's schema (ID %d): no text to resolve it from", id)
	}
	writer, err := s.compatSchema(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("serde: the writer's schema (ID %d): %w", id, err)
	}
	refs := make([]registry.Reference, len(into.References()))
	for i, r := range into.References() {
		refs[i] = registry.Reference(r)
	}
	reader, err := s.compatSchema(ctx, source{into.SchemaText(), refs, into.Schema()})
	if err != nil {
		return nil, fmt.Errorf("serde: the schema of %s v%d: %w", into.Subject(), into.EventVersion(), err)
	}
	return transcode.Compile(reader, writer)
}

// compatSchema parses src with compat, with its references (theirs first),
// fetched as needed unless src has its parsed form; s.mu is held.
func (s *Serde) compatSchema(ctx context.Context, src source) (*compat.Schema, error) {
	if src.parsed != nil && !s.haveRefs(src.refs, 0) {
		text, err := json.Marshal(src.parsed)
		if err != nil {
			return nil, err
		}
		return compat.Parse(text)
	}
	var parsed []*compat.Schema
	seen := map[refKey]bool{}
	var add func(refs []registry.Reference, stack []refKey) error
	add = func(refs []registry.Reference, stack []refKey) error {
		for _, r := range refs {
			key := refKey{r.Subject, r.Version}
			for _, k := range stack {
				if k == key {
					return fmt.Errorf("reference %s (%s version %d): %w", r.Name, r.Subject, r.Version, registry.ErrReferenceCycle)
				}
			}
			if seen[key] {
				continue
			}
			sv, ok := s.refs[key]
			if !ok {
				var err error
				if sv, err = s.client.Version(ctx, r.Subject, r.Version); err != nil {
					return fmt.Errorf("reference %s (%s version %d): %w", r.Name, r.Subject, r.Version, err)
				}
				s.refs[key] = sv
			}
			if err := add(sv.References, append(stack, key)); err != nil {
				return err
			}
			seen[key] = true
			p, err := compat.Parse([]byte(sv.Schema), parsed...)
			if err != nil {
				return fmt.Errorf("reference %s (%s version %d) does not parse: %w", r.Name, r.Subject, r.Version, err)
			}
			parsed = append(parsed, p)
		}
		return nil
	}
	if err := add(src.refs, nil); err != nil {
		return nil, err
	}
	return compat.Parse([]byte(src.text), parsed...)
}

// haveRefs reports whether refs and theirs are all fetched; s.mu is held.
func (s *Serde) haveRefs(refs []registry.Reference, depth int) bool {
	if depth > 64 {
		return false
	}
	for _, r := range refs {
		sv, ok := s.refs[refKey{r.Subject, r.Version}]
		if !ok || !s.haveRefs(sv.References, depth+1) {
			return false
		}
	}
	return true
}

// incompatible names both versions of a writer the reader cannot read: the
// writer's subject and version as the registry has them (best effort: one
// request, on this error path only).
func (s *Serde) incompatible(ctx context.Context, id uint32, into events.Event, err error) error {
	e := &IncompatibleError{
		WriterID: id, ReaderSubject: into.Subject(), ReaderVersion: into.EventVersion(), Err: err,
	}
	if svs, lerr := s.client.SubjectVersionsByID(ctx, int(id)); lerr == nil {
		e.Writers = svs
	}
	return e
}

// writer returns the schema with ID id, parsed with its references; s.mu is
// held.
func (s *Serde) writer(ctx context.Context, id uint32) (avro.Schema, error) {
	if w, ok := s.writers[id]; ok {
		return w, nil
	}
	sv, err := s.client.SchemaByID(ctx, int(id))
	if err != nil {
		if errors.Is(err, registry.ErrSchemaNotFound) {
			return nil, &UnknownSchemaError{ID: id, Err: envelope.UnknownSchemaID(id, err)}
		}
		return nil, fmt.Errorf("serde: fetching the writer's schema (ID %d): %w", id, err)
	}
	if !sv.IsAvro() {
		return nil, fmt.Errorf("serde: schema ID %d is a %s schema, not Avro", id, sv.SchemaType)
	}
	cache := &avro.SchemaCache{}
	if err := s.addRefs(ctx, cache, sv.References, nil); err != nil {
		return nil, fmt.Errorf("serde: the writer's schema (ID %d): %w", id, err)
	}
	w, err := avro.ParseWithCache(sv.Schema, "", cache)
	if err != nil {
		return nil, fmt.Errorf("serde: the writer's schema (ID %d) does not parse: %w", id, err)
	}
	s.writers[id] = w
	s.sources[id] = source{sv.Schema, sv.References, nil}
	return w, nil
}

// addRefs parses the referenced schemas (theirs first) into cache.
func (s *Serde) addRefs(ctx context.Context, cache *avro.SchemaCache, refs []registry.Reference, stack []refKey) error {
	for _, r := range refs {
		key := refKey{r.Subject, r.Version}
		for _, k := range stack {
			if k == key {
				return fmt.Errorf("reference %s (%s version %d): %w", r.Name, r.Subject, r.Version, registry.ErrReferenceCycle)
			}
		}
		sv, ok := s.refs[key]
		if !ok {
			var err error
			if sv, err = s.client.Version(ctx, r.Subject, r.Version); err != nil {
				return fmt.Errorf("reference %s (%s version %d): %w", r.Name, r.Subject, r.Version, err)
			}
			s.refs[key] = sv
		}
		if err := s.addRefs(ctx, cache, sv.References, append(stack, key)); err != nil {
			return err
		}
		if _, err := avro.ParseWithCache(sv.Schema, "", cache); err != nil {
			return fmt.Errorf("reference %s (%s version %d) does not parse: %w", r.Name, r.Subject, r.Version, err)
		}
	}
	return nil
}

const headerLen = envelope.WireHeaderLen

// Writer serializes the values of one event type, E, with the schema ID
// looked up when it was made: the hot path with nothing to look up at all,
// for a producer that knows its types at compile time. Safe for concurrent
// use.
type Writer[E events.Event] struct {
	header  [headerLen]byte
	id      uint32
	subject string
	version int
}

// NewWriter returns a Writer for the type of ev, looking its schema ID up
// (or registering it) through s now.
func NewWriter[E events.Event](ctx context.Context, s *Serde, ev E) (*Writer[E], error) {
	id, err := s.SchemaID(ctx, ev)
	if err != nil {
		return nil, err
	}
	w := &Writer[E]{id: id, subject: ev.Subject(), version: ev.EventVersion()}
	envelope.AppendWire(w.header[:0], id, nil)
	return w, nil
}

// SchemaID returns the schema ID the Writer writes.
func (w *Writer[E]) SchemaID() uint32 { return w.id }

// Append appends ev's record value to dst.
func (w *Writer[E]) Append(dst []byte, ev E) ([]byte, error) {
	dst = append(dst, w.header[:]...)
	out, err := ev.AppendAvro(dst)
	if err != nil {
		return dst[:len(dst)-headerLen], &EncodeError{Subject: w.subject, Version: w.version, Err: err}
	}
	return out, nil
}
