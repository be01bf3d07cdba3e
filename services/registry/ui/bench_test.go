package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/waybill/waybill/services/registry/ui"
)

// seed1000 registers 1,000 subjects, of one to three versions each, through
// the registry's API; every tenth has a level of its own.
func seed1000(b *testing.B, url string) {
	b.Helper()
	c := client(b, url)
	ctx := context.Background()
	for i := range 1000 {
		subject := fmt.Sprintf("topic-%02d-waybill.bench.Event%04d", i%50, i)
		for v := range 1 + i%3 {
			fields := []string{`{"name":"id","type":"string"}`}
			for f := range v {
				fields = append(fields, fmt.Sprintf(`{"name":"extra_%d","type":["null","string"],"default":null}`, f))
			}
			schema := fmt.Sprintf(`{"type":"record","name":"Event%04d","namespace":"waybill.bench","fields":[%s]}`, i, strings.Join(fields, ","))
			if _, err := c.Register(ctx, subject, schema, nil); err != nil {
				b.Fatal(err)
			}
		}
		if i%10 == 0 {
			if err := c.SetCompatibility(ctx, subject, "FULL"); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSubjectList1000 renders the subjects list of a registry with
// 1,000 subjects (Waybill's registry server on loopback), as the server
// sees it: from the request to the last byte of the page. "cold" caches
// nothing, so every render asks the registry for everything (one request
// for the subjects, one for every version of them, one a subject for its
// level, eight at a time); "cached" reuses answers for DefaultCacheTTL, as
// a browsing session does.
func BenchmarkSubjectList1000(b *testing.B) {
	reg := newRegistry(b)
	seed1000(b, reg.URL)
	for _, bc := range []struct {
		name string
		ttl  int
	}{{"cold", -1}, {"cached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			u := newUI(b, reg.URL, nil, func(c *ui.Config) {
				if bc.ttl < 0 {
					c.CacheTTL = -1
				}
			})
			page := func() {
				resp, err := http.Get(u.URL + "/")
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "1000 of 1000 subjects") {
					b.Fatalf("status %d: %.300s", resp.StatusCode, body)
				}
			}
			page() // connections up, templates warm
			for b.Loop() {
				page()
			}
		})
	}
}
