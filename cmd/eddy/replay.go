package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/internal/archive"
)

type replayOpts struct {
	spec, input, output, deadLetter string
	batch, workers                  int
	progress                        string
	from, to, onCorrupt             string
	compare                         string
	viewStore                       string
}

func newReplayCmd(e *env) *cobra.Command {
	var o replayOpts
	cmd := &cobra.Command{
		Use:   "replay --input FILE [--spec eddy.yaml] [--output FILE]",
		Short: "Re-run a function over recorded events, as fast as possible",
		Long: `replay re-executes a function over recorded history: newline-delimited records (JSON objects,
or whatever the spec's input.format says), plain or gzip-compressed, from a file or stdin (-).
It writes the window results, decisions and late events as JSON lines (eddy's output contract;
the spec's outputs section selects and formats them) to stdout or --output, and ends the stream
at the end of the input: every window fires and closes, pending patterns resolve.

The input can also be a cloud's own archive of the stream: --input s3://BUCKET/PREFIX/ (Amazon
Data Firehose objects: JSON lines or JSON back to back, plain or gzip), azblob://CONTAINER/PREFIX/
(Event Hubs Capture Avro files), gs://BUCKET/PREFIX/ (Pub/Sub Cloud Storage subscription objects,
text or Avro), or file:///DIR/ (a copy of any of them). Credentials and endpoints come as for
gocloud.dev/blob (the SDKs' environment, URL parameters such as ?region= or ?endpoint=). --from and
--to pick the objects whose date prefixes or names fall in a time range (with an hour's margin for
the archives' buffering); --on-corrupt says whether an object that cannot be read to the end fails
the replay or is skipped (and reported).

The records are one partition in file order, as one shard would deliver them (a Capture archive's
partitions run one after the other, each with its own watermark); the event time, the watermark and
the lateness rules are the same as in a deployment, so a replay reproduces what the cloud computed.
The keys are split over --workers pipelines (one per core by default), each with the watermark of
the whole stream, and their outputs merged into one order: the output is the same for any number
of workers. Records that cannot be decoded are counted and listed (--dead-letter FILE keeps them
all as JSON lines). A summary (events, late, failed, decisions, events/s) goes to stderr, after a
progress bar when stderr is a terminal.

--compare OLD.yaml replays the input with both versions of the function and reports, as JSON lines,
the decisions that differ by rule, key and window: added, removed or changed.

--view-store URL also writes the function's materialized views (its spec's views:, else a latest,
a history, a firing and a decisions view) to that store, for eddy dashboard --view URL to show the
backtest. The outputs fold into each key's rows in memory and are written when 50,000 are held and
at the end.`,
		Example: `  # Replay a day of history, results to a file
  eddy replay --spec eddy.yaml --input events-2025-11-25.ndjson.gz --output results.ndjson

  # The standard workload W1 over generated events, decisions only
  eddy replay --spec examples/bench/w1.yaml --input w1.ndjson | grep '"type":"decision"'

  # Backtest a rule change: the decisions the new version adds, drops or changes
  eddy replay --spec eddy.yaml --compare eddy-old.yaml --input history.ndjson.gz

  # A day of Firehose objects in S3, on every core
  eddy replay --spec eddy.yaml --input s3://my-archive/readings/ --from 2025-11-25 --to 2025-11-26`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.input == "" {
				return usagef("replay needs --input FILE (or --input - for stdin)")
			}
			return replay(cmd.Context(), e, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.spec, "spec", "s", "", "function spec (default ./eddy.yaml)")
	fl.StringVarP(&o.input, "input", "i", "", "recorded records, one per line, gzip or plain; - for stdin")
	fl.StringVarP(&o.output, "output", "o", "", "where results go (default stdout)")
	fl.StringVar(&o.deadLetter, "dead-letter", "", "write records that fail to decode to this file as JSON lines")
	fl.IntVar(&o.batch, "batch", 0, "records per pipeline batch; 0 picks one (the results do not depend on it)")
	fl.IntVarP(&o.workers, "workers", "w", 0, "pipelines the keys are split over; 0 means one per core (the results do not depend on it)")
	fl.StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (when a terminal), always or never")
	fl.StringVar(&o.from, "from", "", "archive inputs: read the objects from this time on (RFC 3339 or YYYY-MM-DD[THH:MM])")
	fl.StringVar(&o.to, "to", "", "archive inputs: read the objects up to this time")
	fl.StringVar(&o.compare, "compare", "", "replay this older spec too and report the decisions that differ from --spec's (added, removed, changed)")
	fl.StringVar(&o.viewStore, "view-store", "", "also write the function's views (its spec's views:, else a latest, history, firing and decisions view) to this store: file:///DIR, dynamodb://..., firestore://..., azuretable://...")
	fl.StringVar(&o.onCorrupt, "on-corrupt", "fail", "archive inputs: an object that cannot be read to the end (broken gzip or Avro): fail or skip (reported)")
	return cmd
}

// replayStats is what a replay did.
type replayStats struct {
	core.Stats
	elapsed time.Duration
	// failures are the first few records that failed, for the summary.
	failures []*core.Failure
	// peak is the largest window state seen (sampled every stateSampleEvery batches and at the
	// end): keys, estimated bytes, and the largest key's bytes at that moment.
	peakKeys, peakBytes, peakKeyBytes int
}

// peakRSS is the process's peak resident memory in kB (VmHWM), or 0 where /proc does not say.
func peakRSS() int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.Atoi(f[0])
				return kb
			}
		}
	}
	return 0
}

