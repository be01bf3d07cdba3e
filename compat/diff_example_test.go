package compat_test

import (
	"fmt"

	"github.com/waybill/waybill/compat"
)

func ExampleDiff() {
	v1, _ := compat.Parse([]byte(`{"type":"record","name":"Shipment","fields":[
		{"name":"shipment_id","type":"string"},
		{"name":"weight","type":"int"},
		{"name":"zip","type":"string"},
		{"name":"status","type":{"type":"enum","name":"Status","symbols":["CREATED","DELIVERED","LOST"]}}]}`))
	v2, _ := compat.Parse([]byte(`{"type":"record","name":"Shipment","fields":[
		{"name":"shipment_id","type":"string","doc":"Unique per shipment."},
		{"name":"weight","type":"long"},
		{"name":"postal_code","type":"string","aliases":["zip"]},
		{"name":"status","type":{"type":"enum","name":"Status","symbols":["CREATED","DELIVERED"]}},
		{"name":"carrier","type":["null","string"],"default":null}]}`))

	for _, c := range compat.Diff(v1, v2, compat.Backward) {
		fmt.Printf("%-14s %-12s %-8s -> %-14s %s (protected at BACKWARD: %v)\n",
			c.Kind, c.Field, c.Old, c.New, c.Consequence, c.Consequence.Breaks(compat.Backward))
	}
	// Output:
	// DOC_CHANGED    shipment_id           -> "Unique per shipment." safe (protected at BACKWARD: false)
	// TYPE_CHANGED   weight       int      -> long           breaks-old-readers (protected at BACKWARD: false)
	// FIELD_RENAMED  postal_code  zip      -> postal_code    breaks-old-readers (protected at BACKWARD: false)
	// SYMBOL_REMOVED status       LOST     ->                breaks-new-readers (protected at BACKWARD: true)
	// FIELD_ADDED    carrier               -> [null, string] safe (protected at BACKWARD: false)
}
