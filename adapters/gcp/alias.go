package gcp

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/eddyhq/eddy/adapters/gcp/pubsubsink"
	"github.com/eddyhq/eddy/core/sink"
	"github.com/eddyhq/eddy/core/sink/driver"
)

// SchemeV2 is gocloud.dev's Pub/Sub scheme, gcppubsubv2://PROJECT/TOPIC, which deployments
// configured EDDY_OUTPUT_URL and EDDY_DEADLETTER_URL with before the one output registry: it opens
// the gcppubsub:// sink of that topic, with ordering keys, as the older per-adapter sink published outputs.
const SchemeV2 = "gcppubsubv2"

func init() {
	sink.DefaultURLMux().Register(SchemeV2, sink.URLOpenerFunc(openV2))
}

func openV2(ctx context.Context, u *url.URL) (driver.Sink, error) {
	project, topic := u.Host, strings.Trim(u.Path, "/")
	if project == "" || topic == "" || strings.Contains(topic, "/") {
		return nil, fmt.Errorf("%s: %s: want %s://PROJECT/TOPIC (or gcppubsub://projects/PROJECT/topics/TOPIC)", SchemeV2, u.Redacted(), SchemeV2)
	}
	return pubsubsink.OpenURL(ctx, &url.URL{Scheme: pubsubsink.Scheme, Host: "projects", Path: "/" + project + "/topics/" + topic, RawQuery: "ordering=true"})
}
