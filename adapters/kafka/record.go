package kafka

import (
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/core"
)

// Partition is the runner partition (and so the state key) of a Kafka topic partition:
// "TOPIC-N", as AWS Lambda's Kafka events name them, so that a function moved between this worker
// and a Lambda Kafka event source mapping keeps its state.
func Partition(topic string, partition int32) string {
	return topic + "-" + strconv.FormatInt(int64(partition), 10)
}

// SplitPartition splits a runner partition "TOPIC-N" into topic and partition number.
func SplitPartition(p string) (topic string, partition int32, ok bool) {
	i := strings.LastIndexByte(p, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(p[i+1:], 10, 32)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return p[:i], int32(n), true
}

// Record converts a fetched Kafka record: its offset is the record's ID and Offset (so dead
// letters name topic-partition and offset), its key the Key, its timestamp the Time, and its
// headers the attributes (a repeated header keeps its last value).
func Record(r *kgo.Record) core.Record {
	off := strconv.FormatInt(r.Offset, 10)
	rec := core.Record{ID: off, Offset: off, Key: string(r.Key), Data: r.Value}
	if !r.Timestamp.IsZero() {
		rec.Time = r.Timestamp.UTC()
	}
	if len(r.Headers) > 0 {
		rec.Attrs = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			rec.Attrs[h.Key] = string(h.Value)
		}
	}
	return rec
}

// Records converts fetched records; see Record.
func Records(rs []*kgo.Record) []core.Record {
	out := make([]core.Record, len(rs))
	for i, r := range rs {
		out[i] = Record(r)
	}
	return out
}
