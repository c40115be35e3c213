package sports_test

import (
	"bytes"
	"fmt"

	"github.com/eddyhq/eddy/examples/sports"
)

// The generator is deterministic: the same seed gives the same dataset, byte for byte; another
// seed gives other noise around the same planted scenarios.
func ExampleGenerate() {
	data := sports.Generate(sports.DefaultSeed)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	fmt.Println(len(lines), "lines; the first:")
	fmt.Println(string(lines[0]))
	fmt.Println(bytes.Equal(data, sports.Generate(sports.DefaultSeed)), bytes.Equal(data, sports.Generate(7)))
	// Output:
	// 2402 lines; the first:
	// {"player":"player-01","ts":"2026-11-25T10:00:05Z","load":3.5,"hr":143}
	// true false
}
