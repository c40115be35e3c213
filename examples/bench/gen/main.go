// Command gen writes N events of the standard workloads (examples/bench.Generate: 1,000 keys,
// event time 1 ms apart with up to 2 s of disorder) as JSON lines to stdout, a million at a time,
// for measuring `eddy replay`:
//
//	go run ./examples/bench/gen 2000000 > w1-2m.ndjson
//	/usr/bin/time -v eddy replay --spec examples/bench/w1.yaml --input w1-2m.ndjson --output /dev/null
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/eddyhq/eddy/examples/bench"
)

func main() {
	n, err := strconv.Atoi(os.Args[len(os.Args)-1])
	if len(os.Args) != 2 || err != nil || n < 0 {
		fmt.Fprintln(os.Stderr, "usage: gen N (events to write)")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	var b []byte
	const chunk = 1_000_000
	for done := 0; done < n; done += chunk {
		for _, e := range bench.Generate(uint64(1+done/chunk), min(chunk, n-done), 1000) {
			e.TS += int64(done) // event time goes on from one million to the next
			b = append(e.AppendJSON(b[:0]), '\n')
			if _, err := w.Write(b); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
