package registry

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, on a registry of their own
// so that several servers (tests, several instances in one process) never
// collide in the default one.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  http.Handler
	// children caches the counter and histogram of each (route, method,
	// code): looking them up by label values hashes every label on every
	// request.
	children sync.Map // childKey -> *child
}

type childKey struct {
	route, method string
	code          int
}

type child struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(st *state) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waybill_registry_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "waybill_registry_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "waybill_registry_schemas",
			Help: "Schema IDs in use (by a live or soft-deleted version).",
		}, func() float64 {
			st.mu.RLock()
			defer st.mu.RUnlock()
			return float64(len(st.ids))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "waybill_registry_subjects",
			Help: "Subjects with at least one live version.",
		}, func() float64 {
			st.mu.RLock()
			defer st.mu.RUnlock()
			return float64(st.liveSubjects())
		}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	switch method {
	case "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH":
	default:
		method = "OTHER" // bounded label values, whatever clients send
	}
	k := childKey{route, method, status}
	c, ok := m.children.Load(k)
	if !ok {
		c, _ = m.children.LoadOrStore(k, &child{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(route),
		})
	}
	ch := c.(*child)
	ch.requests.Inc()
	ch.latency.Observe(d.Seconds())
}
