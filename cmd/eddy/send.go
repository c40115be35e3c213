package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/codec"
	"github.com/eddyhq/eddy/internal/send"
)

type sendOpts struct {
	to, input, key, spec string
	wait                 bool
	chunk                int
}

func newSendCmd(e *env) *cobra.Command {
	var o sendOpts
	cmd := &cobra.Command{
		Use:   "send [--to URL] (--input FILE | EVENT...)",
		Short: "Publish events to a running `eddy dev`, or to a Kinesis stream, Pub/Sub topic or event hub",
		Long: `send publishes events: the lines of --input (newline-delimited, gzip or plain; - for stdin) or
the events given as arguments, one JSON object each, to --to:

  http://HOST:PORT                       the HTTP ingest of a running eddy dev (default
                                         http://` + defaultIngest + `); with --wait, send returns only
                                         once eddy dev has processed and committed the events
  kinesis://STREAM                       a Kinesis data stream, with PutRecords (500 records or
                                         5 MiB a call); records the stream rejects (throttling)
                                         are sent again with backoff, and only those.
                                         ?region=R, ?endpoint=URL or AWS_ENDPOINT_URL_KINESIS for
                                         a local stand-in; credentials as the AWS CLI finds them
  gcppubsub://projects/P/topics/T        a Pub/Sub topic; ?ordering=true sets each message's
                                         ordering key to the event key (the subscription must
                                         have message ordering on). PUBSUB_EMULATOR_HOST is
                                         honoured; otherwise application default credentials
  kafka://BROKER1,BROKER2/TOPIC          a Kafka topic (idempotent producer), keyed by the event
                                         key, so that each key's events share a partition, in order
  eventhubs://NAMESPACE/HUB              an event hub, in batches by partition key (the event
                                         key), so that each key's events share a partition, in
                                         order. Credentials from EVENTHUB_CONNECTION_STRING, else
                                         Microsoft Entra (az login, managed identity)
  rabbit://, awssns://, awssqs://,       any other output URL (see the README's output URLs):
  https://, log:, mem://                 each event as one message with its key, as it is

The event key, which partitions the stream as the function's input.key expects, is --key (one key
for all), or read from each event with --spec's input.key (a record without a readable key stops
send, naming its line and the reason), or else none: Kinesis then gets a hash of the event. Events go
in chunks of --chunk. send reports on stderr what it sent, failed and retried, and its rate; it
exits 1 if any event was not sent.`,
		Example: `  # To a local eddy dev: in one shell
  eddy dev --spec examples/bench/w1.yaml
  # in another
  eddy send --input events.ndjson --wait
  eddy send '{"key":"sensor-0001","ts":1764086400000,"value":93.5}'

  # To a deployed function, keyed as its spec says
  eddy send --to kinesis://press-monitor-events --spec eddy.yaml --input testdata/events.ndjson
  eddy send --to 'gcppubsub://projects/my-project/topics/press-monitor-events?ordering=true' --spec eddy.yaml -i events.ndjson
  EVENTHUB_CONNECTION_STRING='Endpoint=sb://...' eddy send --to eventhubs://acme/press-monitor-events --spec eddy.yaml -i events.ndjson

  # To kinesalite or LocalStack
  AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:4567 eddy send --to kinesis://telemetry?region=us-east-1 -i events.ndjson`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (o.input == "") == (len(args) == 0) {
				return usagef("give either --input FILE or events as arguments")
			}
			if o.chunk < 1 {
				return usagef("--chunk %d: want at least 1", o.chunk)
			}
			if send.IsCloudURL(o.to) {
				if o.wait {
					return usagef("--wait is for eddy dev only: a cloud stream does not say when the function has run")
				}
				return sendCloud(cmd.Context(), e, o, args)
			}
			if o.spec != "" {
				return usagef("--spec is for cloud targets (eddy dev keys events with its own spec)")
			}
			return sendDev(cmd.Context(), e, o, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.to, "to", "http://"+defaultIngest, "where to: eddy dev's http://HOST:PORT, kinesis://STREAM, gcppubsub://projects/P/topics/T, eventhubs://NAMESPACE/HUB or another output URL")
	fl.StringVarP(&o.input, "input", "i", "", "newline-delimited events (gzip or plain); - for stdin")
	fl.StringVar(&o.key, "key", "", "the key of every event: transport key for eddy dev ($key in a spec), partition or ordering key for a cloud")
	fl.StringVar(&o.spec, "spec", "", "spec whose input (format, key, time) reads each event's key (cloud targets)")
	fl.BoolVar(&o.wait, "wait", false, "return once the events are processed (eddy dev)")
	fl.IntVar(&o.chunk, "chunk", 1000, "events per request")
	return cmd
}

// sendCloud publishes to a cloud stream through internal/send.
func sendCloud(ctx context.Context, e *env, o sendOpts, args []string) error {
	keyOf, err := eventKeyFunc(o)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pub, err := send.Open(ctx, o.to, send.Options{Logger: log})
	if err != nil {
		return err
	}
	defer pub.Close(context.WithoutCancel(ctx))
	var (
		total send.Stats
		errs  []error
		batch []send.Message
		start = time.Now()
	)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		st, err := pub.Publish(ctx, batch)
		total.Add(st)
		if err != nil {
			errs = append(errs, err)
		}
		batch = batch[:0]
	}
	add := func(rec *core.Record) error {
		key, err := keyOf(rec)
		if err != nil {
			return err
		}
		batch = append(batch, send.Message{ID: rec.ID, Key: key, Data: rec.Data})
		if len(batch) == o.chunk {
			flush()
		}
		return nil
	}
	var inputErr error
	if len(args) > 0 {
		for i, a := range args {
			rec := core.Record{ID: fmt.Sprintf("argument %d", i+1), Data: []byte(strings.TrimSpace(a))}
			if inputErr = add(&rec); inputErr != nil {
				break
			}
		}
	} else {
		lines, closeInput, err := openLines(e, o.input)
		if err != nil {
			return err
		}
		defer closeInput()
		var rec core.Record
		for lines.Next(&rec) && ctx.Err() == nil && len(errs) == 0 {
			if inputErr = add(&rec); inputErr != nil {
				break
			}
		}
		if inputErr == nil {
			inputErr = lines.Err()
		}
	}
	if inputErr == nil && len(errs) == 0 {
		flush()
	}
	elapsed := time.Since(start)
	rate := float64(total.Sent) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(e.stderr, "sent %d events to %s in %s (%.0f events/s): %d failed, %d retried\n",
		total.Sent, o.to, elapsed.Round(time.Millisecond), rate, total.Failed, total.Retried)
	if inputErr != nil {
		return fmt.Errorf("send stopped at bad input: %w", inputErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send interrupted: %w", err)
	}
	return errors.Join(errs...)
}

// eventKeyFunc returns what gives each record its key: --key, --spec's input, or nothing (the
// publisher then picks). With --spec, keys are read as the function will read them, so
// that a record without a key stops send with its line, field and reason instead of reaching
// the stream on a partition the function does not expect.
func eventKeyFunc(o sendOpts) (func(*core.Record) (string, error), error) {
	if o.spec == "" {
		key := o.key
		return func(*core.Record) (string, error) { return key, nil }, nil
	}
	f, _, err := loadSpec(o.spec)
	if err != nil {
		return nil, err
	}
	in := f.Input
	if o.key == "" && (strings.HasPrefix(in.Key, "$key") || strings.HasPrefix(in.Key, "$attr.")) {
		return nil, usagef("%s: input.key is %s, which the stream gives, not the event: pass --key", o.spec, in.Key)
	}
	if o.key != "" {
		key := o.key
		return func(*core.Record) (string, error) { return key, nil }, nil
	}
	// Only the key: a record with a bad time or field still goes, as the function's dead-letter
	// output is worth testing too.
	dec, err := codec.New(codec.Config{Format: in.Format, Key: in.Key, ProcessingTime: true})
	if err != nil {
		return nil, fmt.Errorf("%s: input: %w", o.spec, err)
	}
	var ev core.Event
	now := time.Now()
	return func(rec *core.Record) (string, error) {
		if err := dec.Decode("", rec, now, &ev); err != nil {
			return "", fmt.Errorf("%w (the key is read as %s's input.key says; pass --key to send such records with one key)", err, o.spec)
		}
		return ev.Key, nil
	}, nil
}

// sendDev posts to the HTTP ingest of eddy dev.
func sendDev(ctx context.Context, e *env, o sendOpts, args []string) error {
	u, err := url.Parse(o.to)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--to %q: want the http://HOST:PORT address eddy dev printed, or kinesis://STREAM, gcppubsub://projects/P/topics/T, eventhubs://NAMESPACE/HUB", o.to)
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
		lines, closeInput, err := openLines(e, o.input)
		if err != nil {
			return err
		}
		defer closeInput()
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

// openLines opens the input file (stdin for "-") as lines named by its path, so that an error
// points at the line; closeInput releases the file.
func openLines(e *env, path string) (lines *codec.Lines, closeInput func() error, err error) {
	in, _, err := openInput(e, path)
	if err != nil {
		return nil, nil, err
	}
	if lines, err = codec.NewLines(in, path); err != nil {
		in.Close()
		return nil, nil, err
	}
	return lines, in.Close, nil
}
