package pattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/eddyhq/eddy/core"
)

// pred is one compiled step predicate.
type pred struct {
	src    string
	bit    uint
	always bool // empty Where: every event matches
	// eager predicates read only the event itself, so they run once on Add and their result rides
	// along in the event's mask; the others (reading earlier steps) run per partial match.
	eager bool
	fast  []fastCmp // non-nil: a native conjunction equivalent to prog
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
)

type varBind struct {
	name string
	kind varKind
	step int
	root *node
}

// node is a tree of the payload paths a variable reads; a leaf is one decoded field. A variable
// whose own path is read whole is a leaf at the root.
type node struct {
	seg      string
	path     string // full payload path, for leaves
	leaf     bool
	tidx     int // field-table index of a leaf
	slot     int // retained slot of a leaf, -1 if not retained
	children []*node
}

func (n *node) add(segs []string, path string) {
	if n.leaf {
		return // the whole value is read already
	}
	if len(segs) == 0 {
		n.leaf, n.path, n.children = true, path, nil
		return
	}
	for _, c := range n.children {
		if c.seg == segs[0] {
			c.add(segs[1:], path)
			return
		}
	}
	c := &node{seg: segs[0]}
	n.children = append(n.children, c)
	c.add(segs[1:], path)
}

func (n *node) bind(table *core.FieldTable, slotOf map[int]int) {
	if n.leaf {
		n.tidx = table.Index(n.path)
		n.slot = -1
		if s, ok := slotOf[n.tidx]; ok {
			n.slot = s
		}
		return
	}
	for _, c := range n.children {
		c.bind(table, slotOf)
	}
}

