package kafka_test

import (
	"testing"

	"github.com/waybill/waybill/pkg/kafka"
)

// TestLoadConfigSkipsFileVariable: WAYBILL_KAFKA_CONFIG names the properties
// file; passed on as a property "config", librdkafka would refuse it.
func TestLoadConfigSkipsFileVariable(t *testing.T) {
	c, err := kafka.LoadConfig("", []string{kafka.EnvConfigFile + "=/etc/waybill/kafka.properties", "WAYBILL_KAFKA_CLIENT_ID=x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Properties["config"]; ok || c.Properties["client.id"] != "x" || len(c.Properties) != 1 {
		t.Fatalf("properties %v; want only client.id", c.Properties)
	}
}
