// Command gen writes the fraud example's dataset to stdout (or -o FILE):
//
//	go run ./examples/fraud/cmd/gen -o examples/fraud/events.ndjson
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/eddyhq/eddy/examples/fraud"
	"github.com/eddyhq/eddy/examples/internal/feed"
)

func main() {
	seed := flag.Uint64("seed", fraud.Seed, "random seed")
	users := flag.Int("users", fraud.Accounts, "number of accounts (at least 45)")
	out := flag.String("o", "", "output file (default stdout)")
	flag.Parse()
	data := fraud.Generate(*seed, *users)
	if err := feed.Write(*out, data); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
