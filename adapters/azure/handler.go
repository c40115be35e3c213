package azure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
)

// HandlerConfig configures a custom handler.
type HandlerConfig struct {
	// Runner runs the function.
	Runner *runner.Runner
	// Function is the eddy function's name, for the dead letters the handler writes itself
	// (undecodable bodies, batches failed on the last attempt); Open sets it.
	Function string
	// Decode says how to read the trigger's payload (binding name, dataType).
	Decode DecodeOptions
	// OutputBinding, if set, names an output binding (for example an eventHub or serviceBus
	// output in function.json) that receives the outputs in the reply's Outputs, one JSON text
	// per output. The host writes them after the reply, that is after the state commit, so a
	// crash in between loses them; a runner Sink (sink.Open of EDDY_OUTPUT_URL, such as
	// eventhubs://NAMESPACE/HUB) emits around the commit and is the effectively-once choice.
	OutputBinding string
	// DeadLetterBinding, if set, names an output binding that also receives the failed records
	// in the reply.
	DeadLetterBinding string
	// DeadLetter receives whole batches that could not be processed, on the host's last attempt,
	// before the reply (records that fail on their own go to the runner's DeadLetter). Without
	// it such a batch is lost when the host advances its checkpoint, so NewHandler requires it.
	DeadLetter runner.FailureSink
	// TickFunction, if set, names a function (a timerTrigger) whose invocations tick every
	// partition so windows of quiet streams close.
	TickFunction string
	// MaxBody bounds a request body (default 64 MiB).
	MaxBody int64
	// Logger gets one line per failed invocation (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Handler answers the Functions host's invocations. It is an http.Handler.
type Handler struct {
	cfg HandlerConfig
}

// NewHandler checks cfg and returns a Handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Runner == nil {
		return nil, errors.New("azure: HandlerConfig.Runner is nil")
	}
	if cfg.DeadLetter == nil {
		return nil, errors.New("azure: HandlerConfig.DeadLetter is nil: the Functions trigger advances past failed batches, so they must be dead-lettered")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg}, nil
}

// Reply is the custom handler's response body.
type Reply struct {
	Outputs     map[string]any
	Logs        []string
	ReturnValue any
}

// ServeHTTP implements http.Handler: POST /{FunctionName} with the host's invocation body.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "custom handler: POST /{FunctionName}", http.StatusMethodNotAllowed)
		return
	}
	fn := strings.Trim(r.URL.Path, "/")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		h.write(w, http.StatusRequestEntityTooLarge, &Reply{Logs: []string{fmt.Sprintf("function %s: read request: %v", fn, err)}})
		return
	}
	ctx := r.Context()
	if h.cfg.TickFunction != "" && fn == h.cfg.TickFunction {
		status, rep := h.tick(ctx)
		h.write(w, status, rep)
		return
	}
	status, rep := h.Invoke(ctx, fn, r.Header.Get("X-Azure-Functions-InvocationId"), body)
	h.write(w, status, rep)
}

// Invoke runs one invocation body and returns the HTTP status and reply: 200 when the batch was
// processed (its failed records dead-lettered), 500 when it was not (and, on the last attempt,
// after dead-lettering the whole batch).
func (h *Handler) Invoke(ctx context.Context, function, invocationID string, body []byte) (int, *Reply) {
	rep := &Reply{Outputs: map[string]any{}}
	inv, err := DecodeInvocation(body, h.cfg.Decode)
	if err != nil {
		// A body that cannot be decoded will not decode on a retry either: keep it whole in the
		// dead-letter output, once, and acknowledge it. Failing the invocation would make the
		// host retry it (up to its retry policy's count) and dead-letter a copy each time. Its
		// record id is a hash of the body, which the host sends unchanged on every retry, so a
		// copy written before a crash has the same dead-letter id.
		sum := sha256.Sum256(body)
		f := &core.Failure{Record: core.Record{ID: "invocation-" + hex.EncodeToString(sum[:16]), Data: body,
			Attrs: map[string]string{"function": function, "invocation_id": invocationID}},
			Function: h.cfg.Function, Reason: err.Error(), Err: err}
		if h.writeDeadLetters(ctx, function, rep, []*core.Failure{f}, err) != nil {
			return http.StatusInternalServerError, rep
		}
		return http.StatusOK, rep
	}
	res, err := h.cfg.Runner.Run(ctx, inv.Batch(h.cfg.Now()))
	if err != nil {
		if !inv.Retry.Final() {
			rep.Logs = append(rep.Logs, fmt.Sprintf("function %s partition %s: attempt %d of %d failed, the host will retry: %v",
				function, inv.Partition.PartitionID, inv.Retry.RetryCount+1, inv.Retry.MaxRetryCount+1, err))
			h.cfg.Logger.WarnContext(ctx, "batch failed; the host retries", "function", function, "partition", inv.Partition.PartitionID, "err", err)
			return http.StatusInternalServerError, rep
		}
		fs := make([]*core.Failure, len(inv.Records))
		for i := range inv.Records {
			fs[i] = &core.Failure{Record: inv.Records[i], Partition: inv.Partition.PartitionID, Reason: "batch failed on the last attempt: " + err.Error(), Err: err}
		}
		return h.deadLetter(ctx, function, rep, fs, err)
	}
	if h.cfg.OutputBinding != "" {
		outs := make([]string, len(res.Outputs))
		var buf []byte
		for i, o := range res.Outputs {
			buf = o.AppendJSON(buf[:0])
			outs[i] = string(buf)
		}
		rep.Outputs[h.cfg.OutputBinding] = outs
	}
	if h.cfg.DeadLetterBinding != "" {
		rep.Outputs[h.cfg.DeadLetterBinding] = failureTexts(res.Failures)
	}
	rep.Logs = append(rep.Logs, fmt.Sprintf("function %s partition %s: %d records, %d skipped as already applied, %d events, %d failed, %d windows, %d decisions, %d late; checkpoint %s",
		function, inv.Partition.PartitionID, res.Stats.Records, res.Stats.Skipped, res.Stats.Events, res.Stats.Failed, res.Stats.Windows, res.Stats.Decisions, res.Stats.Late, res.Checkpoint))
	for _, f := range res.Failures {
		rep.Logs = append(rep.Logs, "dead-lettered: "+f.Error())
	}
	return http.StatusOK, rep
}

