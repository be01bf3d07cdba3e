package producer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/waybill/waybill/pkg/events/orderevents"
	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/serde"
)

const (
	user     = "order-service"
	password = "s3cr3t-Pa55w0rd-9f8e7d"
)

// selfSigned makes a self-signed certificate for 127.0.0.1 and localhost,
// returns the broker's TLS configuration and writes the certificate (the
// CA clients trust) to a PEM file.
func selfSigned(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfake"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, ca
}

// Producers reach clusters that need SASL (SCRAM-SHA-256, PLAIN) and TLS,
// configured only through librdkafka properties in kafka.Config, one of
// them loaded from WAYBILL_KAFKA_* variables. The password appears in no
// log line and no error.
func TestConnections(t *testing.T) {
	rc := newRegistry(t)
	tlsCfg, ca := selfSigned(t)
	for _, tc := range []struct {
		name string
		opts []kfake.Opt
		cfg  func(brokers string) kafka.Config
	}{
		{"SCRAM-SHA-256", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", user, password)},
			func(b string) kafka.Config {
				return kafka.Config{Properties: map[string]string{
					"bootstrap.servers": b, "security.protocol": "SASL_PLAINTEXT",
					"sasl.mechanism": "SCRAM-SHA-256", "sasl.username": user, "sasl.password": password,
				}}
			}},
		{"PLAIN over TLS", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", user, password), kfake.TLS(tlsCfg)},
			func(b string) kafka.Config {
				return kafka.Config{Properties: map[string]string{
					"bootstrap.servers": b, "security.protocol": "SASL_SSL", "ssl.ca.location": ca,
					"sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": password,
				}}
			}},
		{"TLS", []kfake.Opt{kfake.TLS(tlsCfg)},
			func(b string) kafka.Config {
				return kafka.Config{Properties: map[string]string{
					"bootstrap.servers": b, "security.protocol": "SSL", "ssl.ca.location": ca,
				}}
			}},
		{"SCRAM over TLS from the environment", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", user, password), kfake.TLS(tlsCfg)},
			func(b string) kafka.Config {
				cfg, err := kafka.LoadConfig("", []string{
					"WAYBILL_KAFKA_BOOTSTRAP_SERVERS=" + b,
					"WAYBILL_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
					"WAYBILL_KAFKA_SSL_CA_LOCATION=" + ca,
					"WAYBILL_KAFKA_SASL_MECHANISM=SCRAM-SHA-256",
					"WAYBILL_KAFKA_SASL_USERNAME=" + user,
					"WAYBILL_KAFKA_SASL_PASSWORD=" + password,
					"WAYBILL_KAFKA_ENABLE_METRICS_PUSH=false",
				})
				if err != nil {
					t.Fatal(err)
				}
				return cfg
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := kafkatest.New(t, append(tc.opts, kfake.SeedTopics(1, topic))...)
			cfg := tc.cfg(c.Brokers()).With("enable.metrics.push", "false")
			logs := &logBuffer{}
			p, err := producer.New(producer.Config{
				Kafka: cfg, Source: "order-service", Registerer: prometheus.NewRegistry(),
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			}, serde.New(rc))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			d, err := producer.NewTyped[*orderevents.OrderCreatedV2](p).Send(ctx, order("ord-1", 1))
			if err != nil {
				t.Fatalf("send: %v\nlogs:\n%s", err, logs)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if recs := readAll(t, cfg, topic); len(recs) != 1 || string(recs[0].Key) != "ord-1" {
				t.Fatalf("read %d records, want ord-1 (delivery %+v)", len(recs), d)
			}
			if strings.Contains(logs.String(), password) {
				t.Errorf("the password is in the logs:\n%s", logs)
			}
		})
	}

	// A wrong password, with librdkafka's debug output for security and
	// its configuration on: the failure is reported and logged, without
	// the password (the right one or the wrong one).
	t.Run("wrong password", func(t *testing.T) {
		c := kafkatest.New(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", user, password), kfake.SeedTopics(1, topic))
		const wrong = "wr0ng-Pa55w0rd-1a2b3c"
		cfg := c.Config().With("security.protocol", "SASL_PLAINTEXT").With("sasl.mechanism", "SCRAM-SHA-256").
			With("sasl.username", user).With("sasl.password", wrong).
			With("debug", "security,broker,conf,generic").With("message.timeout.ms", "2000")
		logs := &logBuffer{}
		p, err := producer.New(producer.Config{
			Kafka: cfg, Source: "order-service", Registerer: prometheus.NewRegistry(),
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		}, serde.New(rc))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		_, sendErr := producer.NewTyped[*orderevents.OrderCreatedV2](p).Send(ctx, order("ord-1", 1))
		closeErr := p.Close(ctx)
		var pe *producer.Error
		if !errors.As(sendErr, &pe) {
			t.Fatalf("send with a wrong password: %v, want a *producer.Error", sendErr)
		}
		all := logs.String()
		if !strings.Contains(strings.ToLower(all), "authentication") {
			t.Errorf("the logs do not mention the authentication failure:\n%s", all)
		}
		if !strings.Contains(all, "sasl.password") {
			t.Logf("librdkafka did not log its configuration")
		}
		for _, text := range []string{sendErr.Error(), errString(closeErr), all} {
			for _, secret := range []string{wrong, password} {
				if strings.Contains(text, secret) {
					t.Errorf("a password is in %q", text[:min(len(text), 2000)])
				}
			}
		}
		if !strings.Contains(strings.ToLower(sendErr.Error()), "authentication") {
			t.Errorf("send error %q does not say why the event timed out (authentication)", sendErr)
		}
		t.Logf("send error: %v", sendErr)
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
