// Command gen writes the trading example's dataset to stdout (or -o FILE). Both functions of the
// example read the same dataset:
//
//	go run ./examples/trading/cmd/gen -o examples/trading/crossover/events.ndjson
//	go run ./examples/trading/cmd/gen -o examples/trading/risk/events.ndjson
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/eddyhq/eddy/examples/internal/feed"
	"github.com/eddyhq/eddy/examples/trading"
)

func main() {
	seed := flag.Uint64("seed", trading.Seed, "random seed")
	out := flag.String("o", "", "output file (default stdout)")
	flag.Parse()
	data := trading.Generate(*seed)
	if err := feed.Write(*out, data); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
