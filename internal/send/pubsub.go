package send

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"
	"regexp"
	"strconv"
	"sync"

	raw "cloud.google.com/go/pubsub/v2"
	"gocloud.dev/gcp"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/gcppubsubv2"
)

// PubSubMaxBytes is the largest Pub/Sub message (data, attributes and ordering key).
const PubSubMaxBytes = 10_000_000

// PubSub publishes to a Google Cloud Pub/Sub topic through gocloud.dev/pubsub (the gcppubsubv2
// driver), which batches concurrent sends. With ordering on, each message's key is its ordering
// key, and the messages of one key are sent one after the other (in input order) while different
// keys go in parallel; the client retries transient errors itself.
type PubSub struct {
	topic    *pubsub.Topic
	client   *raw.Client
	path     string
	ordering bool
	workers  int
	seed     maphash.Seed
}

var topicPathRE = regexp.MustCompile(`^projects/([^/]+)/topics/([^/]+)$`)

// openPubSub reads gcppubsub://projects/P/topics/T?ordering=true&concurrency=N. Credentials are
// the application default ones, or none with PUBSUB_EMULATOR_HOST (the emulator, pstest).
func openPubSub(ctx context.Context, u *url.URL, o Options) (*PubSub, error) {
	path := u.Host + u.Path
	m := topicPathRE.FindStringSubmatch(path)
	if m == nil {
		return nil, fmt.Errorf("send to %q: want gcppubsub://projects/PROJECT/topics/TOPIC", u.Redacted())
	}
	ordering, workers := false, 64
	for k, v := range u.Query() {
		switch k {
		case "ordering":
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return nil, fmt.Errorf("send to %q: ordering %q: want true or false", u.Redacted(), v[0])
			}
			ordering = b
		case "concurrency":
			n, err := positiveParam(u, k, v[0])
			if err != nil {
				return nil, err
			}
			workers = n
		default:
			return nil, fmt.Errorf("send to %q: unknown parameter %q (want ordering or concurrency)", u.Redacted(), k)
		}
	}
	// The v2 client connects to PUBSUB_EMULATOR_HOST, without credentials, when it is set.
	client, err := gcppubsubv2.Client(ctx, gcp.ProjectID(m[1]), nil)
	if err != nil {
		return nil, fmt.Errorf("send to %q: %w", u.Redacted(), err)
	}
	p, err := NewPubSub(client, m[1], m[2], ordering, workers)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("send to %q: %w", u.Redacted(), err)
	}
	return p, nil
}

// NewPubSub publishes to project's topic through client, which Close closes. With ordering, the
// messages' keys are ordering keys. workers bounds the messages in flight.
func NewPubSub(client *raw.Client, project, topic string, ordering bool, workers int) (*PubSub, error) {
	t, err := gcppubsubv2.OpenTopicByPath(client, "projects/"+project+"/topics/"+topic, nil)
	if err != nil {
		return nil, err
	}
	if ordering {
		var pub *raw.Publisher
		if !t.As(&pub) {
			return nil, errors.New("gcppubsubv2 topic does not expose its publisher")
		}
		// Without it the client refuses messages with an ordering key.
		pub.EnableMessageOrdering = true
	}
	return &PubSub{topic: t, client: client, path: "projects/" + project + "/topics/" + topic, ordering: ordering,
		workers: max(workers, 1), seed: maphash.MakeSeed()}, nil
}

// Close implements Publisher.
func (p *PubSub) Close(ctx context.Context) error {
	return errors.Join(p.topic.Shutdown(ctx), p.client.Close())
}

// Publish implements Publisher.
func (p *PubSub) Publish(ctx context.Context, msgs []Message) (Stats, error) {
	for i := range msgs {
		m := &msgs[i]
		size := len(m.Data)
		if p.ordering {
			size += len(m.Key)
		}
		if size > PubSubMaxBytes {
			return Stats{}, fmt.Errorf("%s: %d bytes, over Pub/Sub's 10 MB message limit", m.ID, size)
		}
	}
	// Worker w sends the messages whose key hashes to w, in order: one key's messages never race.
	queues := make([][]int, min(p.workers, len(msgs)))
	for i := range msgs {
		w := i % len(queues)
		if p.ordering {
			w = int(maphash.String(p.seed, msgs[i].Key) % uint64(len(queues)))
		}
		queues[w] = append(queues[w], i)
	}
	var (
		mu     sync.Mutex
		st     Stats
		failed []Message
		first  error
		wg     sync.WaitGroup
	)
	for _, q := range queues {
		wg.Go(func() {
			var broken map[string]bool
			for _, i := range q {
				m := msgs[i]
				var err error
				if p.ordering && broken[m.Key] {
					// The client pauses a key after a failure: what follows is refused too, and
					// sending it would break the key's order.
					err = errors.New("an earlier message of its ordering key failed")
				} else {
					err = p.topic.Send(ctx, p.message(m))
				}
				mu.Lock()
				if err != nil {
					st.Failed++
					failed = append(failed, m)
					if first == nil {
						first = fmt.Errorf("%s: %w", m.ID, err)
					}
				} else {
					st.Sent++
				}
				mu.Unlock()
				if err != nil && p.ordering {
					if broken == nil {
						broken = map[string]bool{}
					}
					broken[m.Key] = true
				}
			}
		})
	}
	wg.Wait()
	if st.Failed > 0 {
		return st, fmt.Errorf("pubsub topic %s: %d messages not published (%s); first: %w", p.path, st.Failed, ids(failed), first)
	}
	return st, nil
}

func (p *PubSub) message(m Message) *pubsub.Message {
	msg := &pubsub.Message{Body: m.Data}
	if p.ordering && m.Key != "" {
		key := m.Key
		msg.BeforeSend = func(as func(any) bool) error {
			var rm *raw.Message
			if !as(&rm) {
				return errors.New("gcppubsubv2 message is not a *pubsub.Message")
			}
			rm.OrderingKey = key
			return nil
		}
	}
	return msg
}
