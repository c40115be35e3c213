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
	vars      []*varBind
	varIdx    map[string]int
}

type varKind uint8

const (
	varKey varKind = iota
	varTime
	varField // a top-level payload field: the root is the first path segment
	varEvent // event.<path>
	varStep  // <step>.<path>
	varTable // ref.<table>
	varLookup
)

type varBind struct {
	name string
	kind varKind
	step int
	root *predicate.PathTree[leafAt]
	// table, tableName and column: a reference table read, and a lookup's column.
	table     reftable.Handle
	tableName string
	column    string
}

// leafAt is where a read payload field is found: by field-table index in an event being added,
// by retained slot (-1 if not retained) in a buffered one.
type leafAt struct{ tidx, slot int }

type celCompiler struct {
	env  *cel.Env
	cost uint64
	ref  *reftable.Set
}

func newCELCompiler(cost uint64) (*celCompiler, error) {
	env, err := cel.NewEnv(
		cel.CrossTypeNumericComparisons(true),
		cel.Variable("key", cel.StringType),
		cel.Variable("time", cel.TimestampType),
	)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	return &celCompiler{env: env, cost: cost}, nil
}

// compile parses, checks and plans one predicate; earlier are the steps before it.
func (cc *celCompiler) compile(src string, earlier []Step, names map[string]int, table *core.FieldTable) (*pred, error) {
	pr := &pred{src: src, eager: true, varIdx: map[string]int{}}
	if strings.TrimSpace(src) == "" {
		pr.always = true
		pr.fast = predicate.Conjunction{}
		return pr, nil
	}
	parsed, iss := cc.env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("parse %q: %w", src, iss.Err())
	}
	var refErr error
	opts := []cel.EnvOption{}
	declared := map[string]bool{}
	lookups := reftable.RewriteLookups(parsed.NativeRep().Expr(), cc.ref.Names(), "key")
	varOf := func(name string, kind varKind, stepIdx int) *varBind {
		if i, ok := pr.varIdx[name]; ok {
			return pr.vars[i]
		}
		v := &varBind{name: name, kind: kind, step: stepIdx, root: &predicate.PathTree[leafAt]{Seg: name}}
		pr.varIdx[name] = len(pr.vars)
		pr.vars = append(pr.vars, v)
		if !declared[name] && kind != varKey && kind != varTime {
			declared[name] = true
			t := cel.DynType
			if kind == varStep || kind == varEvent {
				t = cel.MapType(cel.StringType, cel.DynType)
			}
			if kind == varTable {
				t = reftable.CELType
			}
			opts = append(opts, cel.Variable(name, t))
		}
		return v
	}
	predicate.WalkRefs(parsed.NativeRep().Expr(), func(root string, segs []string) {
		if refErr != nil {
			return
		}
		if cc.ref != nil {
			for _, l := range lookups {
				if root == l.Name {
					h, _ := cc.ref.Handle(l.Table)
					v := varOf(root, varLookup, 0)
					v.table, v.tableName, v.column = h, l.Table, l.Column
					return
				}
			}
			if _, isStep := names[root]; root == "ref" && !isStep {
				if len(segs) == 0 || !cc.ref.Has(segs[0]) {
					refErr = fmt.Errorf("ref must be followed by a declared reference table (declared: %s)", strings.Join(cc.ref.Names(), ", "))
					return
				}
				h, _ := cc.ref.Handle(segs[0])
				v := varOf(reftable.VarPrefix+segs[0], varTable, 0)
				v.table, v.tableName = h, segs[0]
				return
			}
		}
		switch root {
		case "key":
			varOf(root, varKey, 0)
			return
		case "time":
			varOf(root, varTime, 0)
			return
		case "event":
			if len(segs) == 0 {
				refErr = errors.New("event must be followed by a field path, as in event.value")
				return
			}
			path := strings.Join(segs, ".")
			varOf(root, varEvent, 0).root.Add(segs, path)
			pr.ownPaths = appendNew(pr.ownPaths, path)
			return
		}
		if i, isStep := names[root]; isStep {
			if i >= len(earlier) {
				refErr = fmt.Errorf("%q refers to step %d, which does not come before this step", root, i)
				return
			}
			if len(segs) == 0 {
				refErr = fmt.Errorf("step %q must be followed by a field path, as in %s.value", root, root)
				return
			}
			pr.eager = false
			path := strings.Join(segs, ".")
			varOf(root, varStep, i).root.Add(segs, path)
			pr.stepPaths = appendNew(pr.stepPaths, path)
			return
		}
		path := strings.Join(append([]string{root}, segs...), ".")
		v := varOf(root, varField, 0)
		v.root.Add(segs, path)
		pr.ownPaths = appendNew(pr.ownPaths, path)
	})
	if refErr != nil {
		return nil, refErr
	}
	env, err := cc.env.Extend(opts...)
	if err != nil {
		return nil, fmt.Errorf("declare variables of %q: %w", src, err)
	}
	checked, iss := env.Check(parsed)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("check %q: %w", src, iss.Err())
	}
	if ot := checked.OutputType(); !ot.IsExactType(cel.BoolType) && !ot.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("%q yields %s, want bool", src, ot)
	}
	prog, err := env.Program(checked, cel.CostLimit(cc.cost))
	if err != nil {
		return nil, fmt.Errorf("program %q: %w", src, err)
	}
	pr.prog = prog
	readsRef := false
	for _, v := range pr.vars {
		readsRef = readsRef || v.kind == varTable || v.kind == varLookup
	}
	// The native path knows payload fields only.
	if pr.eager && !readsRef {
		if f, ok := predicate.Native(checked.NativeRep().Expr()); ok {
			pr.fast = f
		}
	}
	return pr, nil
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func (pr *pred) bind(table *core.FieldTable, slotOf map[int]int) {
	for _, v := range pr.vars {
		if v.kind == varField || v.kind == varEvent || v.kind == varStep {
			if v.kind == varField && v.root.Leaf {
				v.root.Path = v.name
			}
			v.root.EachLeaf(func(n *predicate.PathTree[leafAt]) {
				n.At.tidx = table.Index(n.Path)
				n.At.slot = -1
				if s, ok := slotOf[n.At.tidx]; ok {
					n.At.slot = s
				}
			})
		}
	}
	pr.fast.Bind(table)
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
	v := a.pr.vars[i]
	switch v.kind {
	case varKey:
		return a.key, true
	case varTime:
		return time.Unix(0, a.t).UTC(), true
	case varTable:
		return v.table.Current().CEL(), true
	case varLookup:
		return v.table.Current().Resolve(a.key, v.column), true
	case varStep:
		if v.step >= len(a.caps) || a.caps[v.step].n == 0 {
			return nil, false
		}
		return a.build(v.root, a.caps[v.step].last.vals, true)
	}
	return a.build(v.root, a.fields, a.slotted)
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) build(n *predicate.PathTree[leafAt], fields []core.Value, slotted bool) (any, bool) {
	if n.Leaf {
		i := n.At.tidx
		if slotted {
			i = n.At.slot
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
