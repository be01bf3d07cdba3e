package main

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	pkgs := map[string]*pkg{
		module + "/compat":            {ImportPath: module + "/compat", Imports: []string{"fmt"}, Deps: []string{"fmt"}},
		module + "/compat/internal/x": {ImportPath: module + "/compat/internal/x", Imports: []string{module + "/compat"}, Deps: []string{module + "/compat", "fmt"}},
		module + "/codegen":           {ImportPath: module + "/codegen", Imports: []string{module + "/pkg/catalog"}, Deps: []string{module + "/pkg/catalog", module + "/pkg/kafka", "github.com/confluentinc/confluent-kafka-go/v2/kafka"}},
		module + "/pkg/catalog":       {ImportPath: module + "/pkg/catalog", Imports: []string{module + "/pkg/kafka"}, Deps: []string{module + "/pkg/kafka", "github.com/confluentinc/confluent-kafka-go/v2/kafka"}},
		module + "/pkg/kafka":         {ImportPath: module + "/pkg/kafka", Imports: []string{"github.com/confluentinc/confluent-kafka-go/v2/kafka"}},
		module + "/pkg/kafkaish":      {ImportPath: module + "/pkg/kafkaish"},
	}
	got := check(pkgs, rules)
	want := []string{
		module + "/codegen imports " + module + "/pkg/kafka (via " + module + "/codegen -> " + module + "/pkg/catalog -> " + module + "/pkg/kafka)",
		module + "/codegen imports github.com/confluentinc/confluent-kafka-go/v2/kafka (via ",
	}
	if len(got) != len(want) {
		t.Fatalf("check() = %q, want %d violations", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("violation %d = %q, want prefix %q", i, got[i], want[i])
		}
	}

	// compat may import nothing else of Waybill's.
	pkgs[module+"/compat"].Deps = []string{module + "/pkg/kafkaish"}
	pkgs[module+"/compat"].Imports = []string{module + "/pkg/kafkaish"}
	if got := check(pkgs, rules); len(got) != 3 || !strings.Contains(got[0], "compat is pure") {
		t.Errorf("compat importing pkg/kafkaish: check() = %q", got)
	}
}

func TestDenied(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{module + "/pkg/kafka", true},
		{module + "/pkg/kafka/consumer", true},
		{module + "/pkg/kafkaish", false},
		{"github.com/twmb/franz-go/pkg/kfake", true},
		{"github.com/twmb/franz-go", true},
		{"github.com/confluentinc/confluent-kafka-go/v2/kafka", true},
		{module + "/services/order", true},
		{"github.com/hamba/avro/v2", false},
	}
	for _, tt := range tests {
		if got := denied(tt.path, kafkaRuntime); got != tt.want {
			t.Errorf("denied(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestModule runs the check over this module, so `go test ./...` enforces the
// import order as well as `make lint`.
func TestModule(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: runs go list over the module")
	}
	pkgs, err := list("../..")
	if err != nil {
		t.Fatal(err)
	}
	if v := check(pkgs, rules); len(v) > 0 {
		t.Errorf("forbidden imports:\n%s", strings.Join(v, "\n"))
	}
}
