// Command gen writes the clickstream example's dataset to stdout (or -o FILE):
//
//	go run ./examples/clickstream/cmd/gen -o examples/clickstream/events.ndjson
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/eddyhq/eddy/examples/clickstream"
	"github.com/eddyhq/eddy/examples/internal/feed"
)

func main() {
	seed := flag.Uint64("seed", clickstream.Seed, "random seed")
	users := flag.Int("users", clickstream.Users, "number of visitors (at least 45)")
	out := flag.String("o", "", "output file (default stdout)")
	flag.Parse()
	data := clickstream.Generate(*seed, *users)
	if err := feed.Write(*out, data); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
