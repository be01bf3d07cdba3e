package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// PartitionOffset is where Rewind moves a consumer group on one partition.
type PartitionOffset struct {
	Partition int32
	// Offset is the group's new committed offset: the first record at or
	// after the time, or the partition's end (its high watermark) when no
	// record is that recent.
	Offset int64
	// Previous is the offset the group had committed before, -1 if none.
	Previous int64
}

// GroupActiveError is Rewind's refusal to move a group that has members:
// a running consumer commits its own position over the rewound offsets (and
// Kafka refuses commits from outside a live group anyway). Stop the group's
// consumers, rewind, start them again.
type GroupActiveError struct {
	Group   string
	State   string // the group's state, e.g. "Stable"
	Members int
}

func (e *GroupActiveError) Error() string {
	members := "members"
	if e.Members == 1 {
		members = "member"
	}
	return fmt.Sprintf("kafka: consumer group %s has %d active %s (state %s): stop its consumers first; a running group commits over a rewind",
		e.Group, e.Members, members, e.State)
}

// Rewind moves the committed offsets of group on every partition of topic to
// the first record whose timestamp is at or after from (Kafka's
// offsets-for-times lookup, ListOffsets by timestamp), or to the partition's
// end when it has no record that recent. The group's consumers, started
// again, begin there: every event since from is delivered again (a
// consumer's de-duplication skips those it remembers having handled). A time
// later than a partition's committed offset moves the group forward, skipping
// records.
//
// Rewind refuses with a *GroupActiveError when the group has members; it
// commits nothing then. It returns the new and previous offsets per
// partition, in partition order. Rewinding a group that does not exist yet
// creates its offsets.
func Rewind(ctx context.Context, cfg Config, group, topic string, from time.Time) ([]PartitionOffset, error) {
	c, offsets, err := planRewind(ctx, cfg, group, topic, from)
	if c != nil {
		defer c.close()
	}
	if err != nil {
		return offsets, err
	}
	tps := make([]ck.TopicPartition, len(offsets))
	for i, po := range offsets {
		tps[i] = ck.TopicPartition{Topic: &topic, Partition: po.Partition, Offset: ck.Offset(po.Offset)}
	}
	res, err := c.admin.AlterConsumerGroupOffsets(ctx, []ck.ConsumerGroupTopicPartitions{{Group: group, Partitions: tps}})
	if err != nil {
		var kerr ck.Error
		if errors.As(err, &kerr) && isMembershipError(kerr.Code()) {
			return nil, c.activeError(ctx, group, err)
		}
		return nil, c.wrap("committing offsets for group "+group, err)
	}
	for _, g := range res.ConsumerGroupsTopicPartitions {
		for _, tp := range g.Partitions {
			if tp.Error == nil {
				continue
			}
			var kerr ck.Error
			if errors.As(tp.Error, &kerr) && isMembershipError(kerr.Code()) {
				// A consumer joined between the check and the commit.
				return nil, c.activeError(ctx, group, tp.Error)
			}
			return nil, c.wrap(fmt.Sprintf("committing offsets for group %s, partition %d", group, tp.Partition), tp.Error)
		}
	}
	return offsets, nil
}

// PlanRewind is Rewind's dry run: the offsets Rewind would commit, and the
// group's current ones, with nothing committed. When the group has members
// it returns the offsets and a *GroupActiveError, which Rewind would return.
func PlanRewind(ctx context.Context, cfg Config, group, topic string, from time.Time) ([]PartitionOffset, error) {
	c, offsets, err := planRewind(ctx, cfg, group, topic, from)
	if c != nil {
		c.close()
	}
	return offsets, err
}

// isMembershipError reports whether a commit was refused because the group
// is live.
func isMembershipError(code ck.ErrorCode) bool {
	switch code {
	case ck.ErrUnknownMemberID, ck.ErrIllegalGeneration, ck.ErrRebalanceInProgress,
		ck.ErrGroupSubscribedToTopic, ck.ErrNonEmptyGroup:
		return true
	}
	return false
}

func (c *clients) activeError(ctx context.Context, group string, cause error) error {
	if state, members, err := c.describeGroup(ctx, group); err == nil && members > 0 {
		return &GroupActiveError{Group: group, State: state, Members: members}
	}
	return fmt.Errorf("kafka: committing offsets for group %s: the group is live: %s", group, c.cfg.Redact(cause.Error()))
}

