// Command order-service runs the order service (package order) with its
// configuration from the environment: see platform.FromEnv.
package main

import (
	"os"

	"github.com/waybill/waybill/services/order"
	"github.com/waybill/waybill/services/platform"
)

func main() { os.Exit(platform.Main(order.Name, order.Setup)) }
