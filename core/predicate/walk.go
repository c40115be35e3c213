package predicate

import (
	celast "cel.dev/cel-go/common/ast"
)

// WalkRefs reports every free variable of e with the chain of field selections applied to it
// (device.temp reports ("device", ["temp"])). Comprehension variables are bound, not reported.
func WalkRefs(e celast.Expr, visit func(root string, segs []string)) {
	walkRefs(e, nil, visit)
}

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
