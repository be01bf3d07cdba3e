package serde

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/registry"
)

// SchemaError is an event whose schema ID Serialize cannot get: the registry
// does not have the schema (and AutoRegister is off), refused to register it,
// or could not be reached. errors.Is(err, registry.ErrSubjectNotFound) and
// the like work through it.
type SchemaError struct {
	Subject      string
	Version      int
	AutoRegister bool
	Err          error
}

func (e *SchemaError) Error() string {
	op := "looking up"
	if e.AutoRegister {
		op = "registering"
	}
	hint := ""
	if !e.AutoRegister && (errors.Is(e.Err, registry.ErrSubjectNotFound) || errors.Is(e.Err, registry.ErrSchemaNotFound)) {
		hint = " (the schema is not registered: push it with `waybill registry push`, or serialize with serde.AutoRegister())"
	}
	return fmt.Sprintf("serde: %s the schema of %s v%d: %v%s", op, e.Subject, e.Version, e.Err, hint)
}

// Unwrap returns the registry's error.
func (e *SchemaError) Unwrap() error { return e.Err }

// EncodeError is an event its own encoder refused.
type EncodeError struct {
	Subject string
	Version int
	Err     error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("serde: encoding %s v%d: %v", e.Subject, e.Version, e.Err)
}

// Unwrap returns the encoder's error.
func (e *EncodeError) Unwrap() error { return e.Err }

// UnknownSchemaError is a value whose schema ID the registry does not know.
// Err is the envelope's error of kind envelope.ErrUnknownSchemaID (so
// envelope.Reason gives the dead-letter line), which wraps the registry's:
// errors.Is(err, registry.ErrSchemaNotFound) and errors.Is(err,
// envelope.ErrUnknownSchemaID) both hold.
type UnknownSchemaError struct {
	ID  uint32
	Err error
}

func (e *UnknownSchemaError) Error() string { return "serde: " + e.Err.Error() }

// Unwrap returns the envelope's error.
func (e *UnknownSchemaError) Unwrap() error { return e.Err }

// IncompatibleError is a writer schema the reader type cannot read: Avro
// schema resolution fails between them.
type IncompatibleError struct {
	WriterID uint32
	// Writers are the subject versions with the writer's schema, when the
	// registry said (none if it could not be asked).
	Writers       []registry.SubjectVersion
	ReaderSubject string
	ReaderVersion int
	Err           error // why: compat.Check's findings (a *transcode.IncompatibleError)
}

func (e *IncompatibleError) Error() string {
	w := "schema ID " + strconv.FormatUint(uint64(e.WriterID), 10)
	if len(e.Writers) > 0 {
		names := make([]string, len(e.Writers))
		for i, sv := range e.Writers {
			if sv.Subject == e.ReaderSubject {
				names[i] = "v" + strconv.Itoa(sv.Version)
			} else {
				names[i] = sv.Subject + " v" + strconv.Itoa(sv.Version)
			}
		}
		w = strings.Join(names, ", ") + " (" + w + ")"
	}
	return fmt.Sprintf("serde: %s cannot read %s: %v", readerName(e), w, e.Err)
}

func readerName(e *IncompatibleError) string {
	return e.ReaderSubject + " v" + strconv.Itoa(e.ReaderVersion)
}

// Unwrap returns the reason the writer cannot be read.
func (e *IncompatibleError) Unwrap() error { return e.Err }

// DecodeError is a body that does not decode with its writer's schema. Err
// is the envelope's error of kind envelope.ErrUndecodableBody, which wraps
// the decoder's.
type DecodeError struct {
	ID      uint32
	Subject string
	Version int
	Err     error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("serde: decoding a value with schema ID %d as %s v%d: %v", e.ID, e.Subject, e.Version, e.Err)
}

// Unwrap returns the envelope's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Transient reports whether err is the registry's trouble rather than the
// event's: the registry could not be reached, timed out, failed (5xx) or
// refused the credentials. Such an error passes when the registry is back,
// so a consumer waits and tries again; every other error (an envelope
// error, an incompatible writer, a schema the registry does not have) is
// the event's, and sends it to the dead-letter topic.
func Transient(err error) bool {
	var ee *envelope.Error
	var ie *IncompatibleError
	if errors.As(err, &ee) || errors.As(err, &ie) {
		return false
	}
	var re *registry.Error
	if errors.As(err, &re) {
		return re.HTTPStatus != 404 && re.HTTPStatus != 422 && re.HTTPStatus != 400
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
