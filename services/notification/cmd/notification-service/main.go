// Command notification-service runs the notification service (package
// notification) with its configuration from the environment
// (platform.FromEnv).
package main

import (
	"os"

	"github.com/waybill/waybill/services/notification"
	"github.com/waybill/waybill/services/platform"
)

func main() { os.Exit(platform.Main(notification.Name, notification.Setup)) }
