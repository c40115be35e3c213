// Command crashproc is the crash-test subject for package runner: it runs a Runner with the file
// store over a deterministic stream of records, appending each output as a JSON line to a file,
// and can be SIGKILLed at any point. Restarted, it resumes (redelivering from the first record, as
// a trigger that lost its checkpoint would) and must end with exact per-key counts and, after
// dropping duplicate ids, exactly the outputs of an uninterrupted run.
//
//	crashproc -state DIR -out FILE [-n 3000] [-keys 40] [-batch 25]   process, exit 0 when done
//	crashproc -state DIR -dump                                       print the final counts as JSON
//
// With -pipeline -tick a second Runner ticks the partition all along, racing the batches: the
// outputs then depend on who wins each race, but no id may ever carry two contents.
//
// With -pipeline it runs a real function instead of the counter (a spec with windows, a threshold
// rule, an anomaly detector and a pattern) over the standard generated events; -dump then prints
// the stored offset and a hash of the snapshot.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/filestate"
	"github.com/eddyhq/eddy/examples/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashproc:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("state", "", "state directory")
	out := flag.String("out", "", "output file (JSON lines, appended)")
	n := flag.Int("n", 3000, "records")
	keys := flag.Int("keys", 40, "distinct keys")
	batch := flag.Int("batch", 25, "records per batch")
	dump := flag.Bool("dump", false, "print the stored counts and exit")
	real := flag.Bool("pipeline", false, "run a real function (spec pipeline) over standard events")
	tick := flag.Bool("tick", false, "with -pipeline: tick the partition from a second Runner all along, racing the batches")
	flag.Parse()
	ctx := context.Background()
	// A small chunk size makes the state span several files, so kills also land between chunk
	// writes, head write and chunk deletes.
	store, err := filestate.Open(*dir, &state.Options{ChunkSize: 256})
	if err != nil {
		return err
	}
	if *dump {
		e, err := store.Get(ctx, "crash/shard-0")
		if err != nil {
			return err
		}
		var env runner.Envelope
		if err := env.Unmarshal(e.Value); err != nil {
			return err
		}
		if *real {
			sum := sha256.Sum256(env.Snapshot)
			return json.NewEncoder(os.Stdout).Encode(map[string]any{"offset": env.Offset, "snapshot": hex.EncodeToString(sum[:])})
		}
		var c counts
		if err := c.Restore(env.Snapshot); err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"offset": env.Offset, "counts": c.m})
	}
	sink, err := openSink(*out)
	if err != nil {
		return err
	}
	newProc := func(string) (runner.Processor, error) { return &counts{m: map[string]int64{}}, nil }
	recs := make([]core.Record, *n)
	for i := range recs {
		recs[i] = core.Record{ID: "r" + strconv.Itoa(i+1), Offset: strconv.Itoa(i + 1), Key: "k" + strconv.Itoa((i*31)%*keys)}
	}
	if *real {
		src := pipelineSpec
		if *tick {
			// Ticks close windows only once the partition is idle; batches all carry one Now, so
			// with 1ms every tick past it closes the windows its time has passed.
			src = strings.Replace(src, "allowed_lateness: 500ms", "allowed_lateness: 500ms, idle_timeout: 1ms", 1)
		}
		f, err := spec.Parse("crash.yaml", []byte(src))
		if err != nil {
			return err
		}
		c, err := f.Compile(spec.Options{})
		if err != nil {
			return err
		}
		newProc = func(string) (runner.Processor, error) { return c.NewPipeline() }
		recs = bench.Records(bench.Generate(9, *n, *keys))
	}
	r, err := runner.New(runner.Config{Function: "crash", Store: store, Sink: sink, New: newProc})
	if err != nil {
		return err
	}
	var progress atomic.Int64
	tickErr := make(chan error, 1)
	stop := make(chan struct{})
	if *tick {
		ticker, err := runner.New(runner.Config{Function: "crash", Store: store, Sink: sink, New: newProc})
		if err != nil {
			return err
		}
		go func() {
			// Each tick's time runs a little ahead of the events being applied, so it closes the
			// windows the racing batches are still filling.
			for {
				select {
				case <-stop:
					tickErr <- nil
					return
				default:
				}
				now := time.UnixMilli(bench.Start + progress.Load() + 700)
				if _, err := ticker.Tick(ctx, "shard-0", now); err != nil {
					tickErr <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	for lo := 0; lo < *n; lo += *batch {
		b := core.Batch{Partition: "shard-0", Records: recs[lo:min(*n, lo+*batch)], Now: time.Unix(1700000000, 0)}
		if _, err := r.Run(ctx, b); err != nil {
			return err
		}
		progress.Store(int64(lo + *batch))
	}
	if *tick {
		close(stop)
		return <-tickErr
	}
	return nil
}

// pipelineSpec is the real function of -pipeline: every kind of output, including late events
// (the generated stream is up to 2 s out of order, the spec allows 1 s).
const pipelineSpec = `
name: crash
input: {key: key, time: ts, time_format: unix_ms, out_of_order: 1s}
window: {tumbling: 2s, allowed_lateness: 500ms}
aggregates:
  - {name: n, count: true}
  - {name: avg, avg: value}
rules:
  - {name: high, when: avg > 60.0, clear: avg < 45.0, for: 2}
anomalies:
  - {name: jump, aggregate: avg, method: ewma, alpha: 0.3, threshold: 2.5, warmup: 3}
patterns:
  - name: hot-cold
    steps: [{name: hot, where: value > 90.0, times: 2}, {name: cold, where: value < 10.0}]
    within: 5s
`

// counts is a Processor counting records per key; each record yields one output whose id is its
// offset and which carries the key's running count.
type counts struct{ m map[string]int64 }

func (c *counts) Restore(snap []byte) error {
	c.m = map[string]int64{}
	if len(snap) == 0 {
		return nil
	}
	return json.Unmarshal(snap, &c.m)
}

func (c *counts) Process(_ context.Context, b core.Batch) (core.Result, error) {
	var res core.Result
	for _, r := range b.Records {
		c.m[r.Key]++
		res.Outputs = append(res.Outputs, &line{ID: r.Offset, Key: r.Key, Count: c.m[r.Key]})
	}
	return res, nil
}

func (c *counts) Tick(context.Context, time.Time) (core.Result, error) { return core.Result{}, nil }

func (c *counts) Snapshot() ([]byte, error) { return json.Marshal(c.m) } // sorted keys: deterministic

type line struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

func (*line) Type() string { return "decision" }

func (l *line) AppendJSON(b []byte) []byte {
	j, _ := json.Marshal(l)
	return append(b, j...)
}

// fileSink appends outputs as JSON lines, one write and one fsync per emit. A kill can tear the
// last line; opening the sink cuts the file back to its last complete line.
type fileSink struct {
	mu sync.Mutex
	f  *os.File
}

func openSink(path string) (*fileSink, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	keep := bytes.LastIndexByte(b, '\n') + 1
	if err := f.Truncate(int64(keep)); err != nil {
		return nil, err
	}
	if _, err := f.Seek(int64(keep), io.SeekStart); err != nil {
		return nil, err
	}
	return &fileSink{f: f}, nil
}

func (s *fileSink) Emit(_ context.Context, outs []core.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []byte
	for _, o := range outs {
		b = o.AppendJSON(b)
		b = append(b, '\n')
	}
	if _, err := s.f.Write(b); err != nil {
		return err
	}
	return s.f.Sync()
}
