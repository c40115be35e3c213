package driver_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/eddyhq/eddy/core/sink/driver"
)

// SendPerKey keeps each key's order, stops a key at its first failure, and reports that key's
// rest in a PartialError while other keys go on.
func TestSendPerKey(t *testing.T) {
	var msgs []*driver.Message
	for i := range 30 {
		msgs = append(msgs, &driver.Message{ID: fmt.Sprint(i), Key: []string{"a", "b", "c", ""}[i%4]})
	}
	var mu sync.Mutex
	got := map[string][]string{}
	err := driver.SendPerKey(context.Background(), msgs, 3, func(_ context.Context, m *driver.Message) error {
		if m.ID == "9" { // key "b"'s third message
			return errors.New("busy")
		}
		mu.Lock()
		got[m.Key] = append(got[m.Key], m.ID)
		mu.Unlock()
		return nil
	})
	var pe *driver.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v", err)
	}
	if want := []int{9, 13, 17, 21, 25, 29}; !slices.Equal(pe.Failed, want) {
		t.Fatalf("failed %v, want %v", pe.Failed, want)
	}
	if !slices.Equal(got["b"], []string{"1", "5"}) || len(got["a"]) != 8 || len(got[""]) != 7 {
		t.Fatalf("sent %v", got)
	}
	for _, ids := range []([]string){got["a"], got["c"]} {
		if !slices.IsSortedFunc(ids, func(x, y string) int { return atoi(x) - atoi(y) }) {
			t.Fatalf("out of order: %v", ids)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := driver.SendPerKey(ctx, msgs, 3, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
