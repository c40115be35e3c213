package trading

import (
	"testing"

	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/examples/internal/exampletest"
)

// The example's two functions, each a directory with eddy.yaml, events.ndjson and expected.ndjson.
const (
	crossoverDir = "crossover"
	riskDir      = "risk"
)

var functionDirs = []string{crossoverDir, riskDir}

// example is dir's function and its dataset, run as `eddy dev --input
// examples/trading/DIR/events.ndjson` runs them. Both functions read Generate(Seed).
func example(dir string) exampletest.Example {
	return exampletest.Example{Dir: dir, Name: "examples/trading/" + dir + "/events.ndjson", Generate: func() []byte { return Generate(Seed) }}
}

type decision = exampletest.Decision

// run runs dir's function (changed by edit, if not nil) over data on the given partitions, in
// batches of batchSize.
func run(t *testing.T, dir string, edit func(*spec.Function), data []byte, partitions, batchSize int) *exampletest.View {
	t.Helper()
	o := example(dir).Options(data, partitions, batchSize)
	o.Edit = edit
	return exampletest.Run(t, o).View(t)
}

// loadSpec compiles dir's eddy.yaml, after edit changes it if edit is not nil.
func loadSpec(t testing.TB, dir string, edit func(*spec.Function)) (*spec.Function, *spec.Compiled) {
	t.Helper()
	return exampletest.Load(t, example(dir).Options(nil, 0, 0).Spec, edit)
}

func dataset(t *testing.T, dir string) []byte { return example(dir).Dataset(t) }

// TestDeliveries: whatever the partitions and batches, each function's decisions are its
// expected.ndjson's and the late output and the dead letters are the same (-update rewrites the
// events.ndjson and expected.ndjson files).
func TestDeliveries(t *testing.T) {
	for _, dir := range functionDirs {
		t.Run(dir, func(t *testing.T) { example(dir).Check(t, nil) })
	}
}

func BenchmarkFunction(b *testing.B) {
	for _, dir := range functionDirs {
		b.Run(dir, func(b *testing.B) { example(dir).Benchmark(b) })
	}
}
