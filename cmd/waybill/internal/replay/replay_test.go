package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/go-cmp/cmp"

	"github.com/waybill/waybill/cmd/waybill/internal/replay"
	"github.com/waybill/waybill/cmd/waybill/internal/root"
	"github.com/waybill/waybill/pkg/kafka/kafkatest"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "2026-11-22T09:30:00Z", want: time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)},
		{in: "2026-11-22T10:30:00.250+01:00", want: time.Date(2026, 11, 22, 9, 30, 0, 25e7, time.UTC)},
		{in: "2026-11-21", want: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)},
		{in: "15m", want: now.Add(-15 * time.Minute)},
		{in: "1h30m", want: now.Add(-90 * time.Minute)},
		{in: "7d", want: now.Add(-7 * 24 * time.Hour)},
		{in: "0s", want: now},
		{in: "-5m", bad: true},
		{in: "yesterday", bad: true},
		{in: "2026-11-22 09:30", bad: true},
		{in: "d", bad: true},
	} {
		got, err := replay.ParseTime(tc.in, now)
		switch {
		case tc.bad && err == nil:
			t.Errorf("ParseTime(%q) = %v, want an error", tc.in, got)
		case !tc.bad && (err != nil || !got.Equal(tc.want)):
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func waybill(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	code = root.Run(ctx, args, strings.NewReader(""), &out, &errOut)
	stderr = errOut.String()
	if code == 2 {
		if !strings.HasPrefix(stderr, "waybill: ") || strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, ".go:") {
			t.Errorf("exit 2: stderr = %q, want one line starting with \"waybill: \"", stderr)
		}
	} else if stderr != "" {
		t.Errorf("exit %d with stderr %q", code, stderr)
	}
	return code, out.String(), stderr
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// timed makes topic with 2 partitions of n records each, record i at t0 + i
// seconds.
func timed(t *testing.T, c *kafkatest.Cluster, topic string, n int) {
	t.Helper()
	if err := c.CreateTopic(topic, 2, nil); err != nil {
		t.Fatal(err)
	}
	var msgs []*ck.Message
	for p := range int32(2) {
		for i := range n {
			msgs = append(msgs, &ck.Message{
				TopicPartition: ck.TopicPartition{Topic: &topic, Partition: p},
				Key:            []byte(fmt.Sprintf("k%d-%d", p, i)),
				Value:          []byte{byte(i)},
				Timestamp:      t0.Add(time.Duration(i) * time.Second),
			})
		}
	}
	c.Produce(t, topic, msgs...)
}

type output struct {
	Group      string `json:"group"`
	Topic      string `json:"topic"`
	From       string `json:"from"`
	DryRun     bool   `json:"dry_run"`
	Committed  bool   `json:"committed"`
	Partitions []struct {
		Partition int32 `json:"partition"`
		Offset    int64 `json:"offset"`
		Previous  int64 `json:"previous"`
	} `json:"partitions"`
	Refused string `json:"refused"`
}

func TestReplayCommand(t *testing.T) {
	c := kafkatest.New(t)
	timed(t, c, "events", 10)
	b := []string{"--brokers", c.Brokers()}

	code, out, _ := waybill(t, append([]string{"replay", "--group", "g", "--topic", "events", "--from", "2026-11-01T12:00:06.5Z", "--format", "json"}, b...)...)
	var got output
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("replay: exit %d, %v\n%s", code, err, out)
	}
	if !got.Committed || got.DryRun || got.From != "2026-11-01T12:00:06.5Z" || len(got.Partitions) != 2 ||
		got.Partitions[0].Offset != 7 || got.Partitions[1].Offset != 7 || got.Partitions[0].Previous != -1 {
		t.Errorf("replay --format json: %s", out)
	}

	// A consumer of the group starts at offset 7 on both partitions.
	cm := c.Config().ConfigMap(map[string]any{"group.id": "g", "enable.auto.commit": false, "auto.offset.reset": "earliest"})
	cons, err := ck.NewConsumer(&cm)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	if err := cons.Subscribe("events", nil); err != nil {
		t.Fatal(err)
	}
	first := map[int32]int64{}
	for deadline := time.Now().Add(30 * time.Second); len(first) < 2 && time.Now().Before(deadline); {
		if m, ok := cons.Poll(100).(*ck.Message); ok && m.TopicPartition.Error == nil {
			if _, seen := first[m.TopicPartition.Partition]; !seen {
				first[m.TopicPartition.Partition] = int64(m.TopicPartition.Offset)
			}
		}
	}
	if diff := cmp.Diff(map[int32]int64{0: 7, 1: 7}, first); diff != "" {
		t.Errorf("the group's consumer starts at (-want +got):\n%s", diff)
	}

	// While it runs: a dry run says it would be refused; the rewind is.
	code, out, _ = waybill(t, append([]string{"replay", "--group", "g", "--topic", "events", "--from", "2026-11-01T12:00:02Z", "--dry-run"}, b...)...)
	for _, want := range []string{"dry run: would rewind group g on events to 2026-11-01T12:00:02Z", "PARTITION", "not now: group g has 1 active member"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("replay --dry-run of a running group: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	code, _, errOut := waybill(t, append([]string{"replay", "--group", "g", "--topic", "events", "--from", "2026-11-01T12:00:02Z"}, b...)...)
	if code != 2 || !strings.Contains(errOut, "active member") {
		t.Errorf("replay of a running group: exit %d, %s", code, errOut)
	}
	if err := cons.Close(); err != nil {
		t.Fatal(err)
	}

	// Stopped: the rewind goes through and says what changes.
	code, out, _ = waybill(t, append([]string{"replay", "--group", "g", "--topic", "events", "--from", "2026-11-01T12:00:02Z"}, b...)...)
	for _, want := range []string{"rewound group g on events to 2026-11-01T12:00:02Z", "5 again", "10 records to handle again"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("replay: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	// A time after every record: the end, skipping.
	code, out, _ = waybill(t, append([]string{"replay", "--group", "g", "--topic", "events", "--from", "15m"}, b...)...)
	if code != 0 || !strings.Contains(out, "skips 8") {
		t.Errorf("replay --from 15m: exit %d\n%s", code, out)
	}
}

func TestReplayErrors(t *testing.T) {
	c := kafkatest.New(t)
	timed(t, c, "events", 1)
	b := c.Brokers()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no group", []string{"replay", "--topic", "events", "--from", "1h", "--brokers", b}, "--group is required"},
		{"no topic", []string{"replay", "--group", "g", "--from", "1h", "--brokers", b}, "--topic is required"},
		{"no time", []string{"replay", "--group", "g", "--topic", "events", "--brokers", b}, "--from is required"},
		{"bad time", []string{"replay", "--group", "g", "--topic", "events", "--from", "yesterday", "--brokers", b}, `"yesterday" is not an RFC 3339 time`},
		{"argument", []string{"replay", "events"}, `unexpected argument "events"`},
		{"github format", []string{"replay", "--group", "g", "--topic", "events", "--from", "1h", "--format", "github"}, "want text or json"},
		{"unknown topic", []string{"replay", "--group", "g", "--topic", "nope", "--from", "1h", "--brokers", b}, "topic nope does not exist"},
		{"unreachable", []string{"replay", "--group", "g", "--topic", "events", "--from", "1h", "--brokers", "127.0.0.1:1", "--timeout", "2s"}, "127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := waybill(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
			}
		})
	}
}
