// Package predicate compiles CEL conditions over one event: the filters of conditional aggregates
// ({name: failed, count: true, where: outcome == "fail"}), with the same vocabulary as pattern
// steps. Conditions of the form <field> <op> <constant>, and conjunctions (&&) of them, run as
// native Go code (Conjunction) instead of through the CEL interpreter, with the same results;
// package pattern shares that fast path.
//
// A condition sees every top-level payload field as a variable (outcome == "fail", device.temp >
// 40), event.<path> for a field whose name is shadowed by key or time, key (string) and time
// (timestamp). A condition that fails to evaluate (a missing field, a type mismatch, the cost
// limit) is false, as SQL's FILTER (WHERE ...) leaves out a row whose condition is NULL.
package predicate

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/reftable"
)

// DefaultCostLimit bounds the CEL cost of one evaluation when Compile is given zero.
const DefaultCostLimit = 100_000

// maxSource bounds a condition's length; longer text is almost certainly not hand-written.
const maxSource = 16 << 10

// Condition is a compiled condition. It is immutable and safe for concurrent use.
type Condition struct {
	src  string
	fast Conjunction // non-nil: a native equivalent of prog
	prog cel.Program
	vars []variable
	// byName indexes vars for the activation.
	byName map[string]int
}

type varKind uint8

const (
	varKey varKind = iota
	varTime
	varField // a top-level payload field: the root is the first path segment
	varEvent // event.<path>
	varTable // ref.<table>: a reference table
	varLookup
)

type variable struct {
	kind varKind
	root *PathTree[int] // a leaf's At is its field-table index
	// table and column are a reference table's slot and, for a lookup, the column.
	table  reftable.Handle
	column string
}

// Compile parses and checks src and adds every field it reads to table. costLimit bounds one
// evaluation (DefaultCostLimit when zero). Errors carry CEL's position inside src
// ("ERROR: <input>:1:5: ...").
func Compile(src string, table *core.FieldTable, costLimit uint64) (*Condition, error) {
	return CompileRef(src, table, costLimit, nil)
}

// CompileRef is Compile for a function with reference tables: the condition may read
// ref.<table>[key].<column> (the event's key), and ref.<table> as a map. Each evaluation reads the
// tables' current versions.
func CompileRef(src string, table *core.FieldTable, costLimit uint64, ref *reftable.Set) (*Condition, error) {
	if costLimit == 0 {
		costLimit = DefaultCostLimit
	}
	if len(src) > maxSource {
		return nil, fmt.Errorf("condition is %d bytes, more than the %d allowed", len(src), maxSource)
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("condition is empty")
	}
	base, err := cel.NewEnv(
		cel.CrossTypeNumericComparisons(true),
		cel.Variable("key", cel.StringType),
		cel.Variable("time", cel.TimestampType),
	)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	parsed, iss := base.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	c := &Condition{src: src, byName: map[string]int{}}
	var opts []cel.EnvOption
	var refErr error
	lookups := reftable.RewriteLookups(parsed.NativeRep().Expr(), ref.Names(), "key")
	varOf := func(name string, kind varKind) *variable {
		if i, ok := c.byName[name]; ok {
			return &c.vars[i]
		}
		c.byName[name] = len(c.vars)
		c.vars = append(c.vars, variable{kind: kind, root: &PathTree[int]{Seg: name}})
		switch kind {
		case varField:
			opts = append(opts, cel.Variable(name, cel.DynType))
		case varEvent:
			opts = append(opts, cel.Variable(name, cel.MapType(cel.StringType, cel.DynType)))
		case varTable:
			opts = append(opts, cel.Variable(name, reftable.CELType))
		case varLookup:
			opts = append(opts, cel.Variable(name, cel.DynType))
		}
		return &c.vars[len(c.vars)-1]
	}
	WalkRefs(parsed.NativeRep().Expr(), func(root string, segs []string) {
		if ref != nil {
			for _, l := range lookups {
				if root == l.Name {
					h, _ := ref.Handle(l.Table)
					v := varOf(root, varLookup)
					v.table, v.column = h, l.Column
					return
				}
			}
			if root == "ref" {
				if len(segs) == 0 || !ref.Has(segs[0]) {
					if refErr == nil {
						refErr = fmt.Errorf("ref must be followed by a declared reference table (declared: %s)", strings.Join(ref.Names(), ", "))
					}
					return
				}
				h, _ := ref.Handle(segs[0])
				varOf(reftable.VarPrefix+segs[0], varTable).table = h
				return
			}
		}
		switch root {
		case "key":
			varOf(root, varKey)
		case "time":
			varOf(root, varTime)
		case "event":
			if len(segs) == 0 {
				if refErr == nil {
					refErr = errors.New("event must be followed by a field path, as in event.value")
				}
				return
			}
			varOf(root, varEvent).root.Add(segs, strings.Join(segs, "."))
		default:
			varOf(root, varField).root.Add(segs, strings.Join(append([]string{root}, segs...), "."))
		}
	})
	if refErr != nil {
		return nil, refErr
	}
	env, err := base.Extend(opts...)
	if err != nil {
		return nil, fmt.Errorf("declare the fields of %q: %w", src, err)
	}
	checked, iss := env.Check(parsed)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	if ot := checked.OutputType(); !ot.IsExactType(cel.BoolType) && !ot.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("condition must be of type bool, got %s: %s", ot, src)
	}
	popts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	// Tracking cost allocates on every evaluation; skip it when the checker proves the worst case
	// is within the limit.
	if est, err := env.EstimateCost(checked, noSizeHints{}); err != nil || est.Max > costLimit {
		popts = append(popts, cel.CostLimit(costLimit))
	}
	if c.prog, err = env.Program(checked, popts...); err != nil {
		return nil, fmt.Errorf("program %q: %w", src, err)
	}
	for i := range c.vars {
		if v := &c.vars[i]; v.kind == varField || v.kind == varEvent {
			v.root.EachLeaf(func(n *PathTree[int]) { n.At = table.Index(n.Path) })
		}
	}
	// The native path knows payload fields only.
	if f, ok := Native(checked.NativeRep().Expr()); ok && !c.readsRef() {
		f.Bind(table)
		c.fast = f
	}
	return c, nil
}

