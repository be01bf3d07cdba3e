package compat_test

import (
	"testing"

	"github.com/waybill/waybill/compat"
)

func TestLocate(t *testing.T) {
	const doc = `{
  "type": "record",
  "name": "R",
  "fields": [
    {"name": "a/b", "type": ["null", {"type": "array", "items": "int"}]},
    {"name": "é", "type": "string", "default": "x\"y"}
  ]
}`
	tests := []struct {
		text, ptr string
		line, col int
	}{
		{doc, "", 1, 1},
		{doc, "/name", 3, 11},
		{doc, "/fields", 4, 13},
		{doc, "/fields/0", 5, 5},
		{doc, "/fields/0/type/1/items", 5, 65},
		{doc, "/fields/1/default", 6, 48},
		{doc, "/fields/1/type", 6, 27},
		// What does not exist: the deepest value on the way.
		{doc, "/fields/7/type", 4, 13},
		{doc, "/nope", 1, 1},
		// Not JSON: as far as it got.
		{"{\n  \"fields\": [\n    {oops", "/fields/0/name", 3, 5},
		{"", "/fields", 0, 0},
		{`  "int"`, "", 1, 3},
	}
	for _, tt := range tests {
		line, col := compat.Locate([]byte(tt.text), tt.ptr)
		if line != tt.line || col != tt.col {
			t.Errorf("Locate(%.20q, %q) = %d:%d, want %d:%d", tt.text, tt.ptr, line, col, tt.line, tt.col)
		}
	}
}
