package registry_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/waybill/waybill/pkg/registry"
)

func TestErrorCatalogue(t *testing.T) {
	err := fmt.Errorf("fetch: %w", registry.FromResponse(404, 40401, "Subject 'x' not found."))
	if !errors.Is(err, registry.ErrSubjectNotFound) {
		t.Error("a 40401 response does not match ErrSubjectNotFound")
	}
	if errors.Is(err, registry.ErrVersionNotFound) {
		t.Error("a 40401 response matches ErrVersionNotFound")
	}
	if !errors.Is(registry.FromResponse(409, 40901, "incompatible"), registry.ErrIncompatibleSchema) {
		t.Error("8.x's 40901 does not match ErrIncompatibleSchema")
	}
	if !errors.Is(registry.ErrSchemaNotFound.With("Schema %d not found", 7), registry.ErrSchemaNotFound) {
		t.Error("With loses the kind")
	}
	unknown := registry.FromResponse(418, 41801, "teapot")
	if unknown.Code != 41801 || errors.Is(unknown, registry.ErrBadRequest) {
		t.Errorf("unknown code: %+v", unknown)
	}
	if registry.Lookup(42201) != registry.ErrInvalidSchema || registry.Lookup(1) != nil {
		t.Error("Lookup")
	}
}
