package kafka

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/sink"
	_ "github.com/eddyhq/eddy/core/sink/logsink" // log: outputs (the default)
	_ "github.com/eddyhq/eddy/core/sink/memsink" // mem: outputs (tests)
	"github.com/eddyhq/eddy/core/state"
	_ "github.com/eddyhq/eddy/core/state/filestate" // file:// state
	_ "github.com/eddyhq/eddy/core/state/memstate"  // mem:// state (tests)
	"github.com/eddyhq/eddy/core/view"

	_ "github.com/eddyhq/eddy/adapters/kafka/kafkasink" // kafka:// outputs
)

// Environment variables read by ConfigFromEnv (the same EDDY_* names as the other adapters', plus
// the source).
const (
	// EnvFunction names the function.
	EnvFunction = "EDDY_FUNCTION"
	// EnvSourceURL is the topic to consume: "kafka://BROKER1,BROKER2/TOPIC?group=G".
	EnvSourceURL = "EDDY_SOURCE_URL"
	// EnvStateURL is the state store, e.g. "file:///var/lib/eddy" or "dynamodb://...".
	EnvStateURL = "EDDY_STATE_URL"
	// EnvOutputURL is where outputs go (default "log:"), e.g. "kafka://BROKERS/decisions".
	EnvOutputURL = "EDDY_OUTPUT_URL"
	// EnvDeadLetterURL is where undecodable records go (default "log:").
	EnvDeadLetterURL = "EDDY_DEADLETTER_URL"
	// EnvIdleTTL expires the state of a partition idle this long (a Go duration).
	EnvIdleTTL = "EDDY_IDLE_TTL"
	// EnvTickEvery is how long a partition may be quiet before the worker ticks it (default 10s).
	EnvTickEvery = "EDDY_TICK_EVERY"
	// EnvViewStore is where the function's views are written (default: its spec's
	// outputs.view_store; see package adapters/env).
	EnvViewStore = env.VarViewStore
)

// Function is what Start and Open run: a function's name and its processing of one partition,
// the one shape every adapter's entry point takes (a compiled spec wrapped by Func is one).
type Function = env.Function

// Func makes a Function from a name and a processor factory (env.Func).
func Func(name string, newProc func(partition string) (runner.Processor, error)) Function {
	return env.Func(name, newProc)
}

// Config is a worker deployment's configuration.
type Config struct {
	// Function overrides the function's name (EDDY_FUNCTION).
	Function      string
	SourceURL     string
	StateURL      string
	OutputURL     string
	DeadLetterURL string
	IdleTTL       time.Duration
	TickEvery     time.Duration
	// ViewStoreURL is where the views of a function that declares some are written
	// (EDDY_VIEW_STORE).
	ViewStoreURL string
}

// ConfigFromEnv reads the configuration from the environment variables above.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Function:      os.Getenv(EnvFunction),
		SourceURL:     os.Getenv(EnvSourceURL),
		StateURL:      os.Getenv(EnvStateURL),
		OutputURL:     os.Getenv(EnvOutputURL),
		DeadLetterURL: os.Getenv(EnvDeadLetterURL),
		ViewStoreURL:  os.Getenv(EnvViewStore),
	}
	for _, d := range []struct {
		env string
		to  *time.Duration
	}{{EnvIdleTTL, &c.IdleTTL}, {EnvTickEvery, &c.TickEvery}} {
		if v := os.Getenv(d.env); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x < 0 {
				return c, fmt.Errorf("%s=%q: not a duration like 10s", d.env, v)
			}
			*d.to = x
		}
	}
	return c, nil
}

// Source is a parsed source URL.
type Source struct {
	Brokers []string
	Topic   string
	// Group is the consumer group ("" when the URL has none).
	Group string
	// MaxPollRecords is the batch bound (?max_poll_records=N; 0: the default).
	MaxPollRecords int
	// SessionTimeout is the group session timeout (?session_timeout=10s; 0: the default).
	SessionTimeout time.Duration
	// RebalanceTimeout is the group rebalance timeout (?rebalance_timeout=20s; 0: the default).
	RebalanceTimeout time.Duration
}

// ParseSourceURL parses "kafka://BROKER1,BROKER2/TOPIC?group=G&max_poll_records=N&session_timeout=D&rebalance_timeout=D".
func ParseSourceURL(raw string) (Source, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Source{}, fmt.Errorf("kafka source %q: %w", raw, err)
	}
	var s Source
	for _, b := range strings.Split(u.Host, ",") {
		if b = strings.TrimSpace(b); b != "" {
			s.Brokers = append(s.Brokers, b)
		}
	}
	s.Topic = strings.Trim(u.Path, "/")
	if u.Scheme != "kafka" || len(s.Brokers) == 0 || s.Topic == "" || strings.Contains(s.Topic, "/") {
		return Source{}, fmt.Errorf("kafka source %q: want kafka://BROKER1,BROKER2/TOPIC?group=GROUP", u.Redacted())
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "group", "max_poll_records", "session_timeout", "rebalance_timeout":
		default:
			return Source{}, fmt.Errorf("kafka source %q: unknown parameter %q (want group, max_poll_records, session_timeout or rebalance_timeout)", u.Redacted(), k)
		}
	}
	s.Group = q.Get("group")
	if v := q.Get("max_poll_records"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return Source{}, fmt.Errorf("kafka source %q: max_poll_records=%q: want a whole number ≥ 1", u.Redacted(), v)
		}
		s.MaxPollRecords = n
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{"session_timeout", &s.SessionTimeout}, {"rebalance_timeout", &s.RebalanceTimeout}} {
		if v := q.Get(d.name); v != "" {
			x, err := time.ParseDuration(v)
			if err != nil || x < time.Second {
				return Source{}, fmt.Errorf("kafka source %q: %s=%q: want a duration of at least 1s", u.Redacted(), d.name, v)
			}
			*d.to = x
		}
	}
	return s, nil
}

