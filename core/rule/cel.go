package rule

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/reftable"
)

// ErrCostLimit is wrapped by the error of an evaluation that exceeded the cost limit.
var ErrCostLimit = errors.New("CEL cost limit exceeded")

// maxSource bounds a condition's length; longer text is almost certainly not a hand-written rule.
const maxSource = 16 << 10

// Names the package binds besides the aggregates.
const (
	varKey         = "key"
	varRevision    = "revision"
	varFirst       = "first"
	varPrev        = "prev"
	varAttrs       = "attrs"
	varWindow      = "window"
	varWindowStart = "window.start"
	varWindowEnd   = "window.end"
)

// celReserved are CEL's reserved words, which cannot name a variable.
var celReserved = []string{"true", "false", "null", "in", "as", "break", "const", "continue", "else",
	"for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
	"void", "while"}

var itemListType = cel.ListType(cel.MapType(cel.StringType, cel.DynType))

func checkAggregateName(name string) error {
	if name == "" {
		return errors.New("aggregate name must not be empty")
	}
	for i, c := range name {
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return fmt.Errorf("aggregate %q: not a CEL identifier (letters, digits and _, not starting with a digit)", name)
	}
	for _, r := range celReserved {
		if name == r {
			return fmt.Errorf("aggregate %q: a CEL reserved word cannot name an aggregate", name)
		}
	}
	switch name {
	case varKey, varRevision, varFirst, varPrev, varAttrs, varWindow:
		return fmt.Errorf("aggregate %q: the name is taken by a rule variable", name)
	}
	return nil
}

// newEnv builds the CEL environment of conditions over aggs.
func newEnv(aggs []Aggregate, refs []string) (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		ext.Math(),
		ext.Strings(),
		cel.Variable(varKey, cel.StringType),
		cel.Variable(varRevision, cel.IntType),
		cel.Variable(varFirst, cel.BoolType),
		cel.Variable(varPrev, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(varAttrs, cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable(varWindowStart, cel.TimestampType),
		cel.Variable(varWindowEnd, cel.TimestampType),
	}
	for _, a := range aggs {
		t := cel.DoubleType
		if a.List {
			t = itemListType
		}
		opts = append(opts, cel.Variable(a.Name, t))
	}
	opts = append(opts, reftable.CELVariables(refs)...)
	return cel.NewEnv(opts...)
}

// condition is a compiled CEL condition.
type condition struct {
	src string
	prg cel.Program
	// usesPrev is set when the expression reads prev or first.
	usesPrev bool
	// bounded is set when the static cost estimate is within the limit, so evaluations are not
	// metered.
	bounded bool
	// tables are the reference tables the expression reads.
	tables []string
	// worst is the worst-case cost estimated with the sizes the spec bounds (see sizeHints).
	worst uint64
	rule  string
	field string
}

// noSizeHints lets the cost estimator assume the worst about every list, map and string.
type noSizeHints struct{}

func (noSizeHints) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

func (noSizeHints) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

// MaxStringEstimate is the length CheckCost assumes for the key and attribute values: what the
// estimate calls the worst case for a string (events with longer keys still evaluate, metered by
// the cost limit).
const MaxStringEstimate = 4096

// sizeHints bounds what the spec bounds: list aggregates by their length (a top-k's k) and the key
// and attributes by MaxStringEstimate.
type sizeHints struct{ lists map[string]uint64 }

func (sizeHints) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

func (h sizeHints) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) == 0 {
		return nil
	}
	if k, ok := h.lists[p[0]]; ok {
		switch {
		case len(p) == 1:
			return &cost.SizeEstimate{Min: 0, Max: k}
		case len(p) == 2:
			// An item: {"value": ..., "count": ...}.
			return &cost.SizeEstimate{Min: 2, Max: 2}
		}
		return &cost.SizeEstimate{Min: 0, Max: MaxStringEstimate}
	}
	switch p[0] {
	case varKey:
		return &cost.SizeEstimate{Min: 0, Max: MaxStringEstimate}
	case varAttrs:
		// The map, or one of its values.
		return &cost.SizeEstimate{Min: 0, Max: MaxStringEstimate}
	}
	return nil
}

// compileCondition compiles src as the field of rule, naming both (and the position) in errors.
// Lookups of reference tables by the key (ref.<table>[key].<column>) come back to be bound.
func compileCondition(env *cel.Env, refs []string, rule, field, src string, costLimit uint64, hints sizeHints) (*condition, []reftable.Lookup, error) {
	if len(src) > maxSource {
		return nil, nil, fieldErr(rule, field, fmt.Sprintf("condition is %d bytes, more than the %d allowed", len(src), maxSource))
	}
	ast, iss := env.ParseSource(common.NewStringSource(src, field))
	var lookups []reftable.Lookup
	if iss == nil || iss.Err() == nil {
		// ref.<table>[key].<column> becomes one variable the activation resolves natively.
		if lookups = reftable.RewriteLookups(ast.NativeRep().Expr(), refs, varKey); len(lookups) > 0 {
			opts := make([]cel.EnvOption, len(lookups))
			for i, l := range lookups {
				opts[i] = l.CELVariable()
			}
			var err error
			if env, err = env.Extend(opts...); err != nil {
				return nil, nil, fieldErr(rule, field, err.Error())
			}
		}
		ast, iss = env.Check(ast)
	}
	if iss != nil && iss.Err() != nil {
		msg := strings.TrimSpace(iss.Err().Error())
		if strings.Contains(msg, "undeclared reference to 'ref") {
			msg += " (ref.<table> reads a reference table; declare it under reference:)"
		}
		return nil, nil, fieldErr(rule, field, msg)
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, nil, fieldErr(rule, field, fmt.Sprintf("condition must be of type bool, got %s: %s", ast.OutputType(), src))
	}
	c := &condition{src: src, rule: rule, field: field}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	// Tracking cost costs allocations on every evaluation; skip it when the checker proves the
	// worst case is within the limit (no comprehension over a list or string of unknown size).
	est, err := env.EstimateCost(ast, noSizeHints{})
	c.bounded = err == nil && est.Max <= costLimit
	c.worst = math.MaxUint64
	if est, err := env.EstimateCost(ast, hints); err == nil {
		c.worst = est.Max
	}
	if !c.bounded {
		opts = append(opts, cel.CostLimit(costLimit))
	}
	if c.prg, err = env.Program(ast, opts...); err != nil {
		return nil, nil, fieldErr(rule, field, err.Error())
	}
	for _, ref := range ast.NativeRep().ReferenceMap() {
		if ref.Name == varPrev || ref.Name == varFirst {
			c.usesPrev = true
		}
		if t := reftable.TableOf(ref.Name); t != "" && !slices.Contains(c.tables, t) {
			c.tables = append(c.tables, t)
		}
	}
	return c, lookups, nil
}

