package registry_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"

	"github.com/waybill/waybill/pkg/catalog"
	"github.com/waybill/waybill/pkg/registry"
	server "github.com/waybill/waybill/services/registry"
)

// Push the schemas directory to a registry: plan, apply, and plan again.
func ExamplePlanSync() {
	ctx := context.Background()
	// Waybill's own registry on loopback; any Confluent-compatible one will do.
	s, err := server.New(ctx, server.Config{Log: server.MemoryLog(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s)
	defer hs.Close()

	c, err := registry.New(registry.Config{URL: hs.URL})
	if err != nil {
		panic(err)
	}
	cat, err := catalog.Load(os.DirFS("testdata/schemas"))
	if err != nil {
		panic(err)
	}
	plan, err := registry.PlanSync(ctx, c, cat)
	if err != nil {
		panic(err)
	}
	for _, a := range plan.Actions {
		fmt.Println(a.Kind, a.Subject, a.Version, a.Level, a.References)
	}
	results, err := registry.Apply(ctx, c, plan)
	if err != nil {
		panic(err)
	}
	fmt.Println("passed:", registry.Passed(plan, results))

	again, err := registry.PlanSync(ctx, c, cat)
	if err != nil {
		panic(err)
	}
	fmt.Println("second plan empty:", again.Empty())
	// Output:
	// set-compatibility waybill.common.Address 0 FULL_TRANSITIVE []
	// set-compatibility order-events-waybill.orders.OrderCancelled 0 BACKWARD_TRANSITIVE []
	// set-compatibility order-events-waybill.orders.OrderCreated 0 BACKWARD_TRANSITIVE []
	// register waybill.common.Address 1  []
	// register order-events-waybill.orders.OrderCancelled 1  []
	// register order-events-waybill.orders.OrderCreated 1  []
	// register order-events-waybill.orders.OrderCreated 2  [{waybill.common.Address waybill.common.Address 1}]
	// passed: true
	// second plan empty: true
}