// byteSize writes n bytes in the unit that reads best.
func byteSize(n int) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// stateSampleEvery is how often (in batches) replay measures its window state for the summary's
// peak: measuring walks every key, so it is done rarely enough to cost nothing measurable.
const stateSampleEvery = 32

// sampleState records the run's state size if it is the largest so far.
func (st *replayStats) sampleState(sr *splitRun) {
	keys, bytes, maxKey := sr.stateSize()
	if bytes > st.peakBytes {
		st.peakKeys, st.peakBytes, st.peakKeyBytes = keys, bytes, maxKey
	}
}

// printSummary writes the closing lines of a replay or a dev run.
func printSummary(w io.Writer, st replayStats) {
	secs := st.elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(st.Events) / secs
	}
	fmt.Fprintf(w, "%d events in %s (%.0f events/s): %d window results, %d decisions, %d late, %d failed\n",
		st.Events, st.elapsed.Round(time.Millisecond), rate, st.Windows, st.Decisions, st.Late, st.Failed)
	if st.peakKeys > 0 {
		fmt.Fprintf(w, "window state at its peak: %d keys, %s, %d bytes per key on average, %d for the largest key (estimated; limits.max_keys bounds the keys)\n",
			st.peakKeys, byteSize(st.peakBytes), st.peakBytes/st.peakKeys, st.peakKeyBytes)
	}
	for _, f := range st.failures {
		fmt.Fprintf(w, "  failed: %v\n", f)
	}
	if st.Failed > len(st.failures) && len(st.failures) > 0 {
		fmt.Fprintf(w, "  ... and %d more\n", st.Failed-len(st.failures))
	}
}

