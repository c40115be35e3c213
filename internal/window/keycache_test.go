package window

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/internal/aggregate"
)

// The key lookup cache (Operator.lookup) finds keys by the address of their bytes: equal keys at
// other addresses are the same key, a key that left the operator (its windows closed) comes back
// as a new one, keys that share a cache set or outnumber the cache each keep their own state, and
// every kind of window counts as without the cache.
func TestKeyCacheAddressReuseAndDrop(t *testing.T) {
	for _, spec := range []Spec{
		{Kind: Tumbling, Size: time.Minute},
		{Kind: Sliding, Size: time.Minute, Slide: 30 * time.Second},
		{Kind: Session, Gap: 10 * time.Second},
		{Kind: Count, Count: 2},
	} {
		t.Run(string(spec.Kind), func(t *testing.T) {
			var table core.FieldTable
			plan, err := aggregate.Compile([]aggregate.Spec{{Op: aggregate.Count}}, &table)
			if err != nil {
				t.Fatal(err)
			}
			op, err := New("f", spec, Time{}, plan)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]float64{}
			emit := func(r *core.WindowResult) {
				if !r.Early {
					counts[r.Key] += r.Values[0].Num
				}
			}
			key := "aaaa"
			base := time.Unix(1_700_000_000, 0)
			add := func(at time.Duration) {
				op.Add(&core.Event{Key: key, Time: base.Add(at)}, emit)
			}
			add(0)
			key = strings.Clone(key) // the same key at another address
			add(time.Second)
			key = "bbbb"
			add(2 * time.Second)
			// More keys than the cache holds, each twice.
			many := make([]string, 3*keyCacheSize)
			for i := range many {
				many[i] = fmt.Sprintf("k%d", i)
			}
			for round := range 2 {
				for _, k := range many {
					op.Add(&core.Event{Key: k, Time: base.Add(time.Duration(2+round) * time.Second)}, emit)
				}
			}
			key = "bbbb" // in the cache when its windows close below
			add(3 * time.Second)
			if got := op.Keys(); got != 2+len(many) {
				t.Fatalf("keys: %d, want %d", got, 2+len(many))
			}
			// Every window closes, every key leaves; bbbb then comes back at the same address.
			op.Advance(base.Add(time.Hour), emit)
			if spec.Kind != Count && op.Keys() != 0 {
				t.Fatalf("keys after the windows closed: %d, want 0", op.Keys())
			}
			add(time.Hour + time.Second)
			if spec.Kind != Count && op.Keys() != 1 {
				t.Fatalf("keys after bbbb came back: %d, want 1", op.Keys())
			}
			op.Flush(emit)
			per := 1.0 // windows per event
			if spec.Kind == Sliding {
				per = 2
			}
			wantB := 3 * per // at 2 s, 3 s and an hour later
			if spec.Kind == Count {
				wantB = 2 // a count window of one event does not fire
			}
			if counts["aaaa"] != 2*per || counts["bbbb"] != wantB || len(counts) != 2+len(many) {
				t.Fatalf("counts: aaaa %v, bbbb %v, %d keys; want %v, %v, %d keys", counts["aaaa"], counts["bbbb"], len(counts), 2*per, wantB, 2+len(many))
			}
			for _, k := range many {
				if counts[k] != 2*per {
					t.Fatalf("key %s counted %v, want %v", k, counts[k], 2*per)
				}
			}
		})
	}
}
