package predicate

import (
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/reftable"
)

// VarKind is what a variable of an expression reads.
type VarKind uint8

// Variable kinds.
const (
	VarKey    VarKind = iota // key: the event's key
	VarTime                  // time: the event's time
	VarField                 // a top-level payload field: the root is the first path segment
	VarEvent                 // event.<path>
	VarStep                  // <step>.<path>: a field of another event (a pattern's earlier step)
	VarTable                 // ref.<table>: a reference table
	VarLookup                // ref.<table>[key].<column>, rewritten to one variable
)

// Var is one variable an expression reads.
type Var struct {
	Name string
	Kind VarKind
	// Step is a VarStep's step index.
	Step int
	// Root is the tree of payload paths a VarField, VarEvent or VarStep reads.
	Root *PathTree[Leaf]
	// Table is a VarTable's or VarLookup's table, TableName its name; Column a lookup's column.
	Table     reftable.Handle
	TableName string
	Column    string
}

// Leaf is where a payload field an expression reads is found: Index in the field table, and Slot
// for the caller's own numbering (a pattern's retained slot; -1 until it sets one).
type Leaf struct{ Index, Slot int }

// Scope is what an expression may read besides the event's own fields, key and time.
type Scope struct {
	// Ref are the reference tables it may read (ref.<table>).
	Ref *reftable.Set
	// Steps are the names of other events it may read as <name>.<path> (a pattern's steps), by
	// index; only those before Before (the steps before the one compiled).
	Steps  map[string]int
	Before int
}

// Expr is a compiled CEL expression over one event: the one compiler of eddy's event-level
// conditions (aggregate where conditions through Condition, and package pattern's steps).
type Expr struct {
	Prog   cel.Program
	Vars   []Var
	ByName map[string]int // index in Vars by name
	// Fast is a native equivalent of Prog when there is one; only for expressions reading the
	// event's payload fields alone. It is bound to the field table.
	Fast Conjunction
	// OwnPaths are the payload paths read of the event itself, StepPaths those read of steps, in
	// order of first use.
	OwnPaths, StepPaths []string
}

// Stage is the step of compiling that an ExprError comes from, so that each caller words it.
type Stage uint8

// Compile stages.
const (
	StageEnv     Stage = iota // making CEL's environment (Err says so)
	StageParse                // CEL's parser
	StageRefs                 // a variable the scope does not allow (ref, event, a step)
	StageDeclare              // declaring the variables
	StageCheck                // CEL's type checker
	StageType                 // the expression is not a bool (OutputType says what it is)
	StageProgram              // planning the program
)

// ExprError is an error of CompileExpr.
type ExprError struct {
	Stage      Stage
	OutputType string // StageType: the expression's type
	Err        error
}

// Error implements error.
func (e *ExprError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ExprError) Unwrap() error { return e.Err }

// CompileExpr parses, checks and plans src, a non-empty CEL expression, and adds every payload
// field it reads to table. costLimit (not zero) bounds one evaluation.
func CompileExpr(src string, table *core.FieldTable, costLimit uint64, sc Scope) (*Expr, error) {
	fail := func(st Stage, err error) (*Expr, error) { return nil, &ExprError{Stage: st, Err: err} }
	base, err := cel.NewEnv(
		cel.CrossTypeNumericComparisons(true),
		cel.Variable("key", cel.StringType),
		cel.Variable("time", cel.TimestampType),
	)
	if err != nil {
		return fail(StageEnv, fmt.Errorf("cel environment: %w", err))
	}
	parsed, iss := base.Parse(src)
	if iss != nil && iss.Err() != nil {
		return fail(StageParse, iss.Err())
	}
	x := &Expr{ByName: map[string]int{}}
	w := refWalker{x: x, sc: sc}
	w.lookups = reftable.RewriteLookups(parsed.NativeRep().Expr(), sc.Ref.Names(), "key")
	WalkRefs(parsed.NativeRep().Expr(), w.visit)
	if w.err != nil {
		return fail(StageRefs, w.err)
	}
	env, err := base.Extend(w.opts...)
	if err != nil {
		return fail(StageDeclare, err)
	}
	checked, iss := env.Check(parsed)
	if iss != nil && iss.Err() != nil {
		return fail(StageCheck, iss.Err())
	}
	if ot := checked.OutputType(); !ot.IsExactType(cel.BoolType) && !ot.IsExactType(cel.DynType) {
		return nil, &ExprError{Stage: StageType, OutputType: fmt.Sprint(ot), Err: fmt.Errorf("%q yields %s, want bool", src, ot)}
	}
	popts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	// Tracking cost allocates on every evaluation; skip it when the checker proves the worst case
	// is within the limit.
	if est, err := env.EstimateCost(checked, noSizeHints{}); err != nil || est.Max > costLimit {
		popts = append(popts, cel.CostLimit(costLimit))
	}
	if x.Prog, err = env.Program(checked, popts...); err != nil {
		return fail(StageProgram, err)
	}
	for i := range x.Vars {
		if v := &x.Vars[i]; v.Root != nil {
			v.Root.EachLeaf(func(n *PathTree[Leaf]) { n.At = Leaf{Index: table.Index(n.Path), Slot: -1} })
		}
	}
	// The native path knows the event's payload fields only.
	if f, ok := Native(checked.NativeRep().Expr()); ok && !x.ReadsRef() && len(x.StepPaths) == 0 {
		f.Bind(table)
		x.Fast = f
	}
	return x, nil
}

