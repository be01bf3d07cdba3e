package envelope

import (
	"testing"
	"time"
)

func timeUnix(sec int64, ns int) string {
	return time.Unix(sec, int64(ns)).UTC().Format(time.RFC3339Nano)
}

// TestUnixNano: the Template's clock reads the wall clock (between two
// time.Now calls, give or take the time between time.Now's own two reads),
// across refreshes of its offset.
func TestUnixNano(t *testing.T) {
	const slack = time.Duration(maxClockGap)
	for i := range 2000 {
		before := time.Now().UnixNano()
		got := unixNano()
		after := time.Now().UnixNano()
		if got < before-int64(slack) || got > after+int64(slack) {
			t.Fatalf("read %d: %d not in [%d, %d]", i, got, before, after)
		}
		if i%100 == 0 {
			time.Sleep(time.Duration(clockRefresh)) // make it refresh
		}
	}
}
