// Command shipment-service runs the shipment service (package shipment) with
// its configuration from the environment (platform.FromEnv).
package main

import (
	"os"

	"github.com/waybill/waybill/services/platform"
	"github.com/waybill/waybill/services/shipment"
)

func main() { os.Exit(platform.Main(shipment.Name, shipment.Setup)) }
