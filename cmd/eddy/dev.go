package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/adapters/local"
	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/internal/demo"

	// The state stores `eddy dev --state` opens.
	_ "github.com/eddyhq/eddy/core/state/filestate"
	_ "github.com/eddyhq/eddy/core/state/memstate"
)

// defaultIngest is where `eddy dev` listens for events when given no other input, and where `eddy
// send` sends them.
const defaultIngest = "127.0.0.1:8787"

type devOpts struct {
	spec       string
	inputs     []string
	from       []string
	listen     string
	generate   bool
	rate       float64
	count      int
	keys       int
	partitions int
	batchSize  int
	maxWait    time.Duration
	tick       time.Duration
	attempts   int
	failRate   float64
	stateURL   string
	output     string
	deadLetter string
	noFlush    bool
	logLevel   string
	demo       bool
	ui         bool
	uiAddr     string
	viewStore  string
	metrics    string // --metrics, see metrics.go
}

func newDevCmd(e *env) *cobra.Command {
	var o devOpts
	cmd := &cobra.Command{
		Use:   "dev [--spec eddy.yaml] [--input FILE]... [--listen ADDR] [--generate]",
		Short: "Run a function locally on an in-memory broker that delivers like the clouds",
		Long: `dev runs a function on your machine the way a cloud would run it: events are partitioned by
key (input.key of the spec) over --partitions partitions, each partition delivers ordered batches
of up to --batch-size records (or what arrived within --max-wait) to the function one batch at a
time, state is kept between batches in --state (mem:// or file:///DIR), and a batch that fails is
delivered again (the function skips what it already applied). Records that cannot be decoded go
to the dead-letter output (stderr, or --dead-letter FILE). Window results, decisions and late
events print live as JSON lines on stdout (or --output FILE). Output and dead-letter files are
appended to: restarted on the same --state, dev goes on where it stopped, keeps what it wrote
before, and cuts a torn last line a kill left; outputs it re-emits carry the ids of the first copy.

Events come from files (--input, - for stdin), Kafka topics (--from kafka://BROKERS/TOPIC, read
from the start until interrupted), the HTTP ingest endpoint (--listen; POST
newline-delimited events to /events, or use eddy send), or the built-in generator (--generate:
{"key","ts","value"} events now and then hot or cold). With only finite inputs, dev ends when they
are processed and, unless --no-flush, closes every window first, like the end of a replay. With
--listen or an endless generator it runs until interrupted (Ctrl-C), then drains and flushes.

With no input flag, dev reads stdin when it is a pipe and otherwise listens on ` + defaultIngest + `.`,
		Example: `  # In a project directory (./eddy.yaml): listen on 127.0.0.1:8787, send events from another shell
  eddy dev
  eddy send --input events.ndjson

  # Run over a file and stop at its end
  eddy dev --spec examples/bench/w1.yaml --input events.ndjson

  # Generated events, 200 per second over 20 keys, with 5% of the batches failing once
  eddy dev --generate --rate 200 --keys 20 --fail-rate 0.05`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.generate = o.generate || cmd.Flags().Changed("count")
			return dev(cmd.Context(), e, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.spec, "spec", "s", "", "function spec (default ./eddy.yaml)")
	fl.StringArrayVarP(&o.inputs, "input", "i", nil, "newline-delimited events to publish (gzip or plain); - for stdin; repeatable")
	fl.StringArrayVar(&o.from, "from", nil, "a Kafka topic to read from its start, kafka://BROKERS/TOPIC; repeatable")
	fl.StringVarP(&o.listen, "listen", "l", "", "serve the HTTP ingest endpoint on this address (e.g. "+defaultIngest+")")
	fl.BoolVarP(&o.generate, "generate", "g", false, "publish generated events")
	fl.BoolVar(&o.demo, "demo", false, "run the embedded demo: a machine-health function over five minutes of generated telemetry")
	fl.Float64Var(&o.rate, "rate", 100, "generated events per second")
	fl.IntVar(&o.count, "count", 0, "stop the generator after this many events (0: until interrupted)")
	fl.IntVar(&o.keys, "keys", 10, "number of keys the generator uses")
	fl.IntVarP(&o.partitions, "partitions", "p", local.DefaultPartitions, "number of partitions")
	fl.IntVarP(&o.batchSize, "batch-size", "b", local.DefaultBatchSize, "most records per batch")
	fl.DurationVar(&o.maxWait, "max-wait", local.DefaultMaxWait, "how long a partition waits to fill a batch")
	fl.DurationVar(&o.tick, "tick", local.DefaultTickInterval, "how often idle partitions are ticked (idle timeouts)")
	fl.IntVar(&o.attempts, "max-attempts", 0, "deliveries of a failing batch before it is dead-lettered (0: retry until it succeeds)")
	fl.Float64Var(&o.failRate, "fail-rate", 0, "fraction of batch deliveries to fail on purpose, to watch redelivery")
	fl.StringVar(&o.stateURL, "state", "mem://", "state store URL: mem:// or file:///DIR")
	fl.StringVarP(&o.output, "output", "o", "", "where results go: a file (appended to, so a restart keeps what earlier runs wrote), or an output URL (log:, file://, kinesis://, rabbit://, https://, …; default stdout)")
	fl.StringVar(&o.deadLetter, "dead-letter", "", "append dead-lettered records to this file as JSON lines, or send them to an output URL as dead-letter envelopes (default: stderr, in words)")
	fl.BoolVar(&o.noFlush, "no-flush", false, "at the end, leave open windows open instead of closing them")
	fl.StringVar(&o.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	fl.BoolVar(&o.ui, "ui", false, "serve the dashboard (views, live outputs, partition status) on --ui-addr")
	fl.StringVar(&o.uiAddr, "ui-addr", defaultUI, "loopback address of the dashboard")
	fl.StringVar(&o.viewStore, "view-store", "", "keep the views in this store (mem:// or file:///DIR; default: the spec's outputs.view_store, else memory)")
	addMetricsFlag(fl, &o.metrics)
	return cmd
}

// keyer extracts the event key from a record, so the broker partitions by the spec's key.
type keyer struct {
	mu  sync.Mutex
	dec *codec.Decoder
	ev  core.Event
}

func newKeyer(f *spec.Function) (*keyer, error) {
	dec, err := codec.New(codec.Config{Format: f.Input.Format, Key: f.Input.Key, ProcessingTime: true})
	if err != nil {
		return nil, fmt.Errorf("input.key: %w", err)
	}
	return &keyer{dec: dec}, nil
}

func (k *keyer) key(rec *core.Record) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.dec.Decode("", rec, time.Time{}, &k.ev); err != nil {
		// The record will fail in the pipeline and be dead-lettered; any partition will do.
		return rec.ID
	}
	return k.ev.Key
}

// flakySink fails a fraction of the emits before writing anything: an infrastructure failure
// that makes the broker deliver the batch again.
type flakySink struct {
	runner.Sink
	rate  float64
	fails atomic.Int64
}

func (s *flakySink) Emit(ctx context.Context, outs []core.Output) error {
	if rand.Float64() < s.rate {
		s.fails.Add(1)
		return errors.New("injected failure (--fail-rate)")
	}
	return s.Sink.Emit(ctx, outs)
}

// devStats adds up what the partitions did.
type devStats struct {
	mu          sync.Mutex
	st          core.Stats
	redelivered int
	failedRuns  int
}

func (d *devStats) onBatch(bi local.BatchInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if bi.Err != nil {
		d.failedRuns++
		return
	}
	if bi.Attempt > 1 && bi.Records > 0 {
		d.redelivered++
	}
	d.st.Add(bi.Result.Stats)
}

func dev(ctx context.Context, e *env, o devOpts) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	if o.failRate < 0 || o.failRate >= 1 {
		return usagef("--fail-rate %v: want a fraction in [0, 1)", o.failRate)
	}
	if o.generate && (o.rate <= 0 || o.keys < 1) {
		return usagef("--rate and --keys must be positive")
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	if len(o.inputs) == 0 && len(o.from) == 0 && o.listen == "" && !o.generate && !o.demo {
		if e.stdinTTY {
			o.listen = defaultIngest
		} else {
			o.inputs = []string{"-"}
		}
	}
	var (
		f   *spec.Function
		c   *spec.Compiled
		err error
	)
	if o.demo {
		if o.spec != "" {
			return usagef("--demo runs its own spec: drop --spec")
		}
		f, c, err = parseSpec("demo/eddy.yaml", demo.Spec)
	} else {
		f, c, err = loadSpec(o.spec)
	}
	if err != nil {
		return err
	}
	kf, err := newKeyer(f)
	if err != nil {
		return err
	}
	store, err := state.Open(ctx, o.stateURL)
	if err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	defer store.Close()
	out, closeOut, urlOut, err := openDevOutput(ctx, e, o.output)
	if err != nil {
		return err
	}
	defer closeOut()
	ui, err := startDevUI(ctx, e, f, o.ui, o.uiAddr, o.viewStore, logger)
	if err != nil {
		return err
	}
	defer ui.close()
	sink := ui.sink(newLineSink(c, out))
	var outSink runner.Sink = sink
	if urlOut != nil {
		outSink = teeSink{sink, urlOut}
	}
	flaky := &flakySink{Sink: outSink, rate: o.failRate}
	if o.failRate > 0 {
		outSink = flaky
	}
	dl := &failureSink{w: e.stderr}
	var dlSink runner.FailureSink = dl
	if isSinkURL(o.deadLetter) {
		var cl func() error
		if dlSink, dl, cl, err = openDevDeadLetter(ctx, o.deadLetter); err != nil {
			return err
		}
		defer cl()
	} else if o.deadLetter != "" {
		w, cl, err := openAppend(e, o.deadLetter, "dead letter")
		if err != nil {
			return fmt.Errorf("dead letter: %w", err)
		}
		defer cl()
		dl = &failureSink{w: w, json: true}
		dlSink = dl
	}
	stats := &devStats{}
	met, err := startDevMetrics(o.metrics, e.stderr)
	if err != nil {
		return err
	}
	defer met.Close()
	broker, err := local.New(local.Config{
		Runner: runner.Config{
			Function: c.Name(), Store: store, Sink: outSink, DeadLetter: dlSink, Logger: logger,
			New:      func(string) (runner.Processor, error) { return c.NewPipeline() },
			Observer: met.Observer(),
		},
		Partitions: o.partitions, BatchSize: o.batchSize, MaxWait: o.maxWait, TickInterval: o.tick,
		MaxAttempts: o.attempts, DeadLetter: dlSink, PartitionKey: kf.key, OnBatch: ui.onBatch(c.Name(), stats.onBatch), Logger: logger,
	})
	if err != nil {
		return err
	}
	defer broker.Close()
	fmt.Fprintf(e.stderr, "eddy dev: function %s (%s): %d partitions, batches of up to %d records (max wait %s), state %s\n",
		c.Name(), describe(f), o.partitions, o.batchSize, o.maxWait, o.stateURL)

	start := time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if firstErr == nil && err != nil && !errors.Is(err, context.Canceled) {
			firstErr = err
			cancel()
		}
	}
	// Reference tables reload in the background at their refresh intervals until the run ends;
	// pipelines pick each new version up atomically.
	refCtx, refCancel := context.WithCancel(runCtx)
	refDone := make(chan struct{})
	go func() {
		defer close(refDone)
		_ = c.RunReference(refCtx)
	}()
	defer func() { refCancel(); <-refDone }()
	var srv *http.Server
	if o.listen != "" {
		ln, err := net.Listen("tcp", o.listen)
		if err != nil {
			return fmt.Errorf("--listen: %w (is another eddy dev running? pick another address with --listen)", err)
		}
		tcp, _ := ln.Addr().(*net.TCPAddr)
		srv = newIngestServer(met.Wrap(ingestHandler(broker, logger, ingestOptions{loopback: tcp != nil && tcp.IP.IsLoopback()})))
		fmt.Fprintf(e.stderr, "eddy dev: ingest on http://%s/events (POST newline-delimited events, or: eddy send --to http://%s --input FILE)\n", ln.Addr(), ln.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("ingest: %w", err))
			}
		}()
	}
	finite := srv == nil && (!o.generate || o.count > 0) && len(o.from) == 0
	var sources sync.WaitGroup
	for _, in := range o.inputs {
		sources.Add(1)
		go func() {
			defer sources.Done()
			fail(publishFile(runCtx, e, broker, in))
		}()
	}
	for _, from := range o.from {
		sources.Add(1)
		go func() {
			defer sources.Done()
			fail(publishKafka(runCtx, broker, from))
		}()
	}
	if o.generate {
		sources.Add(1)
		go func() {
			defer sources.Done()
			fail(generate(runCtx, broker, o.rate, o.count, o.keys))
		}()
	}
	if o.demo {
		sources.Add(1)
		go func() {
			defer sources.Done()
			fail(broker.Publish(runCtx, demo.Telemetry(12, 5)...))
		}()
	}
	if finite {
		sources.Wait()
	} else {
		<-runCtx.Done()
		fmt.Fprintln(e.stderr, "eddy dev: stopping: finishing the published events")
		sources.Wait()
	}
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}
	wg.Wait()
	errMu.Lock()
	err = firstErr
	errMu.Unlock()
	if err != nil {
		return err
	}
	// Interrupted or not, finish what was published, then end the stream.
	dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer dcancel()
	if err := broker.Drain(dctx); err != nil {
		return fmt.Errorf("drain: %w (a batch keeps failing? see the log above, or set --max-attempts)", err)
	}
	if !o.noFlush {
		if _, err := broker.Flush(dctx); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
	}
	if err := broker.Close(); err != nil {
		return err
	}
	stats.mu.Lock()
	st := replayStats{Stats: stats.st, elapsed: time.Since(start)}
	redelivered, failedRuns := stats.redelivered, stats.failedRuns
	stats.mu.Unlock()
	fmt.Fprint(e.stderr, "eddy dev: ")
	printSummary(e.stderr, st)
	if failedRuns > 0 {
		fmt.Fprintf(e.stderr, "eddy dev: %d failed deliveries, %d batches delivered again\n", failedRuns, redelivered)
	}
	if n := dl.count(); n > 0 && o.deadLetter != "" {
		fmt.Fprintf(e.stderr, "eddy dev: %d records dead-lettered to %s\n", n, o.deadLetter)
	}
	return nil
}

