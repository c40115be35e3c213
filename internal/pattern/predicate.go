package pattern

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/predicate"
	"github.com/eddyhq/eddy/core/reftable"
)

// pred is one compiled step predicate.
type pred struct {
	src    string
	bit    uint
	always bool // empty Where: every event matches
	// eager predicates read only the event itself, so they run once on Add and their result rides
	// along in the event's mask; the others (reading earlier steps) run per partial match.
	eager bool
	fast  predicate.Conjunction // non-nil: a native conjunction equivalent to prog
	prog  cel.Program

	ownPaths  []string // payload paths of the event itself
	stepPaths []string // payload paths read from earlier steps' events
	// vars are the variables prog reads; a payload leaf's At.Slot is its retained slot (-1 if
	// not retained).
	vars   []predicate.Var
	varIdx map[string]int
}

// compilePred compiles one step predicate with package predicate's compiler; earlier is how many
// steps come before it, names all steps by name. Errors are worded as they always were for steps.
func compilePred(src string, earlier int, names map[string]int, table *core.FieldTable, cost uint64, ref *reftable.Set) (*pred, error) {
	pr := &pred{src: src, eager: true}
	if strings.TrimSpace(src) == "" {
		pr.always = true
		pr.fast = predicate.Conjunction{}
		return pr, nil
	}
	x, err := predicate.CompileExpr(src, table, cost, predicate.Scope{Ref: ref, Steps: names, Before: earlier})
	if err != nil {
		var xe *predicate.ExprError
		if !errors.As(err, &xe) {
			return nil, err
		}
		switch xe.Stage {
		case predicate.StageParse:
			return nil, fmt.Errorf("parse %q: %w", src, xe.Err)
		case predicate.StageDeclare:
			return nil, fmt.Errorf("declare variables of %q: %w", src, xe.Err)
		case predicate.StageCheck:
			return nil, fmt.Errorf("check %q: %w", src, xe.Err)
		case predicate.StageType:
			return nil, fmt.Errorf("%q yields %s, want bool", src, xe.OutputType)
		case predicate.StageProgram:
			return nil, fmt.Errorf("program %q: %w", src, xe.Err)
		}
		return nil, xe.Err
	}
	pr.prog, pr.fast, pr.vars, pr.varIdx = x.Prog, x.Fast, x.Vars, x.ByName
	pr.ownPaths, pr.stepPaths = x.OwnPaths, x.StepPaths
	pr.eager = len(x.StepPaths) == 0
	return pr, nil
}

// bind sets the retained slot of every payload field the predicate reads (slotOf: by field-table
// index).
func (pr *pred) bind(slotOf map[int]int) {
	for _, v := range pr.vars {
		if v.Root == nil {
			continue
		}
		v.Root.EachLeaf(func(n *predicate.PathTree[predicate.Leaf]) {
			n.At.Slot = -1
			if s, ok := slotOf[n.At.Index]; ok {
				n.At.Slot = s
			}
		})
	}
}

// CEL path.

// activation resolves a predicate's variables for one evaluation. fields are the event's values by
// field-table index (on Add) or by retained slot (after buffering); caps are the partial match's
// captured events, for step references.
type activation struct {
	pr      *pred
	key     string
	t       int64
	fields  []core.Value
	slotted bool
	caps    []capture
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	i, ok := a.pr.varIdx[name]
	if !ok {
		return nil, false
	}
	v := &a.pr.vars[i]
	switch v.Kind {
	case predicate.VarKey:
		return a.key, true
	case predicate.VarTime:
		return time.Unix(0, a.t).UTC(), true
	case predicate.VarTable:
		return v.Table.Current().CEL(), true
	case predicate.VarLookup:
		return v.Table.Current().Resolve(a.key, v.Column), true
	case predicate.VarStep:
		if v.Step >= len(a.caps) || a.caps[v.Step].n == 0 {
			return nil, false
		}
		return a.build(v.Root, a.caps[v.Step].last.vals, true)
	}
	return a.build(v.Root, a.fields, a.slotted)
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) build(n *predicate.PathTree[predicate.Leaf], fields []core.Value, slotted bool) (any, bool) {
	if n.Leaf {
		i := n.At.Index
		if slotted {
			i = n.At.Slot
		}
		if i < 0 || i >= len(fields) {
			return nil, false
		}
		return predicate.Value(fields[i])
	}
	m := make(map[string]any, len(n.Children))
	for _, c := range n.Children {
		if x, ok := a.build(c, fields, slotted); ok {
			m[c.Seg] = x
		}
	}
	return m, true
}

// evalCEL runs the CEL program; an error or a non-bool result is false, reported as failed.
func (pr *pred) evalCEL(a *activation) (match, failed bool) {
	// A panic inside the interpreter must not cross the package boundary; it counts as a failure.
	defer func() {
		if recover() != nil {
			match, failed = false, true
		}
	}()
	a.pr = pr
	out, _, err := pr.prog.Eval(a)
	a.pr = nil
	if err != nil {
		return false, true
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, !isBoolVal(out)
	}
	return bool(b), false
}

func isBoolVal(v ref.Val) bool { return v != nil && v.Type() == types.BoolType }
