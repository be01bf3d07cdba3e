package kafkatest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Listener makes the cluster's first broker serve on ln, which the caller
// has bound: on any host (kfake.Ports binds 127.0.0.1 only), and with a
// port-in-use error the caller sees before the cluster starts. The broker
// advertises ln's address in its metadata, so it must be one that clients
// can dial (not 0.0.0.0). Further brokers listen where kfake puts them.
func Listener(ln net.Listener) kfake.Opt {
	var once sync.Once
	return kfake.ListenFn(func(network, address string) (net.Listener, error) {
		var first net.Listener
		once.Do(func() { first = ln })
		if first != nil {
			return first, nil
		}
		return net.Listen(network, address)
	})
}

// Slog routes the cluster's log to l: errors and warnings at their level;
// the rest, a line per request, at debug.
func Slog(l *slog.Logger) kfake.Opt {
	return kfake.WithLogger(slogLogger{l})
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lv slog.Level
	switch level {
	case kfake.LogLevelNone:
		return
	case kfake.LogLevelError:
		lv = slog.LevelError
	case kfake.LogLevelWarn:
		lv = slog.LevelWarn
	default:
		lv = slog.LevelDebug
	}
	if !s.l.Enabled(context.Background(), lv) {
		return
	}
	s.l.Log(context.Background(), lv, fmt.Sprintf(format, args...))
}