// noSizeHints lets the cost estimator assume the worst about every list, map and string.
type noSizeHints struct{}

func (noSizeHints) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

func (noSizeHints) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

// String returns the condition's source.
func (c *Condition) String() string { return c.src }

// IsNative reports whether the condition runs as native code rather than through CEL.
func (c *Condition) IsNative() bool { return c.fast != nil }

// Eval reports whether ev satisfies the condition. An evaluation that fails (a missing field, a
// type mismatch, the cost limit) or yields something other than a bool is false.
func (c *Condition) Eval(ev *core.Event) bool {
	if c.fast != nil {
		return c.fast.Eval(ev.Fields)
	}
	return c.evalCEL(ev)
}

func (c *Condition) evalCEL(ev *core.Event) (match bool) {
	// A panic inside the interpreter must not cross the package boundary; it counts as false.
	defer func() {
		if recover() != nil {
			match = false
		}
	}()
	out, _, err := c.prog.Eval(&activation{c: c, ev: ev})
	if err != nil {
		return false
	}
	b, ok := out.(types.Bool)
	return ok && bool(b)
}

// activation resolves a condition's variables from one event, converting only what is read.
type activation struct {
	c  *Condition
	ev *core.Event
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	i, ok := a.c.byName[name]
	if !ok {
		return nil, false
	}
	v := &a.c.vars[i]
	switch v.kind {
	case varKey:
		return types.String(a.ev.Key), true
	case varTime:
		return types.Timestamp{Time: a.ev.Time.UTC()}, true
	case varTable:
		return v.table.Current().CEL(), true
	case varLookup:
		return v.table.Current().Resolve(a.ev.Key, v.column), true
	}
	if n := v.root; n.Leaf {
		// The common case, a top-level field: hand CEL its own value type, sparing the adapter.
		if n.At >= len(a.ev.Fields) {
			return nil, false
		}
		switch f := &a.ev.Fields[n.At]; f.Kind {
		case core.Number:
			return types.Double(f.Num), true
		case core.String:
			return types.String(f.Str), true
		case core.Bool:
			return types.Bool(f.Bool), true
		}
	}
	return build(v.root, a.ev.Fields)
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func build(n *PathTree[int], fields []core.Value) (any, bool) {
	if n.Leaf {
		if n.At < 0 || n.At >= len(fields) {
			return nil, false
		}
		return Value(fields[n.At])
	}
	m := make(map[string]any, len(n.Children))
	for _, c := range n.Children {
		if x, ok := build(c, fields); ok {
			m[c.Seg] = x
		}
	}
	return m, true
}

// readsRef reports whether the condition reads a reference table.
func (c *Condition) readsRef() bool {
	for _, v := range c.vars {
		if v.kind == varTable || v.kind == varLookup {
			return true
		}
	}
	return false
}

// Tables are the reference tables the condition reads, sorted.
func (c *Condition) Tables() []string {
	var ts []string
	for _, v := range c.vars {
		if v.kind == varTable || v.kind == varLookup {
			if t := v.table.Current().Name(); !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	slices.Sort(ts)
	return ts
}
