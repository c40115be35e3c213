package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state"
	"github.com/eddyhq/eddy/core/state/driver"
	"github.com/eddyhq/eddy/internal/window"
)

// MaxLambdaWindow is the longest tumbling window Lambda keeps state for (TumblingWindowInSeconds).
const MaxLambdaWindow = 900 * time.Second

// LambdaStateLimit is the most window state Lambda carries per shard; past it Lambda ends the window
// early.
const LambdaStateLimit = 1 << 20

// stateKeyPrefix prefixes the keys eddy writes into Lambda's window state, so a user's own keys in
// the same map are left alone.
const stateKeyPrefix = "eddy:"

// CheckLambdaWindow reports whether a function's window can keep its state in Lambda's tumbling
// window instead of an external store: it must be tumbling and at most 900 s long, and the event
// source mapping's TumblingWindowInSeconds must equal its size. Lambda's windows follow the records'
// arrival times, so the function should take its event time from the arrival time (Record.Time).
func CheckLambdaWindow(spec window.Spec) error {
	if spec.Kind != window.Tumbling {
		return fmt.Errorf("window state in Lambda needs a tumbling window, not %s: keep the state in a store (EDDY_STATE_URL)", spec.Kind)
	}
	if spec.Size <= 0 || spec.Size > MaxLambdaWindow || spec.Size%time.Second != 0 {
		return fmt.Errorf("window state in Lambda needs a tumbling window of whole seconds up to %v, not %v", MaxLambdaWindow, spec.Size)
	}
	return nil
}

type windowCtxKey struct{}

// windowState is the state Lambda carried into one invocation, as the runner's store sees it, and
// what the invocation's processors need to know about Lambda's window.
type windowState struct {
	vals map[string][]byte
	// other holds the keys of the map that are not eddy's (another tool's): returned as they
	// came, since Lambda keeps only what the response carries.
	other map[string]string
	rev   int
	final bool
	// start is the start of Lambda's window: a function window that began before it was opened
	// again from the empty state Lambda starts each window with.
	start time.Time
	// cut is set on the invocation that ends a window early (isWindowTerminatedEarly): the last
	// applied sequence number, which names the part of the window that ends here.
	cut string
}

func withWindowState(ctx context.Context, ws *windowState) context.Context {
	return context.WithValue(ctx, windowCtxKey{}, ws)
}

func windowStateFrom(ctx context.Context) (*windowState, error) {
	ws, _ := ctx.Value(windowCtxKey{}).(*windowState)
	if ws == nil {
		return nil, errors.New("the Lambda window state is used outside a tumbling-window invocation (enable TumblingWindowInSeconds on the event source mapping, or use a state store)")
	}
	return ws, nil
}

// decodeWindowState reads eddy's keys out of Lambda's state map.
func decodeWindowState(m map[string]string) (*windowState, error) {
	ws := &windowState{vals: map[string][]byte{}}
	for k, v := range m {
		key, ok := strings.CutPrefix(k, stateKeyPrefix)
		if !ok {
			if ws.other == nil {
				ws.other = map[string]string{}
			}
			ws.other[k] = v
			continue
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("window state key %q: %w", k, err)
		}
		ws.vals[key] = b
	}
	return ws, nil
}

// encode writes the state back as Lambda's map (never nil: Lambda needs a state member).
func (ws *windowState) encode() map[string]string {
	m := make(map[string]string, len(ws.vals)+len(ws.other))
	for k, v := range ws.other {
		m[k] = v
	}
	for k, v := range ws.vals {
		m[stateKeyPrefix+k] = base64.StdEncoding.EncodeToString(v)
	}
	return m
}

// windowDriver is a state driver over the invocation's window state, found in the context: the
// runner reads and writes it as it would a table, and the handler returns it to Lambda.
type windowDriver struct{}

var errNotFound = errors.New("not found")
var errConflict = errors.New("revision conflict")