// eval evaluates the condition over the activation.
func (c *condition) eval(act *activation, costLimit uint64) (bool, error) {
	out, _, err := c.prg.Eval(act)
	if err != nil {
		var cancel interpreter.EvalCancelledError
		if errors.As(err, &cancel) && cancel.Cause == interpreter.CostLimitExceeded {
			return false, fmt.Errorf("%w (limit %d): %s", ErrCostLimit, costLimit, c.src)
		}
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("condition gave %s, not a bool", out.Type())
	}
	return bool(b), nil
}

// activation binds one window result's variables for CEL. It is reused across evaluations (one per
// Engine) and converts values lazily, so an evaluation allocates only for what it reads.
type activation struct {
	set   *Set
	r     *core.WindowResult
	attrs map[string]string
	first bool
	prev  []core.NamedValue
	// cache holds the converted aggregates, by Set.aggIndex; nil until read.
	cache   []ref.Val
	prevVal ref.Val
	// tables are the Set's reference tables, each pinned to one version for the evaluation.
	tables []pinned
	// lookups are the Set's lookup variables, with the column index of the version last read.
	lookups []lookupPin
}

// lookupPin is a lookup variable as an activation resolves it.
type lookupPin struct {
	name   string
	table  int
	column string
	t      *reftable.Table // the version col is for
	col    int
}

// pinned is a reference table and the version an evaluation reads.
type pinned struct {
	name string // ref.<table>
	h    reftable.Handle
	cur  *reftable.Table
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) reset(r *core.WindowResult, attrs map[string]string, first bool, prev []core.NamedValue) {
	a.r, a.attrs, a.first, a.prev = r, attrs, first, prev
	clear(a.cache)
	a.prevVal = nil
	for i := range a.tables {
		if r != nil {
			a.tables[i].cur = a.tables[i].h.Current()
		} else {
			a.tables[i].cur = nil
		}
	}
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	if len(a.lookups) > 0 && len(name) > len(reftable.VarPrefix) && name[:len(reftable.VarPrefix)] == reftable.VarPrefix {
		if v, ok := a.resolveRef(name); ok {
			return v, true
		}
	}
	if i, ok := a.set.aggIndex[name]; ok {
		if v := a.cache[i]; v != nil {
			return v, true
		}
		nv, ok := a.r.Value(name)
		if !ok {
			return nil, false
		}
		v := namedToVal(nv)
		a.cache[i] = v
		return v, true
	}
	switch name {
	case varKey:
		return types.String(a.r.Key), true
	case varRevision:
		return types.Int(a.r.Revision), true
	case varFirst:
		return types.Bool(a.first), true
	case varWindowStart:
		return types.Timestamp{Time: a.r.Start}, true
	case varWindowEnd:
		return types.Timestamp{Time: a.r.End}, true
	case varAttrs:
		return types.NewStringStringMap(types.DefaultTypeAdapter, a.attrs), true
	case varPrev:
		if a.prevVal == nil {
			m := make(map[string]any, len(a.prev))
			for _, nv := range a.prev {
				m[nv.Name] = namedToVal(nv)
			}
			a.prevVal = types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
		}
		return a.prevVal, true
	}
	if len(name) > len(reftable.VarPrefix) && name[:len(reftable.VarPrefix)] == reftable.VarPrefix {
		return a.resolveRef(name)
	}
	return nil, false
}

// resolveRef resolves a lookup variable or a table.
func (a *activation) resolveRef(name string) (any, bool) {
	for i := range a.lookups {
		l := &a.lookups[i]
		if l.name != name {
			continue
		}
		t := a.tables[l.table].cur
		if l.t != t {
			l.t, l.col = t, t.ColumnIndex(l.column)
		}
		return t.ResolveAt(a.r.Key, l.col, l.column), true
	}
	for i := range a.tables {
		if a.tables[i].name == name {
			return a.tables[i].cur.CEL(), true
		}
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func namedToVal(nv core.NamedValue) ref.Val {
	if !nv.IsList {
		return types.Double(nv.Num)
	}
	items := make([]ref.Val, len(nv.Items))
	for i, it := range nv.Items {
		items[i] = types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{
			"value": it.Value,
			"count": int64(it.Count),
		})
	}
	return types.NewRefValList(types.DefaultTypeAdapter, items)
}
