package env_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/adapters/env"
	"github.com/eddyhq/eddy/core"
	_ "github.com/eddyhq/eddy/core/sink/logsink"
	"github.com/eddyhq/eddy/core/sink/memsink"
	_ "github.com/eddyhq/eddy/core/state/memstate"
)

func TestRead(t *testing.T) {
	vars := map[string]string{"EDDY_FUNCTION": "f", "EDDY_STATE_URL": "mem://", "EDDY_OUTPUT_URL": "mem://o", "EDDY_DEADLETTER_URL": "mem://d", "EDDY_IDLE_TTL": "168h", "EDDY_WINDOW_STATE": "lambda"}
	c, err := env.Read(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := env.Config{Function: "f", StateURL: "mem://", OutputURL: "mem://o", DeadLetterURL: "mem://d", IdleTTL: 168 * time.Hour, WindowState: "lambda"}
	if c != want {
		t.Fatalf("Read = %+v, want %+v", c, want)
	}
	for k, v := range map[string]string{"EDDY_IDLE_TTL": "a week", "EDDY_WINDOW_STATE": "dynamo"} {
		bad := map[string]string{k: v}
		if _, err := env.Read(func(k string) string { return bad[k] }); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v, want one naming the variable", k, v, err)
		}
	}
}

// Open names the function after the function itself unless EDDY_FUNCTION says otherwise, sends
// outputs and dead letters to log: by default, and needs a state store only for NewRunner.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	fn, err := env.ParseSpec("eddy.yaml", []byte("name: press\ninput: {key: machine, time: ts}\nwindow: {tumbling: 10s}\naggregates: [{name: n, count: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := env.Open(ctx, env.Config{}, fn)
	if err != nil {
		t.Fatal(err)
	}
	if o.Runner.Function != "press" || o.Config.OutputURL != "log:" || o.Config.DeadLetterURL != "log:" || o.Output != o.DeadLetter {
		t.Errorf("opened %+v", o.Config)
	}
	if _, err := o.NewRunner(); err == nil || !strings.Contains(err.Error(), "EDDY_STATE_URL") {
		t.Errorf("NewRunner without a store: %v", err)
	}
	o.Close(ctx)

	dead := fmt.Sprint("env-dead-", time.Now().UnixNano()) // memsink topics live as long as the process
	o, err = env.Open(ctx, env.Config{Function: "press-eu", StateURL: "mem://", OutputURL: "mem://env-out", DeadLetterURL: "mem://" + dead}, fn)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(ctx)
	r, err := o.NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx, core.Batch{Partition: "0", Records: []core.Record{{ID: "r1", Offset: "1", Data: []byte("not json")}}})
	if err != nil || res.Stats.Failed != 1 {
		t.Fatalf("run: %+v %v", res.Stats, err)
	}
	ds := memsink.Named(dead).Messages()
	if len(ds) != 1 || !strings.Contains(string(ds[0].Body), `"function":"press-eu"`) || !strings.Contains(string(ds[0].Body), `"partition":"0"`) {
		t.Fatalf("dead letters %d: want one envelope naming function press-eu and partition 0", len(ds))
	}
	if _, err := env.Open(ctx, env.Config{OutputURL: "nosuch://x"}, fn); err == nil || !strings.Contains(err.Error(), "EDDY_OUTPUT_URL") {
		t.Errorf("unknown scheme: %v", err)
	}
}
