package reftable

import (
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Lookup is a lookup of one column of the row of the evaluated key, ref.<Table>[key].<Column>,
// which RewriteLookups turns into one variable so that it costs a Go map access or two instead
// of CEL's generic indexing (which allocates a qualifier per evaluation).
type Lookup struct {
	// Name is the variable the lookup became.
	Name   string
	Table  string
	Column string
}

// RewriteLookups replaces every ref.<table>[key].<column> in the parsed expression e (table one
// of tables, key the identifier keyIdent) by a variable of its own, and returns them: declare
// each with CELVariable and resolve it with Table.Resolve. Other forms (another index, a
// presence test, a whole row) are left to CEL's own map access, with the same results.
func RewriteLookups(e ast.Expr, tables []string, keyIdent string) []Lookup {
	if len(tables) == 0 {
		return nil
	}
	var found []Lookup
	fac := ast.NewExprFactory()
	ast.PostOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		if x.Kind() != ast.SelectKind || x.AsSelect().IsTestOnly() {
			return
		}
		idx := x.AsSelect().Operand()
		if idx.Kind() != ast.CallKind || idx.AsCall().FunctionName() != "_[_]" || len(idx.AsCall().Args()) != 2 {
			return
		}
		tbl, k := idx.AsCall().Args()[0], idx.AsCall().Args()[1]
		if k.Kind() != ast.IdentKind || k.AsIdent() != keyIdent || tbl.Kind() != ast.SelectKind || tbl.AsSelect().IsTestOnly() {
			return
		}
		root := tbl.AsSelect().Operand()
		name := tbl.AsSelect().FieldName()
		if root.Kind() != ast.IdentKind || root.AsIdent() != strings.TrimSuffix(VarPrefix, ".") || !contains(tables, name) {
			return
		}
		l := Lookup{Name: VarPrefix + name + "[" + keyIdent + "]." + x.AsSelect().FieldName(), Table: name, Column: x.AsSelect().FieldName()}
		x.SetKindCase(fac.NewIdent(x.ID(), l.Name))
		for _, f := range found {
			if f.Name == l.Name {
				return
			}
		}
		found = append(found, l)
	}))
	return found
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// CELVariable declares l's variable.
func (l Lookup) CELVariable() cel.EnvOption { return cel.Variable(l.Name, cel.DynType) }

// TableOf returns the table a CEL variable name reads (ref.<table> or a Lookup's name), "" if
// it reads none.
func TableOf(name string) string {
	rest, ok := strings.CutPrefix(name, VarPrefix)
	if !ok {
		return ""
	}
	if i := strings.IndexByte(rest, '['); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// Resolve evaluates lookup column for key: the column's value in the key's row (the default row
// for a key the table lacks), or an error value as CEL's map access gives one.
func (t *Table) Resolve(key, column string) ref.Val {
	i, ok := t.colIdx[column]
	if !ok {
		i = -1
	}
	return t.ResolveAt(key, i, column)
}

// ColumnIndex is the index of column for ResolveAt, -1 if the table has no such column. It is
// valid for this version of the table only.
func (t *Table) ColumnIndex(column string) int {
	if i, ok := t.colIdx[column]; ok {
		return i
	}
	return -1
}

// ResolveAt is Resolve with the column's index in this version of the table (ColumnIndex); the
// name is for the error of a missing column.
func (t *Table) ResolveAt(key string, col int, column string) ref.Val {
	r, ok := t.rows[key]
	if !ok {
		if r = t.def; r == nil {
			return types.NewErr("no such key: %s", key)
		}
	}
	if col >= 0 && r.vals[col] != nil {
		return r.vals[col]
	}
	return types.NewErr("no such key: %s", column)
}