func replay(ctx context.Context, e *env, o replayOpts) error {
	if o.batch < 0 {
		return usagef("--batch %d: want at least 1, or 0 to let replay pick", o.batch)
	}
	f, c, err := loadSpec(o.spec)
	if err != nil {
		return err
	}
	if o.viewStore != "" && o.compare != "" {
		return usagef("--view-store and --compare: write the views of one version at a time")
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		return usagef("--progress %q: want auto, always or never", o.progress)
	}
	from, to, onCorrupt, err := archiveFlags(o)
	if err != nil {
		return err
	}
	if o.workers < 0 {
		return usagef("--workers %d: want at least 1, or 0 for one per core", o.workers)
	}
	if o.compare != "" {
		return replayCompare(ctx, e, o)
	}
	showBar := o.progress == "always" || o.progress == "auto" && e.stderrTTY
	var bar *progressbar.ProgressBar
	newBar := func(size int64, what string) {
		bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(e.stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(what), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30))
	}

	var src recordSource
	var arch *archive.Reader
	if isArchive(o.input) {
		opts := archive.Options{From: from, To: to, OnCorrupt: onCorrupt,
			Warn: func(err error) {
				fmt.Fprintf(e.stderr, "eddy: skipped a corrupt object (--on-corrupt skip): %v\n", err)
			}}
		var objects int
		if showBar {
			opts.Progress = func(i int, key string, n int64) {
				if n == 0 {
					bar.Describe(fmt.Sprintf("replay: object %d of %d", i+1, objects))
				}
				_ = bar.Add64(n)
			}
		}
		if arch, err = archive.Open(ctx, o.input, opts); err != nil {
			return err
		}
		var size int64
		for _, obj := range arch.Objects() {
			size += obj.Size
		}
		objects = len(arch.Objects())
		if showBar {
			newBar(size, "replay")
		}
		src = arch
	} else {
		in, size, err := openInput(e, o.input)
		if err != nil {
			return err
		}
		var r io.Reader = in
		if showBar {
			newBar(size, "replay")
			pr := progressbar.NewReader(in, bar)
			r = &pr
		}
		name := filepath.Base(o.input)
		if o.input == "-" {
			name = "stdin"
		}
		lines, err := codec.NewLines(r, name)
		if err != nil {
			in.Close()
			return fmt.Errorf("input: %w", err)
		}
		src = closeBoth{lines, in}
	}
	out, closeOut, err := openOutput(e, o.output)
	if err != nil {
		src.Close()
		return err
	}
	var dl *failureSink
	closeDL := func() error { return nil }
	if o.deadLetter != "" {
		w, cl, err := openOutput(e, o.deadLetter)
		if err != nil {
			src.Close()
			return fmt.Errorf("dead letter: %w", err)
		}
		dl, closeDL = &failureSink{w: w, json: true}, cl
	}
	heap := newHeapBudget()
	defer heap.restore()
	if arch != nil {
		heap.reserve(archiveHeap)
	}
	workers := o.workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	batch := o.batch
	if batch == 0 {
		batch = defaultBatch(workers)
	}
	var views *replayViews
	var tees []func(*splitRun)
	if o.viewStore != "" {
		if views, err = openReplayViews(ctx, f, o.viewStore); err != nil {
			src.Close()
			return err
		}
		tees = append(tees, views.attach)
		heap.reserve(replayViewsHeap)
	}
	st, err := runReplayFrom(ctx, c, src, out, dl, batch, workers, heap.check, tees...)
	if views != nil {
		if verr := views.flush(ctx); err == nil {
			err = verr
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if cerr := closeOut(); err == nil && cerr != nil {
		err = fmt.Errorf("output: %w", cerr)
	}
	if cerr := closeDL(); err == nil && cerr != nil {
		err = fmt.Errorf("dead letter: %w", cerr)
	}
	if err != nil {
		return err
	}
	printSummary(e.stderr, st)
	if kb := peakRSS(); kb > 0 {
		fmt.Fprintf(e.stderr, "peak resident memory: %s\n", byteSize(kb<<10))
	}
	if arch != nil {
		if sk := arch.Skipped(); len(sk) > 0 {
			fmt.Fprintf(e.stderr, "%d corrupt objects skipped (--on-corrupt skip); the records read from them before the damage were replayed\n", len(sk))
		}
	}
	if st.Failed > 0 && dl == nil {
		fmt.Fprintf(e.stderr, "%d records failed to decode; rerun with --dead-letter FILE to keep them all\n", st.Failed)
	}
	return nil
}

// defaultBatch is the batch size replay picks: large enough that a phase (one batch run while the
// next is decoded) costs little beside its work, small enough that the batches in flight (three
// read, two decoded, the outputs of two) stay a few megabytes: at 4,096 records they kept 3 MB more
// live on W1 than at 2,048, enough to make the heap budget grow. The batch grows with the workers
// past four, so that each share's part of a chunk stays a run of records.
func defaultBatch(workers int) int {
	return max(2048, 512*workers)
}

// runReplay is the hot loop: lines split in batches straight out of the input buffer (no copy, no
// allocation per line) by a reader goroutine, each batch decoded and run on workers pipelines that
// split the keys between them (see splitRun), their outputs merged into one order that does not
// depend on workers, one flush at the end.
func runReplay(ctx context.Context, c *spec.Compiled, r io.Reader, name string, out io.Writer, dl *failureSink, batch, workers int, between func()) (replayStats, error) {
	lines, err := codec.NewLines(r, name)
	if err != nil {
		return replayStats{}, fmt.Errorf("input: %w", err)
	}
	return runReplayFrom(ctx, c, lines, out, dl, batch, workers, between)
}

// recordSource is where a replay's records come from: a codec.Lines or an archive.Reader.
// NextBatch's records stay valid until the third call after.
type recordSource interface {
	NextBatch(recs []core.Record) int
	Err() error
	Close() error
}

// runReplayFrom is runReplay over any record source, which it closes.
// tees see each split run before it starts (--view-store attaches its buffers).
func runReplayFrom(ctx context.Context, c *spec.Compiled, lines recordSource, out io.Writer, dl *failureSink, batch, workers int, between func(), tees ...func(*splitRun)) (replayStats, error) {
	var st replayStats
	start := time.Now()
	if workers < 1 {
		workers = 1
	}
	pool := newWorkPool(runtime.GOMAXPROCS(0))
	defer pool.close()
	var src *batchSource
	defer func() {
		if src != nil {
			src.close()
		} else {
			_ = lines.Close()
		}
	}()
	w := bufio.NewWriterSize(out, 256<<10)
	// An archive of several partitions (Event Hubs Capture) replays one after the other, each with
	// its own watermark, as the live function ran them.
	pp, parted := lines.(partitioned)
	for {
		part := replayPartition
		if parted && pp.Partition() != "" {
			part = pp.Partition()
		}
		sr, err := newSplitRun(c, workers, part, pool)
		if err != nil {
			return st, err
		}
		for _, tee := range tees {
			tee(sr)
		}
		src = newBatchSource(lines, batch)
		// b is the batch decoded and next to run; each round runs it while it decodes the one after.
		b, err := src.next(ctx)
		if err != nil {
			return st, err
		}
		sr.start(b.recs, b.now)
		for nb := 1; len(b.recs) > 0; nb++ {
			nx, err := src.next(ctx)
			if err != nil {
				return st, err
			}
			bst, fails, err := sr.batch(ctx, nx.recs, nx.now, w)
			if err != nil {
				return st, err
			}
			if err := st.addBatch(ctx, bst, fails, dl); err != nil {
				return st, err
			}
			src.release(b)
			b = nx
			if nb%stateSampleEvery == 0 {
				st.sampleState(sr)
			}
			if between != nil {
				between()
			}
		}
		bst, fails, err := sr.drain(ctx, w)
		if err != nil {
			return st, err
		}
		if err := st.addBatch(ctx, bst, fails, dl); err != nil {
			return st, err
		}
		if err := lines.Err(); err != nil {
			return st, fmt.Errorf("input: %w", err)
		}
		st.sampleState(sr)
		fst, err := sr.flush(ctx, w)
		if err != nil {
			return st, err
		}
		st.Add(fst)
		if !parted || !pp.NextPartition() {
			break
		}
		src.stop()
		src = nil
	}
	if err := w.Flush(); err != nil {
		return st, fmt.Errorf("write output: %w", err)
	}
	st.elapsed = time.Since(start)
	return st, nil
}

// partitioned is a record source of several partitions, read one after the other.
type partitioned interface {
	Partition() string
	NextPartition() bool
}

// addBatch counts a batch and hands its failures to the dead-letter sink, keeping the first few.
func (st *replayStats) addBatch(ctx context.Context, bst core.Stats, fails []posFailure, dl *failureSink) error {
	st.Add(bst)
	if len(fails) == 0 {
		return nil
	}
	fs := make([]*core.Failure, len(fails))
	for i, pf := range fails {
		f := pf.f
		fs[i] = f
		if len(st.failures) < 5 {
			// The record's data is the input buffer's, which the next batches reuse.
			kept := *f
			kept.Record.Data = bytes.Clone(f.Record.Data)
			st.failures = append(st.failures, &kept)
		}
	}
	if dl != nil {
		return dl.EmitFailures(ctx, fs)
	}
	return nil
}

// batchSource hands out batches of records from a Lines, read ahead by a goroutine. Lines.NextBatch
// keeps a batch's data until the third call after, so three batches can be in flight: the one being
// run, the next one being decoded, and the one after being read.
type batchSource struct {
	lines recordSource

	// full carries read batches (an empty one at the end), free returns processed ones, quit stops
	// the reader, done closes when it has returned.
	full, free chan *readBatch
	quit, done chan struct{}
	ended      bool // the reader sent its last batch
	closed     bool
}

// readBatch is one batch of records.
type readBatch struct {
	recs []core.Record
	now  time.Time
}

// replayPartition is the partition name of a replay's records.
const replayPartition = "replay"

// readAhead is the number of batches in flight.
const readAhead = 3

// newBatchSource reads batches of size n from lines on a goroutine of its own.
func newBatchSource(lines recordSource, n int) *batchSource {
	s := &batchSource{lines: lines}
	s.full, s.free = make(chan *readBatch, readAhead), make(chan *readBatch, readAhead)
	s.quit, s.done = make(chan struct{}), make(chan struct{})
	for range readAhead {
		s.free <- &readBatch{recs: make([]core.Record, n)}
	}
	go s.read()
	return s
}

func (s *batchSource) read() {
	defer close(s.done)
	for {
		var b *readBatch
		select {
		case b = <-s.free:
		case <-s.quit:
			return
		}
		b.recs = b.recs[:s.lines.NextBatch(b.recs[:cap(b.recs)])]
		b.now = time.Now()
		select {
		case s.full <- b:
		case <-s.quit:
			return
		}
		if len(b.recs) == 0 {
			return
		}
	}
}

// next returns the next batch, empty at the end of the input or on an error (Lines.Err says which;
// once next has returned an empty batch, Lines is no longer read). The caller releases each batch
// when done with it, at most readAhead-1 batches after. next gives up waiting for the reader when
// ctx ends (an interrupt while stdin is quiet).
func (s *batchSource) next(ctx context.Context) (*readBatch, error) {
	select {
	case b := <-s.full:
		s.ended = len(b.recs) == 0
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release hands a batch next returned back for reading.
func (s *batchSource) release(b *readBatch) {
	s.free <- b
}

// close stops the reader goroutine, if any, and closes Lines once nothing reads it. It does not wait
// for a reader blocked on its input (stdin, after an error or an interrupt): that one is left to
// finish on its own, and Lines unclosed (which only leaves its memory to the collector).
func (s *batchSource) close() {
	if s.stop() {
		_ = s.lines.Close()
	}
}

// stop stops the reader goroutine, if any, and reports whether it has returned (false: it is
// blocked on its input).
func (s *batchSource) stop() bool {
	if s.closed {
		return false
	}
	s.closed = true
	close(s.quit)
	if s.ended {
		<-s.done // it is returning
	}
	select {
	case <-s.done:
	default:
		return false
	}
	return true
}