func (windowDriver) Get(ctx context.Context, key string) ([]byte, string, error) {
	ws, err := windowStateFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	v, ok := ws.vals[key]
	if !ok {
		return nil, "", errNotFound
	}
	return v, strconv.Itoa(ws.rev), nil
}

func (d windowDriver) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, _, err := d.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (windowDriver) Put(ctx context.Context, key string, value []byte, rev string, _ time.Time) (string, error) {
	ws, err := windowStateFrom(ctx)
	if err != nil {
		return "", err
	}
	_, ok := ws.vals[key]
	if (rev == "" && ok) || (rev != "" && (!ok || rev != strconv.Itoa(ws.rev))) {
		return "", errConflict
	}
	ws.rev++
	ws.vals[key] = append([]byte(nil), value...)
	return strconv.Itoa(ws.rev), nil
}

func (windowDriver) PutMany(ctx context.Context, keys []string, values [][]byte, _ time.Time) error {
	ws, err := windowStateFrom(ctx)
	if err != nil {
		return err
	}
	for i, k := range keys {
		ws.vals[k] = append([]byte(nil), values[i]...)
	}
	return nil
}

func (windowDriver) Delete(ctx context.Context, key, rev string) error {
	ws, err := windowStateFrom(ctx)
	if err != nil {
		return err
	}
	if _, ok := ws.vals[key]; ok && rev != "" && rev != strconv.Itoa(ws.rev) {
		return errConflict
	}
	delete(ws.vals, key)
	return nil
}

func (windowDriver) DeleteMany(ctx context.Context, keys []string) error {
	ws, err := windowStateFrom(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		delete(ws.vals, k)
	}
	return nil
}

