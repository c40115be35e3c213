package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/core"
)

// A recommendation per abandoned visit: with each_window, two sessions in a row that end with a
// cart and no order give two decisions, not one firing state; a session with an order gives none.
func TestEachWindowPerSession(t *testing.T) {
	f, err := Parse("ew.yaml", []byte(`name: ew
input: {format: json, key: user, time: ts, time_format: unix_ms}
window: {session: {gap: 30m}}
aggregates:
  - {name: carts, count: true, where: "type == 'cart'"}
  - {name: orders, count: true, where: "type == 'order'"}
rules:
  - {name: recommend, when: carts > 0.0 && orders == 0.0, each_window: true, severity: info}
`))
	if err != nil {
		t.Fatal(err)
	}
	var recs []core.Record
	for i, e := range []struct {
		min int
		typ string
	}{{0, "view"}, {2, "cart"}, {60, "view"}, {61, "cart"}, {120, "cart"}, {121, "order"}, {200, "view"}, {201, "cart"}} {
		recs = append(recs, core.Record{ID: fmt.Sprint(i), Offset: fmt.Sprint(i),
			Data: fmt.Appendf(nil, `{"user":"u","ts":%d,"type":%q}`, int64(e.min)*60000, e.typ)})
	}
	var got []string
	for _, line := range run(t, f, recs) {
		if strings.Contains(line, `"type":"decision"`) {
			got = append(got, line[strings.Index(line, `"state"`):strings.Index(line, `,"values"`)])
		}
	}
	want := []string{
		`"state":"firing","severity":"info","time":"1970-01-01T00:32:00.000Z","window":{"start":"1970-01-01T00:00:00.000Z","end":"1970-01-01T00:32:00.000Z"}`,
		`"state":"firing","severity":"info","time":"1970-01-01T01:31:00.000Z","window":{"start":"1970-01-01T01:00:00.000Z","end":"1970-01-01T01:31:00.000Z"}`,
		`"state":"firing","severity":"info","time":"1970-01-01T03:51:00.000Z","window":{"start":"1970-01-01T03:20:00.000Z","end":"1970-01-01T03:51:00.000Z"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("decisions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
