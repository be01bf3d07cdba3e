package consumer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// forwardLogs writes librdkafka's log lines (go.logs.channel.enable) to the
// consumer's logger, secrets redacted, until the client closes ch. The
// returned channel is closed when ch is drained.
func (c *Consumer) forwardLogs(ch chan ck.LogEvent) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			// syslog levels: 0-3 error, 4 warning, 5-6 notice and info, 7 debug.
			level := slog.LevelDebug
			switch {
			case ev.Level <= 3:
				level = slog.LevelError
			case ev.Level == 4:
				level = slog.LevelWarn
			case ev.Level <= 6:
				level = slog.LevelInfo
			}
			if !c.log.Enabled(context.Background(), level) {
				continue
			}
			c.log.Log(context.Background(), level, "librdkafka: "+c.cfg.Kafka.Redact(ev.Message),
				"client", ev.Name, "tag", ev.Tag)
		}
	}()
	return done
}

// repeatEvery is how often client errors of one code are logged again:
// while the brokers are down, librdkafka reports them many times a second,
// from the consumer and the dead-letter producer alike.
const repeatEvery = 10 * time.Second

// warnLimiter lets a client error of each code through once per
// repeatEvery, counting the ones it holds back.
type warnLimiter struct {
	mu      sync.Mutex
	last    map[ck.ErrorCode]time.Time
	repeats map[ck.ErrorCode]int
}

// allow reports whether an error of code is logged now, and how many of
// that code were held back since the last one logged.
func (l *warnLimiter) allow(code ck.ErrorCode) (repeats int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.repeats = map[ck.ErrorCode]time.Time{}, map[ck.ErrorCode]int{}
	}
	now := time.Now()
	if t, seen := l.last[code]; seen && now.Sub(t) < repeatEvery {
		l.repeats[code]++
		return 0, false
	}
	n := l.repeats[code]
	l.last[code], l.repeats[code] = now, 0
	return n, true
}