// deadLetter writes fs to the dead-letter output and answers 500: the invocation failed, but its
// records are kept.
func (h *Handler) deadLetter(ctx context.Context, function string, rep *Reply, fs []*core.Failure, cause error) (int, *Reply) {
	h.writeDeadLetters(ctx, function, rep, fs, cause)
	return http.StatusInternalServerError, rep
}

// writeDeadLetters writes fs to the dead-letter output (and binding), logging either way.
func (h *Handler) writeDeadLetters(ctx context.Context, function string, rep *Reply, fs []*core.Failure, cause error) error {
	for _, f := range fs {
		if f.Function == "" {
			f.Function = h.cfg.Function
		}
	}
	if err := h.cfg.DeadLetter.EmitFailures(ctx, fs); err != nil {
		h.cfg.Logger.ErrorContext(ctx, "could not dead-letter a failed batch; its records are lost once the host advances", "function", function, "records", len(fs), "cause", cause, "err", err)
		rep.Logs = append(rep.Logs, fmt.Sprintf("function %s: %v; dead-lettering %d records failed too: %v", function, cause, len(fs), err))
		return err
	}
	h.cfg.Logger.ErrorContext(ctx, "batch failed; records dead-lettered", "function", function, "records", len(fs), "err", cause)
	rep.Logs = append(rep.Logs, fmt.Sprintf("function %s: %v; %d records dead-lettered", function, cause, len(fs)))
	if h.cfg.DeadLetterBinding != "" {
		rep.Outputs[h.cfg.DeadLetterBinding] = failureTexts(fs)
	}
	return nil
}

func (h *Handler) tick(ctx context.Context) (int, *Reply) {
	rep := &Reply{Outputs: map[string]any{}}
	res, err := h.cfg.Runner.TickAll(ctx, h.cfg.Now())
	if err != nil {
		rep.Logs = append(rep.Logs, "tick: "+err.Error())
		return http.StatusInternalServerError, rep
	}
	if h.cfg.OutputBinding != "" {
		outs := make([]string, len(res.Outputs))
		for i, o := range res.Outputs {
			outs[i] = string(o.AppendJSON(nil))
		}
		rep.Outputs[h.cfg.OutputBinding] = outs
	}
	rep.Logs = append(rep.Logs, fmt.Sprintf("tick: %d windows, %d decisions", res.Stats.Windows, res.Stats.Decisions))
	return http.StatusOK, rep
}

func failureTexts(fs []*core.Failure) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.AppendJSON(nil))
	}
	return out
}

func (h *Handler) write(w http.ResponseWriter, status int, rep *Reply) {
	b, err := json.Marshal(rep)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"Logs":["encode reply failed"]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// PortFromEnv returns the port the Functions host told the handler to listen on:
// FUNCTIONS_CUSTOMHANDLER_PORT, or the legacy FUNCTIONS_HTTPWORKER_PORT.
func PortFromEnv() (int, error) {
	for _, name := range []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT"} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		p, err := strconv.Atoi(v)
		if err != nil || p <= 0 || p > 65535 {
			return 0, fmt.Errorf("azure: %s=%q is not a port", name, v)
		}
		return p, nil
	}
	return 0, errors.New("azure: FUNCTIONS_CUSTOMHANDLER_PORT is not set: the handler is meant to be started by the Functions host")
}

// Serve listens on 127.0.0.1 at the port from PortFromEnv (the host calls the handler on the
// loopback interface) and serves h until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, h http.Handler) error {
	port, err := PortFromEnv()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("azure: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return fmt.Errorf("azure: serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
