package difftest_test

import (
	"testing"

	"github.com/waybill/waybill/internal/difftest"
)

func TestRewrites(t *testing.T) {
	tests := []struct {
		name    string
		rewrite difftest.Rewrite
		in      string
		want    string
	}{
		{
			name:    "strip enum defaults",
			rewrite: difftest.StripEnumDefaults,
			in:      `{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"},"default":"B"}]}`,
			want:    `{"fields":[{"default":"B","name":"e","type":{"name":"E","symbols":["A","B"],"type":"enum"}}],"name":"R","type":"record"}`,
		},
		{
			name:    "full names as names: definitions, aliases, references",
			rewrite: difftest.FullNamesAsNames,
			in:      `{"type":"record","name":"R","namespace":"a.b","aliases":["Old","x.Older"],"fields":[{"name":"f","type":{"type":"fixed","name":"c.F","size":1}},{"name":"g","type":["null","c.F","R"]}]}`,
			want:    `{"aliases":["a.b.a_b_Old","x.x_Older"],"fields":[{"name":"f","type":{"name":"c_F","namespace":"c","size":1,"type":"fixed"}},{"name":"g","type":["null","c.c_F","a.b.a_b_R"]}],"name":"a_b_R","namespace":"a.b","type":"record"}`,
		},
		{
			name:    "full names as names: null namespace",
			rewrite: difftest.FullNamesAsNames,
			in:      `{"type":"enum","name":"E","symbols":["A"]}`,
			want:    `{"name":"E","symbols":["A"],"type":"enum"}`,
		},
		{
			name:    "normalize names",
			rewrite: difftest.NormalizeNames,
			in:      `{"type":"record","name":"a.R","aliases":["Old"],"fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}]}`,
			want:    `{"aliases":["a.Old"],"fields":[{"name":"e","type":{"name":"E","namespace":"a","symbols":["A"],"type":"enum"}}],"name":"R","namespace":"a","type":"record"}`,
		},
		{
			name:    "wrap in unions: not union branches, defaults kept",
			rewrite: difftest.WrapInUnions,
			in:      `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"int"},"default":[1]},{"name":"u","type":["null",{"type":"map","values":"long"}],"default":null}]}`,
			want:    `[{"fields":[{"default":[1],"name":"a","type":[{"items":["int"],"type":"array"}]},{"default":null,"name":"u","type":["null",{"type":"map","values":["long"]}]}],"name":"R","type":"record"}]`,
		},
		{
			name:    "numbers are kept as written",
			rewrite: difftest.WrapInUnions,
			in:      `{"type":"record","name":"R","fields":[{"name":"l","type":"long","default":1099511627776},{"name":"d","type":"double","default":2.50}]}`,
			want:    `[{"fields":[{"default":1099511627776,"name":"l","type":["long"]},{"default":2.50,"name":"d","type":["double"]}],"name":"R","type":"record"}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rewrite(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRewriteErrors(t *testing.T) {
	for _, in := range []string{`{`, `{"type":"record","name":"R","fields":[1]}`, `{"type":{"type":"int"}}`, `42`} {
		if _, err := difftest.WrapInUnions(in); err == nil {
			t.Errorf("WrapInUnions(%s): no error", in)
		}
	}
}
