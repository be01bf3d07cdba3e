package platform

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/waybill/waybill/pkg/envelope"
	"github.com/waybill/waybill/pkg/kafka"
)

// MaxBodyBytes bounds the JSON body DecodeJSON reads.
const MaxBodyBytes = 1 << 20

// Handler returns the App's HTTP handler: Mux with the trace context, the
// request metrics and a debug line per request around it.
func (a *App) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		tp, err := envelope.ParseTraceParent(r.Header.Get("traceparent"))
		if err != nil || tp.IsZero() {
			tp = envelope.NewTrace()
		} else {
			tp = tp.Child()
		}
		ctx := withLogger(kafka.ContextWithTrace(r.Context(), tp), a.Logger)
		r = r.WithContext(ctx)
		w.Header().Set("X-Trace-Id", hex.EncodeToString(tp.TraceID[:]))
		_, route := a.Mux.Handler(r)
		if route == "" {
			route = "unmatched"
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		a.Mux.ServeHTTP(sw, r)
		d := time.Since(start)
		a.http.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		a.http.duration.WithLabelValues(route).Observe(d.Seconds())
		if route != "GET /healthz" && route != "GET /metrics" {
			a.Logger.DebugContext(ctx, "http request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", d)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waybill_http_requests_total",
			Help: "HTTP requests served by the service's API, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "waybill_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request of the service's API, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// Health is the body of GET /healthz.
type Health struct {
	Service  string `json:"service"`
	Status   string `json:"status"`   // "ok" or "unavailable"
	Consumer string `json:"consumer"` // "running", "stopped" or "none" (the service consumes nothing)
	Producer string `json:"producer"` // "running", "stopped" or "failed" (a fatal error: the service must be restarted)
	// Error is the producer's fatal error, when it failed.
	Error string `json:"error,omitempty"`
}

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	h := Health{Service: a.cfg.Source(), Status: "ok", Consumer: "none", Producer: "running"}
	a.mu.Lock()
	hasConsumer := a.consumer != nil
	a.mu.Unlock()
	if hasConsumer {
		h.Consumer = "running"
		if !a.consumerUp.Load() {
			h.Consumer = "stopped"
		}
	}
	if !a.producerUp.Load() {
		h.Producer = "stopped"
	} else if err := a.Producer.Err(); err != nil {
		h.Producer, h.Error = "failed", err.Error()
	}
	status := http.StatusOK
	if h.Consumer == "stopped" || h.Producer != "running" || a.stopping.Load() {
		h.Status, status = "unavailable", http.StatusServiceUnavailable
	}
	WriteJSON(w, status, h)
}

// WriteJSON writes v as the JSON body of a response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, `{"error":"platform: encoding the response"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ErrorBody is the JSON body of an error response: what is wrong, and the
// request field it is about (a JSON path such as "line_items[1].quantity")
// when it is about one.
type ErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// WriteError writes an ErrorBody response.
func WriteError(w http.ResponseWriter, status int, field, msg string) {
	WriteJSON(w, status, ErrorBody{Error: msg, Field: field})
}

// FieldError is an invalid request field: a 400 naming it.
type FieldError struct {
	Field string // JSON path: "shipping_address.city", "line_items[0].sku"
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// WriteErr writes err as an error response: a *FieldError (errors.As) as a
// 400 naming its field, any other error with status.
func WriteErr(w http.ResponseWriter, status int, err error) {
	if fe, ok := errors.AsType[*FieldError](err); ok {
		WriteError(w, http.StatusBadRequest, fe.Field, fe.Error())
		return
	}
	WriteError(w, status, "", err.Error())
}

// DecodeJSON decodes r's JSON body (at most MaxBodyBytes, one value,
// no unknown fields) into v. Its errors are *FieldError naming the field
// when there is one (a field of the wrong type, an unknown field), for a
// 400.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxBodyBytes+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te) && strings.HasPrefix(te.Value, "number") && jsonType(te.Type.Kind().String()) == "number":
			n := strings.TrimPrefix(te.Value, "number ")
			if strings.ContainsAny(n, ".eE") {
				return &FieldError{Field: te.Field, Msg: fmt.Sprintf("want a whole number, got %s", n)}
			}
			return &FieldError{Field: te.Field, Msg: fmt.Sprintf("%s is out of range (%s)", n, te.Type)}
		case errors.As(err, &te):
			return &FieldError{Field: te.Field, Msg: fmt.Sprintf("want a JSON %s, got %s", jsonType(te.Type.Kind().String()), te.Value)}
		case errors.As(err, &se):
			return &FieldError{Msg: fmt.Sprintf("the body is not valid JSON (at byte %d): %v", se.Offset, err)}
		case errors.Is(err, io.EOF):
			return &FieldError{Msg: "the body is empty: want a JSON object"}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &FieldError{Field: f, Msg: "unknown field"}
		default:
			return &FieldError{Msg: "the body is not valid JSON: " + err.Error()}
		}
	}
	if dec.More() {
		return &FieldError{Msg: "the body holds more than one JSON value"}
	}
	return nil
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "slice", kind == "array":
		return "array"
	case kind == "struct", kind == "map", kind == "ptr":
		return "object"
	case kind == "bool":
		return "boolean"
	default:
		return kind
	}
}
