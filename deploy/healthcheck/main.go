// Command healthcheck is the health probe of Waybill's container images: it
// GETs a URL and exits 0 when the answer is 2xx, 1 otherwise (with one line
// saying why on standard error). The images are distroless, with no shell,
// curl or wget, so docker-compose.yml's healthchecks run this:
//
//	healthcheck: {test: ["CMD", "/usr/local/bin/healthcheck", "http://127.0.0.1:8090/healthz"]}
//
// It is built without cgo, so it runs on any image.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// timeout bounds the whole probe; Docker's own healthcheck timeout is
// longer, so a slow answer is reported here, with its reason.
const timeout = 3 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: healthcheck URL")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512)) // the reason, when unhealthy
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(stderr, "healthcheck: %s: %s: %s\n", args[0], resp.Status, body)
		return 1
	}
	return 0
}
