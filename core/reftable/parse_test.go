package reftable

import (
	"errors"

	"cel.dev/cel-go/common/types"
	"strings"
	"testing"
)

func TestParseCSV(t *testing.T) {
	data := "\ufeffmachine, max_temp ,model,active\npress-01,85,P-400,true\n\"press,02\",72.5,\"P-250\",false\n*,90,unknown,true\n"
	tb, err := Parse(Spec{Name: "limits", Key: "machine", DefaultKey: "*"}, "limits.csv", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if tb.Len() != 2 || strings.Join(tb.Columns(), ",") != "active,machine,max_temp,model" {
		t.Fatalf("rows %d columns %v", tb.Len(), tb.Columns())
	}
	r, found := tb.Lookup("press,02")
	if v, _ := r.Get("max_temp"); !found || v != 72.5 {
		t.Errorf("press,02 max_temp = %v (found %v), want 72.5", v, found)
	}
	if v, _ := r.Get("active"); v != false {
		t.Errorf("active = %#v, want false", v)
	}
	if v, _ := r.Get("model"); v != "P-250" {
		t.Errorf("model = %#v, want P-250", v)
	}
	r, found = tb.Lookup("press-99")
	if v, _ := r.Get("max_temp"); found || v != 90.0 {
		t.Errorf("missing key: max_temp %v found %v, want the default row's 90", v, found)
	}
	if tb.Version() != Version([]byte(data)) || !strings.HasPrefix(tb.Version(), "sha256:") {
		t.Errorf("version %q", tb.Version())
	}
}

func TestParseJSONL(t *testing.T) {
	data := "{\"player\":\"p1\",\"baseline\":120,\"tags\":[\"a\"]}\n\n{\"player\":7,\"baseline\":95.5}\n"
	tb, err := Parse(Spec{Name: "base", Key: "player", Format: JSONL, Default: map[string]any{"baseline": 100}}, "b.jsonl", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tb.Lookup("7")
	if v, _ := r.Get("baseline"); v != 95.5 {
		t.Errorf("numeric key 7: baseline %v", v)
	}
	r, found := tb.Lookup("nobody")
	if v, _ := r.Get("baseline"); found || v != 100.0 {
		t.Errorf("default: %v %v", v, found)
	}
}

// Every malformed table is an error naming the source and the line.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, format, data, want string
	}{
		{"empty csv", CSV, "", "t.csv:1: empty"},
		{"no key column", CSV, "id,max\na,1\n", `t.csv:1: key column "machine" does not exist (columns: id, max)`},
		{"duplicate column", CSV, "machine,max,max\na,1,2\n", `t.csv:1: column "max" appears twice`},
		{"unnamed column", CSV, "machine,,max\na,1,2\n", "t.csv:1: column 2 has no name"},
		{"short row", CSV, "machine,max\na,1\nb\n", "t.csv:3: wrong number of fields"},
		{"bad quote", CSV, "machine,max\na,1\nb,\"2\n", "t.csv:3: extraneous or missing"},
		{"duplicate key", CSV, "machine,max\na,1\na,2\n", `t.csv:3: key "a" appears twice`},
		{"empty key", CSV, "machine,max\n,1\n", `t.csv:2: empty key in column "machine"`},
		{"default_key missing", CSV, "machine,max\na,1\n", `t.csv: default_key "*" is not a key`},
		{"not json", JSONL, "{\"machine\":\"a\"}\nnope\n", "t.csv:2: not a JSON object"},
		{"json array", JSONL, "[1]\n", "t.csv:1: not a JSON object"},
		{"json two values", JSONL, "{\"machine\":\"a\"} {}\n", "t.csv:1: more than one JSON value"},
		{"json no key", JSONL, "{\"machine\":\"a\"}\n{\"id\":\"b\"}\n", `t.csv:2: key column "machine" does not exist in this row`},
		{"json bad key", JSONL, "{\"machine\":true}\n", `t.csv:1: key column "machine" is bool`},
		{"json empty", JSONL, "\n\n", "t.csv:1: empty: no rows"},
		{"format", "xml", "", `unknown format "xml"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			sp := Spec{Name: "t", Key: "machine", Format: c.format}
			if c.name == "default_key missing" {
				sp.DefaultKey = "*"
			}
			_, err := Parse(sp, "t.csv", []byte(c.data))
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a ParseError containing %q", err, c.want)
			}
		})
	}
}

func TestSpecErrors(t *testing.T) {
	for _, c := range []struct {
		sp   Spec
		want string
	}{
		{Spec{Name: "1x", Source: "a", Key: "k"}, "CEL identifier"},
		{Spec{Name: "t", Key: "k"}, "source must not be empty"},
		{Spec{Name: "t", Source: "a"}, "key must name the key column"},
		{Spec{Name: "t", Source: "a", Key: "k", Format: "xml"}, "format must be csv or jsonl"},
		{Spec{Name: "t", Source: "a", Key: "k", Refresh: -1}, "refresh must not be negative"},
		{Spec{Name: "t", Source: "a", Key: "k", DefaultKey: "*", Default: map[string]any{}}, "not both"},
	} {
		if _, err := New([]Spec{c.sp}, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.sp, err, c.want)
		}
	}
	if _, err := New([]Spec{{Name: "t", Source: "a", Key: "k"}, {Name: "t", Source: "b", Key: "k"}}, Options{}); err == nil {
		t.Error("a table declared twice was accepted")
	}
}

func TestUnknownScheme(t *testing.T) {
	m := &URLMux{}
	_, err := m.Load(t.Context(), "ftp://host/limits.csv")
	if err == nil || !strings.Contains(err.Error(), "no loader for ftp://") {
		t.Fatalf("got %v", err)
	}
}

// FuzzParse: any input parses or fails with a ParseError naming a line; never panics, and a
// table that parses is consistent with itself.
func FuzzParse(f *testing.F) {
	f.Add("machine,max\na,1\nb,2\n", false)
	f.Add("machine,max\n\"a\nb\",1\n", false)
	f.Add("{\"machine\":\"a\",\"max\":1}\n{\"machine\":2}\n", true)
	f.Add("{\"machine\":null}", true)
	f.Fuzz(func(t *testing.T, data string, jsonl bool) {
		sp := Spec{Name: "t", Key: "machine"}
		if jsonl {
			sp.Format = JSONL
		}
		tb, err := Parse(sp, "f", []byte(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Source != "f" {
				t.Fatalf("error %v is not a ParseError of source f", err)
			}
			return
		}
		for k, r := range tb.rows {
			if got, found := tb.Lookup(k); !found || got != r {
				t.Fatalf("row %q does not look itself up", k)
			}
			if tb.CEL().(celTable).Contains(types.String(k)) != types.True {
				t.Fatalf("CEL table lacks %q", k)
			}
		}
	})
}
