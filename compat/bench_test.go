package compat_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/waybill/waybill/compat"
)

// syntheticVersion returns version v (1-based) of a synthetic event type: a
// record of base fields of every kind (primitives, a nested record, an enum, an
// array of records, a map, a nullable union, a decimal and a timestamp), plus
// one optional field per later version, so every version is compatible with
// every other at FULL_TRANSITIVE.
func syntheticVersion(event, v, baseFields int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"type":"record","name":"Event%d","namespace":"bench.events","doc":"synthetic","fields":[`, event)
	b.WriteString(`{"name":"id","type":"string"},`)
	b.WriteString(`{"name":"created_at","type":{"type":"long","logicalType":"timestamp-millis"}},`)
	b.WriteString(`{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}},`)
	b.WriteString(`{"name":"status","type":{"type":"enum","name":"Status","symbols":["A","B","C","D"],"default":"A"}},`)
	b.WriteString(`{"name":"address","type":["null",{"type":"record","name":"Address","fields":[{"name":"street","type":"string"},{"name":"city","type":"string"},{"name":"zip","type":"string"}]}],"default":null},`)
	b.WriteString(`{"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}},`)
	b.WriteString(`{"name":"attrs","type":{"type":"map","values":"string"}}`)
	for i := 7; i < baseFields; i++ {
		kinds := []string{`"int"`, `"long"`, `"string"`, `"double"`, `"boolean"`, `["null","string"]`}
		fmt.Fprintf(&b, `,{"name":"f%d","type":%s}`, i, kinds[i%len(kinds)])
	}
	for i := 2; i <= v; i++ {
		fmt.Fprintf(&b, `,{"name":"added_v%d","type":["null","long"],"default":null}`, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

// checkCatalog parses every version of every event type and checks each
// version against all its predecessors at FULL_TRANSITIVE, one goroutine per
// core-sized share of event types, as `waybill compat check` does.
func checkCatalog(b *testing.B, texts [][]string) {
	var wg sync.WaitGroup
	work := make(chan []string)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for versions := range work {
				var parsed []*compat.Schema
				for _, text := range versions {
					s, err := compat.Parse([]byte(text))
					if err != nil {
						b.Error(err)
						return
					}
					if res := compat.CheckLevel(compat.FullTransitive, s, parsed); !res.Compatible() {
						b.Errorf("synthetic version incompatible: %v", res.Incompatibilities)
						return
					}
					parsed = append(parsed, s)
				}
			}
		}()
	}
	for _, versions := range texts {
		work <- versions
	}
	close(work)
	wg.Wait()
}

// BenchmarkCatalogFullTransitive checks a synthetic catalog of 100 event types
// x 10 versions (30 fields each) at FULL_TRANSITIVE: 9,000 pair checks and
// 1,000 parses per op. The goal is under one second per op on two cores.
func BenchmarkCatalogFullTransitive(b *testing.B) {
	texts := make([][]string, 100)
	for e := range texts {
		for v := 1; v <= 10; v++ {
			texts[e] = append(texts[e], syntheticVersion(e, v, 30))
		}
	}
	b.ResetTimer()
	for b.Loop() {
		checkCatalog(b, texts)
	}
}

// The pair: the reader is version 2 of a 30-field record, the writer version 1.
func benchPair(b *testing.B) (reader, writer string) {
	b.Helper()
	return syntheticVersion(0, 2, 29), syntheticVersion(0, 1, 29)
}

// BenchmarkCheckPair30Fields is one reader/writer check of a 30-field record.
func BenchmarkCheckPair30Fields(b *testing.B) {
	rt, wt := benchPair(b)
	r, _ := compat.Parse([]byte(rt))
	w, _ := compat.Parse([]byte(wt))
	if len(r.Fields) != 30 || !compat.Check(r, w).Compatible() {
		b.Fatal("bad benchmark pair")
	}
	b.ReportAllocs()
	for b.Loop() {
		compat.Check(r, w)
	}
}

// BenchmarkHambaCompatible30Fields is hamba/avro's checker on the same pair,
// with a new SchemaCompatibility per op: hamba memoizes results per
// instance, so a reused one answers a repeated pair from its cache (see the
// Cached variant), which is not the work of checking.
func BenchmarkHambaCompatible30Fields(b *testing.B) {
	r, w := hambaPair(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := avro.NewSchemaCompatibility().Compatible(r, w); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHambaCompatible30FieldsCached reuses one hamba SchemaCompatibility.
func BenchmarkHambaCompatible30FieldsCached(b *testing.B) {
	r, w := hambaPair(b)
	sc := avro.NewSchemaCompatibility()
	b.ReportAllocs()
	for b.Loop() {
		if err := sc.Compatible(r, w); err != nil {
			b.Fatal(err)
		}
	}
}

func hambaPair(b *testing.B) (avro.Schema, avro.Schema) {
	rt, wt := benchPair(b)
	r, err := avro.ParseWithCache(rt, "", &avro.SchemaCache{})
	if err != nil {
		b.Fatal(err)
	}
	w, err := avro.ParseWithCache(wt, "", &avro.SchemaCache{})
	if err != nil {
		b.Fatal(err)
	}
	return r, w
}

// BenchmarkParse30Fields parses the 30-field record.
func BenchmarkParse30Fields(b *testing.B) {
	rt, _ := benchPair(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compat.Parse([]byte(rt)); err != nil {
			b.Fatal(err)
		}
	}
}
