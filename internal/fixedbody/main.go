// Command fixedbody is the baseline of the registry's throughput benchmark
// (scripts/bench-registry.sh): a bare net/http handler that answers every
// request with a fixed body and the registry's content type, so the
// benchmark measures what the registry adds on top of net/http.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	body := flag.String("body", `{"schema":"\"string\""}`, "the response body")
	flag.Parse()
	b := []byte(*body)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		_, _ = w.Write(b)
	})
	if err := http.ListenAndServe(*addr, h); err != nil {
		fmt.Fprintln(os.Stderr, "fixedbody:", err)
		os.Exit(2)
	}
}
