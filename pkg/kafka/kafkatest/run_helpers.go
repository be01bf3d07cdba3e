package kafkatest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Running is a Run loop (a consumer's, a processor's) started by Go.
type Running struct {
	cancel context.CancelFunc
	done   chan error
}

// Go runs run in a goroutine until Stop or the test's end.
func Go(t testing.TB, run func(context.Context) error) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx) }()
	t.Cleanup(func() { _ = r.Stop() })
	return r
}

// Stop cancels the run's context and returns its result; an error if it did
// not return within 45 s. Later calls return nil.
func (r *Running) Stop() error {
	r.cancel()
	select {
	case err, ok := <-r.done:
		if !ok {
			return nil
		}
		close(r.done)
		return err
	case <-time.After(45 * time.Second):
		return errors.New("kafkatest: the run did not return 45s after its context ended")
	}
}

// Wait waits up to d for the run to return on its own, without cancelling
// it, and returns its result; ok is false if it did not return in time.
// Stop afterwards returns nil.
func (r *Running) Wait(d time.Duration) (err error, ok bool) {
	select {
	case err := <-r.done:
		close(r.done)
		return err, true
	case <-time.After(d):
		return nil, false
	}
}

// Eventually polls cond every 20 ms until it holds, failing t after d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Metric sums the samples of metric name in g whose labels include want:
// counter and gauge values, histogram sample counts.
func Metric(t testing.TB, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	samples:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue samples
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// CommittedAll reports whether group's committed offsets of topic are at
// its end on every partition.
func (c *Cluster) CommittedAll(t testing.TB, group, topic string) bool {
	end := c.EndOffsets(t, topic)
	got := c.GroupCommitted(t, group, topic)
	for p, high := range end {
		if high > 0 && got[p] != high {
			return false
		}
	}
	return true
}
