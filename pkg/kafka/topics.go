package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/waybill/waybill/pkg/catalog"
)

// DefaultTopicsTimeout bounds CreateTopics when its context has no deadline.
const DefaultTopicsTimeout = 30 * time.Second

// CreateTopics creates the catalog's topics and the dead-letter topic of each
// (DeadLetterTopic), as the catalog declares them: its partitions,
// retention.ms and cleanup.policy, at the broker's default replication
// factor. A dead-letter topic has its topic's partitions and retention and
// cleanup.policy=delete, whatever its topic's: a dead letter is never
// superseded by a later record with the same key.
//
// It is idempotent: a topic that exists already is left as it is (neither
// its partitions nor its configuration are checked or changed). It returns
// the topics it created, sorted; with an error, those created before it.
//
// A cluster still starting refuses some creations for a while
// (INVALID_REPLICATION_FACTOR while brokers are not yet taking replicas, a
// moving controller, retriable errors): those are tried again each second
// until ctx ends. Where ctx has no deadline, DefaultTopicsTimeout applies; a
// broker that cannot be reached in that time is an error.
func CreateTopics(ctx context.Context, cfg Config, cat *catalog.Catalog) (created []string, err error) {
	specs := topicSpecs(cat)
	if len(specs) == 0 {
		return nil, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTopicsTimeout)
		defer cancel()
	}
	cm := cfg.ConfigMap(nil)
	admin, err := ck.NewAdminClient(&cm)
	if err != nil {
		return nil, fmt.Errorf("kafka: create topics: %s", cfg.Redact(err.Error()))
	}
	defer admin.Close()

	// The broker waits this long for the topics to be created on every
	// replica before it answers, so that clients starting next find them;
	// it must be shorter than the request, which ends with ctx.
	d, _ := ctx.Deadline()
	opTimeout := min(time.Until(d)/2, time.Minute)
	if opTimeout <= 0 {
		return nil, fmt.Errorf("kafka: create topics: %w", context.DeadlineExceeded)
	}
	// A cluster that is still starting refuses some creations for a while
	// (a broker not yet taking replicas: INVALID_REPLICATION_FACTOR; a
	// controller moving): those are tried again, each second, until ctx ends.
	pending := specs
	for {
		res, err := admin.CreateTopics(ctx, pending, ck.SetAdminOperationTimeout(opTimeout))
		if err != nil {
			if ctx.Err() != nil {
				return created, fmt.Errorf("kafka: create topics on %s: %w", cfg.Brokers(), context.Cause(ctx))
			}
			return created, fmt.Errorf("kafka: create topics on %s: %s", cfg.Brokers(), cfg.Redact(err.Error()))
		}
		var errs []error
		var again []ck.TopicSpecification
		byName := make(map[string]ck.TopicSpecification, len(pending))
		for _, sp := range pending {
			byName[sp.Topic] = sp
		}
		for _, r := range res {
			switch code := r.Error.Code(); {
			case code == ck.ErrNoError:
				created = append(created, r.Topic)
			case code == ck.ErrTopicAlreadyExists:
			case r.Error.IsRetriable() || code == ck.ErrInvalidReplicationFactor || code == ck.ErrNotController ||
				code == ck.ErrRequestTimedOut || code == ck.ErrNotCoordinator:
				again = append(again, byName[r.Topic])
				errs = append(errs, fmt.Errorf("kafka: create topic %s: %s", r.Topic, cfg.Redact(r.Error.Error())))
			default:
				errs = append(errs, fmt.Errorf("kafka: create topic %s: %s", r.Topic, cfg.Redact(r.Error.Error())))
			}
		}
		slices.Sort(created)
		if len(again) == 0 || len(again) < len(errs) {
			return created, errors.Join(errs...)
		}
		select {
		case <-ctx.Done():
			return created, errors.Join(errs...)
		case <-time.After(time.Second):
		}
		pending = again
	}
}

// topicSpecs returns the topics of cat and their dead-letter topics, sorted
// by name; a name declared twice (a catalog topic named like another's
// dead-letter topic) is created once, as the catalog declares it.
func topicSpecs(cat *catalog.Catalog) []ck.TopicSpecification {
	byName := map[string]ck.TopicSpecification{}
	for _, t := range cat.Topics {
		retention := strconv.FormatInt(t.RetentionMillis(), 10)
		dlq := DeadLetterTopic(t.Name)
		if _, ok := byName[dlq]; !ok {
			byName[dlq] = ck.TopicSpecification{
				Topic:         dlq,
				NumPartitions: t.Partitions,
				Config:        map[string]string{"retention.ms": retention, "cleanup.policy": "delete"},
			}
		}
		byName[t.Name] = ck.TopicSpecification{
			Topic:         t.Name,
			NumPartitions: t.Partitions,
			Config:        map[string]string{"retention.ms": retention, "cleanup.policy": t.CleanupPolicy},
		}
	}
	specs := make([]ck.TopicSpecification, 0, len(byName))
	for _, s := range byName {
		specs = append(specs, s)
	}
	slices.SortFunc(specs, func(a, b ck.TopicSpecification) int { return strings.Compare(a.Topic, b.Topic) })
	return specs
}
