package runner_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// counter is the test Processor: it counts records per key exactly, emits one output per record
// whose id is derived from the record (so a replay yields the same id), fails records whose payload
// is "bad", and on Tick closes the keys touched since the last tick.
type counter struct {
	partition string
	counts    map[string]int64
	pending   map[string]bool
	onProcess func() // test hook, called at the start of Process
}

func newCounter(partition string) *counter {
	return &counter{partition: partition, counts: map[string]int64{}, pending: map[string]bool{}}
}

func (c *counter) Restore(snap []byte) error {
	c.counts, c.pending = map[string]int64{}, map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(snap))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		k, n, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("bad snapshot line %q", line)
		}
		pend := strings.HasPrefix(k, "*")
		k = strings.TrimPrefix(k, "*")
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return err
		}
		c.counts[k] = v
		if pend {
			c.pending[k] = true
		}
	}
	return sc.Err()
}

func (c *counter) Process(_ context.Context, b core.Batch) (core.Result, error) {
	if c.onProcess != nil {
		c.onProcess()
	}
	var res core.Result
	for _, r := range b.Records {
		if string(r.Data) == "bad" {
			res.Failures = append(res.Failures, &core.Failure{Record: r, Reason: "payload is bad"})
			res.Stats.Failed++
			continue
		}
		if string(r.Data) == "boom" {
			return core.Result{}, errors.New("processor exploded")
		}
		c.counts[r.Key]++
		c.pending[r.Key] = true
		id := r.Offset
		if id == "" {
			id = r.ID
		}
		res.Outputs = append(res.Outputs, &countOut{ID: c.partition + "/" + id, Key: r.Key, Count: c.counts[r.Key]})
		res.Stats.Events++
	}
	return res, nil
}

func (c *counter) Tick(_ context.Context, now time.Time) (core.Result, error) {
	var res core.Result
	keys := make([]string, 0, len(c.pending))
	for k := range c.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		res.Outputs = append(res.Outputs, &countOut{ID: "closed/" + k + "/" + strconv.FormatInt(c.counts[k], 10), Key: k, Count: c.counts[k], Closed: true})
		delete(c.pending, k)
	}
	return res, nil
}

func (c *counter) Snapshot() ([]byte, error) {
	keys := make([]string, 0, len(c.counts))
	for k := range c.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		if c.pending[k] {
			b = append(b, '*')
		}
		b = append(b, k...)
		b = append(b, '=')
		b = strconv.AppendInt(b, c.counts[k], 10)
		b = append(b, '\n')
	}
	return b, nil
}

func (c *counter) Heaviest() (string, string) {
	best, n := "", int64(-1)
	for k, v := range c.counts {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	return best, "global"
}

// countOut is the counter's output.
type countOut struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Count  int64  `json:"count"`
	Closed bool   `json:"closed"`
}

func (*countOut) Type() string { return "decision" }

func (o *countOut) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = core.AppendString(b, o.ID)
	b = append(b, `,"key":`...)
	b = core.AppendString(b, o.Key)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, o.Count, 10)
	if o.Closed {
		b = append(b, `,"closed":true`...)
	}
	return append(b, '}')
}

// recorder is a Sink and FailureSink that keeps everything, optionally failing.
type recorder struct {
	mu       sync.Mutex
	outs     []*countOut
	failures []*core.Failure
	fail     error
	trace    *[]string
}

func (r *recorder) Emit(_ context.Context, outs []core.Output) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	for _, o := range outs {
		if raw, ok := o.(*runner.RawOutput); ok {
			// Re-emitted from the outbox of a commit.
			var c countOut
			if err := json.Unmarshal(raw.JSON, &c); err != nil {
				return err
			}
			o = &c
		}
		r.outs = append(r.outs, o.(*countOut))
	}
	if r.trace != nil {
		*r.trace = append(*r.trace, "emit")
	}
	return nil
}

func (r *recorder) EmitFailures(_ context.Context, fs []*core.Failure) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fs...)
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, len(r.outs))
	for i, o := range r.outs {
		ids[i] = o.ID
	}
	return ids
}

func recs(key string, from, to int) []core.Record {
	var rs []core.Record
	for i := from; i <= to; i++ {
		rs = append(rs, core.Record{ID: "id-" + strconv.Itoa(i), Offset: strconv.Itoa(i), Key: key, Data: []byte("x")})
	}
	return rs
}
