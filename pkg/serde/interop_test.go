package serde_test

import (
	"context"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	crserde "github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/pkg/serde"
)

// confluent returns Confluent's own Go Avro serializer and deserializer on
// the same registry, naming subjects as Waybill does (<topic>-<full name>),
// registering nothing. The serializer
// writes with the subject's latest version, or with schema ID useID when it
// is positive: Confluent's serializer derives a schema from the value with
// its references inlined, which no registry matches with the version
// registered with references, so a producer against schemas registered by
// CI (auto-registration off) names the schema this way.
func confluent(t *testing.T, url string, useID int) (*avrov2.Serializer, *avrov2.Deserializer) {
	t.Helper()
	client, err := schemaregistry.NewClient(schemaregistry.NewConfig(url))
	if err != nil {
		t.Fatal(err)
	}
	sc := avrov2.NewSerializerConfig()
	sc.AutoRegisterSchemas = false
	sc.SubjectNameStrategyType = crserde.TopicRecordNameStrategyType
	if useID > 0 {
		sc.UseSchemaID = useID
	} else {
		sc.UseLatestVersion = true
	}
	ser, err := avrov2.NewSerializer(client, crserde.ValueSerde, sc)
	if err != nil {
		t.Fatal(err)
	}
	// Confluent's strategies take the record name from the schema derived
	// from the value, which a serializer naming its schema by ID or latest
	// version does not derive: a custom strategy names the subject.
	ser.SubjectNameStrategy = func(topic string, _ crserde.Type, _ schemaregistry.SchemaInfo) (string, error) {
		return topic + "-" + parcelName, nil
	}
	dc := avrov2.NewDeserializerConfig()
	dc.SubjectNameStrategyType = crserde.TopicRecordNameStrategyType
	de, err := avrov2.NewDeserializer(client, crserde.ValueSerde, dc)
	if err != nil {
		t.Fatal(err)
	}
	return ser, de
}

func TestInteropWaybillToConfluent(t *testing.T) {
	e := newEnv(t)
	_, de := confluent(t, e.hs.URL, 0)
	s := serde.New(e.client)
	ctx := context.Background()

	v1, _, err := s.Serialize(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	var got1 ParcelV1
	if err := de.DeserializeInto(topic, v1, &got1); err != nil {
		t.Fatalf("Confluent's deserializer on Waybill's v1: %v", err)
	}
	if diff := cmp.Diff(p1, &got1); diff != "" {
		t.Errorf("v1 (-want +got):\n%s", diff)
	}
	v2, _, err := s.Serialize(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	var got2 ParcelV2
	if err := de.DeserializeInto(topic, v2, &got2); err != nil {
		t.Fatalf("Confluent's deserializer on Waybill's v2: %v", err)
	}
	if diff := cmp.Diff(p2, &got2); diff != "" {
		t.Errorf("v2 (-want +got):\n%s", diff)
	}
	// And generically, into a map, as a consumer without the types would.
	var m map[string]any
	if err := de.DeserializeInto(topic, v2, &m); err != nil {
		t.Fatalf("Confluent's generic deserializer on Waybill's v2: %v", err)
	}
	if got := m["id"]; got != p2.ID {
		t.Errorf("generic id = %v, want %s", got, p2.ID)
	}
}

func TestInteropConfluentToWaybill(t *testing.T) {
	e := newEnv(t)
	ser, _ := confluent(t, e.hs.URL, 0)
	ser1, _ := confluent(t, e.hs.URL, e.ids["v1"])
	d := serde.New(e.client)
	ctx := context.Background()

	v2, err := ser.Serialize(topic, p2)
	if err != nil {
		t.Fatalf("Confluent's serializer: %v", err)
	}
	var same ParcelV2
	if err := d.Deserialize(ctx, v2, &same); err != nil {
		t.Fatalf("Waybill's Deserialize on Confluent's v2: %v", err)
	}
	if diff := cmp.Diff(p2, &same); diff != "" {
		t.Errorf("v2 -> v2 (-want +got):\n%s", diff)
	}
	var down ParcelV1
	if err := d.Deserialize(ctx, v2, &down); err != nil {
		t.Fatalf("Waybill's Deserialize on Confluent's v2, as v1: %v", err)
	}
	if diff := cmp.Diff(&ParcelV1{ID: p2.ID, Weight: p2.Weight, Cost: p2.Cost}, &down); diff != "" {
		t.Errorf("v2 -> v1 (-want +got):\n%s", diff)
	}
	v1, err := ser1.Serialize(topic, p1)
	if err != nil {
		t.Fatalf("Confluent's serializer: %v", err)
	}
	var up ParcelV2
	if err := d.Deserialize(ctx, v1, &up); err != nil {
		t.Fatalf("Waybill's Deserialize on Confluent's v1, as v2: %v", err)
	}
	if diff := cmp.Diff(&ParcelV2{ID: p1.ID, Weight: p1.Weight, Cost: p1.Cost, Priority: 3}, &up); diff != "" {
		t.Errorf("v1 -> v2 (-want +got):\n%s", diff)
	}
	// Confluent found the IDs Waybill's serde uses.
	if int(v1[4]) != e.ids["v1"] || int(v2[4]) != e.ids["v2"] {
		t.Errorf("Confluent wrote IDs %d and %d, want %d and %d", v1[4], v2[4], e.ids["v1"], e.ids["v2"])
	}
}