// planRewind computes the rewind; the returned clients (nil on some errors)
// are the caller's to close.
func planRewind(ctx context.Context, cfg Config, group, topic string, from time.Time) (*clients, []PartitionOffset, error) {
	switch {
	case group == "":
		return nil, nil, errors.New("kafka: rewind: no consumer group")
	case topic == "":
		return nil, nil, errors.New("kafka: rewind: no topic")
	}
	c, err := newClients(cfg, "rewind")
	if err != nil {
		return nil, nil, err
	}
	parts, err := c.partitions(ctx, topic)
	if err != nil {
		if errors.Is(err, errUnknownTopic) {
			return c, nil, fmt.Errorf("kafka: rewind: topic %s does not exist", topic)
		}
		return c, nil, err
	}
	ms := max(from.UnixMilli(), 0)
	at, err := c.listOffsetsUncommitted(ctx, topic, parts, ck.NewOffsetSpecForTimestamp(ms))
	if err != nil {
		return c, nil, err
	}
	var past []int32
	for _, p := range parts {
		if at[p] < 0 {
			past = append(past, p)
		}
	}
	if len(past) > 0 {
		hw, err := c.listOffsetsUncommitted(ctx, topic, past, ck.LatestOffsetSpec)
		if err != nil {
			return c, nil, err
		}
		for p, o := range hw {
			at[p] = o
		}
	}
	prev, err := c.committed(ctx, group, topic, parts)
	if err != nil {
		return c, nil, err
	}
	offsets := make([]PartitionOffset, len(parts))
	for i, p := range parts {
		offsets[i] = PartitionOffset{Partition: p, Offset: at[p], Previous: prev[p]}
	}
	state, members, err := c.describeGroup(ctx, group)
	if err != nil {
		return c, offsets, err
	}
	if members > 0 {
		return c, offsets, &GroupActiveError{Group: group, State: state, Members: members}
	}
	return c, offsets, nil
}

// listOffsetsUncommitted is listOffsets with read_uncommitted: the end is
// the high watermark, and offsets by time count every record.
func (c *clients) listOffsetsUncommitted(ctx context.Context, topic string, parts []int32, spec ck.OffsetSpec) (map[int32]int64, error) {
	req := make(map[ck.TopicPartition]ck.OffsetSpec, len(parts))
	for _, p := range parts {
		req[ck.TopicPartition{Topic: &topic, Partition: p}] = spec
	}
	res, err := c.admin.ListOffsets(ctx, req, ck.SetAdminIsolationLevel(ck.IsolationLevelReadUncommitted))
	if err != nil {
		return nil, c.wrap("offsets of "+topic, err)
	}
	out := make(map[int32]int64, len(parts))
	for tp, info := range res.ResultInfos {
		if info.Error.Code() != ck.ErrNoError {
			return nil, c.wrap(fmt.Sprintf("offsets of %s partition %d", topic, tp.Partition), info.Error)
		}
		out[tp.Partition] = int64(info.Offset)
	}
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("kafka: offsets of %s: no answer for partition %d", topic, p)
		}
	}
	return out, nil
}

// committed returns the group's committed offset of each partition, -1 for
// none.
func (c *clients) committed(ctx context.Context, group, topic string, parts []int32) (map[int32]int64, error) {
	tps := make([]ck.TopicPartition, len(parts))
	for i, p := range parts {
		tps[i] = ck.TopicPartition{Topic: &topic, Partition: p}
	}
	out := make(map[int32]int64, len(parts))
	for _, p := range parts {
		out[p] = -1
	}
	res, err := c.admin.ListConsumerGroupOffsets(ctx, []ck.ConsumerGroupTopicPartitions{{Group: group, Partitions: tps}})
	if err != nil {
		var kerr ck.Error
		if errors.As(err, &kerr) && kerr.Code() == ck.ErrGroupIDNotFound {
			// Some brokers say so for a group with no offsets yet.
			return out, nil
		}
		return nil, c.wrap("committed offsets of group "+group, err)
	}
	for _, g := range res.ConsumerGroupsTopicPartitions {
		for _, tp := range g.Partitions {
			if tp.Error != nil {
				return nil, c.wrap(fmt.Sprintf("committed offset of group %s, partition %d", group, tp.Partition), tp.Error)
			}
			if tp.Offset >= 0 {
				out[tp.Partition] = int64(tp.Offset)
			}
		}
	}
	return out, nil
}

// describeGroup returns the group's state and how many members it has; a
// group that does not exist is "Dead" with none.
func (c *clients) describeGroup(ctx context.Context, group string) (string, int, error) {
	res, err := c.admin.DescribeConsumerGroups(ctx, []string{group})
	if err != nil {
		return "", 0, c.wrap("describing group "+group, err)
	}
	i := slices.IndexFunc(res.ConsumerGroupDescriptions, func(d ck.ConsumerGroupDescription) bool { return d.GroupID == group })
	if i < 0 {
		return "", 0, fmt.Errorf("kafka: describing group %s: no answer", group)
	}
	d := res.ConsumerGroupDescriptions[i]
	switch d.Error.Code() {
	case ck.ErrNoError:
	case ck.ErrGroupIDNotFound:
		return "Dead", 0, nil
	default:
		return "", 0, c.wrap("describing group "+group, d.Error)
	}
	return d.State.String(), len(d.Members), nil
}
