package adaptertest

import (
	"embed"
	"fmt"
	"path"

	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/spec"
	"github.com/eddyhq/eddy/internal/pipeline"
)

// The functions every adapter runs: specs, so that they are exactly what users deploy.
//
//go:embed specs/*.yaml
var specFS embed.FS

// Function is one function of the suite, compiled once from its embedded spec.
type Function struct {
	// Name is the function's name (its state keys and outputs carry it).
	Name string
	// Spec is the YAML spec it was compiled from.
	Spec     []byte
	compiled *spec.Compiled
}

// NewProcessor makes the function's processing for one partition: the runner.Config.New of the
// adapter's runner.
func (f *Function) NewProcessor(string) (runner.Processor, error) {
	return f.compiled.NewPipeline()
}

// NewPipeline makes a fresh pipeline, for the reference run.
func (f *Function) NewPipeline() (*pipeline.Pipeline, error) { return f.compiled.NewPipeline() }

// Functions returns the suite's functions: a tumbling-window threshold alarm
// (specs/threshold.yaml) and a sliding-window function with a temporal pattern
// (specs/sliding.yaml).
func Functions() ([]*Function, error) {
	names, err := specFS.ReadDir("specs")
	if err != nil {
		return nil, fmt.Errorf("adaptertest: read the embedded specs: %w", err)
	}
	var fns []*Function
	for _, e := range names {
		p := path.Join("specs", e.Name())
		b, err := specFS.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("adaptertest: %s: %w", p, err)
		}
		f, err := spec.Parse(p, b)
		if err != nil {
			return nil, fmt.Errorf("adaptertest: %w", err)
		}
		c, err := f.Compile(spec.Options{})
		if err != nil {
			return nil, fmt.Errorf("adaptertest: %s: %w", p, err)
		}
		fns = append(fns, &Function{Name: c.Name(), Spec: b, compiled: c})
	}
	return fns, nil
}
