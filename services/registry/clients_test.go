package registry_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/rest"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	"github.com/riferrei/srclient"

	sr "github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/services/registry"
)

// confluentCode returns the error code of an error from Confluent's Go
// client, or 0.
func confluentCode(err error) int {
	var re *rest.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

// TestConfluentClient drives the registry with confluent-kafka-go's
// schemaregistry client, the one Confluent's Go serializers use.
func TestConfluentClient(t *testing.T) {
	e := newEnv(t)
	c, err := schemaregistry.NewClient(schemaregistry.NewConfig(e.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const subject = "orders-value"

	id1, err := c.Register(subject, schemaregistry.SchemaInfo{Schema: orderV1}, false)
	if err != nil || id1 != 1 {
		t.Fatalf("Register: %d, %v", id1, err)
	}
	id2, err := c.Register(subject, schemaregistry.SchemaInfo{Schema: orderV2}, true)
	if err != nil || id2 != 2 {
		t.Fatalf("Register normalized: %d, %v", id2, err)
	}
	// Registering an incompatible schema: 409, the code on the error.
	_, err = c.Register(subject, schemaregistry.SchemaInfo{Schema: orderBad}, false)
	if confluentCode(err) != 409 {
		t.Errorf("Register incompatible: %v", err)
	}
	// The code maps onto Waybill's error catalogue.
	var re *rest.Error
	if errors.As(err, &re) && !errors.Is(sr.FromResponse(409, sr.Code(re.Code), re.Message), sr.ErrIncompatibleSchema) {
		t.Errorf("code %d is not ErrIncompatibleSchema", re.Code)
	}
	_, err = c.Register(subject, schemaregistry.SchemaInfo{Schema: `{"type":"record"}`}, false)
	if confluentCode(err) != 42201 {
		t.Errorf("Register invalid: %v", err)
	}

	// Fetch by ID and by subject and version.
	info, err := c.GetBySubjectAndID(subject, id1)
	if err != nil || info.Schema != compact(t, orderV1) {
		t.Errorf("GetBySubjectAndID: %+v, %v", info, err)
	}
	info, err = c.GetBySubjectAndID("", id2)
	if err != nil || info.Schema == "" {
		t.Errorf("GetBySubjectAndID without subject: %+v, %v", info, err)
	}
	if _, err := c.GetBySubjectAndID("", 99); confluentCode(err) != 40403 {
		t.Errorf("unknown ID: %v", err)
	}
	md, err := c.GetLatestSchemaMetadata(subject)
	if err != nil || md.Version != 2 || md.ID != id2 || md.Subject != subject {
		t.Errorf("GetLatestSchemaMetadata: %+v, %v", md, err)
	}
	md, err = c.GetSchemaMetadata(subject, 1)
	if err != nil || md.Version != 1 || md.ID != id1 {
		t.Errorf("GetSchemaMetadata: %+v, %v", md, err)
	}
	if _, err := c.GetSchemaMetadata("nope", 1); confluentCode(err) != 40401 {
		t.Errorf("unknown subject: %v", err)
	}
	if _, err := c.GetSchemaMetadata(subject, 7); confluentCode(err) != 40402 {
		t.Errorf("unknown version: %v", err)
	}
	svs, err := c.GetSubjectsAndVersionsByID(id1)
	if err != nil || len(svs) != 1 || svs[0].Subject != subject || svs[0].Version != 1 {
		t.Errorf("GetSubjectsAndVersionsByID: %+v, %v", svs, err)
	}
	versions, err := c.GetAllVersions(subject)
	if err != nil || !slices.Equal(versions, []int{1, 2}) {
		t.Errorf("GetAllVersions: %v, %v", versions, err)
	}
	subjects, err := c.GetAllSubjects()
	if err != nil || !slices.Equal(subjects, []string{subject}) {
		t.Errorf("GetAllSubjects: %v, %v", subjects, err)
	}

	// Look up.
	id, err := c.GetID(subject, schemaregistry.SchemaInfo{Schema: orderV1}, false)
	if err != nil || id != id1 {
		t.Errorf("GetID: %d, %v", id, err)
	}
	v, err := c.GetVersion(subject, schemaregistry.SchemaInfo{Schema: orderV2}, false)
	if err != nil || v != 2 {
		t.Errorf("GetVersion: %d, %v", v, err)
	}
	if _, err := c.GetID(subject, schemaregistry.SchemaInfo{Schema: orderBad}, false); confluentCode(err) != 40403 {
		t.Errorf("GetID of an unregistered schema: %v", err)
	}

	// Compatibility.
	ok, err := c.TestSubjectCompatibility(subject, schemaregistry.SchemaInfo{Schema: orderBad})
	if err != nil || ok {
		t.Errorf("TestSubjectCompatibility incompatible: %v, %v", ok, err)
	}
	ok, err = c.TestCompatibility(subject, 1, schemaregistry.SchemaInfo{Schema: orderV2})
	if err != nil || !ok {
		t.Errorf("TestCompatibility: %v, %v", ok, err)
	}

	// Config.
	level, err := c.GetDefaultCompatibility()
	if err != nil || level != schemaregistry.Backward {
		t.Errorf("GetDefaultCompatibility: %v, %v", level, err)
	}
	level, err = c.UpdateDefaultCompatibility(schemaregistry.FullTransitive)
	if err != nil || level != schemaregistry.FullTransitive {
		t.Errorf("UpdateDefaultCompatibility: %v, %v", level, err)
	}
	if _, err := c.GetCompatibility(subject); confluentCode(err) != 40408 {
		t.Errorf("GetCompatibility without a subject level: %v", err)
	}
	level, err = c.UpdateCompatibility(subject, schemaregistry.None)
	if err != nil || level != schemaregistry.None {
		t.Errorf("UpdateCompatibility: %v, %v", level, err)
	}
	level, err = c.GetCompatibility(subject)
	if err != nil || level != schemaregistry.None {
		t.Errorf("GetCompatibility: %v, %v", level, err)
	}
	cfg, err := c.GetConfig("other", true)
	if err != nil || cfg.CompatibilityLevel != schemaregistry.FullTransitive {
		t.Errorf("GetConfig defaultToGlobal: %+v, %v", cfg, err)
	}
	cfg, err = c.UpdateConfig("other", schemaregistry.ServerConfig{CompatibilityUpdate: schemaregistry.Forward})
	if err != nil || cfg.CompatibilityUpdate != schemaregistry.Forward {
		t.Errorf("UpdateConfig: %+v, %v", cfg, err)
	}

	// Delete: soft, then permanent.
	if _, err := c.DeleteSubjectVersion(subject, 1, true); confluentCode(err) != 40407 {
		t.Errorf("permanent delete of a live version: %v", err)
	}
	n, err := c.DeleteSubjectVersion(subject, 1, false)
	if err != nil || n != 1 {
		t.Errorf("DeleteSubjectVersion: %d, %v", n, err)
	}
	if _, err := c.DeleteSubjectVersion(subject, 1, false); confluentCode(err) != 40406 {
		t.Errorf("soft delete twice: %v", err)
	}
	n, err = c.DeleteSubjectVersion(subject, 1, true)
	if err != nil || n != 1 {
		t.Errorf("DeleteSubjectVersion permanent: %d, %v", n, err)
	}
	if _, err := c.DeleteSubject(subject, true); confluentCode(err) != 40405 {
		t.Errorf("permanent delete of a live subject: %v", err)
	}
	deleted, err := c.DeleteSubject(subject, false)
	if err != nil || !slices.Equal(deleted, []int{2}) {
		t.Errorf("DeleteSubject: %v, %v", deleted, err)
	}
	deleted, err = c.DeleteSubject(subject, true)
	if err != nil || !slices.Equal(deleted, []int{2}) {
		t.Errorf("DeleteSubject permanent: %v, %v", deleted, err)
	}
	if _, err := c.DeleteSubject(subject, false); confluentCode(err) != 40401 {
		t.Errorf("delete of a deleted subject: %v", err)
	}
	contexts, err := c.GetAllContexts()
	if err != nil || !slices.Equal(contexts, []string{"."}) {
		t.Errorf("GetAllContexts: %v, %v", contexts, err)
	}
}

// shipment is serialized by Confluent's Avro serializer, which registers
// the schema it derives from the struct.
type shipment struct {
	ID      string `avro:"id"`
	Carrier string `avro:"carrier"`
	Weight  int64  `avro:"weight"`
}

// TestConfluentSerde round-trips a value through Confluent's Avro
// serializer and deserializer: registration, the wire format's schema ID,
// and the fetch by ID.
func TestConfluentSerde(t *testing.T) {
	e := newEnv(t)
	c, err := schemaregistry.NewClient(schemaregistry.NewConfig(e.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ser, err := avrov2.NewSerializer(c, serde.ValueSerde, avrov2.NewSerializerConfig())
	if err != nil {
		t.Fatal(err)
	}
	in := shipment{ID: "s-1", Carrier: "dhl", Weight: 1200}
	payload, err := ser.Serialize("shipments", &in)
	if err != nil {
		t.Fatal(err)
	}
	if payload[0] != 0 || payload[4] != 1 {
		t.Fatalf("wire format: % x", payload[:5])
	}
	// A second client, with empty caches, reads it back.
	c2, err := schemaregistry.NewClient(schemaregistry.NewConfig(e.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	de, err := avrov2.NewDeserializer(c2, serde.ValueSerde, avrov2.NewDeserializerConfig())
	if err != nil {
		t.Fatal(err)
	}
	var out shipment
	if err := de.DeserializeInto("shipments", payload, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip: %+v, want %+v", out, in)
	}
	e.run(t, []step{{method: "GET", path: "/subjects", status: 200, want: `["shipments-value"]`}})
}

// TestSrclient drives the registry with riferrei/srclient, the client of
// Waybill's CLI and runtime.
func TestSrclient(t *testing.T) {
	e := newEnv(t)
	c := srclient.NewSchemaRegistryClient(e.srv.URL)
	const subject = "orders-value"

	s1, err := c.CreateSchema(subject, orderV1, srclient.Avro)
	if err != nil || s1.ID() != 1 || s1.Version() != 0 && s1.Version() != 1 {
		t.Fatalf("CreateSchema: %+v, %v", s1, err)
	}
	if s1.Codec() == nil {
		t.Error("srclient could not build a codec from the served schema")
	}
	s2, err := c.CreateSchema(subject, orderV2, srclient.Avro)
	if err != nil || s2.ID() != 2 {
		t.Fatalf("CreateSchema v2: %+v, %v", s2, err)
	}
	var se srclient.Error
	if _, err := c.CreateSchema(subject, orderBad, srclient.Avro); !errors.As(err, &se) || se.Code != 409 {
		t.Errorf("CreateSchema incompatible: %v", err)
	}
	if _, err := c.CreateSchema(subject, `{"type":"nope"}`, srclient.Avro); !errors.As(err, &se) || se.Code != 42201 {
		t.Errorf("CreateSchema invalid: %v", err)
	}

	got, err := c.GetSchema(1)
	if err != nil || got.Schema() != compact(t, orderV1) {
		t.Errorf("GetSchema: %+v, %v", got, err)
	}
	if _, err := c.GetSchema(42); !errors.As(err, &se) || se.Code != 40403 {
		t.Errorf("GetSchema unknown: %v", err)
	}
	latest, err := c.GetLatestSchema(subject)
	if err != nil || latest.ID() != 2 || latest.Version() != 2 {
		t.Errorf("GetLatestSchema: %+v, %v", latest, err)
	}
	byVersion, err := c.GetSchemaByVersion(subject, 1)
	if err != nil || byVersion.ID() != 1 {
		t.Errorf("GetSchemaByVersion: %+v, %v", byVersion, err)
	}
	if _, err := c.GetSchemaByVersion("nope", 1); !errors.As(err, &se) || se.Code != 40401 {
		t.Errorf("GetSchemaByVersion unknown subject: %v", err)
	}
	versions, err := c.GetSchemaVersions(subject)
	if err != nil || !slices.Equal(versions, []int{1, 2}) {
		t.Errorf("GetSchemaVersions: %v, %v", versions, err)
	}
	subjects, err := c.GetSubjects()
	if err != nil || !slices.Equal(subjects, []string{subject}) {
		t.Errorf("GetSubjects: %v, %v", subjects, err)
	}
	svs, err := c.GetSubjectVersionsById(2)
	if err != nil || len(svs) != 1 || svs[0].Version != 2 {
		t.Errorf("GetSubjectVersionsById: %v, %v", svs, err)
	}

	found, err := c.LookupSchema(subject, orderV1, srclient.Avro)
	if err != nil || found.ID() != 1 || found.Version() != 1 {
		t.Errorf("LookupSchema: %+v, %v", found, err)
	}
	if _, err := c.LookupSchema(subject, orderBad, srclient.Avro); !errors.As(err, &se) || se.Code != 40403 {
		t.Errorf("LookupSchema unregistered: %v", err)
	}

	ok, err := c.IsSchemaCompatible(subject, orderBad, "latest", srclient.Avro)
	if err != nil || ok {
		t.Errorf("IsSchemaCompatible incompatible: %v, %v", ok, err)
	}
	ok, err = c.IsSchemaCompatible(subject, orderV2, "1", srclient.Avro)
	if err != nil || !ok {
		t.Errorf("IsSchemaCompatible: %v, %v", ok, err)
	}

	level, err := c.GetGlobalCompatibilityLevel()
	if err != nil || *level != srclient.Backward {
		t.Errorf("GetGlobalCompatibilityLevel: %v, %v", level, err)
	}
	level, err = c.ChangeSubjectCompatibilityLevel(subject, srclient.Full)
	if err != nil || *level != srclient.Full {
		t.Errorf("ChangeSubjectCompatibilityLevel: %v, %v", level, err)
	}
	level, err = c.GetCompatibilityLevel(subject, false)
	if err != nil || *level != srclient.Full {
		t.Errorf("GetCompatibilityLevel: %v, %v", level, err)
	}
	if _, err := c.GetCompatibilityLevel("other", false); !errors.As(err, &se) || se.Code != 40408 {
		t.Errorf("GetCompatibilityLevel without one: %v", err)
	}
	level, err = c.GetCompatibilityLevel("other", true)
	if err != nil || *level != srclient.Backward {
		t.Errorf("GetCompatibilityLevel defaultToGlobal: %v, %v", level, err)
	}
	if _, err := c.DeleteSubjectCompatibilityLevel(subject); err != nil {
		t.Errorf("DeleteSubjectCompatibilityLevel: %v", err)
	}

	// Soft then permanent delete of a version (srclient sends both).
	if err := c.DeleteSubjectByVersion(subject, 1, true); err != nil {
		t.Errorf("DeleteSubjectByVersion: %v", err)
	}
	versions, _ = c.GetSchemaVersions(subject)
	if !slices.Equal(versions, []int{2}) {
		t.Errorf("versions after delete: %v", versions)
	}
	if err := c.DeleteSubject(subject, true); !errors.As(err, &se) || se.Code != 40405 {
		t.Errorf("permanent delete of a live subject: %v", err)
	}
	if err := c.DeleteSubject(subject, false); err != nil {
		t.Errorf("DeleteSubject: %v", err)
	}
	all, err := c.GetSubjectsIncludingDeleted()
	if err != nil || !slices.Equal(all, []string{subject}) {
		t.Errorf("GetSubjectsIncludingDeleted: %v, %v", all, err)
	}
	if err := c.DeleteSubject(subject, true); err != nil {
		t.Errorf("DeleteSubject permanent: %v", err)
	}
	all, _ = c.GetSubjectsIncludingDeleted()
	if len(all) != 0 {
		t.Errorf("subjects after a permanent delete: %v", all)
	}
}

// TestClientsWithAuth: both clients send basic auth credentials the
// registry accepts, and a read-only user gets 403 on writes.
func TestClientsWithAuth(t *testing.T) {
	e := newEnvConfig(t, registry.Config{Users: []registry.User{
		{Name: "ro", Password: "p1", Access: registry.ReadOnly},
		{Name: "rw", Password: "p2", Access: registry.ReadWrite},
	}})
	rw, err := schemaregistry.NewClient(schemaregistry.NewConfigWithBasicAuthentication(e.srv.URL, "rw", "p2"))
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if _, err := rw.Register("s", schemaregistry.SchemaInfo{Schema: orderV1}, false); err != nil {
		t.Fatalf("Register as rw: %v", err)
	}
	ro, err := schemaregistry.NewClient(schemaregistry.NewConfigWithBasicAuthentication(e.srv.URL, "ro", "p1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Register("s", schemaregistry.SchemaInfo{Schema: orderV2}, false); confluentCode(err) != 403 {
		t.Errorf("Register as ro: %v", err)
	}
	if _, err := ro.GetLatestSchemaMetadata("s"); err != nil {
		t.Errorf("read as ro: %v", err)
	}

	c := srclient.NewSchemaRegistryClient(e.srv.URL)
	var se srclient.Error
	if _, err := c.GetSubjects(); !errors.As(err, &se) || se.Code != 401 {
		t.Errorf("srclient without credentials: %v", err)
	}
	c.SetCredentials("ro", "p1")
	if subjects, err := c.GetSubjects(); err != nil || len(subjects) != 1 {
		t.Errorf("srclient as ro: %v, %v", subjects, err)
	}
}
