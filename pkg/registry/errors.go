package registry

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a Confluent Schema Registry error code, as sent in the
// `error_code` field of every error response.
type Code int

// The error catalogue: one value per Confluent error code
// (../shared/reference/schema-registry-api.md, "Error codes"). Errors from a
// registry wrap these, so errors.Is(err, registry.ErrSubjectNotFound) works
// whichever registry answered.
var (
	ErrSubjectNotFound          = &Error{HTTPStatus: 404, Code: 40401, Message: "Subject not found"}
	ErrVersionNotFound          = &Error{HTTPStatus: 404, Code: 40402, Message: "Version not found"}
	ErrSchemaNotFound           = &Error{HTTPStatus: 404, Code: 40403, Message: "Schema not found"}
	ErrSubjectSoftDeleted       = &Error{HTTPStatus: 404, Code: 40404, Message: "Subject was soft deleted; set permanent=true to delete permanently"}
	ErrSubjectNotSoftDeleted    = &Error{HTTPStatus: 404, Code: 40405, Message: "Subject must be soft deleted first"}
	ErrVersionSoftDeleted       = &Error{HTTPStatus: 404, Code: 40406, Message: "Version was soft deleted; set permanent=true to delete permanently"}
	ErrVersionNotSoftDeleted    = &Error{HTTPStatus: 404, Code: 40407, Message: "Version must be soft deleted first"}
	ErrSubjectLevelCompatNotSet = &Error{HTTPStatus: 404, Code: 40408, Message: "Subject does not have subject-level compatibility configured"}
	ErrSubjectLevelModeNotSet   = &Error{HTTPStatus: 404, Code: 40409, Message: "Subject does not have subject-level mode configured"}
	ErrIncompatibleSchema       = &Error{HTTPStatus: 409, Code: 409, Message: "Schema being registered is incompatible with an earlier schema"}
	ErrInvalidSchema            = &Error{HTTPStatus: 422, Code: 42201, Message: "Invalid schema"}
	ErrInvalidVersion           = &Error{HTTPStatus: 422, Code: 42202, Message: "Invalid version"}
	ErrInvalidCompatibility     = &Error{HTTPStatus: 422, Code: 42203, Message: "Invalid compatibility level"}
	ErrInvalidMode              = &Error{HTTPStatus: 422, Code: 42204, Message: "Invalid mode"}
	ErrOperationNotPermitted    = &Error{HTTPStatus: 422, Code: 42205, Message: "Operation not permitted"}
	ErrReferenceExists          = &Error{HTTPStatus: 422, Code: 42206, Message: "One or more references exist to the schema"}
	ErrInvalidSubject           = &Error{HTTPStatus: 422, Code: 42208, Message: "Invalid subject"}
	ErrSchemaTooLarge           = &Error{HTTPStatus: 422, Code: 42209, Message: "Schema too large"}
	ErrStore                    = &Error{HTTPStatus: 500, Code: 50001, Message: "Error in the backend data store"}
	ErrOperationTimeout         = &Error{HTTPStatus: 500, Code: 50002, Message: "Operation timed out"}
	ErrRequestForwarding        = &Error{HTTPStatus: 500, Code: 50003, Message: "Error while forwarding the request to the leader"}
	ErrUnknownLeader            = &Error{HTTPStatus: 500, Code: 50004, Message: "Leader not known"}
	ErrBadRequest               = &Error{HTTPStatus: 400, Code: 400, Message: "Bad request"}
	ErrUnauthorized             = &Error{HTTPStatus: 401, Code: 401, Message: "Unauthorized"}
	ErrForbidden                = &Error{HTTPStatus: 403, Code: 403, Message: "Forbidden"}
	ErrNotFound                 = &Error{HTTPStatus: 404, Code: 404, Message: "HTTP 404 Not Found"}
	ErrMethodNotAllowed         = &Error{HTTPStatus: 405, Code: 405, Message: "HTTP 405 Method Not Allowed"}
	ErrUnsupportedMediaType     = &Error{HTTPStatus: 415, Code: 415, Message: "HTTP 415 Unsupported Media Type"}
)

var catalogue = map[Code]*Error{}

func init() {
	for _, e := range []*Error{
		ErrSubjectNotFound, ErrVersionNotFound, ErrSchemaNotFound, ErrSubjectSoftDeleted,
		ErrSubjectNotSoftDeleted, ErrVersionSoftDeleted, ErrVersionNotSoftDeleted,
		ErrSubjectLevelCompatNotSet, ErrSubjectLevelModeNotSet, ErrIncompatibleSchema,
		ErrInvalidSchema, ErrInvalidVersion, ErrInvalidCompatibility, ErrInvalidMode,
		ErrOperationNotPermitted, ErrReferenceExists, ErrInvalidSubject, ErrSchemaTooLarge,
		ErrStore, ErrOperationTimeout, ErrRequestForwarding, ErrUnknownLeader, ErrBadRequest,
		ErrUnauthorized, ErrForbidden, ErrNotFound, ErrMethodNotAllowed, ErrUnsupportedMediaType,
	} {
		catalogue[e.Code] = e
	}
	// Confluent 8.0.4+ answers an incompatible schema with 40901.
	catalogue[40901] = ErrIncompatibleSchema
}

// Lookup returns the catalogued error for a code, or nil.
func Lookup(code Code) *Error { return catalogue[code] }

// Error is a registry error: an HTTP status, a Confluent error code and a
// message. The catalogue values are Errors; an error answered by a registry is
// an *Error whose Unwrap returns the catalogued value of its code.
type Error struct {
	HTTPStatus int
	Code       Code
	Message    string
	// Method and Path are the request the registry answered ("GET",
	// "/subjects/orders-value/versions"), when a Client made it.
	Method, Path string
	base         *Error
}

func (e *Error) Error() string {
	return fmt.Sprintf("registry: %s (error code %d)", e.Message, e.Code)
}

// Unwrap returns the catalogued error of e's code.
func (e *Error) Unwrap() error {
	if e.base == nil || e.base == e {
		return nil
	}
	return e.base
}

// Is matches catalogued errors by code, so a response decoded by any client
// matches the catalogue.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code && (t.base == nil || t.base == t)
}

// With returns an error of e's kind with a specific message, as a server
// answers it ("Subject 'orders-value' not found.").
func (e *Error) With(format string, args ...any) *Error {
	base := e
	if e.base != nil {
		base = e.base
	}
	return &Error{HTTPStatus: e.HTTPStatus, Code: e.Code, Message: fmt.Sprintf(format, args...), base: base}
}

// FromResponse returns the error for a registry's error response. Unknown
// codes keep their status and code, and match no catalogue value.
func FromResponse(httpStatus int, code Code, message string) *Error {
	if base := Lookup(code); base != nil {
		return &Error{HTTPStatus: httpStatus, Code: code, Message: message, base: base}
	}
	if code == 0 {
		code = Code(httpStatus)
	}
	if message == "" {
		message = http.StatusText(httpStatus)
	}
	return &Error{HTTPStatus: httpStatus, Code: code, Message: message}
}
