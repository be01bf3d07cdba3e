package envelope

import (
	"errors"
	"fmt"
	"strconv"
)

// Kind is the class of an envelope failure. Each Kind is a sentinel error, so
// a consumer routes with errors.Is(err, envelope.ErrUnknownSchemaID); its
// string is a stable, machine-readable code (e.g. "unknown-magic-byte") fit
// for a dead-letter header. The details live in the *Error that carries it.
type Kind string

// Error returns the kind's code.
func (k Kind) Error() string { return string(k) }

// The kinds of failure. Decode returns the first six; ErrUnknownEventType
// when the Decoder knows its types; the serde returns the last two.
const (
	// ErrNoMagicByte: the value is empty (a tombstone or a message that is
	// not an envelope), so there is no magic byte at all.
	ErrNoMagicByte Kind = "no-magic-byte"
	// ErrUnknownMagicByte: the value's first byte is not 0x00.
	ErrUnknownMagicByte Kind = "unknown-magic-byte"
	// ErrShortValue: the value starts with 0x00 but is shorter than the
	// 5-byte header (magic byte and schema ID).
	ErrShortValue Kind = "short-value"
	// ErrUnknownEnvelopeVersion: waybill_envelope is not a version this
	// package knows ("1").
	ErrUnknownEnvelopeVersion Kind = "unknown-envelope-version"
	// ErrMissingHeader: a required header is absent; Error.Header names it.
	ErrMissingHeader Kind = "missing-header"
	// ErrMalformedHeader: a header is present but its value is not valid
	// (a time that is not RFC 3339, a bad traceparent, a bad event version,
	// a duplicate, ...); Error.Header names it.
	ErrMalformedHeader Kind = "malformed-header"
	// ErrKeyMismatch: the message key is not the entity ID in ce_subject.
	ErrKeyMismatch Kind = "key-mismatch"
	// ErrUnknownEventType: ce_type is not one of the types the Decoder was
	// given.
	ErrUnknownEventType Kind = "unknown-event-type"
	// ErrUnknownSchemaID: the schema ID in the value is unknown to the
	// registry. Returned by the serde (see UnknownSchemaID).
	ErrUnknownSchemaID Kind = "unknown-schema-id"
	// ErrUndecodableBody: the Avro body does not decode with the writer's
	// schema (or does not resolve to the reader's). Returned by the serde
	// (see UndecodableBody).
	ErrUndecodableBody Kind = "undecodable-body"
)

// Kinds lists every Kind, for dashboards and exhaustive tests.
var Kinds = []Kind{
	ErrNoMagicByte, ErrUnknownMagicByte, ErrShortValue, ErrUnknownEnvelopeVersion,
	ErrMissingHeader, ErrMalformedHeader, ErrKeyMismatch, ErrUnknownEventType,
	ErrUnknownSchemaID, ErrUndecodableBody,
}

// Error is every failure this package (and the serde, through the
// constructors below) reports. It matches its Kind under errors.Is and
// unwraps to its cause, if any.
type Error struct {
	// Kind is the class of failure, a sentinel for errors.Is.
	Kind Kind
	// Header is the header concerned, for ErrMissingHeader,
	// ErrMalformedHeader, ErrUnknownEnvelopeVersion and ErrUnknownEventType.
	Header string
	// Reason says exactly what is wrong, in one line, for a person reading
	// the dead-letter topic: `ce_time "yesterday" is not an RFC 3339 time`.
	Reason string
	// Err is the underlying cause, if any (a parse error, the registry's
	// error, the Avro decoder's error).
	Err error
}

// Error returns "envelope: " and the reason.
func (e *Error) Error() string { return "envelope: " + e.Reason }

// Is reports whether target is e's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Reason returns the kind code and the one-line reason to put on a
// dead-letter record for err: the *Error's Kind and Reason when err is or
// wraps one, "unknown" and err's text otherwise.
func Reason(err error) (code, reason string) {
	var e *Error
	if errors.As(err, &e) {
		return string(e.Kind), e.Reason
	}
	if err == nil {
		return "", ""
	}
	return "unknown", err.Error()
}

// The headers DeadLetter adds.
const (
	HeaderDeadLetterCode   = "waybill_dlq_code"
	HeaderDeadLetterReason = "waybill_dlq_reason"
)

// DeadLetter returns the record to send to the dead-letter topic for m, which
// failed with err: m's key, value and headers unchanged, then
// waybill_dlq_code and waybill_dlq_reason from Reason(err). The headers slice
// is new; m is not modified.
func DeadLetter(m Message, err error) Message {
	code, reason := Reason(err)
	hs := make([]Header, 0, len(m.Headers)+2)
	hs = append(hs, m.Headers...)
	hs = append(hs, Header{HeaderDeadLetterCode, []byte(code)}, Header{HeaderDeadLetterReason, []byte(reason)})
	return Message{Key: m.Key, Value: m.Value, Headers: hs}
}

// UnknownSchemaID is the error for a schema ID the registry does not know
// (cause is the registry's error, or nil).
func UnknownSchemaID(id uint32, cause error) *Error {
	r := "schema ID " + strconv.FormatUint(uint64(id), 10) + " is unknown to the registry"
	if cause != nil {
		r += ": " + cause.Error()
	}
	return &Error{Kind: ErrUnknownSchemaID, Reason: r, Err: cause}
}

// UndecodableBody is the error for an Avro body that does not decode:
// eventType is ce_type (may be empty), id the writer's schema ID, cause the
// decoder's error.
func UndecodableBody(eventType string, id uint32, cause error) *Error {
	r := "body of "
	if eventType != "" {
		r += quote(eventType) + " "
	}
	r += "with schema ID " + strconv.FormatUint(uint64(id), 10) + " does not decode"
	if cause != nil {
		r += ": " + cause.Error()
	}
	return &Error{Kind: ErrUndecodableBody, Reason: r, Err: cause}
}

func missing(header string) *Error {
	return &Error{Kind: ErrMissingHeader, Header: header, Reason: "required header " + header + " is missing"}
}

func malformed(header string, value []byte, format string, args ...any) *Error {
	return &Error{
		Kind:   ErrMalformedHeader,
		Header: header,
		Reason: header + " " + quote(string(value)) + " " + fmt.Sprintf(format, args...),
	}
}

// quote quotes s for a reason, cut to a length a dead-letter header can
// carry.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
