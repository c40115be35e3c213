package sinktest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
	"github.com/eddyhq/eddy/core/sink/memsink"
	"github.com/eddyhq/eddy/core/sink/sinktest"
)

// broken drivers, each with one defect the suite must catch.
var broken = map[string]struct {
	send func(d *memsink.Topic, ctx context.Context, msgs []*driver.Message) error
	want string // in the suite's failure
}{
	"drops-metadata": {func(d *memsink.Topic, ctx context.Context, msgs []*driver.Message) error {
		for _, m := range msgs {
			c := *m
			c.Metadata = map[string]string{sink.MetaID: m.ID}
			if err := d.Send(ctx, []*driver.Message{&c}); err != nil {
				return err
			}
		}
		return nil
	}, "metadata eddy_type"},
	"reverses-order": {func(d *memsink.Topic, ctx context.Context, msgs []*driver.Message) error {
		r := slices.Clone(msgs)
		slices.Reverse(r)
		return d.Send(ctx, r)
	}, "arrived after message"},
	"loses-the-last": {func(d *memsink.Topic, ctx context.Context, msgs []*driver.Message) error {
		if len(msgs) > 1 {
			msgs = msgs[:len(msgs)-1]
		}
		return d.Send(ctx, msgs)
	}, "messages arrived: context deadline exceeded"},
	"sends-twice": {func(d *memsink.Topic, ctx context.Context, msgs []*driver.Message) error {
		if err := d.Send(ctx, msgs); err != nil {
			return err
		}
		return d.Send(ctx, msgs[:1])
	}, "were sent; the first extra"},
	"ignores-cancel": {func(d *memsink.Topic, _ context.Context, msgs []*driver.Message) error {
		return d.Send(context.Background(), msgs)
	}, "want an error wrapping context canceled"},
	"fails-all-when-some-are-rejected": {func(d *memsink.Topic, ctx context.Context, msgs []*driver.Message) error {
		err := d.Send(ctx, msgs)
		var pe *driver.PartialError
		if errors.As(err, &pe) {
			return errors.New("something failed")
		}
		return err
	}, "not a *driver.PartialError"},
}

type brokenDriver struct {
	*memsink.Topic
	send func(d *memsink.Topic, ctx context.Context, msgs []*driver.Message) error
}

func (b brokenDriver) Send(ctx context.Context, msgs []*driver.Message) error {
	return b.send(b.Topic, ctx, msgs)
}

// The suite fails each broken driver, saying what is wrong: its checks can fail. Each runs in a
// child process, as a failing suite fails its test.
func TestSuiteCatchesBrokenDrivers(t *testing.T) {
	if name := os.Getenv("SINKTEST_BROKEN"); name != "" {
		b := broken[name]
		sinktest.Run(t, sinktest.Harness{
			Features: sinktest.Features{Metadata: true, MessageID: true, Key: true},
			// Messages that never come: don't wait long for them.
			Wait: 500 * time.Millisecond,
			Open: func(_ context.Context, t *testing.T) *sinktest.Destination {
				topic := memsink.Named(fmt.Sprintf("broken-%d", topics.Add(1)))
				var mu sync.Mutex
				var reject []string
				topic.Reject = func(m *driver.Message) error {
					mu.Lock()
					defer mu.Unlock()
					if slices.Contains(reject, m.Key) {
						return errors.New("throttled")
					}
					return nil
				}
				return &sinktest.Destination{Sink: brokenDriver{topic, b.send},
					Read: func(ctx context.Context, n int) ([]sinktest.Received, error) {
						var c sinktest.Collector
						for _, m := range topic.Messages() {
							c.Add(sinktest.Received{Body: m.Body, ID: m.ID, Key: m.Key, Metadata: m.Metadata})
						}
						return c.Read(ctx, n)
					},
					Reject: func(keys ...string) { mu.Lock(); reject = keys; mu.Unlock() }}
			},
		})
		return
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesBrokenDrivers$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SINKTEST_BROKEN="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a driver that %s:\n%s", name, out)
			}
			if !strings.Contains(string(out), b.want) {
				t.Fatalf("the suite failed a driver that %s without saying %q:\n%s", name, b.want, out)
			}
		})
	}
}
