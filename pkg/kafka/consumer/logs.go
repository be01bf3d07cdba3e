package consumer

import (
	"sync"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

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