// Open builds a worker from cfg: it opens the state store and the outputs (through the sink URL
// mux) and makes a runner of fn (named cfg.Function, else fn.Name()). The package registers file:// and
// mem:// state and log:, mem: and kafka:// outputs; workers on several hosts share a store whose
// driver the program imports, e.g. core/state/docstate with gocloud.dev/docstore/awsdynamodb/v2
// for dynamodb://. wc, if not nil, supplies the
// worker's other settings (retries, hooks, logger); its Brokers, Topic, Group and Runner are set
// from cfg. Close the returned closer after Run returns.
func Open(ctx context.Context, cfg Config, fn Function, wc *WorkerConfig) (*Worker, func() error, error) {
	if fn == nil {
		return nil, nil, errors.New("kafka: Open: the function is nil")
	}
	if cfg.Function == "" {
		cfg.Function = fn.Name()
	}
	if cfg.Function == "" {
		return nil, nil, fmt.Errorf("kafka: the function has no name: set %s", EnvFunction)
	}
	if cfg.SourceURL == "" {
		return nil, nil, fmt.Errorf("kafka: no source: set %s to kafka://BROKERS/TOPIC?group=GROUP", EnvSourceURL)
	}
	src, err := ParseSourceURL(cfg.SourceURL)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka: %s: %w", EnvSourceURL, err)
	}
	if src.Group == "" {
		src.Group = "eddy-" + cfg.Function
	}
	if cfg.StateURL == "" {
		return nil, nil, fmt.Errorf("kafka: no state store: set %s (e.g. file:///var/lib/eddy, or a shared store such as dynamodb:// when workers run on several hosts)", EnvStateURL)
	}
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	out, err := sink.Open(ctx, orDefault(cfg.OutputURL, "log:"))
	if err != nil {
		return nil, nil, fmt.Errorf("kafka: %s: %w", EnvOutputURL, err)
	}
	closers = append(closers, func() error { return out.Close(context.Background()) })
	dl := out
	if cfg.DeadLetterURL != cfg.OutputURL {
		dl, err = sink.Open(ctx, orDefault(cfg.DeadLetterURL, "log:"))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("kafka: %s: %w", EnvDeadLetterURL, err)
		}
		closers = append(closers, func() error { return dl.Close(context.Background()) })
	}
	store, err := state.Open(ctx, cfg.StateURL)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("kafka: %s: %w", EnvStateURL, err)
	}
	closers = append(closers, store.Close)
	var sk runner.Sink = out
	views, err := env.OpenViews(ctx, cfg.ViewStoreURL, cfg.Function, fn)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("kafka: %w", err)
	}
	if views != nil {
		closers = append(closers, views.Store().Close)
		sk = view.Tee(out, views)
	}
	r, err := runner.New(runner.Config{Function: cfg.Function, Store: store, New: fn.NewProcessor, Sink: sk,
		DeadLetter: fitDeadLetters{dl}, IdleTTL: cfg.IdleTTL})
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("kafka: %w", err)
	}
	var w WorkerConfig
	if wc != nil {
		w = *wc
	}
	w.Brokers, w.Topic, w.Group, w.Runner = src.Brokers, src.Topic, src.Group, r
	if src.MaxPollRecords > 0 {
		w.MaxPollRecords = src.MaxPollRecords
	}
	if src.SessionTimeout > 0 {
		w.SessionTimeout = src.SessionTimeout
	}
	if src.RebalanceTimeout > 0 {
		w.RebalanceTimeout = src.RebalanceTimeout
	}
	if cfg.TickEvery > 0 {
		w.TickEvery = cfg.TickEvery
	}
	wk, err := New(w)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return wk, closeAll, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Start runs the function as a Kafka consumer-group member: it reads the configuration from the
// environment (see ConfigFromEnv), opens the store and outputs, and consumes until SIGINT or
// SIGTERM, when it finishes the batches in flight, commits them and leaves the group. It does not
// return; a configuration or connection error ends the process with the error.
func Start(fn Function) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := ConfigFromEnv()
	if err != nil {
		fatal(err)
	}
	w, closeAll, err := Open(ctx, cfg, fn, nil)
	if err != nil {
		fatal(err)
	}
	err = w.Run(ctx)
	err = errors.Join(err, closeAll())
	if err != nil {
		fatal(err)
	}
	os.Exit(0)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "eddy:", err)
	os.Exit(1)
}
