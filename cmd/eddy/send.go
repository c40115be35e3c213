package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
)

type sendOpts struct {
	to, input, key string
	wait           bool
	chunk          int
}

func newSendCmd(e *env) *cobra.Command {
	var o sendOpts
	cmd := &cobra.Command{
		Use:   "send [--to URL] (--input FILE | EVENT...)",
		Short: "Publish events to a running `eddy dev`",
		Long: `send publishes events to the HTTP ingest endpoint of a running eddy dev (by default
http://` + defaultIngest + `): the lines of --input (newline-delimited, gzip or plain; - for stdin) or
the events given as arguments, one JSON object each. Events go in chunks of --chunk lines; with
--wait, send returns only once eddy dev has processed and committed them.

Publishing to a cloud stream (Kinesis, Pub/Sub, Event Hubs) is not supported yet: use the cloud's
CLI, and eddy generate-event to test a deployed function with a real trigger payload.`,
		Example: `  # In one shell
  eddy dev --spec examples/bench/w1.yaml
  # In another
  eddy send --input events.ndjson --wait
  eddy send '{"key":"sensor-0001","ts":1764086400000,"value":93.5}'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (o.input == "") == (len(args) == 0) {
				return usagef("give either --input FILE or events as arguments")
			}
			if o.chunk < 1 {
				return usagef("--chunk %d: want at least 1", o.chunk)
			}
			return send(cmd.Context(), e, o, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.to, "to", "http://"+defaultIngest, "the eddy dev ingest endpoint")
	fl.StringVarP(&o.input, "input", "i", "", "newline-delimited events (gzip or plain); - for stdin")
	fl.StringVar(&o.key, "key", "", "transport key of the events ($key in a spec)")
	fl.BoolVar(&o.wait, "wait", false, "return once the events are processed")
	fl.IntVar(&o.chunk, "chunk", 1000, "events per request")
	return cmd
}

func send(ctx context.Context, e *env, o sendOpts, args []string) error {
	u, err := url.Parse(o.to)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--to %q: want the http://HOST:PORT address eddy dev printed (cloud targets are not supported yet)", o.to)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/events"
	q := u.Query()
	if o.key != "" {
		q.Set("key", o.key)
	}
	if o.wait {
		q.Set("wait", "true")
	}
	u.RawQuery = q.Encode()
	client := &http.Client{Timeout: 5 * time.Minute}
	var body bytes.Buffer
	sent := 0
	flush := func(n int) error {
		if n == 0 {
			return nil
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body.Bytes()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("send: %w (is eddy dev running and listening on %s?)", err, u.Host)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("send: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
		}
		sent += n
		body.Reset()
		return nil
	}
	if len(args) > 0 {
		for _, a := range args {
			body.WriteString(strings.TrimSpace(a))
			body.WriteByte('\n')
		}
		if err := flush(len(args)); err != nil {
			return err
		}
	} else {
		in, _, err := openInput(e, o.input)
		if err != nil {
			return err
		}
		defer in.Close()
		lines, err := codec.NewLines(in, o.input)
		if err != nil {
			return err
		}
		var rec core.Record
		n := 0
		for lines.Next(&rec) {
			body.Write(rec.Data)
			body.WriteByte('\n')
			if n++; n == o.chunk {
				if err := flush(n); err != nil {
					return err
				}
				n = 0
			}
		}
		if err := lines.Err(); err != nil {
			return err
		}
		if err := flush(n); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stderr, "sent %d events to %s\n", sent, o.to)
	return nil
}
