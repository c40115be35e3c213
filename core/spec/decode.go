package spec

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/eddyhq/eddy/internal/aggregate"
)

// maxSpecSize bounds what Parse reads: a spec is a page or two of YAML, and the parser's memory grows
// with its input.
const maxSpecSize = 1 << 20

// Load reads and parses the spec file at path (see Parse).
func Load(path string) (*Function, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a YAML spec; name is the file name errors start with. On failure the
// error is an Errors listing every problem found, each with its line and column. Relative file
// sources of reference tables are taken relative to name's directory.
func Parse(name string, data []byte) (*Function, error) {
	f, _, err := parse(name, data)
	if f != nil {
		f.resolveSources(filepath.Dir(name))
	}
	return f, err
}

// parse is Parse, also returning the decoder (positions) for tests and tools.
func parse(name string, data []byte) (f *Function, d *decoder, err error) {
	d = &decoder{file: name, pos: map[string]token.Position{}, keyPos: map[string]token.Position{},
		set: map[string]bool{}, anchors: map[string]ast.Node{}, scalars: map[string]ast.Node{}}
	if len(data) > maxSpecSize {
		return nil, d, Errors{{File: name, Msg: fmt.Sprintf("the spec is %d bytes, more than the %d allowed", len(data), maxSpecSize)}}
	}
	file, perr := parseYAML(data)
	if perr != nil {
		return nil, d, Errors{d.syntaxError(perr)}
	}
	var body ast.Node
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, isComment := doc.Body.(*ast.CommentGroupNode); isComment {
			continue
		}
		if body != nil {
			p := nodePos(doc.Body)
			return nil, d, Errors{{File: name, Line: p.Line, Column: p.Column,
				Msg: "a second YAML document", Hint: "a spec is one document: one function per file"}}
		}
		body = doc.Body
	}
	if body == nil {
		return nil, d, Errors{{File: name, Msg: "the spec is empty", Hint: "start with name:, input: and window:"}}
	}
	f = new(Function)
	d.value(body, reflect.ValueOf(f).Elem(), "", "")
	for _, e := range f.validate(Options{}, d) {
		d.add(e)
	}
	if err := d.errs.err(); err != nil {
		return nil, d, err
	}
	return f, d, nil
}

