// Package schemalog is the Schema Registry's storage: an ordered log of
// records in the formats Confluent's registry writes to its `_schemas` topic
// (see ../shared/reference/schema-registry-api.md, "Storage"). The registry's
// state is what replaying the log produces, so the same state comes back from
// a Kafka topic after a restart, and a topic written by Confluent's registry
// can be read.
//
// Two implementations: Memory (for unit tests and `--storage memory`) and the
// Kafka log in package kafkalog (`--storage kafka`).
package schemalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Record is one log record: a JSON key and a JSON value. A nil Value is a
// tombstone (a permanent delete, or a deleted config or mode).
//
// Key holds the exact bytes read from the log: a tombstone for a record must
// reuse them, because compaction matches keys byte for byte, and a tombstone
// with differently serialized key bytes would leave the record to come back
// after compaction (Confluent issues #2961, #4420).
type Record struct {
	Key   []byte
	Value []byte
	// Offset is the record's position in the log, set when it is read.
	Offset int64
}

// Log is the registry's storage.
type Log interface {
	// Start delivers every record in the log, from the beginning and in
	// order, to apply, and then goes on delivering the records appended
	// later, by this instance or any other, until Close. It returns once the
	// records that were in the log when it was called have been delivered.
	// apply is called from one goroutine at a time.
	Start(ctx context.Context, apply func(Record)) error

	// Update gives the caller exclusive write access to the log. It calls
	// compute once this instance has applied every record written so far,
	// by any instance, and while no other instance can append; compute
	// reads the state and returns the records to append (none is fine).
	// Update appends them atomically and returns once this instance has
	// applied them (read its own writes). If exclusivity was lost before the
	// records were committed, none of them is visible and Update calls
	// compute again. An error from compute is returned as it is, with nothing
	// written.
	Update(ctx context.Context, compute func() ([]Record, error)) error

	// Close stops delivering records and releases the log.
	Close() error
}

// ErrClosed is returned by a log used after Close.
var ErrClosed = errors.New("schemalog: closed")

// ErrUnavailable wraps storage failures (the broker is unreachable, a write
// was not acknowledged): the registry answers 50001 or, on a deadline, 50002.
var ErrUnavailable = errors.New("schemalog: storage unavailable")

// The key types of the `_schemas` topic.
const (
	KeySchema        = "SCHEMA"
	KeyConfig        = "CONFIG"
	KeyMode          = "MODE"
	KeyDeleteSubject = "DELETE_SUBJECT"
	KeyClearSubject  = "CLEAR_SUBJECT"
	KeyNoop          = "NOOP"
)

// Key is a decoded record key. Subject is nil for the global config and mode,
// for NOOP, and for a CLEAR_SUBJECT of every subject; Version is set for SCHEMA
// keys only.
type Key struct {
	KeyType string
	Subject *string
	Version int
	Magic   int
}

// rawKey is the JSON of a key: Confluent writes "subject" as a string, as
// null (newer global config and mode) or leaves it out (older global config).
type rawKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject"`
	Version *int    `json:"version"`
	Magic   *int    `json:"magic"`
}

// ParseKey decodes a record key in any of the forms Confluent's registry has
// written: magic 0 or 1, the global config with a null or absent subject.
func ParseKey(b []byte) (Key, error) {
	var rk rawKey
	if err := json.Unmarshal(b, &rk); err != nil {
		return Key{}, fmt.Errorf("schemalog: key %.80q: %w", b, err)
	}
	k := Key{KeyType: rk.KeyType, Subject: rk.Subject}
	if rk.Magic != nil {
		k.Magic = *rk.Magic
	}
	switch rk.KeyType {
	case KeySchema:
		if rk.Subject == nil || rk.Version == nil {
			return Key{}, fmt.Errorf("schemalog: SCHEMA key %.80q without subject or version", b)
		}
		k.Version = *rk.Version
	case KeyDeleteSubject:
		if rk.Subject == nil {
			return Key{}, fmt.Errorf("schemalog: %s key %.80q without subject", rk.KeyType, b)
		}
	case KeyConfig, KeyMode, KeyNoop, KeyClearSubject:
		// A CLEAR_SUBJECT without a subject clears every subject: Confluent
		// writes one when the global mode goes to IMPORT.
	default:
		return Key{}, fmt.Errorf("schemalog: unknown keytype %q in key %.80q", rk.KeyType, b)
	}
	return k, nil
}