func (windowDriver) List(ctx context.Context, prefix string, fn func(string) error) error {
	ws, err := windowStateFrom(ctx)
	if err != nil {
		return err
	}
	for k := range ws.vals {
		if strings.HasPrefix(k, prefix) {
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}

func (windowDriver) MaxValueSize() int { return 0 }

func (windowDriver) ErrorCode(err error) driver.Code {
	switch {
	case errors.Is(err, errNotFound):
		return driver.NotFound
	case errors.Is(err, errConflict):
		return driver.Conflict
	}
	return driver.Unknown
}

func (windowDriver) Close() error { return nil }

// LambdaWindowStore returns a state store kept in Lambda's tumbling-window state: each invocation
// reads the state Lambda carried in and the handler hands the new state back in its response. Its
// budget stays under Lambda's 1 MB so that a state too large is a clear error naming the key and
// window, not a window Lambda ends early.
func LambdaWindowStore() *state.Store {
	// Base64 grows the value by 4/3; keep room for the map's keys.
	return state.NewStore(windowDriver{}, &state.Options{Budget: LambdaStateLimit*3/4 - 4096})
}

// Flusher is implemented by processors that can close every open window and pending pattern at
// once (a *pipeline.Pipeline does).
type Flusher interface {
	Flush(ctx context.Context, emit func(core.Output)) (core.Result, error)
}

// finalProc makes the Tick of a window's final invocation flush the processor: Lambda drops the
// state after that invocation, so every window must close in it. It also keeps decision ids
// unique where Lambda's empty state would repeat them (see SegmentDecisionID).
type finalProc struct {
	runner.Processor
}

func (p finalProc) Process(ctx context.Context, b core.Batch) (core.Result, error) {
	res, err := p.Processor.Process(ctx, b)
	if ws, _ := ctx.Value(windowCtxKey{}).(*windowState); ws != nil {
		retag(res.Outputs, ws.start, "")
	}
	return res, err
}

func (p finalProc) Tick(ctx context.Context, now time.Time) (core.Result, error) {
	ws, _ := ctx.Value(windowCtxKey{}).(*windowState)
	if ws != nil && ws.final {
		if f, ok := p.Processor.(Flusher); ok {
			var outs []core.Output
			res, err := f.Flush(ctx, func(o core.Output) { outs = append(outs, core.CloneOutput(o)) })
			retag(outs, ws.start, ws.cut)
			res.Outputs = outs
			return res, err
		}
	}
	res, err := p.Processor.Tick(ctx, now)
	if ws != nil {
		retag(res.Outputs, ws.start, "")
	}
	return res, err
}

// retag gives new ids to the decisions whose id another part of the stream could reuse for other
// content, because Lambda's empty state made the function forget what it had emitted:
//
//   - cut != "": the invocation ends the window early (isWindowTerminatedEarly) and flushes
//     partial windows; Lambda continues the same window with empty state, so the rest of the
//     window reopens the same function windows and emits them again at revision 0, under the ids
//     the flush would have used. The flushed decisions are named after the cut instead.
//   - a decision about a function window that began before Lambda's window: the window was
//     flushed with the previous Lambda window (or closed in it) and is reopened from empty state
//     by later records (event time behind arrival time). It is named after Lambda's window.
//
// Decisions are replaced, not changed in place: their emitter may hold on to them.
func retag(outs []core.Output, start time.Time, cut string) {
	for i, o := range outs {
		d, ok := o.(*core.Decision)
		if !ok {
			continue
		}
		id := d.ID
		if !start.IsZero() && d.Window.Start.Before(start) {
			id = SegmentDecisionID(id, "reopened@"+start.UTC().Format(time.RFC3339Nano))
		}
		if cut != "" {
			id = SegmentDecisionID(id, "cut@"+cut)
		}
		if id != d.ID {
			c := *d
			c.ID = id
			outs[i] = &c
		}
	}
}

// SegmentDecisionID is the id of a decision made from part of a window: the decision whose id
// the rule or pattern derived (core.DecisionID) is renamed after the part, so that the same id
// never stands for two contents. With the state in Lambda's tumbling window (NewWindowRunner) a
// window ended early by Lambda (isWindowTerminatedEarly) emits its decisions so far under
// SegmentDecisionID(id, "cut@"+lastSequenceNumber), and a function window reopened by a later
// Lambda window after its state was dropped emits under SegmentDecisionID(id,
// "reopened@"+lambdaWindowStart) (RFC 3339). Like core.DecisionID it is deterministic: a replay
// yields the same ids.
func SegmentDecisionID(id, segment string) string {
	return core.DecisionID("", "", id, core.Span{}, segment, 0)
}

// NewWindowRunner makes a runner whose state lives in Lambda's tumbling-window state
// (LambdaWindowStore) and whose processors close all their windows on a window's final invocation.
// cfg.Store must be nil. Use it with Options.LambdaWindowState.
func NewWindowRunner(cfg runner.Config) (*runner.Runner, error) {
	if cfg.Store != nil {
		return nil, errors.New("aws: NewWindowRunner: Config.Store must be nil: the state lives in Lambda's window")
	}
	cfg.Store = LambdaWindowStore()
	if newProc := cfg.New; newProc != nil {
		cfg.New = func(partition string) (runner.Processor, error) {
			p, err := newProc(partition)
			if err != nil {
				return nil, err
			}
			if _, ok := p.(Flusher); !ok {
				return nil, fmt.Errorf("processor %T cannot flush its windows at the end of a Lambda window (it needs a Flush method)", p)
			}
			return finalProc{p}, nil
		}
	}
	return runner.New(cfg)
}

// Heaviest passes the inner processor's answer on, for budget errors.
func (p finalProc) Heaviest() (key, window string) {
	if h, ok := p.Processor.(runner.Heavier); ok {
		return h.Heaviest()
	}
	return "", ""
}

// TickFree tells the runner it needs no outbox: the state travels in Lambda's window state, which
// no scheduled tick can reach, so no tick can race a batch (see runner.TickFree).
func (p finalProc) TickFree() bool { return true }