// parseYAML parses data, turning a parser panic (on input nobody should write) into an error.
func parseYAML(data []byte) (file *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			file, err = nil, fmt.Errorf("the YAML parser failed on this input: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

func (d *decoder) syntaxError(err error) *Error {
	e := &Error{File: d.file, Msg: "invalid YAML: " + err.Error()}
	if se, ok := err.(*yaml.SyntaxError); ok {
		e.Msg = "invalid YAML: " + se.Message
		if se.Token != nil && se.Token.Position != nil {
			e.Line, e.Column = se.Token.Position.Line, max(se.Token.Position.Column, 1)
		}
		if strings.Contains(se.Message, "tab character") {
			e.Hint = "indent with spaces"
		}
	}
	return e
}

// decoder decodes a YAML tree into the spec types by reflection, collecting errors and the
// position of every field so later checks can point at it.
type decoder struct {
	file string
	errs Errors
	// pos is the position of each path's value, keyPos that of its key.
	pos, keyPos map[string]token.Position
	// set holds the paths given explicitly.
	set     map[string]bool
	anchors map[string]ast.Node
	// covered holds paths a decode error already explains (the key a misspelt key meant), so
	// validation does not report them missing.
	covered []string
	// scalars holds the string nodes of CEL expressions, to map a CEL error's position into the
	// file.
	scalars map[string]ast.Node
}

func (d *decoder) errAt(n ast.Node, path, msg, hint string) {
	e := &Error{File: d.file, Path: path, Msg: msg, Hint: hint}
	if n != nil && n.GetToken() != nil && n.GetToken().Position != nil {
		p := n.GetToken().Position
		e.Line, e.Column = p.Line, max(p.Column, 1)
	}
	d.errs = append(d.errs, e)
}

// add places a validation error (which knows its path, not its position) in the file.
func (d *decoder) add(e *Error) {
	e.File = d.file
	if e.celLine > 0 {
		if l, c, ok := d.celPosition(e.Path, e.celLine, e.celCol); ok {
			e.Line, e.Column = l, c
			d.errs = append(d.errs, e)
			return
		}
	}
	for p := e.Path; ; p = parentPath(p) {
		if pos, ok := d.pos[p]; ok {
			e.Line, e.Column = pos.Line, max(pos.Column, 1)
			break
		}
		if p == "" {
			e.Line, e.Column = 1, 1
			break
		}
	}
	d.errs = append(d.errs, e)
}

// celPosition maps a position inside the CEL expression at path to one in the file, when the
// expression is written on one line (plain or quoted without escapes) or as a literal block.
func (d *decoder) celPosition(path string, line, col int) (int, int, bool) {
	n, ok := d.scalars[path]
	if !ok {
		return 0, 0, false
	}
	switch s := n.(type) {
	case *ast.StringNode:
		tk := s.Token
		if tk == nil || tk.Position == nil || line != 1 {
			return 0, 0, false
		}
		switch tk.Type {
		case token.SingleQuoteType, token.DoubleQuoteType:
			raw := strings.TrimSpace(tk.Origin)
			if len(raw) >= 2 && raw[1:len(raw)-1] == s.Value {
				return tk.Position.Line, tk.Position.Column + col, true
			}
		default:
			if strings.TrimSpace(tk.Origin) == s.Value && !strings.Contains(s.Value, "\n") {
				return tk.Position.Line, tk.Position.Column + col - 1, true
			}
		}
	case *ast.LiteralNode:
		if s.Start == nil || s.Start.Position == nil || !strings.HasPrefix(s.Start.Value, "|") || s.Value == nil {
			return 0, 0, false
		}
		lines := strings.Split(s.Value.GetToken().Origin, "\n")
		indent := -1
		for _, l := range lines {
			if strings.TrimSpace(l) != "" {
				indent = len(l) - len(strings.TrimLeft(l, " "))
				break
			}
		}
		if indent < 0 {
			return 0, 0, false
		}
		return s.Start.Position.Line + line, indent + col, true
	}
	return 0, 0, false
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	holdType     = reflect.TypeFor[Hold]()
	aggType      = reflect.TypeFor[Aggregate]()
)

// resolve follows anchors, aliases and tags to the node that holds the value.
func (d *decoder) resolve(n ast.Node, path string) ast.Node {
	for range 64 {
		switch t := n.(type) {
		case *ast.AnchorNode:
			if t.Name != nil {
				d.anchors[t.Name.GetToken().Value] = t.Value
			}
			n = t.Value
		case *ast.AliasNode:
			name := ""
			if t.Value != nil {
				name = t.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.errAt(t, path, fmt.Sprintf("unknown anchor *%s", name), "define it first with &"+name)
				return nil
			}
			n = target
		case *ast.TagNode:
			n = t.Value
		default:
			return n
		}
		if n == nil {
			return nil
		}
	}
	d.errAt(n, path, "anchors nest too deep", "")
	return nil
}

// nodePos is where a node starts: a block mapping's token is its first colon, so use its first key.
func nodePos(n ast.Node) token.Position {
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && !m.IsFlowStyle {
		return *m.Values[0].Key.GetToken().Position
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return *tk.Position
	}
	return token.Position{}
}

// what describes a node's kind for type errors.
func what(n ast.Node) string {
	switch t := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.IntegerNode:
		return "the integer " + t.GetToken().Value
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + t.GetToken().Value
	case *ast.BoolNode:
		return "the boolean " + t.GetToken().Value
	case *ast.StringNode:
		return strconv.Quote(t.Value)
	case *ast.LiteralNode:
		return "a text block"
	case nil, *ast.NullNode:
		return "nothing"
	}
	return "a " + n.Type().String()
}

// isNull reports an absent value (key: with nothing after it, null or ~).
func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// scalarText is the text of a scalar node (strings, numbers, booleans), and whether it is one.
func scalarText(n ast.Node) (string, bool) {
	switch t := n.(type) {
	case *ast.StringNode:
		return t.Value, true
	case *ast.LiteralNode:
		if t.Value == nil {
			return "", true
		}
		return t.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return t.GetToken().Value, true
	}
	return "", false
}

// value decodes n into v; path names it in errors, typeName says what v is.
func (d *decoder) value(n ast.Node, v reflect.Value, path, expect string) {
	n = d.resolve(n, path)
	if n != nil && n.GetToken() != nil && n.GetToken().Position != nil {
		if _, ok := d.pos[path]; !ok {
			d.pos[path] = *n.GetToken().Position
		}
		if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && !m.IsFlowStyle {
			d.pos[path] = *m.Values[0].Key.GetToken().Position
		}
	}
	t := v.Type()
	switch {
	case t == durationType:
		d.duration(n, v, path)
		return
	case t == holdType:
		d.hold(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		if isNull(n) {
			return
		}
		d.value(n, v.Elem(), path, expect)
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errAt(n, path, fmt.Sprintf("expected a list, got %s", what(n)), "write a YAML list: [a, b] or one \"- item\" per line")
			return
		}
		s := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), expect)
		}
		v.Set(s)
	case reflect.String:
		if isNull(n) {
			return
		}
		s, ok := scalarText(n)
		if !ok {
			d.errAt(n, path, fmt.Sprintf("expected %s, got %s", orDefault(expect, "a string"), what(n)), "")
			return
		}
		v.SetString(s)
		if _, ok := n.(*ast.LiteralNode); ok {
			d.scalars[path] = n
		} else if _, ok := n.(*ast.StringNode); ok {
			d.scalars[path] = n
		}
	case reflect.Bool:
		if isNull(n) {
			return
		}
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.errAt(n, path, fmt.Sprintf("expected true or false, got %s", what(n)), "")
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64, reflect.Uint8, reflect.Uint64:
		if isNull(n) {
			return
		}
		d.integer(n, v, path)
	case reflect.Float64:
		if isNull(n) {
			return
		}
		switch t := n.(type) {
		case *ast.IntegerNode:
			switch x := t.Value.(type) {
			case int64:
				v.SetFloat(float64(x))
			case uint64:
				v.SetFloat(float64(x))
			}
		case *ast.FloatNode:
			v.SetFloat(t.Value)
		case *ast.InfinityNode:
			v.SetFloat(t.Value)
		case *ast.NanNode:
			v.SetFloat(math.NaN())
		default:
			d.errAt(n, path, fmt.Sprintf("expected a number, got %s", what(n)), "")
		}
	default:
		d.errAt(n, path, fmt.Sprintf("cannot decode into %s", t), "")
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (d *decoder) integer(n ast.Node, v reflect.Value, path string) {
	in, ok := n.(*ast.IntegerNode)
	if !ok {
		hint := ""
		if f, isFloat := n.(*ast.FloatNode); isFloat && f.Value == math.Trunc(f.Value) {
			hint = "write it without a decimal point"
		}
		d.errAt(n, path, fmt.Sprintf("expected an integer, got %s", what(n)), hint)
		return
	}
	var x int64
	switch val := in.Value.(type) {
	case int64:
		x = val
	case uint64:
		if v.Kind() == reflect.Uint64 {
			v.SetUint(val)
			return
		}
		if val > math.MaxInt64 {
			d.errAt(n, path, fmt.Sprintf("%d is too large", val), "")
			return
		}
		x = int64(val)
	}
	if x < 0 {
		d.errAt(n, path, fmt.Sprintf("%d is negative", x), "")
		return
	}
	switch v.Kind() {
	case reflect.Uint8, reflect.Uint64:
		if v.OverflowUint(uint64(x)) {
			d.errAt(n, path, fmt.Sprintf("%d is too large", x), "")
			return
		}
		v.SetUint(uint64(x))
	default:
		if v.OverflowInt(x) {
			d.errAt(n, path, fmt.Sprintf("%d is too large", x), "")
			return
		}
		v.SetInt(x)
	}
}

