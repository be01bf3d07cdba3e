// Package httpserve runs an HTTP handler until its context is done, then shuts
// down gracefully: the one serving loop of the registry, its UI and
// `waybill browse`.
package httpserve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve serves h on ln, over TLS when tlsConfig is not nil, until ctx is
// done; then it stops accepting connections and waits up to grace for the
// requests in flight (http.Server.Shutdown). Requests see ctx's values but
// not its cancellation. It returns nil after a clean shutdown.
func Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config, grace time.Duration, h http.Handler, logger *slog.Logger) error {
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	if logger == nil {
		logger = slog.Default()
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
