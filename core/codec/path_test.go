package codec

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want Path
		str  string // canonical form; "" means in
	}{
		{in: "value", want: Path{Segments: []string{"value"}}},
		{in: "a.b.c", want: Path{Segments: []string{"a", "b", "c"}}},
		{in: "items.0.price", want: Path{Segments: []string{"items", "0", "price"}}},
		{in: `a["x.y"]`, want: Path{Segments: []string{"a", "x.y"}}},
		{in: `a["x.y"].b`, want: Path{Segments: []string{"a", "x.y", "b"}}},
		{in: `["x.y"]["z"]`, want: Path{Segments: []string{"x.y", "z"}}, str: `["x.y"].z`},
		{in: `["$key"]`, want: Path{Segments: []string{"$key"}}},
		{in: `a["q\"uote\\"]`, want: Path{Segments: []string{"a", `q"uote\`}}, str: `a.q"uote\`},
		{in: `a[""]`, want: Path{Segments: []string{"a", ""}}},
		{in: `a.b$`, want: Path{Segments: []string{"a", "b$"}}},
		{in: "a]b", want: Path{Segments: []string{"a]b"}}},
		{in: "$key", want: Path{Source: RecordKey}},
		{in: "$time", want: Path{Source: RecordTime}},
		{in: "$id", want: Path{Source: RecordID}},
		{in: "$attr.origin", want: Path{Source: Attr, Name: "origin"}},
		{in: "$attr.x.y", want: Path{Source: Attr, Name: "x.y"}},
		{in: "$ce.Type", want: Path{Source: CloudEvent, Name: "type"}, str: "$ce.type"},
	}
	for _, tt := range tests {
		got, err := ParsePath(tt.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePath(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		want := tt.str
		if want == "" {
			want = tt.in
		}
		if s := got.String(); s != want {
			t.Errorf("ParsePath(%q).String() = %q, want %q", tt.in, s, want)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty path"},
		{".a", "empty segment"},
		{"a..b", "empty segment"},
		{"a.", "trailing '.'"},
		{`a.["b"]`, "'.' before '['"},
		{`a[b]`, `want '"' after '['`},
		{`a["b`, "unterminated"},
		{`a["b"`, "want ']'"},
		{`a["b"]c`, "unexpected 'c'"},
		{`a["b\n"]`, "invalid escape"},
		{`a["b"x]`, "want ']'"},
		{"$nope", "unknown source"},
		{"$attr.", "unknown source"},
		{"$ce.", "unknown source"},
		{"$", "unknown source"},
	}
	for _, tt := range tests {
		_, err := ParsePath(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePath(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestIndex(t *testing.T) {
	for seg, want := range map[string]int{"0": 0, "7": 7, "12": 12, "01": -1, "-1": -1, "+1": -1, "a": -1, "": -1, "1e2": -1} {
		if got := index(seg); got != want {
			t.Errorf("index(%q) = %d, want %d", seg, got, want)
		}
	}
}

// FuzzPath checks that ParsePath never panics and that the canonical form parses back to the same
// path.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"a", "a.b.c", "items.0.price", `a["x.y"]`, `["$k"].b`, `a["q\"\\"]`, "$key", "$attr.x.y",
		"$ce.id", "a..b", `a["`, "a]", "[", `[""]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		q, err := ParsePath(p.String())
		if err != nil {
			t.Fatalf("ParsePath(%q).String() = %q does not parse: %v", s, p.String(), err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip of %q: %+v != %+v", s, p, q)
		}
	})
}
