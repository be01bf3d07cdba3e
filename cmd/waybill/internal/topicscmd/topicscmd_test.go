package topicscmd_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/cmd/waybill/internal/root"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
)

func waybill(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	code = root.Run(ctx, args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCreate creates the repository catalog's topics on an empty broker,
// then runs again and creates nothing.
func TestCreate(t *testing.T) {
	c := kafkatest.New(t)
	code, out, errOut := waybill(t, "topics", "create", "--brokers", c.Brokers(), "--schemas", "../../../../schemas")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{"created order-events\n", "created order-events.dlq\n", "created alert-events.dlq\n", "topics: 8 created, 0 there already\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	admin, err := ck.NewAdminClient(&ck.ConfigMap{"bootstrap.servers": c.Brokers(), "enable.metrics.push": false})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	md, err := admin.GetMetadata(nil, true, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(md.Topics["shipment-events.dlq"].Partitions); got != 12 {
		t.Errorf("shipment-events.dlq has %d partitions, want the catalog's 12", got)
	}

	code, out, errOut = waybill(t, "topics", "create", "--brokers", c.Brokers(), "--schemas", "../../../../schemas", "--format", "json")
	var res struct {
		Created []string `json:"created"`
		Topics  int      `json:"topics"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Created) != 0 || res.Topics != 8 {
		t.Fatalf("second run: exit %d, %q %s; want nothing created of 8", code, out, errOut)
	}
}

// TestUnreachable: no broker is exit 2 with one line.
func TestUnreachable(t *testing.T) {
	code, out, errOut := waybill(t, "topics", "create", "--brokers", "127.0.0.1:1", "--timeout", "2s", "--schemas", "../../../../schemas")
	if code != 2 || out != "" || !strings.HasPrefix(errOut, "waybill: ") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 with one line", code, out, errOut)
	}
}
