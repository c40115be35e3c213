package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/core"
)

// gen writes random JSON: nesting, escapes, unicode (including surrogate pairs and lone surrogates),
// invalid UTF-8 in strings, numbers in every form, and random whitespace.
type gen struct {
	r *rand.Rand
	b bytes.Buffer
}

var keyPool = []string{"a", "b", "key", "ts", "value", "0", "1", "x.y", "", "é", `q"t`, `b\s`, "$key", "a[b", "items", "n"}

func (g *gen) ws() {
	if g.r.IntN(3) == 0 {
		g.b.WriteString([]string{" ", "\n", "\t", "\r\n  ", "  "}[g.r.IntN(5)])
	}
}

func (g *gen) str(s string) {
	g.b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			g.b.WriteByte('\\')
			g.b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&g.b, `\u%04x`, c)
		default:
			g.b.WriteByte(c)
		}
	}
	g.b.WriteByte('"')
}

func (g *gen) randString() {
	if g.r.IntN(2) == 0 {
		g.str(keyPool[g.r.IntN(len(keyPool))])
		return
	}
	g.b.WriteByte('"')
	for range g.r.IntN(12) {
		switch g.r.IntN(14) {
		case 0:
			g.b.WriteString([]string{`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`}[g.r.IntN(8)])
		case 1:
			fmt.Fprintf(&g.b, `\u%04X`, g.r.IntN(0x10000))
		case 2:
			g.b.WriteString(`\ud83d\ude00`) // a surrogate pair
		case 3:
			g.b.WriteString([]string{`\ud800`, `\udc00x`, `\ud800\u0041`, `\ud800\ud800`}[g.r.IntN(4)])
		case 4:
			g.b.WriteString("é日本😀")
		case 5:
			g.b.WriteByte(byte(0x80 + g.r.IntN(0x80))) // invalid UTF-8
		case 6:
			g.b.WriteString("\xed\xa0\x80") // an encoded surrogate: invalid UTF-8
		default:
			g.b.WriteByte(byte('a' + g.r.IntN(26)))
		}
	}
	g.b.WriteByte('"')
}

func (g *gen) number() {
	switch g.r.IntN(8) {
	case 0:
		g.b.WriteString(strconv.Itoa(g.r.IntN(100)))
	case 1:
		g.b.WriteString(strconv.FormatInt(1700000000000+g.r.Int64N(1e9), 10))
	case 2:
		g.b.WriteString(strconv.FormatFloat(g.r.NormFloat64()*1e3, 'f', -1, 64))
	case 3:
		g.b.WriteString(strconv.FormatFloat(g.r.NormFloat64()*math10(g.r.IntN(40)-20), 'e', -1, 64))
	case 4:
		fmt.Fprintf(&g.b, "%d.%de%s%d", g.r.IntN(10), g.r.IntN(1000), []string{"", "+", "-"}[g.r.IntN(3)], g.r.IntN(30))
	case 5:
		g.b.WriteString([]string{"0", "-0", "0.0", "-0.0e0", "1E2", "123456789012345678901234567890", "0.1", "9007199254740993",
			"1e-320", "2.2250738585072014e-308", "0.30000000000000004"}[g.r.IntN(11)])
	case 6:
		fmt.Fprintf(&g.b, "-%d.%06d", g.r.IntN(1e6), g.r.IntN(1e6))
	default:
		g.b.WriteString(strconv.FormatFloat(g.r.Float64(), 'g', -1, 64))
	}
}

func math10(e int) float64 {
	f := 1.0
	for ; e > 0; e-- {
		f *= 10
	}
	for ; e < 0; e++ {
		f /= 10
	}
	return f
}

func (g *gen) value(depth int) {
	g.ws()
	k := g.r.IntN(10)
	if depth > 4 && k >= 7 {
		k = g.r.IntN(7)
	}
	switch k {
	case 0, 1:
		g.randString()
	case 2, 3:
		g.number()
	case 4:
		g.b.WriteString([]string{"true", "false", "null"}[g.r.IntN(3)])
	case 5, 6, 7:
		g.object(depth + 1)
	default:
		g.b.WriteByte('[')
		n := g.r.IntN(4)
		for i := range n {
			if i > 0 {
				g.b.WriteByte(',')
			}
			g.value(depth + 1)
		}
		g.ws()
		g.b.WriteByte(']')
	}
	g.ws()
}

