package predicate

import (
	"encoding/json"
	"math"
	"strings"

	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"github.com/eddyhq/eddy/core"
)

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

// Comparison is "<field> <op> <constant>", evaluated as CEL would: a missing field is an error
// (false), a type mismatch is an error for ordering and plain inequality for == and !=.
type Comparison struct {
	// Path is the payload path of the field compared.
	Path string
	// Index is the field-table index of Path; Bind sets it.
	Index int
	op    cmpOp
	kind  core.Kind
	num   float64
	str   string
	b     bool
}

// Conjunction is a native form of a CEL expression: all its comparisons hold. An empty, non-nil
// Conjunction is the literal true.
type Conjunction []Comparison

// maxExactInt is the largest integer a float64 holds exactly; larger integer constants go through
// CEL, which compares int and double exactly.
const maxExactInt = 1 << 53

// Native returns the native form of a checked CEL expression, if it is a conjunction (&&) of
// <field> <op> <constant> comparisons or the literal true; ok is false otherwise. Fields are plain
// references (value, device.temp, event.value); key and time are not fields.
func Native(e celast.Expr) (c Conjunction, ok bool) {
	switch e.Kind() {
	case celast.LiteralKind:
		if b, ok := e.AsLiteral().(types.Bool); ok && bool(b) {
			return Conjunction{}, true
		}
		return nil, false
	case celast.CallKind:
	default:
		return nil, false
	}
	call := e.AsCall()
	if call.IsMemberFunction() || len(call.Args()) != 2 {
		return nil, false
	}
	if call.FunctionName() == "_&&_" {
		l, ok := Native(call.Args()[0])
		if !ok {
			return nil, false
		}
		r, ok := Native(call.Args()[1])
		if !ok {
			return nil, false
		}
		return append(l, r...), true
	}
	op, ok := cmpOps[call.FunctionName()]
	if !ok {
		return nil, false
	}
	a, b := call.Args()[0], call.Args()[1]
	if a.Kind() == celast.LiteralKind {
		a, b = b, a
		op = flip[op]
	}
	path, ok := fieldPath(a)
	if !ok || b.Kind() != celast.LiteralKind {
		return nil, false
	}
	fc := Comparison{Path: path, op: op}
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
	return Conjunction{fc}, true
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

// Bind sets the field-table index of every comparison, adding the paths to table.
func (c Conjunction) Bind(table *core.FieldTable) {
	for i := range c {
		c[i].Index = table.Index(c[i].Path)
	}
}

// Eval reports whether every comparison holds over fields (an event's values by field-table index).
func (c Conjunction) Eval(fields []core.Value) bool {
	for i := range c {
		cmp := &c[i]
		var v core.Value
		if cmp.Index < len(fields) {
			v = fields[cmp.Index]
		}
		if v.Kind != cmp.kind {
			if v.Kind == core.Missing || cmp.op != opNe {
				return false
			}
			continue // heterogeneous !=: true
		}
		var r int
		switch cmp.kind {
		case core.Number:
			switch {
			case v.Num < cmp.num:
				r = -1
			case v.Num > cmp.num:
				r = 1
			}
		case core.String:
			r = strings.Compare(v.Str, cmp.str)
		case core.Bool:
			if v.Bool != cmp.b {
				r = 1
			}
		}
		var ok bool
		switch cmp.op {
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

// Value converts a decoded field to the value CEL sees: a double, string, bool, null, or the
// decoded JSON of an object or array. ok is false for a missing field (or unreadable JSON), which
// CEL then reports as a missing attribute.
func Value(v core.Value) (any, bool) {
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
