package compat_test

import (
	"fmt"

	"github.com/waybill/waybill/compat"
)

func ExampleCheck() {
	v1, _ := compat.Parse([]byte(`{"type":"record","name":"Shipment","fields":[
		{"name":"shipment_id","type":"string"},
		{"name":"status","type":{"type":"enum","name":"Status","symbols":["CREATED","DELIVERED","LOST"]}}]}`))
	v2, _ := compat.Parse([]byte(`{"type":"record","name":"Shipment","fields":[
		{"name":"shipment_id","type":"string"},
		{"name":"status","type":{"type":"enum","name":"Status","symbols":["CREATED","DELIVERED"]}},
		{"name":"carrier","type":"string"}]}`))

	// Can a consumer compiled against v2 read events written with v1?
	res := compat.Check(v2, v1)
	fmt.Println("compatible:", res.Compatible())
	for _, f := range res.Incompatibilities {
		fmt.Println(f.Rule, f.Path)
	}
	// Output:
	// compatible: false
	// MISSING_ENUM_SYMBOLS /fields/1/type/symbols
	// READER_FIELD_MISSING_DEFAULT_VALUE /fields/2
}

func ExampleCheckLevel() {
	parse := func(text string) *compat.Schema {
		s, err := compat.Parse([]byte(text))
		if err != nil {
			panic(err)
		}
		return s
	}
	v1 := parse(`{"type":"record","name":"Alert","fields":[{"name":"id","type":"string"}]}`)
	v2 := parse(`{"type":"record","name":"Alert","fields":[{"name":"id","type":"string"},{"name":"note","type":"string","default":""}]}`)
	v3 := parse(`{"type":"record","name":"Alert","fields":[{"name":"id","type":"string"},{"name":"severity","type":"int"}]}`)

	for _, level := range []compat.Level{compat.Forward, compat.Backward, compat.BackwardTransitive} {
		res := compat.CheckLevel(level, v3, []*compat.Schema{v1, v2})
		fmt.Println(level, res.Compatible())
		for _, f := range res.Incompatibilities {
			fmt.Println(" ", f)
		}
	}
	// Output:
	// FORWARD true
	// BACKWARD false
	//   reading version 2: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: reader field "severity" is not in the writer's Alert and has no default value
	// BACKWARD_TRANSITIVE false
	//   reading version 1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: reader field "severity" is not in the writer's Alert and has no default value
	//   reading version 2: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: reader field "severity" is not in the writer's Alert and has no default value
}
