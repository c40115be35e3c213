package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"

	// Every output transport, so that --output, --dead-letter and send --to open any of them.
	_ "github.com/eddyhq/eddy/adapters/aws/kinesissink"
	_ "github.com/eddyhq/eddy/adapters/aws/snssqssink"
	_ "github.com/eddyhq/eddy/adapters/azure/eventhubsink"
	_ "github.com/eddyhq/eddy/adapters/gcp/pubsubsink"
	_ "github.com/eddyhq/eddy/adapters/kafka/kafkasink"
	_ "github.com/eddyhq/eddy/adapters/rabbit"
	_ "github.com/eddyhq/eddy/core/sink/filesink"
	_ "github.com/eddyhq/eddy/core/sink/logsink"
	_ "github.com/eddyhq/eddy/core/sink/memsink"
	_ "github.com/eddyhq/eddy/core/sink/webhook"
)

// isSinkURL tells whether an --output or --dead-letter value names a registered output transport
// (log:, kinesis://, rabbit://, https://, …) rather than a file.
func isSinkURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.Scheme != "" && slices.Contains(sink.DefaultURLMux().Schemes(), u.Scheme)
}

// openDevOutput opens --output: a file or stdout for the spec's output lines, or a sink URL, which
// then gets every output under the wire contract while the lines (still counted) go nowhere.
func openDevOutput(ctx context.Context, e *env, v string) (io.Writer, func() error, *sink.Sink, error) {
	if !isSinkURL(v) {
		w, c, err := openAppend(e, v, "output")
		return w, c, nil, err
	}
	s, err := sink.Open(ctx, v)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--output: %w", err)
	}
	return io.Discard, func() error { return s.Close(context.WithoutCancel(ctx)) }, s, nil
}

// teeSink emits to the line sink (which counts) and then to the URL's sink.
type teeSink struct {
	lines runner.Sink
	out   *sink.Sink
}

func (t teeSink) Emit(ctx context.Context, outs []core.Output) error {
	if err := t.lines.Emit(ctx, outs); err != nil {
		return err
	}
	return t.out.Emit(ctx, outs)
}

// openDevDeadLetter opens a --dead-letter sink URL; the failure sink then only counts.
func openDevDeadLetter(ctx context.Context, v string) (runner.FailureSink, *failureSink, func() error, error) {
	s, err := sink.Open(ctx, v)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--dead-letter: %w", err)
	}
	counter := &failureSink{w: io.Discard, json: true}
	return teeFailures{counter, s}, counter, func() error { return s.Close(context.WithoutCancel(ctx)) }, nil
}

// teeFailures counts dead letters and sends them to the URL's sink.
type teeFailures struct {
	counter *failureSink
	out     *sink.Sink
}

func (t teeFailures) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	if err := t.counter.EmitFailures(ctx, fs); err != nil {
		return err
	}
	return t.out.EmitFailures(ctx, fs)
}
