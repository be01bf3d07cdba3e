// Package events is what every generated event type has in common. The typed
// events themselves live in the generated packages below this one, one per
// domain (orderevents, shipmentevents, ...), written by `waybill gen` from
// schemas/; they are never edited by hand.
package events

import "github.com/hamba/avro/v2"

// Event is one version of one event type, as generated code implements it.
// The serde and the producers and consumers work on Events; services use the
// concrete generated types.
type Event interface {
	// EventType is the event type's full Avro name (CloudEvents ce_type),
	// e.g. "waybill.orders.OrderCreated".
	EventType() string
	// EventVersion is the schema's version in the repository (v1, v2, ...).
	EventVersion() int
	// Subject is the registry subject, "<topic>-<full name>".
	Subject() string
	// Topic is the Kafka topic the event type is published on.
	Topic() string
	// Key is the value of the catalog's key field: the entity ID, the Kafka key.
	Key() string
	// Schema is the version's schema, parsed once, with its references.
	Schema() avro.Schema
	// SchemaText is the schema as registered (without its references).
	SchemaText() string
	// References are the registry references the schema needs, in order.
	References() []Reference
	// AppendAvro appends the event's Avro binary encoding to dst.
	AppendAvro(dst []byte) ([]byte, error)
	// UnmarshalAvro decodes an Avro binary body written with this exact
	// version's schema.
	UnmarshalAvro(data []byte) error
}

// Reference is a schema reference as the registry takes it.
type Reference struct {
	Name    string
	Subject string
	Version int
}

// VersionedReader is implemented by generated types: they decode bodies
// written with any repository version of their event type through generated
// resolution code, without reflection. The serde prefers it to a generic
// resolved decode.
type VersionedReader interface {
	// WriterVersion returns the repository version whose schema is writer
	// (compared by canonical form), and false for a schema it does not know.
	WriterVersion(writer avro.Schema) (int, bool)
	// UnmarshalAvroVersion decodes a body written with the given version.
	UnmarshalAvroVersion(version int, data []byte) error
}
