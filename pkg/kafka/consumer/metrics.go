package consumer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// unknownType is the event_type label of a record that does not decode.
const unknownType = "unknown"

// metrics are the consumer's collectors, shared by every Consumer that
// registers on the same Registerer.
type metrics struct {
	consumed     *prometheus.CounterVec // topic, event_type, group
	retried      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec // + code
	duplicates   *prometheus.CounterVec
	skipped      *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	lag          *prometheus.GaugeVec // topic, partition, group
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	labels := []string{"topic", "event_type", "group"}
	counter := func(name, help string, labels ...string) (*prometheus.CounterVec, error) {
		return register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
	}
	var m metrics
	var err error
	if m.consumed, err = counter("waybill_events_consumed_total",
		"Records read by consumers, by topic, event type and group.", labels...); err != nil {
		return nil, err
	}
	if m.retried, err = counter("waybill_events_retried_total",
		"Handler attempts after the first (retryable errors).", labels...); err != nil {
		return nil, err
	}
	if m.deadLettered, err = counter("waybill_events_dead_lettered_total",
		"Events sent to the dead-letter topic, by the dead-letter code.", append(labels, "code")...); err != nil {
		return nil, err
	}
	if m.duplicates, err = counter("waybill_events_duplicate_skipped_total",
		"Events not handled because their ID was handled before.", labels...); err != nil {
		return nil, err
	}
	if m.skipped, err = counter("waybill_events_skipped_total",
		"Events of a type the consumer has no handler for.", labels...); err != nil {
		return nil, err
	}
	if m.duration, err = register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "waybill_handler_duration_seconds",
		Help:    "Time a handler attempt took.",
		Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30},
	}, labels)); err != nil {
		return nil, err
	}
	if m.lag, err = register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "waybill_consumer_lag",
		Help: "Records between a partition's high watermark and the consumer's position (librdkafka consumer_lag).",
	}, []string{"topic", "partition", "group"})); err != nil {
		return nil, err
	}
	return &m, nil
}

// register registers c on r, or returns the collector registered before
// under the same description, so consumers of one process share it.
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("consumer: registering metrics: %w", err)
	}
	return c, nil
}

// typeMetrics are the collectors of one topic and event type for one
// group, looked up once (WithLabelValues hashes its labels on every call).
type typeMetrics struct {
	consumed, retried, duplicates, skipped prometheus.Counter
	duration                               prometheus.Observer
}

type typeKey struct{ topic, eventType string }

// forType returns the collectors for topic and eventType, cached in cache.
func (m *metrics) forType(cache *sync.Map, group, topic, eventType string) *typeMetrics {
	k := typeKey{topic, eventType}
	if tm, ok := cache.Load(k); ok {
		return tm.(*typeMetrics)
	}
	tm := &typeMetrics{
		consumed:   m.consumed.WithLabelValues(topic, eventType, group),
		retried:    m.retried.WithLabelValues(topic, eventType, group),
		duplicates: m.duplicates.WithLabelValues(topic, eventType, group),
		skipped:    m.skipped.WithLabelValues(topic, eventType, group),
		duration:   m.duration.WithLabelValues(topic, eventType, group),
	}
	actual, _ := cache.LoadOrStore(k, tm)
	return actual.(*typeMetrics)
}

// stats is the part of librdkafka's statistics JSON the lag gauge needs
// (https://github.com/confluentinc/librdkafka/blob/master/STATISTICS.md).
type stats struct {
	Topics map[string]struct {
		Partitions map[string]struct {
			ConsumerLag int64 `json:"consumer_lag"`
		} `json:"partitions"`
	} `json:"topics"`
}

// observeLag sets the lag gauge from a statistics event for the partitions
// owned reports the consumer owns.
func (m *metrics) observeLag(js string, group string, owned func(topic string, partition int32) bool) error {
	var s stats
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return fmt.Errorf("consumer: statistics: %w", err)
	}
	for topic, t := range s.Topics {
		for ps, p := range t.Partitions {
			n, err := strconv.ParseInt(ps, 10, 32)
			if err != nil || n < 0 || p.ConsumerLag < 0 || !owned(topic, int32(n)) {
				continue
			}
			m.lag.WithLabelValues(topic, ps, group).Set(float64(p.ConsumerLag))
		}
	}
	return nil
}
