package consumer_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestBrokersDownLoggedOnce: while no broker answers, librdkafka reports
// "all brokers down" many times a second; the consumer logs it once per
// interval, not once per report.
func TestBrokersDownLoggedOnce(t *testing.T) {
	var logs lockedBuffer
	client, err := registry.New(registry.Config{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := consumer.New(consumer.Config{
		Kafka: kafka.NewConfig("127.0.0.1:1").With("enable.metrics.push", "false").
			With("reconnect.backoff.ms", "10").With("reconnect.backoff.max.ms", "20"),
		Group: "down", Topics: []string{"t"}, Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, serde.New(client))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_ = c.Run(ctx)
	// One line per error code (transport failure, all brokers down, ...),
	// not one per report.
	lines := strings.Count(logs.String(), `msg="consumer: kafka"`) + strings.Count(logs.String(), `msg="consumer: dead-letter producer"`)
	if lines == 0 || lines > 4 {
		t.Fatalf("%d client error lines in 3 s with the broker down, want 1 to 4:\n%s", lines, logs.String())
	}
}