// intValue returns an integer node's value if it fits an int64.
func intValue(in *ast.IntegerNode) (int64, bool) {
	switch x := in.Value.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), x <= math.MaxInt64
	}
	return 0, false
}

func (d *decoder) duration(n ast.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if in, ok := n.(*ast.IntegerNode); ok {
		if x, isInt := intValue(in); isInt && x == 0 {
			v.SetInt(0)
			return
		}
		d.errAt(n, path, fmt.Sprintf("%s has no unit", in.GetToken().Value), durationHint)
		return
	}
	s, ok := scalarText(n)
	if _, isStr := n.(*ast.StringNode); !ok || !isStr {
		d.errAt(n, path, fmt.Sprintf("expected a duration, got %s", what(n)), durationHint)
		return
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.errAt(n, path, err.Error(), durationHint)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) hold(n ast.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	const hint = "use a number of windows (3) or a duration (5m)"
	h := v.Addr().Interface().(*Hold)
	switch t := n.(type) {
	case *ast.IntegerNode:
		x, ok := intValue(t)
		if !ok || x < 0 || x > math.MaxInt32 {
			d.errAt(n, path, fmt.Sprintf("%s windows is out of range", t.GetToken().Value), hint)
			return
		}
		*h = Hold{Windows: int(x)}
	case *ast.StringNode:
		dur, err := ParseDuration(t.Value)
		if err != nil {
			d.errAt(n, path, fmt.Sprintf("%q is neither a number of windows nor a duration", t.Value), hint)
			return
		}
		*h = Hold{Duration: dur}
	default:
		d.errAt(n, path, fmt.Sprintf("expected a number of windows or a duration, got %s", what(n)), hint)
	}
}

// fieldInfo describes one YAML key of a struct.
type fieldInfo struct {
	name     string
	index    int
	required bool
	enum     []string
	def      string
	sf       reflect.StructField
}

// fieldsOf lists a spec struct's YAML keys in declaration order.
func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fi := fieldInfo{name: name, index: i, required: sf.Tag.Get("required") == "true", def: sf.Tag.Get("default"), sf: sf}
		if e := sf.Tag.Get("enum"); e != "" {
			fi.enum = strings.Split(e, ",")
		}
		out = append(out, fi)
	}
	return out
}

