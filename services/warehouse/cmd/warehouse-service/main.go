// Command warehouse-service runs the warehouse service (package warehouse)
// with its configuration from the environment: see platform.FromEnv, and
// WAYBILL_WAREHOUSE_ID and WAYBILL_WAREHOUSE_SEED in package warehouse.
package main

import (
	"os"

	"github.com/waybill/waybill/services/platform"
	"github.com/waybill/waybill/services/warehouse"
)

func main() { os.Exit(platform.Main(warehouse.Name, warehouse.Setup)) }
