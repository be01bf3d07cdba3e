package schemacheck_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/schemacheck"
)

func sample() *schemacheck.Report {
	r := &schemacheck.Report{Subject: "2 event types, 3 versions against git:main"}
	r.Add(
		schemacheck.Finding{
			File: "orders/OrderCreated/v3.avsc", Line: 11, Column: 5, Path: "/fields/4",
			Rule: "READER_FIELD_MISSING_DEFAULT_VALUE", Severity: schemacheck.Error,
			Message: `v3 cannot read data written with v1: field "priority" | has no default`,
			Hint:    "give it a default, e.g. 0,\nor null",
		},
		schemacheck.Finding{
			File: "orders/OrderCreated/v2.avsc", Rule: "LEVEL_RELAXED", Severity: schemacheck.Warning,
			Message: "level changed: 100% relaxed", Hint: "agree first",
		},
	)
	return r.WithRoot("schemas")
}

func TestWrite(t *testing.T) {
	tests := []struct {
		format schemacheck.Format
		want   string
	}{
		{schemacheck.Text, `schemas/orders/OrderCreated/v2.avsc: warning LEVEL_RELAXED: level changed: 100% relaxed
    hint: agree first
schemas/orders/OrderCreated/v3.avsc:11:5: error READER_FIELD_MISSING_DEFAULT_VALUE at /fields/4: v3 cannot read data written with v1: field "priority" | has no default
    hint: give it a default, e.g. 0, or null
failed: 1 error, 1 warning (2 event types, 3 versions against git:main)
`},
		{schemacheck.GitHub, `::warning file=schemas/orders/OrderCreated/v2.avsc,title=LEVEL_RELAXED::level changed: 100%25 relaxed%0AHint: agree first
::error file=schemas/orders/OrderCreated/v3.avsc,line=11,col=5,title=READER_FIELD_MISSING_DEFAULT_VALUE at /fields/4::v3 cannot read data written with v1: field "priority" | has no default%0AHint: give it a default, e.g. 0,%0Aor null
waybill: failed: 1 error, 1 warning (2 event types, 3 versions against git:main)
`},
		{schemacheck.Markdown, "### Waybill schema check\n\n" +
			"❌ failed: 1 error, 1 warning (2 event types, 3 versions against git:main)\n\n" +
			"| | File | Path | Rule | Message | Hint |\n" +
			"|---|---|---|---|---|---|\n" +
			"| ⚠️ warning | `schemas/orders/OrderCreated/v2.avsc` |  | `LEVEL_RELAXED` | level changed: 100% relaxed | agree first |\n" +
			"| ❌ error | `schemas/orders/OrderCreated/v3.avsc:11:5` | `/fields/4` | `READER_FIELD_MISSING_DEFAULT_VALUE` | v3 cannot read data written with v1: field \"priority\" \\| has no default | give it a default, e.g. 0,<br>or null |\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var b strings.Builder
			if err := sample().Write(&b, tt.format); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("Write(%s) (-want +got):\n%s", tt.format, diff)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	for _, r := range []*schemacheck.Report{sample(), {}} {
		var b strings.Builder
		if err := r.Write(&b, schemacheck.JSON); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Passed   *bool
			Errors   int
			Warnings int
			Findings []map[string]any
		}
		if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, b.String())
		}
		if got.Passed == nil || *got.Passed != r.Passed() || got.Errors != r.Errors() || got.Warnings != r.Warnings() ||
			got.Findings == nil || len(got.Findings) != len(r.Findings) {
			t.Errorf("Write(json) = %s", b.String())
		}
		if strings.Count(b.String(), "\n") != 1 {
			t.Errorf("Write(json): want one line, got %q", b.String())
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range schemacheck.Formats() {
		if got, err := schemacheck.ParseFormat(strings.ToUpper(string(f))); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := schemacheck.ParseFormat("yaml"); err == nil {
		t.Error(`ParseFormat("yaml"): no error`)
	}
}
