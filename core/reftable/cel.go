package reftable

import (
	"fmt"
	"reflect"
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// VarPrefix starts the CEL variable of every table: table limits is the variable ref.limits, a
// map from key to row (a map from column to value).
const VarPrefix = "ref."

// CELType is the CEL type of a table variable.
var CELType = cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.DynType))

// CELVariables declares the variables of tables names for a CEL environment.
func CELVariables(names []string) []cel.EnvOption {
	opts := make([]cel.EnvOption, 0, len(names))
	for _, n := range names {
		opts = append(opts, cel.Variable(VarPrefix+n, CELType))
	}
	return opts
}

// celRow is a row as CEL sees it, built once per table version.
type celRow = traits.Mapper

func newRow(cols map[string]any) *Row {
	m := make(map[ref.Val]ref.Val, len(cols))
	vals := make(map[string]ref.Val, len(cols))
	for c, v := range cols {
		cv := types.DefaultTypeAdapter.NativeToValue(v)
		m[types.String(c)] = cv
		vals[c] = cv
	}
	return &Row{cols: cols, celVals: vals, val: types.NewRefValMap(types.DefaultTypeAdapter, m)}
}

// CEL returns the table as a CEL map value: indexing it with a key the table lacks gives the
// default row when the table has one; `key in ref.limits` is true only for keys the table has.
func (t *Table) CEL() ref.Val { return celTable{t} }

// celTable is a Table as a CEL map. It is a value type over a pointer, so handing it to CEL does
// not allocate.
type celTable struct{ t *Table }

var _ traits.Mapper = celTable{}

// ConvertToNative implements ref.Val.
func (c celTable) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return nil, fmt.Errorf("reference table %s cannot be converted to %v", c.t.name, typeDesc)
}

// ConvertToType implements ref.Val.
func (c celTable) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.MapType:
		return c
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from reference table to %s", typeVal)
}

// Equal implements ref.Val.
func (c celTable) Equal(other ref.Val) ref.Val {
	o, ok := other.(celTable)
	return types.Bool(ok && o.t == c.t)
}

// Type implements ref.Val.
func (celTable) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (c celTable) Value() any { return c.t }

// Contains implements traits.Container: whether the table has the key (the default row aside).
func (c celTable) Contains(k ref.Val) ref.Val {
	s, ok := k.(types.String)
	if !ok {
		return types.Bool(false)
	}
	_, ok = c.t.rows[string(s)]
	return types.Bool(ok)
}

// Get implements traits.Indexer.
func (c celTable) Get(k ref.Val) ref.Val {
	v, ok := c.Find(k)
	if !ok {
		if v != nil {
			return v
		}
		return types.NewErr("no such key: %v", k)
	}
	return v
}

// Find implements traits.Mapper; a key the table lacks finds the default row if there is one.
func (c celTable) Find(k ref.Val) (ref.Val, bool) {
	s, ok := k.(types.String)
	if !ok {
		if types.IsUnknownOrError(k) {
			return k, false
		}
		return types.NewErr("reference table %s: keys are strings, got %s", c.t.name, k.Type()), false
	}
	if r, ok := c.t.rows[string(s)]; ok {
		return r.val, true
	}
	if c.t.def != nil {
		return c.t.def.val, true
	}
	return nil, false
}

// Iterator implements traits.Iterable, over the keys in sorted order.
func (c celTable) Iterator() traits.Iterator {
	keys := make([]string, 0, len(c.t.rows))
	for k := range c.t.rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return types.NewStringList(types.DefaultTypeAdapter, keys).Iterator()
}

// Size implements traits.Sizer.
func (c celTable) Size() ref.Val { return types.Int(len(c.t.rows)) }