// synonyms are keys users bring from other systems, with the key eddy uses for the same thing.
var synonyms = map[string]string{
	"condition": "when", "expr": "when", "expression": "when", "if": "when",
	"value": "aggregate", "metric": "aggregate",
	"hop": "sliding", "hopping": "sliding", "tumble": "tumbling", "sessions": "session",
	"watermark": "out_of_order", "max_out_of_orderness": "out_of_order", "lateness": "allowed_lateness",
	"timestamp": "time", "event_time": "time", "ts": "time", "partition_key": "key", "key_by": "key",
	"type": "op", "function": "op", "agg": "op", "keep_firing": "keep_firing_for", "duration": "for",
	"filter": "where", "predicate": "where", "sequence": "steps", "level": "severity",
}

type entry struct {
	key   string
	keyN  ast.Node
	value ast.Node
}

// entries lists a mapping's entries with merge keys (<<: *base) expanded; explicit keys win over
// merged ones.
func (d *decoder) entries(m *ast.MappingNode, path string, depth int) []entry {
	var own, merged []entry
	for _, mv := range m.Values {
		if mv == nil || mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			if depth > 8 {
				d.errAt(mv.Key, path, "merge keys nest too deep", "")
				continue
			}
			src := d.resolve(mv.Value, path)
			var maps []*ast.MappingNode
			switch t := src.(type) {
			case *ast.MappingNode:
				maps = append(maps, t)
			case *ast.SequenceNode:
				for _, item := range t.Values {
					if mm, ok := d.resolve(item, path).(*ast.MappingNode); ok {
						maps = append(maps, mm)
					}
				}
			}
			if len(maps) == 0 {
				d.errAt(mv.Value, path, "<< needs a mapping or a list of mappings to merge", "")
			}
			for _, mm := range maps {
				merged = append(merged, d.entries(mm, path, depth+1)...)
			}
			continue
		}
		kn := d.resolve(mv.Key, path)
		key, ok := scalarText(kn)
		if !ok {
			d.errAt(mv.Key, path, fmt.Sprintf("a key must be a name, got %s", what(kn)), "")
			continue
		}
		own = append(own, entry{key: key, keyN: mv.Key, value: mv.Value})
	}
	if len(merged) == 0 {
		return own
	}
	seen := make(map[string]bool, len(own))
	for _, e := range own {
		seen[e.key] = true
	}
	out := own
	for _, e := range merged {
		if !seen[e.key] {
			seen[e.key] = true
			out = append(out, e)
		}
	}
	return out
}

