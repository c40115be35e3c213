// Package feed helps the examples' generators lay out their datasets: the lines of a feed in the
// order they reach the broker (event time plus the delivery's delays, not event time), and the
// cmd/gen commands' output.
package feed

import (
	"os"
	"slices"
	"time"
)

// Arrival is an item of a feed and when it reaches the broker.
type Arrival[T any] struct {
	At   time.Time
	Item T
}

// Sort orders the arrivals by time; items that arrive at the same time stay in the order they
// were made, so that a generator's output depends on its seed alone.
func Sort[T any](as []Arrival[T]) {
	slices.SortStableFunc(as, func(a, b Arrival[T]) int { return a.At.Compare(b.At) })
}

// Lines sorts the lines by arrival (see Sort) and joins them as newline-delimited text.
func Lines(as []Arrival[string]) []byte {
	Sort(as)
	n := 0
	for _, a := range as {
		n += len(a.Item) + 1
	}
	b := make([]byte, 0, n)
	for _, a := range as {
		b = append(b, a.Item...)
		b = append(b, '\n')
	}
	return b
}

// Write writes a generated dataset to the file at path, or to the standard output if path is "".
func Write(path string, data []byte) error {
	if path == "" {
		_, err := os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
