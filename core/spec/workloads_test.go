package spec

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyhq/eddy/internal/aggregate"
	"github.com/eddyhq/eddy/internal/pattern"
)

func TestWorkloadSpecs(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "bench")
	check := map[string]func(f *Function) bool{
		"w1": func(f *Function) bool {
			return f.Window.Tumbling == time.Minute && len(f.Aggregates) == 5 &&
				f.Aggregates[0].Op == aggregate.Count && f.Aggregates[4].Op == aggregate.Max && f.Aggregates[4].Field == "value"
		},
		"w2": func(f *Function) bool {
			return *f.Window.Sliding == Sliding{Size: 5 * time.Minute, Slide: time.Second} && len(f.Aggregates) == 1 && f.Aggregates[0].Op == aggregate.Avg
		},
		"w3": func(f *Function) bool {
			return f.Window.Session.Gap == 30*time.Second && len(f.Aggregates) == 1 && f.Aggregates[0].Op == aggregate.Count
		},
		"w4": func(f *Function) bool {
			p := f.Patterns[0]
			return len(f.Aggregates) == 0 && p.Within == 10*time.Second && p.Contiguity == pattern.Strict &&
				p.Skip == pattern.SkipPastLastEvent && p.Steps[0].Times == 3 && p.Steps[0].Where == "value > 90.0" &&
				p.Steps[1].Where == "value < 10.0"
		},
	}
	for name, ok := range check {
		t.Run(name, func(t *testing.T) {
			f, err := Load(filepath.Join(dir, name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if f.Name != name || f.Input.Key != "key" || f.Input.Time != "ts" || f.Input.TimeFormat != "unix_ms" ||
				f.Input.OutOfOrder != 2*time.Second || !ok(f) {
				t.Fatalf("decoded %+v", f)
			}
			if _, err := f.Build(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
