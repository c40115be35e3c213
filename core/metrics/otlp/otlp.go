// Package otlp exports eddy's per-partition metrics over OTLP/HTTP (protobuf) with the
// OpenTelemetry SDK, configured by the standard OTEL_EXPORTER_OTLP_* environment variables
// (endpoint, headers, timeout, TLS) and OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES: the portable
// route to any OTLP receiver (an OpenTelemetry Collector, a vendor's OTLP endpoint) from a
// serverless function.
//
// Serverless instances get CPU only while they handle a request, so a background export loop may
// never run: the Exporter exports synchronously from Observe, inside the invocation, at most once
// per Options.Interval (every invocation by default). Counters are cumulative, so an export that
// fails or is skipped loses nothing but resolution; Close exports what is left.
package otlp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// Options tune an Exporter.
type Options struct {
	// Interval is the least time between two exports (0: export after every Observation).
	Interval time.Duration
	// Logger gets export failures (default slog.Default()).
	Logger *slog.Logger
	// HTTPOptions are passed to otlpmetrichttp.New after the environment's configuration (tests
	// point the exporter elsewhere with them).
	HTTPOptions []otlpmetrichttp.Option
}

// Exporter is a runner.Observer that records every Observation into OpenTelemetry instruments
// (attributes function and partition) and pushes them over OTLP/HTTP.
type Exporter struct {
	opts     Options
	exp      sdkmetric.Exporter
	reader   *sdkmetric.ManualReader
	provider *sdkmetric.MeterProvider
	in       instruments

	mu   sync.Mutex // serializes exports
	last time.Time
	rm   metricdata.ResourceMetrics
}

type instruments struct {
	records, skipped, events, outputs, late, deadLetters, batches, ticks, errors, conflicts, roundTrips metric.Int64Counter
	commit, load                                                                                        metric.Float64Histogram
	stateBytes                                                                                          metric.Int64Gauge
	lag, age                                                                                            metric.Float64Gauge
}

// New returns an Exporter configured from the OTEL_* environment variables.
func New(ctx context.Context, opts *Options) (*Exporter, error) {
	e := &Exporter{}
	if opts != nil {
		e.opts = *opts
	}
	if e.opts.Logger == nil {
		e.opts.Logger = slog.Default()
	}
	// Retries are short: the export runs inside the invocation, and the next one carries the
	// totals anyway.
	hopts := append([]otlpmetrichttp.Option{otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{
		Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 2 * time.Second,
	})}, e.opts.HTTPOptions...)
	exp, err := otlpmetrichttp.New(ctx, hopts...)
	if err != nil {
		return nil, fmt.Errorf("otlp: exporter: %w", err)
	}
	e.exp = exp
	e.reader = sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(exp.Temporality), sdkmetric.WithAggregationSelector(exp.Aggregation))
	res, err := resource.Merge(resource.Default(), resource.Environment())
	if err != nil {
		// Conflicting schema URLs: keep the SDK's defaults rather than fail the function.
		res, err = resource.Default(), nil
	}
	e.provider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader), sdkmetric.WithResource(res))
	m := e.provider.Meter("github.com/eddyhq/eddy/core/metrics/otlp")
	counter := func(name, unit, desc string) metric.Int64Counter {
		if err != nil {
			return nil
		}
		var c metric.Int64Counter
		c, err = m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return c
	}
	in := instruments{
		records:     counter("eddy.records", "{record}", "Records handed to the function (events in), including redelivered ones."),
		skipped:     counter("eddy.records.skipped", "{record}", "Records skipped as already applied."),
		events:      counter("eddy.events", "{event}", "Records decoded and processed as events."),
		outputs:     counter("eddy.outputs", "{output}", "Outputs emitted, by type (window, decision, late)."),
		late:        counter("eddy.late_events", "{event}", "Events beyond the allowed lateness."),
		deadLetters: counter("eddy.dead_letters", "{record}", "Records written to the dead-letter output."),
		batches:     counter("eddy.batches", "{batch}", "Batches processed and committed."),
		ticks:       counter("eddy.ticks", "{tick}", "Ticks processed."),
		errors:      counter("eddy.batch_errors", "{batch}", "Batches and ticks that failed."),
		conflicts:   counter("eddy.state.conflicts", "{conflict}", "Lost races on the partition's state."),
		roundTrips:  counter("eddy.store.round_trips", "{call}", "State store calls."),
	}
	if err == nil {
		in.commit, err = m.Float64Histogram("eddy.commit.duration", metric.WithUnit("s"), metric.WithDescription("Latency of the state commit."))
	}
	if err == nil {
		in.load, err = m.Float64Histogram("eddy.load.duration", metric.WithUnit("s"), metric.WithDescription("Latency of the state read."))
	}
	if err == nil {
		in.stateBytes, err = m.Int64Gauge("eddy.state.size", metric.WithUnit("By"), metric.WithDescription("Size of the partition's stored state."))
	}
	if err == nil {
		in.lag, err = m.Float64Gauge("eddy.watermark.lag", metric.WithUnit("s"), metric.WithDescription("Processing time minus the partition's watermark."))
	}
	if err == nil {
		in.age, err = m.Float64Gauge("eddy.iterator.age", metric.WithUnit("s"), metric.WithDescription("Processing time minus the newest record's arrival time."))
	}
	if err != nil {
		return nil, fmt.Errorf("otlp: instruments: %w", err)
	}
	e.in = in
	return e, nil
}