// publishFile publishes the records of a newline-delimited file (or stdin) in chunks.
func publishFile(ctx context.Context, e *env, b *local.Broker, path string) error {
	in, _, err := openInput(e, path)
	if err != nil {
		return err
	}
	defer in.Close()
	name := path
	if path == "-" {
		name = "stdin"
	}
	lines, err := codec.NewLines(in, name)
	if err != nil {
		return err
	}
	defer lines.Close()
	chunk := make([]core.Record, 0, 256)
	for {
		var rec core.Record
		more := lines.Next(&rec)
		if more {
			chunk = append(chunk, rec)
		}
		if len(chunk) == cap(chunk) || !more && len(chunk) > 0 {
			if err := b.Publish(ctx, chunk...); err != nil {
				return err
			}
			chunk = chunk[:0]
		}
		if !more {
			return lines.Err()
		}
	}
}

// generate publishes standard-shape events ({"key","ts","value"}, ts in unix ms, now) at a rate:
// values mostly between 20 and 80, with runs of hot (> 90) and cold (< 10) readings so that rules
// and patterns have something to find.
func generate(ctx context.Context, b *local.Broker, rate float64, count, keys int) error {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	interval := time.Duration(float64(time.Second) / rate)
	t := time.NewTicker(max(interval, time.Millisecond))
	defer t.Stop()
	perTick := max(1, int(rate/1000))
	hot := make([]int, keys) // remaining hot readings per key
	for n := 0; count == 0 || n < count; {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for i := 0; i < perTick && (count == 0 || n < count); i++ {
			k := r.IntN(keys)
			v := 20 + r.Float64()*60
			switch {
			case hot[k] > 0:
				hot[k]--
				v = 90 + r.Float64()*10
				if hot[k] == 0 {
					hot[k] = -1
				}
			case hot[k] < 0:
				hot[k] = 0
				v = r.Float64() * 10
			case r.IntN(200) == 0:
				hot[k] = 3 + r.IntN(3)
			}
			key := fmt.Sprintf("sensor-%04d", k)
			data := fmt.Appendf(nil, `{"key":%q,"ts":%d,"value":%s}`, key, time.Now().UnixMilli(), core.AppendNumber(nil, float64(int(v*100))/100))
			if err := b.Publish(ctx, core.Record{Key: key, Data: data}); err != nil {
				return err
			}
			n++
		}
	}
	return nil
}
