// Command alert-service runs the alert service (package alert) with its
// configuration from the environment (platform.FromEnv).
package main

import (
	"os"

	"github.com/waybill/waybill/services/alert"
	"github.com/waybill/waybill/services/platform"
)

func main() { os.Exit(platform.Main(alert.Name, alert.Setup)) }