func (g *gen) object(depth int) {
	g.b.WriteByte('{')
	n := g.r.IntN(5)
	for i := range n {
		if i > 0 {
			g.b.WriteByte(',')
		}
		g.ws()
		if g.r.IntN(8) == 0 {
			g.randString()
		} else {
			g.str(keyPool[g.r.IntN(len(keyPool))])
		}
		g.ws()
		g.b.WriteByte(':')
		g.value(depth)
	}
	g.ws()
	g.b.WriteByte('}')
}

// leafPaths lists paths present in v (every member and element, at every depth), up to limit.
func leafPaths(v any, prefix []string, out *[][]string, limit int) {
	if len(*out) >= limit {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := append(append([]string(nil), prefix...), k)
			*out = append(*out, p)
			leafPaths(c, p, out, limit)
		}
	case []any:
		for i, c := range x {
			p := append(append([]string(nil), prefix...), strconv.Itoa(i))
			*out = append(*out, p)
			leafPaths(c, p, out, limit)
		}
	}
}

// lookup walks v along segs the way the codec documents: a member by name, an element by index.
func lookup(v any, segs []string) (any, bool) {
	for _, s := range segs {
		switch x := v.(type) {
		case map[string]any:
			c, ok := x[s]
			if !ok {
				return nil, false
			}
			v = c
		case []any:
			i := index(s)
			if i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// checkAgainstStdlib decodes doc with the given paths and compares with encoding/json. It returns
// an error describing the first disagreement.
func checkAgainstStdlib(doc []byte, segs [][]string) error {
	paths := make([]string, len(segs))
	for i, s := range segs {
		paths[i] = Path{Segments: s}.String()
	}
	d, err := New(Config{Paths: paths, ProcessingTime: true})
	if err != nil {
		return fmt.Errorf("New: %v", err)
	}
	var ev core.Event
	derr := d.Decode("p", &core.Record{ID: "r", Data: doc}, now, &ev)
	var m map[string]any
	uerr := json.Unmarshal(doc, &m)
	valid := json.Valid(doc)
	if !valid {
		if derr == nil {
			return fmt.Errorf("decoded invalid JSON %q", doc)
		}
		return nil
	}
	if uerr != nil || m == nil {
		// Valid but not an object, or a number beyond float64 (encoding/json refuses those too).
		if derr == nil && m == nil && uerr == nil {
			return fmt.Errorf("decoded null %q", doc)
		}
		return nil
	}
	if derr != nil {
		return fmt.Errorf("failed on valid %q: %v", doc, derr)
	}
	for i, s := range segs {
		want, ok := lookup(m, s)
		got := ev.Fields[i]
		if !ok {
			if got.Kind != core.Missing {
				return fmt.Errorf("%q: path %s = %+v, encoding/json has nothing", doc, paths[i], got)
			}
			continue
		}
		if err := sameAsStdlib(got, want); err != nil {
			return fmt.Errorf("%q: path %s: %v", doc, paths[i], err)
		}
	}
	return nil
}

func sameAsStdlib(got core.Value, want any) error {
	switch w := want.(type) {
	case nil:
		if got.Kind != core.Null {
			return fmt.Errorf("got %+v, want null", got)
		}
	case float64:
		if got.Kind != core.Number || got.Num != w {
			return fmt.Errorf("got %+v, want number %v", got, w)
		}
	case string:
		if got.Kind != core.String || got.Str != w {
			return fmt.Errorf("got %+v, want string %q", got, w)
		}
	case bool:
		if got.Kind != core.Bool || got.Bool != w {
			return fmt.Errorf("got %+v, want bool %v", got, w)
		}
	default:
		if got.Kind != core.Object {
			return fmt.Errorf("got %+v, want an object", got)
		}
		var raw any
		if err := json.Unmarshal(got.Raw, &raw); err != nil {
			return fmt.Errorf("raw %q: %v", got.Raw, err)
		}
		if !reflect.DeepEqual(raw, want) {
			return fmt.Errorf("raw %q = %v, want %v", got.Raw, raw, want)
		}
	}
	return nil
}

var extraPaths = [][]string{{"a"}, {"a", "b"}, {"0"}, {"items", "0", "value"}, {"x.y"}, {"nope", "deeper"}, {"key"}, {""}}

func pathsFor(doc []byte) [][]string {
	var v any
	var segs [][]string
	if json.Unmarshal(doc, &v) == nil {
		leafPaths(v, nil, &segs, 64)
	}
	return append(segs, extraPaths...)
}

// mutate damages a valid document in a way that usually makes it invalid.
func mutate(r *rand.Rand, doc []byte) []byte {
	out := append([]byte(nil), doc...)
	if len(out) == 0 {
		return out
	}
	i := r.IntN(len(out))
	switch r.IntN(5) {
	case 0:
		return append(out[:i:i], out[i+1:]...)
	case 1:
		return out[:i]
	case 2:
		out[i] = `{}[]",:\ -.e0tfnx`[r.IntN(17)]
		return out
	case 3:
		return append(out[:i:i], append([]byte{`{}[]",:\ -.e0x`[r.IntN(14)]}, out[i:]...)...)
	default:
		out[i] = byte(r.IntN(32))
		return out
	}
}

func TestDifferentialAgainstEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	invalid, checked := 0, 0
	for n := range 20000 {
		g := &gen{r: r}
		g.ws()
		g.object(0)
		g.ws()
		doc := g.b.Bytes()
		if !json.Valid(doc) {
			t.Fatalf("generator produced invalid JSON %q", doc)
		}
		if err := checkAgainstStdlib(doc, pathsFor(doc)); err != nil {
			t.Fatalf("doc %d: %v", n, err)
		}
		bad := mutate(r, doc)
		if !json.Valid(bad) {
			invalid++
		}
		if err := checkAgainstStdlib(bad, pathsFor(doc)); err != nil {
			t.Fatalf("mutated doc %d: %v", n, err)
		}
		checked++
	}
	if invalid < checked/3 {
		t.Errorf("only %d of %d mutations were invalid: the mutator is too weak to test rejection", invalid, checked)
	}
}

// FuzzDecodeJSON compares the scanner with encoding/json on arbitrary input: invalid JSON must fail,
// valid objects must decode to the values encoding/json finds.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"key":"sensor-0042","ts":1700000000123,"value":42.5}`,
		`{"a":{"b":[1,{"c":"\ud83d\ude00"}]},"x.y":1e5,"0":null}`,
		`{"a":"\ud800\u0041","b":"\xff","a":[]}`,
		`{"a":1,}`, `[1]`, `{"a":01}`, `{"a":"\u00"}`, `{"items":[{"value":-0.0e-0}]}`, " {\t\"key\" :\n true } ",
		`{"a":1e400}`, `{"a":123456789012345678901234567890}`, `{"a":{"b":{"c":{"d":[[[[]]]]}}}}`,
	} {
		f.Add([]byte(s))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		g := &gen{r: r}
		g.object(0)
		f.Add(g.b.Bytes())
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if err := checkAgainstStdlib(doc, pathsFor(doc)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDifferentialDeepNesting(t *testing.T) {
	for _, depth := range []int{9999, 10000, 10001} {
		doc := `{"a":` + strings.Repeat(`{"a":`, depth-2) + "1" + strings.Repeat("}", depth-1) + "}"
		if err := checkAgainstStdlib([]byte(doc), [][]string{{"a", "a", "a"}}); err != nil {
			t.Errorf("depth %d: %v", depth, err)
		}
		doc = `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "}"
		if err := checkAgainstStdlib([]byte(doc), [][]string{{"a", "0"}}); err != nil {
			t.Errorf("array depth %d: %v", depth, err)
		}
	}
}
