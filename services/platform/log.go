package platform

import (
	"context"
	"encoding/hex"
	"log/slog"

	"github.com/waybill/waybill/pkg/kafka"
)

type loggerKey struct{}

func withLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the logger of the service running ctx (an event handler's
// or an HTTP request's context, or Run's), with the trace ID of ctx's trace
// context as trace_id; slog.Default() with it outside a service.
func Logger(ctx context.Context) *slog.Logger {
	l, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	if l == nil {
		l = slog.Default()
	}
	id := TraceID(ctx)
	if id == "" {
		return l
	}
	h := l.Handler()
	if th, ok := h.(traceHandler); ok {
		h = th.Handler // the trace is fixed now, not taken from the context
	}
	return slog.New(h.WithAttrs([]slog.Attr{slog.String("trace_id", id)}))
}

// TraceID returns the W3C trace ID of ctx's trace context (32 hex digits),
// or "" when ctx has none.
func TraceID(ctx context.Context) string {
	tp := kafka.TraceFromContext(ctx)
	if tp.IsZero() {
		return ""
	}
	return hex.EncodeToString(tp.TraceID[:])
}

// traceHandler adds trace_id to the records logged with a context that
// carries a trace (InfoContext(ctx, ...)).
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := TraceID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
