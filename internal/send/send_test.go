package send

import (
	"context"
	"strings"
	"testing"
)

// Bad URLs are refused with what the form should be.
func TestOpenErrors(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv(EnvEventHubsConnection, "")
	for _, c := range []struct{ url, want string }{
		{"nats://x", "unknown scheme"},
		{"kafka://x", "kafka://BROKER1,BROKER2/TOPIC"},
		{"kafka://b:9092/t?timeout=soon", "timeout"},
		{"kinesis://", "kinesis://STREAM"},
		{"kinesis://s/extra", "kinesis://STREAM"},
		{"kinesis://s?endpoint=nope", "endpoint"},
		{"kinesis://s?max_attempts=0", "max_attempts"},
		{"kinesis://s?shard=1", `unknown parameter "shard"`},
		{"gcppubsub://my-project/telemetry", "gcppubsub://projects/PROJECT/topics/TOPIC"},
		{"gcppubsub://projects/p/topics/t?ordering=yes please", "ordering"},
		{"gcppubsub://projects/p/topics/t?x=1", `unknown parameter "x"`},
		{"eventhubs://ns", "eventhubs://NAMESPACE/HUB"},
		{"eventhubs://ns/a/b", "eventhubs://NAMESPACE/HUB"},
		{"eventhubs://ns/hub?concurrency=-1", "concurrency"},
	} {
		p, err := Open(context.Background(), c.url, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.url, err, c.want)
		}
		if p != nil {
			p.Close(context.Background())
		}
	}
	for u, want := range map[string]bool{"kinesis://s": true, "GCPPUBSUB://projects/p/topics/t": true, "eventhubs://n/h": true, "kafka://b:9092/t": true,
		"http://127.0.0.1:8787": false, "kinesis:s": false} {
		if IsCloudURL(u) != want {
			t.Errorf("IsCloudURL(%q) = %v", u, !want)
		}
	}
}

// A connection string's endpoint host and entity path.
func TestConnFields(t *testing.T) {
	ep, entity := connFields("Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k;EntityPath=telemetry")
	if ep != "acme.servicebus.windows.net" || entity != "telemetry" {
		t.Fatalf("%q %q", ep, entity)
	}
}

// connFields never panics, and finds the fields wherever they are and however they are spelled.
func FuzzConnFields(f *testing.F) {
	f.Add("Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k;EntityPath=telemetry")
	f.Add("endpoint = sb://127.0.0.1:5672 ; entitypath=hub")
	f.Add(";;=;Endpoint=%zz;EntityPath")
	f.Fuzz(func(t *testing.T, conn string) {
		ep, entity := connFields(conn)
		if ep != "" && !strings.Contains(strings.ToLower(conn), "endpoint") || entity != "" && !strings.Contains(conn, entity) {
			t.Fatalf("connFields(%q) = %q, %q", conn, ep, entity)
		}
	})
}