// The keys this registry writes, field for field as Confluent's registry
// serializes them (keytype, subject, version, magic), so its topic can be
// read by Confluent's registry too.

// SchemaKey returns the key of a subject's version.
func SchemaKey(subject string, version int) []byte {
	return marshal(struct {
		KeyType string `json:"keytype"`
		Subject string `json:"subject"`
		Version int    `json:"version"`
		Magic   int    `json:"magic"`
	}{KeySchema, subject, version, 1})
}

// ConfigKey returns the key of a subject's compatibility config, or of the
// global one when subject is nil.
func ConfigKey(subject *string) []byte { return subjectKey(KeyConfig, subject) }

// ModeKey returns the key of a subject's mode, or of the global one when
// subject is nil.
func ModeKey(subject *string) []byte { return subjectKey(KeyMode, subject) }

// DeleteSubjectKey returns the key of a subject's soft delete.
func DeleteSubjectKey(subject string) []byte { return subjectKey(KeyDeleteSubject, &subject) }

// ClearSubjectKey returns the key of a subject's permanent delete.
func ClearSubjectKey(subject string) []byte { return subjectKey(KeyClearSubject, &subject) }

// NoopKey returns the key of a NOOP record.
func NoopKey() []byte { return []byte(`{"keytype":"NOOP","magic":0}`) }

func subjectKey(keyType string, subject *string) []byte {
	return marshal(struct {
		KeyType string  `json:"keytype"`
		Subject *string `json:"subject"`
		Magic   int     `json:"magic"`
	}{keyType, subject, 0})
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only fixed struct types are marshalled here
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Reference is a schema reference as stored and served.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// SchemaValue is the value of a SCHEMA record.
type SchemaValue struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema"`
	Deleted    bool        `json:"deleted"`
}

// ConfigValue is the value of a CONFIG record.
type ConfigValue struct {
	CompatibilityLevel string  `json:"compatibilityLevel"`
	Subject            *string `json:"subject,omitempty"`
}

// ModeValue is the value of a MODE record. Confluent also writes the subject
// (null for the global mode).
type ModeValue struct {
	Mode    string  `json:"mode"`
	Subject *string `json:"subject,omitempty"`
}

// DeleteSubjectValue is the value of a DELETE_SUBJECT record: versions 1..Version
// of Subject are soft-deleted.
type DeleteSubjectValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// ClearSubjectValue is the value of a CLEAR_SUBJECT record: the soft-deleted
// versions of Subject are dropped.
type ClearSubjectValue struct {
	Subject string `json:"subject"`
}

// Value marshals a record value.
func Value(v any) []byte { return marshal(v) }

// Memory is a Log held in memory: one instance, no persistence. Update runs
// under a mutex, so writes are serialized as the single writer of a Kafka log
// would serialize them.
type Memory struct {
	mu      sync.Mutex // serializes Update and guards what follows
	records []Record
	apply   func(Record)
	closed  bool
}

// NewMemory returns an empty in-memory log, or one holding records (for
// tests that start from an existing log).
func NewMemory(records ...Record) *Memory {
	m := &Memory{}
	for _, r := range records {
		r.Offset = int64(len(m.records))
		m.records = append(m.records, r)
	}
	return m
}

// Start implements Log.
func (m *Memory) Start(_ context.Context, apply func(Record)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.apply = apply
	for _, r := range m.records {
		apply(r)
	}
	return nil
}

// Update implements Log.
func (m *Memory) Update(ctx context.Context, compute func() ([]Record, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	recs, err := compute()
	if err != nil {
		return err
	}
	for _, r := range recs {
		r.Offset = int64(len(m.records))
		m.records = append(m.records, r)
		if m.apply != nil {
			m.apply(r)
		}
	}
	return nil
}

// Records returns a copy of the log, for tests.
func (m *Memory) Records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.records...)
}

// Close implements Log.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
