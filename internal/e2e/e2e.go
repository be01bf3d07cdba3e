// Package e2e holds Waybill's end-to-end test (e2e_test.go): the embedded
// stack of `waybill dev` in the test's process (Kafka, the registry, the
// catalog's topics, schemas/ pushed, the five logistics services), driven
// through the services' HTTP APIs. It checks what no service's own test
// can: the messages a customer gets after an order crossed every service,
// that a corrupt record on shipment-events is dead-lettered by each group
// that reads it while the orders after it flow on, and that a warehouse
// restarted while orders arrive neither loses nor repeats a reservation.
//
// Run it with `go test -race ./internal/e2e`; WAYBILL_TEST_LOG=1 shows the
// services' log.
package e2e
