package txn

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// unknownType is the event_type label of a record that does not decode.
const unknownType = "unknown"

// metrics are the processor's collectors. The event counters have the names,
// help texts and labels of package consumer's (and waybill_events_produced_total
// the producer's), so a process running both shares them.
type metrics struct {
	commits      *prometheus.CounterVec   // group
	aborts       *prometheus.CounterVec   // group, reason
	retries      *prometheus.CounterVec   // group, op
	recreated    *prometheus.CounterVec   // group
	txnDuration  *prometheus.HistogramVec // group
	consumed     *prometheus.CounterVec   // topic, event_type, group
	retried      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec // + code
	skipped      *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	produced     *prometheus.CounterVec // topic, event_type
	lag          *prometheus.GaugeVec   // topic, partition, group
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	labels := []string{"topic", "event_type", "group"}
	var m metrics
	var err error
	counter := func(dst **prometheus.CounterVec, name, help string, labels ...string) {
		if err == nil {
			*dst, err = register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
		}
	}
	counter(&m.commits, "waybill_txn_commits_total", "Transactions committed by exactly-once processors, by group.", "group")
	counter(&m.aborts, "waybill_txn_aborts_total",
		"Transactions aborted by exactly-once processors, by group and reason (produce, send_offsets, commit, handler, shutdown).",
		"group", "reason")
	counter(&m.retries, "waybill_txn_retries_total",
		"Calls of the transaction API retried after a retriable error, by group and operation.", "group", "op")
	counter(&m.recreated, "waybill_txn_producer_recreated_total",
		"Transactional producers replaced after a fatal error other than fencing, by group.", "group")
	counter(&m.consumed, "waybill_events_consumed_total",
		"Records read by consumers, by topic, event type and group.", labels...)
	counter(&m.retried, "waybill_events_retried_total",
		"Handler attempts after the first (retryable errors).", labels...)
	counter(&m.deadLettered, "waybill_events_dead_lettered_total",
		"Events sent to the dead-letter topic, by the dead-letter code.", append(labels, "code")...)
	counter(&m.skipped, "waybill_events_skipped_total",
		"Events of a type the consumer has no handler for.", labels...)
	counter(&m.produced, "waybill_events_produced_total",
		"Events the broker acknowledged, by topic and event type.", "topic", "event_type")
	if err != nil {
		return nil, err
	}
	if m.duration, err = register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "waybill_handler_duration_seconds",
		Help:    "Time a handler attempt took.",
		Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30},
	}, labels)); err != nil {
		return nil, err
	}
	if m.lag, err = register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "waybill_consumer_lag",
		Help: "Records between a partition's high watermark and the consumer's position (librdkafka consumer_lag).",
	}, []string{"topic", "partition", "group"})); err != nil {
		return nil, err
	}
	if m.txnDuration, err = register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "waybill_txn_duration_seconds",
		Help:    "Time from a transaction's begin to its commit, by group.",
		Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 30},
	}, []string{"group"})); err != nil {
		return nil, err
	}
	return &m, nil
}

// register registers c on r, or returns the collector registered before
// under the same description, so processors of one process share it.
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		var zero C
		return zero, err
	}
	return c, nil
}

// tally counts a transaction's events until it commits: what an aborted
// transaction did is not counted (its records are processed again).
type tally struct {
	consumed     map[[3]string]int // topic, event_type, group
	deadLettered map[[4]string]int // + code
	skipped      map[[3]string]int
	produced     map[[2]string]int
}

func newTally() *tally {
	return &tally{consumed: map[[3]string]int{}, deadLettered: map[[4]string]int{},
		skipped: map[[3]string]int{}, produced: map[[2]string]int{}}
}

func (t *tally) reset() {
	clear(t.consumed)
	clear(t.deadLettered)
	clear(t.skipped)
	clear(t.produced)
}

func (m *metrics) add(t *tally) {
	for k, n := range t.consumed {
		m.consumed.WithLabelValues(k[:]...).Add(float64(n))
	}
	for k, n := range t.deadLettered {
		m.deadLettered.WithLabelValues(k[:]...).Add(float64(n))
	}
	for k, n := range t.skipped {
		m.skipped.WithLabelValues(k[:]...).Add(float64(n))
	}
	for k, n := range t.produced {
		m.produced.WithLabelValues(k[:]...).Add(float64(n))
	}
}

// stats is the part of librdkafka's statistics JSON the lag gauge needs
// (https://github.com/confluentinc/librdkafka/blob/master/STATISTICS.md).
type stats struct {
	Topics map[string]struct {
		Partitions map[string]struct {
			LastStable int64 `json:"ls_offset"`
			Committed  int64 `json:"committed_offset"`
		} `json:"partitions"`
	} `json:"topics"`
}

// observeLag sets the lag gauge of the partitions r owns from a statistics
// event: the last stable offset (the end a read_committed reader sees) less
// the offset the last transaction committed. librdkafka's own consumer_lag
// is not used: it counts from the offsets its consumer committed, and here
// the producer commits them, in the transaction. Statistics queue behind the
// records already fetched, so commits update the gauge too (lagAfterCommit).
func (r *run) observeLag(js string) {
	var s stats
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		r.p.log.Debug("txn: statistics", "error", err)
		return
	}
	for topic, t := range s.Topics {
		for ps, p := range t.Partitions {
			n, err := strconv.ParseInt(ps, 10, 32)
			k := tpKey{topic, int32(n)}
			if err != nil || n < 0 || !r.assigned[k] || p.LastStable < 0 {
				continue
			}
			pos, ok := r.committed[k]
			if !ok {
				pos = p.Committed
			}
			if pos < 0 {
				continue
			}
			r.p.metrics.lag.WithLabelValues(topic, ps, r.p.cfg.Group).Set(float64(max(p.LastStable-pos, 0)))
		}
	}
}

// lagAfterCommit sets the lag gauge of the partitions of the committed
// batch: the high watermark librdkafka last saw (no request) less the
// offset committed.
func (r *run) lagAfterCommit() {
	for k, pos := range r.batchEnd {
		_, high, err := r.cons.GetWatermarkOffsets(k.topic, k.part)
		if err != nil || high < 0 {
			continue
		}
		r.p.metrics.lag.WithLabelValues(k.topic, strconv.Itoa(int(k.part)), r.p.cfg.Group).Set(float64(max(high-pos, 0)))
	}
}
