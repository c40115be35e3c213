package spec

import (
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/view"
)

const viewsBase = base + `rules:
  - {name: hot, when: avg_temp > 80.0, severity: critical}
`

func TestViews(t *testing.T) {
	f, err := Parse("eddy.yaml", []byte(viewsBase+`outputs:
  view_store: file:///tmp/views
views:
  - {name: latest, kind: latest, ttl: 1h}
  - {name: chart, kind: history, windows: 30, aggregates: [avg_temp]}
  - {name: alerts, kind: firing, rules: [hot]}
  - {name: log, kind: decisions, ttl: 24h}
`))
	if err != nil {
		t.Fatal(err)
	}
	defs := f.ViewDefs()
	if err := view.CheckDefs(defs); err != nil {
		t.Fatal(err)
	}
	want := []view.Def{{Name: "latest", Kind: view.Latest, TTL: time.Hour}, {Name: "chart", Kind: view.History, Windows: 30, Aggregates: []string{"avg_temp"}},
		{Name: "alerts", Kind: view.Firing, Rules: []string{"hot"}}, {Name: "log", Kind: view.Decisions, TTL: 24 * time.Hour}}
	for i := range want {
		if defs[i].Name != want[i].Name || defs[i].Kind != want[i].Kind || defs[i].TTL != want[i].TTL || defs[i].Windows != want[i].Windows {
			t.Errorf("view %d = %+v, want %+v", i, defs[i], want[i])
		}
	}
	c := f.ViewCatalog()
	if c.Function != "machine-alarms" || len(c.Aggregates) != 2 || len(c.Rules) != 1 || c.Rules[0].Severity != "critical" {
		t.Errorf("catalog = %+v", c)
	}
}

func TestViewErrors(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"unknown aggregate", viewsBase + "views:\n  - {name: chart, kind: history, aggregates: [avg_tmp]}\n",
			`views[0].aggregates[0]: no aggregate named "avg_tmp" (did you mean avg_temp?)`},
		{"unknown rule", viewsBase + "views:\n  - {name: alerts, kind: firing, rules: [cold]}\n",
			`views[0].rules[0]: no rule, anomaly, crossover or pattern named "cold" (they are hot)`},
		{"unknown kind", viewsBase + "views:\n  - {name: v, kind: newest}\n", `views[0].kind`},
		{"unknown scheme", viewsBase + "outputs: {view_store: 'redis://x'}\nviews:\n  - {name: v, kind: latest}\n",
			`outputs.view_store: unknown view store scheme "redis" (want one of`},
		{"duplicate", viewsBase + "views:\n  - {name: v, kind: latest}\n  - {name: v, kind: firing}\n", `views[1].name: "v" is declared twice`},
		{"bad name", viewsBase + "views:\n  - {name: 1v, kind: latest}\n", `views[0].name: "1v" is not a view name`},
		{"windows on latest", viewsBase + "views:\n  - {name: v, kind: latest, windows: 3}\n", `views[0].windows: applies to history views`},
		{"rules on latest", viewsBase + "views:\n  - {name: v, kind: latest, rules: [hot]}\n", `views[0].rules: applies to firing and decisions views`},
		{"firing without rules", base + "views:\n  - {name: v, kind: firing}\n", `views[0].kind: a firing view keeps decisions, and the function has no rules`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("eddy.yaml", []byte(c.src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant it to contain %s", err, c.want)
			}
		})
	}
}