// ReadsRef reports whether the expression reads a reference table.
func (x *Expr) ReadsRef() bool {
	for _, v := range x.Vars {
		if v.Kind == VarTable || v.Kind == VarLookup {
			return true
		}
	}
	return false
}

// refWalker sorts an expression's free variables into Vars (WalkRefs reports them), declaring
// each, and keeps the first error.
type refWalker struct {
	x       *Expr
	sc      Scope
	lookups []reftable.Lookup
	opts    []cel.EnvOption
	err     error
}

func (w *refWalker) variable(name string, kind VarKind) *Var {
	x := w.x
	if i, ok := x.ByName[name]; ok {
		return &x.Vars[i]
	}
	v := Var{Name: name, Kind: kind}
	switch kind {
	case VarField, VarLookup:
		w.opts = append(w.opts, cel.Variable(name, cel.DynType))
	case VarEvent, VarStep:
		w.opts = append(w.opts, cel.Variable(name, cel.MapType(cel.StringType, cel.DynType)))
	case VarTable:
		w.opts = append(w.opts, cel.Variable(name, reftable.CELType))
	}
	if kind == VarField || kind == VarEvent || kind == VarStep {
		v.Root = &PathTree[Leaf]{Seg: name}
	}
	x.ByName[name] = len(x.Vars)
	x.Vars = append(x.Vars, v)
	return &x.Vars[len(x.Vars)-1]
}

func (w *refWalker) visit(root string, segs []string) {
	if w.err != nil {
		return
	}
	if ref := w.sc.Ref; ref != nil {
		for _, l := range w.lookups {
			if root == l.Name {
				v := w.variable(root, VarLookup)
				v.Table, _ = ref.Handle(l.Table)
				v.TableName, v.Column = l.Table, l.Column
				return
			}
		}
		if _, isStep := w.sc.Steps[root]; root == "ref" && !isStep {
			if len(segs) == 0 || !ref.Has(segs[0]) {
				w.err = fmt.Errorf("ref must be followed by a declared reference table (declared: %s)", strings.Join(ref.Names(), ", "))
				return
			}
			v := w.variable(reftable.VarPrefix+segs[0], VarTable)
			v.Table, _ = ref.Handle(segs[0])
			v.TableName = segs[0]
			return
		}
	}
	switch root {
	case "key":
		w.variable(root, VarKey)
		return
	case "time":
		w.variable(root, VarTime)
		return
	case "event":
		if len(segs) == 0 {
			w.err = errors.New("event must be followed by a field path, as in event.value")
			return
		}
		path := strings.Join(segs, ".")
		w.variable(root, VarEvent).Root.Add(segs, path)
		w.x.OwnPaths = appendNew(w.x.OwnPaths, path)
		return
	}
	if i, isStep := w.sc.Steps[root]; isStep {
		if i >= w.sc.Before {
			w.err = fmt.Errorf("%q refers to step %d, which does not come before this step", root, i)
			return
		}
		if len(segs) == 0 {
			w.err = fmt.Errorf("step %q must be followed by a field path, as in %s.value", root, root)
			return
		}
		path := strings.Join(segs, ".")
		v := w.variable(root, VarStep)
		v.Step = i
		v.Root.Add(segs, path)
		w.x.StepPaths = appendNew(w.x.StepPaths, path)
		return
	}
	path := strings.Join(append([]string{root}, segs...), ".")
	w.variable(root, VarField).Root.Add(segs, path)
	w.x.OwnPaths = appendNew(w.x.OwnPaths, path)
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
