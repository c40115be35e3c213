//go:build unix

package kafka_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/runner"
	"github.com/eddyhq/eddy/core/state/filestate"
)

// BenchmarkWorkers measures the throughput of 1, 2 and 3 worker processes of one group on a topic
// of 12 partitions (kfake on 127.0.0.1, file state shared by the processes, outputs and dead
// letters to Kafka topics, polls of up to 2,000 records): the workers join first, then 60,000 events are produced and the clock
// runs until the state holds every partition's last offset. It reports events/s and events/s per
// partition (events/s / 12). Run it with -benchtime 1x; the figures are those of the machine it
// runs on, and on a machine shared with other work they say more about the ratio between worker
// counts than about Kafka.
func BenchmarkWorkers(b *testing.B) {
	const n, parts = 60000, 12
	for _, k := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("workers=%d", k), func(b *testing.B) {
			var total time.Duration
			for range b.N {
				b.StopTimer()
				c := cluster(b, parts, "in", "out", "dlq")
				addrs := c.ListenAddrs()
				dir := b.TempDir()
				store, err := filestate.Open(dir, nil)
				if err != nil {
					b.Fatal(err)
				}
				r, err := runner.New(runner.Config{Function: "kafka-test", Store: store, New: newProc(compile(b))})
				if err != nil {
					b.Fatal(err)
				}
				group := "bench-" + strconv.Itoa(k)
				procs := make([]*proc, k)
				for i := range procs {
					procs[i] = spawnPoll(b, addrs, "file://"+dir, group, 2000)
				}
				deadline := time.Now().Add(60 * time.Second)
				for {
					joined := 0
					for _, p := range procs {
						if strings.Contains(p.out.String(), "partitions assigned") {
							joined++
						}
					}
					if joined == k {
						break
					}
					if time.Now().After(deadline) {
						b.Fatal("workers did not join within 60 s")
					}
					time.Sleep(10 * time.Millisecond)
				}
				// Let the last rebalance settle before the clock starts.
				time.Sleep(2 * time.Second)
				b.StartTimer()
				start := time.Now()
				produceStream(b, addrs, "in", 0, n)
				last := map[string]int64{}
				b.StopTimer()
				for p, recs := range readAll(b, addrs, "in", n) {
					last[p], _ = strconv.ParseInt(recs[len(recs)-1].Offset, 10, 64)
				}
				b.StartTimer()
				waitState(b, store, r, last, procs...)
				total += time.Since(start)
				b.StopTimer()
				for _, p := range procs {
					p.stop(b)
				}
				store.Close()
			}
			eps := float64(n*b.N) / total.Seconds()
			b.ReportMetric(eps, "events/s")
			b.ReportMetric(eps/parts, "events/s/partition")
			b.ReportMetric(0, "ns/op")
		})
	}
}
