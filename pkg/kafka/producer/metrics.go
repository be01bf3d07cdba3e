package producer

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the collectors, shared by every producer on one Registerer.
type metrics struct {
	produced *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// series are one (topic, event type)'s metrics, resolved once: the hot
// path increments them without a label lookup.
type series struct {
	produced prometheus.Counter
	errors   prometheus.Counter
	latency  prometheus.Observer
}

type seriesKey struct{ topic, eventType string }

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	if r == nil {
		r = prometheus.DefaultRegisterer
	}
	produced, err := register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "waybill_events_produced_total",
		Help: "Events the broker acknowledged, by topic and event type.",
	}, []string{"topic", "event_type"}))
	if err != nil {
		return nil, err
	}
	errs, err := register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "waybill_produce_errors_total",
		Help: "Events that could not be queued or were not acknowledged, by topic and event type.",
	}, []string{"topic", "event_type"}))
	if err != nil {
		return nil, err
	}
	latency, err := register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "waybill_delivery_latency_seconds",
		Help:    "Time from an event's acceptance by the producer to its acknowledgement by the broker.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"topic"}))
	if err != nil {
		return nil, err
	}
	return &metrics{produced: produced, errors: errs, latency: latency}, nil
}

// register registers c, or returns the collector registered before it
// under the same description, so that several producers share metrics.
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("producer: registering metrics: %w", err)
	}
	return c, nil
}

func (p *Producer) seriesFor(topic, eventType string) *series {
	k := seriesKey{topic, eventType}
	if s, ok := p.series.Load(k); ok {
		return s.(*series)
	}
	s := &series{
		produced: p.m.produced.WithLabelValues(topic, eventType),
		errors:   p.m.errors.WithLabelValues(topic, eventType),
		latency:  p.m.latency.WithLabelValues(topic),
	}
	actual, _ := p.series.LoadOrStore(k, s)
	return actual.(*series)
}
