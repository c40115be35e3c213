package local

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	_ "github.com/eddyhq/eddy/core/sink/logsink" // log: outputs
	_ "github.com/eddyhq/eddy/core/sink/memsink"
	_ "github.com/eddyhq/eddy/core/sink/webhook"    // https:// outputs    // mem:// outputs
	_ "github.com/eddyhq/eddy/core/state/filestate" // file:// state
	_ "github.com/eddyhq/eddy/core/state/memstate"  // mem:// state
)

// Start runs fn on the local broker over the newline-delimited records of standard input, as the
// clouds run it: configured by the same EDDY_* variables (package adapters/env; the state defaults
// to mem://), outputs and dead letters through the same sinks. At the end of the input every
// window closes (Flush). It returns when the input is done, or on an error or an interrupt.
func Start(fn env.Function) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := env.Read(nil)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	_, err = Run(ctx, cfg, fn, os.Stdin, "stdin")
	return err
}

// Run runs fn over the lines of r (records named NAME:LINE) on a broker opened from cfg, drains
// it, closes every window, and returns the statistics.
func Run(ctx context.Context, cfg env.Config, fn env.Function, r io.Reader, name string) (core.Stats, error) {
	if cfg.StateURL == "" {
		cfg.StateURL = "mem://"
	}
	o, err := env.Open(ctx, cfg, fn)
	if err != nil {
		return core.Stats{}, fmt.Errorf("local: %w", err)
	}
	defer o.Close(context.Background())
	var mu sync.Mutex
	var stats core.Stats
	b, err := New(Config{Runner: o.Runner, DeadLetter: o.DeadLetter, PartitionKey: PartitionKey(fn),
		OnBatch: func(bi BatchInfo) {
			if bi.Err == nil {
				mu.Lock()
				stats.Add(bi.Result.Stats)
				mu.Unlock()
			}
		}})
	if err != nil {
		return core.Stats{}, fmt.Errorf("local: %w", err)
	}
	defer b.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		rec := core.Record{ID: name + ":" + strconv.Itoa(n), Time: time.Now(), Data: append([]byte(nil), sc.Bytes()...)}
		if err := b.Publish(ctx, rec); err != nil {
			return stats, fmt.Errorf("local: publish %s: %w", rec.ID, err)
		}
	}
	if err := sc.Err(); err != nil {
		return stats, fmt.Errorf("local: read %s: %w", name, err)
	}
	if err := b.Drain(ctx); err != nil {
		return stats, err
	}
	_, err = b.Flush(ctx) // its ticks count through OnBatch
	mu.Lock()
	defer mu.Unlock()
	return stats, err
}

// PartitionKey is what the broker partitions fn's records by: their transport key, else their
// event key when fn's key comes from the record (spec.Partitioning), else one partition for all.
func PartitionKey(fn env.Function) func(*core.Record) string {
	k, ok := fn.(env.Keyer)
	if !ok {
		return nil
	}
	cfg := k.KeyConfig()
	if cfg.KeyFunc == nil && (cfg.Key == "" || cfg.Key == "$key") {
		return nil
	}
	dec, err := codec.New(codec.Config{Format: cfg.Format, Key: cfg.Key, KeyFunc: cfg.KeyFunc, ProcessingTime: true})
	if err != nil {
		return nil
	}
	pool := sync.Pool{New: func() any { return dec.Clone() }}
	return func(rec *core.Record) string {
		if rec.Key != "" {
			return rec.Key
		}
		d := pool.Get().(*codec.Decoder)
		defer pool.Put(d)
		var ev core.Event
		if d.Decode("", rec, time.Time{}, &ev) != nil {
			return "" // the runner dead-letters it with its reason
		}
		return ev.Key
	}
}