type celCompiler struct {
	env  *cel.Env
	cost uint64
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
		pr.fast = []fastCmp{}
		return pr, nil
	}
	parsed, iss := cc.env.Parse(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("parse %q: %w", src, iss.Err())
	}
	var refErr error
	opts := []cel.EnvOption{}
	declared := map[string]bool{}
	varOf := func(name string, kind varKind, stepIdx int) *varBind {
		if i, ok := pr.varIdx[name]; ok {
			return pr.vars[i]
		}
		v := &varBind{name: name, kind: kind, step: stepIdx, root: &node{seg: name}}
		pr.varIdx[name] = len(pr.vars)
		pr.vars = append(pr.vars, v)
		if !declared[name] && kind != varKey && kind != varTime {
			declared[name] = true
			t := cel.DynType
			if kind == varStep || kind == varEvent {
				t = cel.MapType(cel.StringType, cel.DynType)
			}
			opts = append(opts, cel.Variable(name, t))
		}
		return v
	}
	walkRefs(parsed.NativeRep().Expr(), nil, func(root string, segs []string) {
		if refErr != nil {
			return
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
			varOf(root, varEvent, 0).root.add(segs, path)
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
			varOf(root, varStep, i).root.add(segs, path)
			pr.stepPaths = appendNew(pr.stepPaths, path)
			return
		}
		path := strings.Join(append([]string{root}, segs...), ".")
		v := varOf(root, varField, 0)
		v.root.add(segs, path)
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
	if pr.eager {
		if f, ok := fastOf(checked.NativeRep().Expr(), table); ok {
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

// walkRefs reports every free variable of e with the chain of field selections applied to it
// (device.temp reports ("device", ["temp"])). Comprehension variables are bound, not reported.
func walkRefs(e celast.Expr, scope []string, visit func(root string, segs []string)) {
	if e == nil {
		return
	}
	bound := func(name string) bool {
		for i := len(scope) - 1; i >= 0; i-- {
			if scope[i] == name {
				return true
			}
		}
		return false
	}
	switch e.Kind() {
	case celast.IdentKind:
		if !bound(e.AsIdent()) {
			visit(e.AsIdent(), nil)
		}
	case celast.SelectKind:
		var segs []string
		cur := e
		for cur.Kind() == celast.SelectKind {
			segs = append(segs, cur.AsSelect().FieldName())
			cur = cur.AsSelect().Operand()
		}
		if cur.Kind() == celast.IdentKind {
			if bound(cur.AsIdent()) {
				return
			}
			for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
				segs[i], segs[j] = segs[j], segs[i]
			}
			visit(cur.AsIdent(), segs)
			return
		}
		walkRefs(cur, scope, visit)
	case celast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() {
			walkRefs(c.Target(), scope, visit)
		}
		for _, a := range c.Args() {
			walkRefs(a, scope, visit)
		}
	case celast.ListKind:
		for _, x := range e.AsList().Elements() {
			walkRefs(x, scope, visit)
		}
	case celast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			walkRefs(me.Key(), scope, visit)
			walkRefs(me.Value(), scope, visit)
		}
	case celast.StructKind:
		for _, en := range e.AsStruct().Fields() {
			walkRefs(en.AsStructField().Value(), scope, visit)
		}
	case celast.ComprehensionKind:
		c := e.AsComprehension()
		walkRefs(c.IterRange(), scope, visit)
		walkRefs(c.AccuInit(), scope, visit)
		inner := append(append([]string(nil), scope...), c.IterVar(), c.AccuVar())
		if c.HasIterVar2() {
			inner = append(inner, c.IterVar2())
		}
		walkRefs(c.LoopCondition(), inner, visit)
		walkRefs(c.LoopStep(), inner, visit)
		walkRefs(c.Result(), inner, visit)
	}
}

func (pr *pred) bind(table *core.FieldTable, slotOf map[int]int) {
	for _, v := range pr.vars {
		if v.kind == varField || v.kind == varEvent || v.kind == varStep {
			if v.kind == varField && v.root.leaf {
				v.root.path = v.name
			}
			v.root.bind(table, slotOf)
		}
	}
	for i := range pr.fast {
		pr.fast[i].idx = table.Index(pr.fast[i].path)
	}
}

// Fast path.

type cmpOp uint8

const (
	opLt cmpOp = iota
	opLe
	opGt
	opGe
	opEq
	opNe
)

var cmpOps = map[string]cmpOp{"_<_": opLt, "_<=_": opLe, "_>_": opGt, "_>=_": opGe, "_==_": opEq, "_!=_": opNe}

// flip turns "c op x" into "x op' c".
var flip = [...]cmpOp{opLt: opGt, opLe: opGe, opGt: opLt, opGe: opLe, opEq: opEq, opNe: opNe}

// fastCmp is "<field> <op> <constant>", evaluated as CEL would: a missing field is an error (false),
// a type mismatch is an error for ordering and plain inequality for == and !=.
type fastCmp struct {
	path string
	idx  int
	op   cmpOp
	kind core.Kind
	num  float64
	str  string
	b    bool
}

// maxExactInt is the largest integer a float64 holds exactly; larger integer constants go through
// CEL, which compares int and double exactly.
const maxExactInt = 1 << 53

func fastOf(e celast.Expr, table *core.FieldTable) ([]fastCmp, bool) {
	switch e.Kind() {
	case celast.LiteralKind:
		if b, ok := e.AsLiteral().(types.Bool); ok && bool(b) {
			return []fastCmp{}, true
		}
		return nil, false
	case celast.CallKind:
	default:
		return nil, false
	}
	c := e.AsCall()
	if c.IsMemberFunction() || len(c.Args()) != 2 {
		return nil, false
	}
	if c.FunctionName() == "_&&_" {
		l, ok := fastOf(c.Args()[0], table)
		if !ok {
			return nil, false
		}
		r, ok := fastOf(c.Args()[1], table)
		if !ok {
			return nil, false
		}
		return append(l, r...), true
	}
	op, ok := cmpOps[c.FunctionName()]
	if !ok {
		return nil, false
	}
	a, b := c.Args()[0], c.Args()[1]
	if a.Kind() == celast.LiteralKind {
		a, b = b, a
		op = flip[op]
	}
	path, ok := fieldPath(a)
	if !ok || b.Kind() != celast.LiteralKind {
		return nil, false
	}
	fc := fastCmp{path: path, op: op}
	switch v := b.AsLiteral().(type) {
	case types.Double:
		if math.IsNaN(float64(v)) {
			return nil, false
		}
		fc.kind, fc.num = core.Number, float64(v)
	case types.Int:
		if v > maxExactInt || v < -maxExactInt {
			return nil, false
		}
		fc.kind, fc.num = core.Number, float64(v)
	case types.Uint:
		if v > maxExactInt {
			return nil, false
		}
		fc.kind, fc.num = core.Number, float64(v)
	case types.String:
		fc.kind, fc.str = core.String, string(v)
	case types.Bool:
		if op != opEq && op != opNe {
			return nil, false
		}
		fc.kind, fc.b = core.Bool, bool(v)
	default:
		return nil, false
	}
	return []fastCmp{fc}, true
}

// fieldPath returns the payload path of a plain field reference (value, device.temp, event.key).
func fieldPath(e celast.Expr) (string, bool) {
	var segs []string
	for e.Kind() == celast.SelectKind {
		s := e.AsSelect()
		if s.IsTestOnly() {
			return "", false
		}
		segs = append(segs, s.FieldName())
		e = s.Operand()
	}
	if e.Kind() != celast.IdentKind {
		return "", false
	}
	root := e.AsIdent()
	switch root {
	case "key", "time":
		return "", false
	case "event":
		if len(segs) == 0 {
			return "", false
		}
	default:
		segs = append(segs, root)
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return strings.Join(segs, "."), true
}

func evalFast(cmps []fastCmp, fields []core.Value) bool {
	for i := range cmps {
		c := &cmps[i]
		var v core.Value
		if c.idx < len(fields) {
			v = fields[c.idx]
		}
		if v.Kind != c.kind {
			if v.Kind == core.Missing || c.op != opNe {
				return false
			}
			continue // heterogeneous !=: true
		}
		var r int
		switch c.kind {
		case core.Number:
			switch {
			case v.Num < c.num:
				r = -1
			case v.Num > c.num:
				r = 1
			}
		case core.String:
			r = strings.Compare(v.Str, c.str)
		case core.Bool:
			if v.Bool != c.b {
				r = 1
			}
		}
		var ok bool
		switch c.op {
		case opLt:
			ok = r < 0
		case opLe:
			ok = r <= 0
		case opGt:
			ok = r > 0
		case opGe:
			ok = r >= 0
		case opEq:
			ok = r == 0
		case opNe:
			ok = r != 0
		}
		if !ok {
			return false
		}
	}
	return true
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

func (a *activation) build(n *node, fields []core.Value, slotted bool) (any, bool) {
	if n.leaf {
		i := n.tidx
		if slotted {
			i = n.slot
		}
		if i < 0 || i >= len(fields) {
			return nil, false
		}
		return celValue(fields[i])
	}
	m := make(map[string]any, len(n.children))
	for _, c := range n.children {
		if x, ok := a.build(c, fields, slotted); ok {
			m[c.seg] = x
		}
	}
	return m, true
}

func celValue(v core.Value) (any, bool) {
	switch v.Kind {
	case core.Number:
		return v.Num, true
	case core.String:
		return v.Str, true
	case core.Bool:
		return v.Bool, true
	case core.Null:
		return types.NullValue, true
	case core.Object:
		var x any
		if err := json.Unmarshal(v.Raw, &x); err != nil {
			return nil, false
		}
		return x, true
	}
	return nil, false
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
