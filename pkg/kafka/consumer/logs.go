package consumer

import (
	"context"
	"log/slog"

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
