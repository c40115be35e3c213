package spec

import "testing"

// BenchmarkNewPipeline is the per-partition cost once compiled: what the runner pays per attempt.
func BenchmarkNewPipeline(b *testing.B) {
	c, err := equivGo().Compile(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.NewPipeline(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild compiles everything (CEL included) for every pipeline, for comparison.
func BenchmarkBuild(b *testing.B) {
	f := equivGo()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Build(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(equivYAML)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("equiv.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
