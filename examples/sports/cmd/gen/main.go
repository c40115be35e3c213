// Command gen writes the dataset of the player-load example, events.ndjson, generated
// deterministically from a seed.
//
//	go run ./examples/sports/cmd/gen                               # from the repository root
//	go run ./examples/sports/cmd/gen -seed 7 -out /tmp/match.ndjson # another seed, elsewhere
//
// The committed dataset uses sports.DefaultSeed; the example's test checks that it still matches
// the generator and regenerates it (and the expected decisions) with -update.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/eddyhq/eddy/examples/sports"
)

func main() {
	seed := flag.Uint64("seed", sports.DefaultSeed, "random seed")
	out := flag.String("out", "examples/sports/events.ndjson", "file to write")
	flag.Parse()
	if err := os.WriteFile(*out, sports.Generate(*seed), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "gen: wrote", *out)
}
