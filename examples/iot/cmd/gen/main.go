// Command gen writes the datasets of the IoT example: meters/events.ndjson and
// machines/events.ndjson, generated deterministically from a seed.
//
//	go run ./examples/iot/cmd/gen                    # from the repository root
//	go run ./examples/iot/cmd/gen -seed 7 -dir /tmp  # another seed, elsewhere
//
// The committed datasets use iot.DefaultSeed; the example's test checks that they still match
// the generator and regenerates them (and the expected decisions) with -update.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eddyhq/eddy/examples/iot"
)

func main() {
	seed := flag.Uint64("seed", iot.DefaultSeed, "random seed")
	dir := flag.String("dir", "examples/iot", "the example directory, holding meters/ and machines/")
	flag.Parse()
	for _, ds := range []struct {
		name string
		gen  func(uint64) []byte
	}{{"meters", iot.GenerateMeters}, {"machines", iot.GenerateMachines}} {
		path := filepath.Join(*dir, ds.name, "events.ndjson")
		if err := os.WriteFile(path, ds.gen(*seed), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "gen: wrote", path)
	}
}