// Observe implements runner.Observer: it records o and, when the interval has passed, exports.
func (e *Exporter) Observe(ctx context.Context, o *runner.Observation) {
	attrs := metric.WithAttributeSet(attribute.NewSet(attribute.String("function", o.Function), attribute.String("partition", o.Partition)))
	in := &e.in
	in.roundTrips.Add(ctx, int64(o.StoreCalls), attrs)
	if o.Attempts > 1 {
		in.conflicts.Add(ctx, int64(o.Attempts-1), attrs)
	}
	if o.Attempts > 0 {
		in.load.Record(ctx, o.LoadLatency.Seconds(), attrs)
	}
	if o.Commits > 0 {
		in.commit.Record(ctx, o.CommitLatency.Seconds(), attrs)
	}
	if o.Err != nil {
		in.errors.Add(ctx, 1, attrs)
	} else {
		st := o.Result.Stats
		if o.Tick {
			in.ticks.Add(ctx, 1, attrs)
		} else {
			in.batches.Add(ctx, 1, attrs)
		}
		in.records.Add(ctx, int64(st.Records), attrs)
		in.skipped.Add(ctx, int64(st.Skipped), attrs)
		in.events.Add(ctx, int64(st.Events), attrs)
		in.late.Add(ctx, int64(st.Late), attrs)
		in.deadLetters.Add(ctx, int64(len(o.Result.Failures)), attrs)
		var w, d, l int64
		for _, out := range o.Result.Outputs {
			switch out.(type) {
			case *core.WindowResult:
				w++
			case *core.Decision:
				d++
			case *core.Late:
				l++
			}
		}
		for typ, n := range map[string]int64{"window": w, "decision": d, "late": l} {
			if n > 0 {
				in.outputs.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(
					attribute.String("function", o.Function), attribute.String("partition", o.Partition), attribute.String("type", typ))))
			}
		}
		if o.StateBytes > 0 || o.Committed {
			in.stateBytes.Record(ctx, int64(o.StateBytes), attrs)
		}
		if lag, ok := o.Lag(); ok {
			in.lag.Record(ctx, lag.Seconds(), attrs)
		}
	}
	if age, ok := o.IteratorAge(); ok {
		in.age.Record(ctx, age.Seconds(), attrs)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if now := time.Now(); e.opts.Interval <= 0 || now.Sub(e.last) >= e.opts.Interval {
		e.last = now
		if err := e.export(ctx); err != nil {
			e.opts.Logger.WarnContext(ctx, "metrics export failed; the next export carries the totals", "function", o.Function, "partition", o.Partition, "err", err)
		}
	}
}

// export collects and pushes; e.mu is held.
func (e *Exporter) export(ctx context.Context) error {
	if err := e.reader.Collect(ctx, &e.rm); err != nil {
		return fmt.Errorf("otlp: collect: %w", err)
	}
	if err := e.exp.Export(ctx, &e.rm); err != nil {
		return fmt.Errorf("otlp: export: %w", err)
	}
	return nil
}

// Flush exports now.
func (e *Exporter) Flush(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = time.Now()
	return e.export(ctx)
}

// Close exports what is left and shuts the exporter down.
func (e *Exporter) Close(ctx context.Context) error {
	err := e.Flush(ctx)
	if serr := e.provider.Shutdown(ctx); err == nil {
		err = serr
	}
	if serr := e.exp.Shutdown(ctx); err == nil {
		err = serr
	}
	return err
}
