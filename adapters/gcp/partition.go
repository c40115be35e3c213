package gcp

import (
	"fmt"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
)

// SinglePartition is the partition of messages for which no Partitioner gives one (no ordering
// key, no attribute, no event key configured): the whole subscription is then one stream, kept in
// one state object.
const SinglePartition = "-"

// Partitioner picks the partition of a record: the ordered stream whose state it updates. It
// returns "" when it has no opinion (FirstOf then asks the next one) and an error when the record
// cannot be placed, which makes it a poison message.
type Partitioner func(rec *core.Record) (string, error)

// ByOrderingKey partitions by the message's ordering key, which Pub/Sub also delivers in order.
func ByOrderingKey(rec *core.Record) (string, error) { return rec.Key, nil }

// ByAttribute partitions by the value of one message attribute.
func ByAttribute(name string) Partitioner {
	return func(rec *core.Record) (string, error) { return rec.Attrs[name], nil }
}

// ByEventKey partitions by the event key the function's input decoder computes (cfg's Format,
// Key or KeyFunc; its time settings are ignored). A record whose key cannot be decoded is an
// error naming the record and the field. A config without a key of the record's own (no Key, or
// "$key", the transport key itself) has none to give: the Partitioner has no opinion, so that
// FirstOf puts keyless messages in SinglePartition (see spec.Partitioning).
func ByEventKey(cfg codec.Config) (Partitioner, error) {
	if cfg.KeyFunc == nil && (cfg.Key == "" || cfg.Key == "$key") {
		return func(*core.Record) (string, error) { return "", nil }, nil
	}
	cfg.Paths = nil
	cfg.Time, cfg.TimeFunc, cfg.TimeFormat, cfg.ProcessingTime = "", nil, "", true
	dec, err := codec.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("gcp: partition by event key: %w", err)
	}
	// Decoders keep scratch state; each concurrent invocation takes its own clone.
	pool := sync.Pool{New: func() any { return dec.Clone() }}
	return func(rec *core.Record) (string, error) {
		d := pool.Get().(*codec.Decoder)
		defer pool.Put(d)
		var ev core.Event
		if err := d.Decode("", rec, time.Time{}, &ev); err != nil {
			return "", err
		}
		return ev.Key, nil
	}, nil
}

// FirstOf asks each partitioner in turn and returns the first partition that is not "", or
// SinglePartition when none gives one.
func FirstOf(ps ...Partitioner) Partitioner {
	return func(rec *core.Record) (string, error) {
		for _, p := range ps {
			part, err := p(rec)
			if err != nil {
				return "", err
			}
			if part != "" {
				return part, nil
			}
		}
		return SinglePartition, nil
	}
}
