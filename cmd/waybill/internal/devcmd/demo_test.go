package devcmd_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/waybill/waybill/cmd/waybill/internal/root"
)

// TestDevDemo runs `waybill dev --demo` to its end: the script's orders
// reach their end states, the throughput is measured, the stack stops and
// the temporary state is gone.
func TestDevDemo(t *testing.T) {
	var out, errOut syncBuilder
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	code := root.Run(ctx, []string{"dev", "--demo", "--demo-orders", "20", "--kafka-addr", "127.0.0.1:0",
		"--registry-addr", "127.0.0.1:0", "--services-addr", "127.0.0.1:0", "--schemas", schemas},
		strings.NewReader(""), &out, &errOut)
	stdout := out.String()
	t.Logf("waybill dev --demo:\n%s", stdout)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	if s := errOut.String(); s != "" {
		t.Errorf("stderr of a demo that passed: %s", s)
	}
	for _, re := range []string{
		`(?m)^ready in \d+\.\ds$`,
		`(?m)^All 4 orders reached their end state in \d+\.\ds\.$`,
		`(?m)^── 2/4  Short of stock: backordered, restocked, delivered ─+$`,
		`(?m)^alerts    INVENTORY_SHORTAGE shortage-ord-\S+ raised by warehouse-service, resolved`,
		`(?m)^alerts    DELAY alr-delay-shp-ord-\S+ raised by shipment-service, resolved`,
		`(?m)^trace     [0-9a-f]{32}$`,
		`(?m)^messages  order_created `,
		`(?m)^          order_cancelled `,
		`(?m)^reserved  all 20 RESERVED or further \d+\.\ds after the first POST: \d+ orders/s end to end$`,
		`(?m)^stopped in \d+\.\ds$`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("output lacks %s", re)
		}
	}
	m := regexp.MustCompile(`(?m)^\(the demo's state is in (.*), deleted when it ends\)$`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatal("no line saying where the demo's state is")
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the demo's state %s is still there: %v", m[1], err)
	}
}
