package kafkalog

import (
	"context"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// ensureTopic creates the topic with one partition and cleanup.policy=compact
// if it does not exist, and checks that shape if it does: a second
// partition would break the order of the log, and any other cleanup policy
// would one day delete schemas (Confluent's registry refuses both too).
func (l *Log) ensureTopic(ctx context.Context, admin *kafka.AdminClient) error {
	topic := l.cfg.Topic
	for {
		// In slices, so that a canceled ctx (Close) is noticed; and
		// again until ctx ends while Kafka is not there yet.
		md, err := admin.GetMetadata(&topic, false, min(remainingMs(ctx), int(callSlice/time.Millisecond)))
		if err != nil {
			if ctx.Err() != nil || permanent(err) {
				return fmt.Errorf("kafkalog: metadata of %s: %w", topic, err)
			}
			l.logger.Debug("kafkalog: metadata", "error", err)
		} else {
			tm, ok := md.Topics[topic]
			switch {
			case ok && tm.Error.Code() == kafka.ErrNoError:
				if n := len(tm.Partitions); n != 1 {
					return &topicError{fmt.Sprintf("kafkalog: topic %s has %d partitions, want 1", topic, n)}
				}
				return l.checkTopicConfig(ctx, admin)
			case !ok || tm.Error.Code() == kafka.ErrUnknownTopicOrPart:
				if err := l.createTopic(ctx, admin); err != nil {
					return err
				}
				// Go round: the new topic's metadata may take a moment.
			case tm.Error.Code() == kafka.ErrLeaderNotAvailable:
				// Just created, by this instance or another one.
			default:
				return fmt.Errorf("kafkalog: metadata of %s: %w", topic, tm.Error)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkalog: topic %s: %w", topic, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (l *Log) createTopic(ctx context.Context, admin *kafka.AdminClient) error {
	res, err := admin.CreateTopics(ctx, []kafka.TopicSpecification{{
		Topic:             l.cfg.Topic,
		NumPartitions:     1,
		ReplicationFactor: l.cfg.ReplicationFactor,
		Config:            map[string]string{"cleanup.policy": "compact"},
	}})
	if err != nil {
		return fmt.Errorf("kafkalog: create topic %s: %w", l.cfg.Topic, err)
	}
	for _, r := range res {
		switch r.Error.Code() {
		case kafka.ErrNoError:
			l.logger.Info("kafkalog: created topic", "partitions", 1, "cleanup.policy", "compact")
		case kafka.ErrTopicAlreadyExists: // another instance was quicker
		default:
			return fmt.Errorf("kafkalog: create topic %s: %w", l.cfg.Topic, r.Error)
		}
	}
	return nil
}

func (l *Log) checkTopicConfig(ctx context.Context, admin *kafka.AdminClient) error {
	res, err := admin.DescribeConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: l.cfg.Topic}})
	if err != nil {
		return fmt.Errorf("kafkalog: describe topic %s: %w", l.cfg.Topic, err)
	}
	for _, r := range res {
		if r.Error.Code() != kafka.ErrNoError {
			if r.Error.Code() == kafka.ErrTopicAuthorizationFailed {
				// Allowed to read and write, not to describe: trust it.
				l.logger.Warn("kafkalog: cannot check the topic's cleanup.policy", "error", r.Error)
				return nil
			}
			return fmt.Errorf("kafkalog: describe topic %s: %w", l.cfg.Topic, r.Error)
		}
		if e, ok := r.Config["cleanup.policy"]; ok && e.Value != "compact" {
			return &topicError{fmt.Sprintf("kafkalog: topic %s has cleanup.policy=%s, want compact", l.cfg.Topic, e.Value)}
		}
	}
	return nil
}

// topicError says the topic exists with a shape the log cannot use: not a
// matter of availability, Start returns it as it is.
type topicError struct{ msg string }

func (e *topicError) Error() string { return e.msg }

// remainingMs is the time left until ctx's deadline, for the client calls
// that take a timeout rather than a context.
func remainingMs(ctx context.Context) int {
	d, ok := ctx.Deadline()
	if !ok {
		return int(DefaultTimeout / time.Millisecond)
	}
	ms := time.Until(d).Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return int(ms)
}
