package serde_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

func Example() {
	ctx := context.Background()
	client, err := registry.New(registry.Config{URL: "http://localhost:8081"})
	if err != nil {
		log.Fatal(err)
	}
	s := serde.New(client) // one per registry, shared

	// Producer: the schema ID is looked up once, then cached.
	value, id, err := s.Serialize(ctx, &orderevents.OrderCreatedV1{OrderID: "ord-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("schema ID", id)

	// Consumer compiled against v2: v1 values are resolved into it.
	var ev orderevents.OrderCreated
	switch err := s.Deserialize(ctx, value, &ev); {
	case errors.Is(err, registry.ErrSchemaNotFound):
		// dead-letter: envelope.Reason(err) gives the code and the line
		code, reason := envelope.Reason(err)
		fmt.Println(code, reason)
	case err != nil:
		log.Fatal(err)
	}
}