// mapping decodes a YAML mapping into a struct.
func (d *decoder) mapping(n ast.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		if mv, isMV := n.(*ast.MappingValueNode); isMV {
			m = &ast.MappingNode{BaseNode: &ast.BaseNode{}, Start: mv.GetToken(), Values: []*ast.MappingValueNode{mv}}
		} else {
			d.errAt(n, path, fmt.Sprintf("expected a mapping (key: value lines), got %s", what(n)), "")
			return
		}
	}
	fields := fieldsOf(v.Type())
	byName := make(map[string]fieldInfo, len(fields))
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		byName[f.name] = f
		names = append(names, f.name)
	}
	agg := v.Type() == aggType
	var opFrom string // the key that set an aggregate's op
	qSet := false
	for _, e := range d.entries(m, path, 0) {
		fp := joinPath(path, e.key)
		if e.keyN.GetToken() != nil && e.keyN.GetToken().Position != nil {
			d.keyPos[fp] = *e.keyN.GetToken().Position
		}
		if f, ok := byName[e.key]; ok {
			if d.set[fp] {
				d.errAt(e.keyN, fp, "given twice", "")
				continue
			}
			d.set[fp] = true
			expect := ""
			if len(f.enum) > 0 {
				expect = "one of " + oneOf(f.enum)
			}
			d.value(e.value, v.Field(f.index), fp, expect)
			if agg && e.key == "op" {
				if opFrom != "" {
					d.errAt(e.keyN, fp, fmt.Sprintf("the function is already given by %s:", opFrom), "an aggregate computes one function")
				}
				opFrom = "op"
			}
			if agg && e.key == "q" {
				qSet = true
			}
			continue
		}
		if agg {
			if op, q, ok := shorthandOp(e.key); ok {
				a := v.Addr().Interface().(*Aggregate)
				if opFrom != "" {
					d.errAt(e.keyN, fp, fmt.Sprintf("the function is already given by %s:", opFrom), "an aggregate computes one function: split it in two aggregates")
					continue
				}
				opFrom = e.key
				a.Op = op
				if q >= 0 {
					a.Q, qSet = q, true
					d.set[joinPath(path, "q")] = true
				}
				d.shorthandField(e, a, fp, joinPath(path, "field"))
				continue
			}
		}
		hint := ""
		if s, ok := synonyms[e.key]; ok && byName[s].name != "" {
			hint = "did you mean " + s + "?"
			d.covered = append(d.covered, joinPath(path, s))
		} else if s := suggest(e.key, append(names, aggShorthandKeys(agg)...)); s != "" {
			hint = "did you mean " + s + "?"
			d.covered = append(d.covered, joinPath(path, s))
		} else {
			hint = "known fields: " + strings.Join(names, ", ")
			if agg {
				hint += ", or a function as the key: avg: temp"
			}
		}
		d.errAt(e.keyN, fp, "unknown field", hint)
	}
	if agg {
		a := v.Addr().Interface().(*Aggregate)
		if a.Op == aggregate.Quantile && !qSet {
			d.errAt(n, joinPath(path, "q"), "quantile needs q", "e.g. q: 0.99, or write p99: field")
		}
	}
}

var percentileRE = regexp.MustCompile(`^p([0-9]{1,6})$`)

// shorthandOp recognizes an aggregate function used as a key (avg: temp, p99: latency); q is the
// quantile a pNN key implies, or -1.
func shorthandOp(key string) (op aggregate.Op, q float64, ok bool) {
	for _, o := range aggregate.Ops {
		if key == string(o) {
			return o, -1, true
		}
	}
	if m := percentileRE.FindStringSubmatch(key); m != nil {
		digits := m[1]
		if digits == "100" {
			return aggregate.Quantile, 1, true
		}
		if len(digits) == 1 {
			digits = "0" + digits
		}
		// p99 is 99%, p999 is 99.9%, p5 is 5%.
		pct, _ := strconv.ParseFloat(digits[:2]+"."+digits[2:], 64)
		return aggregate.Quantile, pct / 100, true
	}
	return "", 0, false
}

func aggShorthandKeys(agg bool) []string {
	if !agg {
		return nil
	}
	out := make([]string, 0, len(aggregate.Ops)+3)
	for _, o := range aggregate.Ops {
		out = append(out, string(o))
	}
	sort.Strings(out)
	return append(out, "p50", "p95", "p99")
}

// shorthandField reads the field of a compact aggregate (avg: temp, count: true).
func (d *decoder) shorthandField(e entry, a *Aggregate, path, fieldPath string) {
	n := d.resolve(e.value, path)
	if n != nil && n.GetToken() != nil && n.GetToken().Position != nil {
		d.pos[path] = *n.GetToken().Position
	}
	if a.Op == aggregate.Count {
		if b, ok := n.(*ast.BoolNode); ok {
			if !b.Value {
				d.errAt(n, path, "count: false counts nothing", "write count: true to count events, or remove the aggregate")
			}
			return
		}
		if isNull(n) {
			return
		}
	}
	s, ok := n.(*ast.StringNode)
	if !ok || s.Value == "" {
		hint := "the field to read, e.g. " + string(a.Op) + ": temp"
		if a.Op == aggregate.Count {
			hint = "count: true counts events; count: field counts events whose field is a number"
		}
		d.errAt(n, path, fmt.Sprintf("expected a field path, got %s", what(n)), hint)
		return
	}
	if d.set[fieldPath] {
		d.errAt(e.keyN, path, "the field is already given by field:", "write either "+e.key+": field or op: and field:")
		return
	}
	d.set[fieldPath] = true
	a.Field = s.Value
	d.pos[fieldPath] = *s.GetToken().Position
}
