package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(e2eSpec))
	f.Add([]byte(equivYAML))
	f.Add([]byte(whereSpec))
	f.Add([]byte("a: &x {b: *x}\nc: [*x, *x]\n"))
	f.Add([]byte("window:\n  <<: [{tumbling: 1m}, {global: {}}]\n"))
	f.Add([]byte("name: \"\\u0000\"\ninput: !!map {}\n"))
	for _, w := range []string{"w1", "w2", "w3", "w4"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "examples", "bench", w+".yaml")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fn, err := Parse("fuzz.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
			}
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("malformed error %#v", e)
				}
			}
			if fn != nil {
				t.Fatal("a function along with an error")
			}
			return
		}
		// What Parse accepts must compile.
		if _, err := fn.Build(); err != nil {
			t.Fatalf("Parse accepted a spec Build rejects: %v\n%s", err, data)
		}
	})
}
