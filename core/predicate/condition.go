// Package predicate compiles CEL conditions over one event: the filters of conditional aggregates
// ({name: failed, count: true, where: outcome == "fail"}), with the same vocabulary as pattern
// steps. Conditions of the form <field> <op> <constant>, and conjunctions (&&) of them, run as
// native Go code (Conjunction) instead of through the CEL interpreter, with the same results.
// CompileExpr is the one compiler of event-level CEL: Condition and package pattern's steps (which
// may also read earlier steps' events) both use it, and word its errors each their own way.
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
	vars []Var
	// byName indexes vars for the activation.
	byName map[string]int
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
	x, err := CompileExpr(src, table, costLimit, Scope{Ref: ref})
	if err != nil {
		var xe *ExprError
		if !errors.As(err, &xe) {
			return nil, err
		}
		switch xe.Stage {
		case StageDeclare:
			return nil, fmt.Errorf("declare the fields of %q: %w", src, xe.Err)
		case StageType:
			return nil, fmt.Errorf("condition must be of type bool, got %s: %s", xe.OutputType, src)
		case StageProgram:
			return nil, fmt.Errorf("program %q: %w", src, xe.Err)
		}
		return nil, xe.Err
	}
	return &Condition{src: src, fast: x.Fast, prog: x.Prog, vars: x.Vars, byName: x.ByName}, nil
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
	switch v.Kind {
	case VarKey:
		return types.String(a.ev.Key), true
	case VarTime:
		return types.Timestamp{Time: a.ev.Time.UTC()}, true
	case VarTable:
		return v.Table.Current().CEL(), true
	case VarLookup:
		return v.Table.Current().Resolve(a.ev.Key, v.Column), true
	}
	if n := v.Root; n.Leaf {
		// The common case, a top-level field: hand CEL its own value type, sparing the adapter.
		if n.At.Index >= len(a.ev.Fields) {
			return nil, false
		}
		switch f := &a.ev.Fields[n.At.Index]; f.Kind {
		case core.Number:
			return types.Double(f.Num), true
		case core.String:
			return types.String(f.Str), true
		case core.Bool:
			return types.Bool(f.Bool), true
		}
	}
	return build(v.Root, a.ev.Fields)
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func build(n *PathTree[Leaf], fields []core.Value) (any, bool) {
	if n.Leaf {
		if n.At.Index < 0 || n.At.Index >= len(fields) {
			return nil, false
		}
		return Value(fields[n.At.Index])
	}
	m := make(map[string]any, len(n.Children))
	for _, c := range n.Children {
		if x, ok := build(c, fields); ok {
			m[c.Seg] = x
		}
	}
	return m, true
}

// Tables are the reference tables the condition reads, sorted.
func (c *Condition) Tables() []string {
	var ts []string
	for _, v := range c.vars {
		if v.Kind == VarTable || v.Kind == VarLookup {
			if t := v.Table.Current().Name(); !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	slices.Sort(ts)
	return ts
}
