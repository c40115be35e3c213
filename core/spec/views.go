package spec

import (
	"fmt"
	"net/url"
	"slices"

	"github.com/eddyhq/eddy/core/view"
)

// ViewSchemes are the view store URL schemes eddy ships drivers for; outputs.view_store must use
// one of them.
var ViewSchemes = []string{"azuretable", "docstore+mem", "dynamodb", "file", "firestore", "mem"}

func (v *validator) views() {
	f := v.f
	if s := f.Outputs.ViewStore; s != "" {
		u, err := url.Parse(s)
		switch {
		case err != nil:
			v.add(verr("outputs.view_store", fmt.Sprintf("%q is not a URL: %v", s, err), "e.g. file:///var/lib/eddy/views or dynamodb://TABLE?partition_key=id"))
		case !slices.Contains(ViewSchemes, u.Scheme):
			v.add(verr("outputs.view_store", fmt.Sprintf("unknown view store scheme %q", u.Scheme), "want one of "+oneOf(ViewSchemes)))
		}
	}
	var aggs, sources []string
	for i := range f.Aggregates {
		aggs = append(aggs, f.Aggregates[i].name())
	}
	for _, r := range f.Rules {
		sources = append(sources, r.Name)
	}
	for _, a := range f.Anomalies {
		sources = append(sources, a.Name)
	}
	for _, c := range f.Crossovers {
		sources = append(sources, c.Name)
	}
	for _, p := range f.Patterns {
		sources = append(sources, p.Name)
	}
	seen := map[string]string{}
	for i := range f.Views {
		w := &f.Views[i]
		p := fmt.Sprintf("views[%d]", i)
		if w.Name != "" {
			if first, dup := seen[w.Name]; dup {
				v.add(verr(p+".name", fmt.Sprintf("%q is declared twice (first at %s)", w.Name, first), ""))
			}
			seen[w.Name] = p
			d := view.Def{Name: w.Name, Kind: view.Latest}
			if err := d.Check(); err != nil {
				v.add(verr(p+".name", fmt.Sprintf("%q is not a view name", w.Name), "a letter, then letters, digits, '_' or '-', at most 64 characters"))
			}
		}
		windows := w.Kind == "latest" || w.Kind == "history"
		if windows && len(f.Aggregates) == 0 {
			v.add(verr(p+".kind", fmt.Sprintf("a %s view keeps window results, and the function has no aggregates", w.Kind), "use a firing or decisions view, or add aggregates"))
		}
		if !windows && w.Kind != "" && len(sources) == 0 {
			v.add(verr(p+".kind", fmt.Sprintf("a %s view keeps decisions, and the function has no rules, anomalies, crossovers or patterns", w.Kind), "use a latest or history view"))
		}
		if w.Kind != "" && w.Kind != "history" && w.Windows != 0 {
			v.add(verr(p+".windows", "applies to history views", ""))
		}
		if w.Windows < 0 || w.Windows > 10000 {
			v.add(verr(p+".windows", fmt.Sprintf("%d is out of range", w.Windows), "1..10000"))
		}
		if w.TTL < 0 {
			v.add(verr(p+".ttl", "is negative", ""))
		}
		if len(w.Aggregates) > 0 && !windows && w.Kind != "" {
			v.add(verr(p+".aggregates", "applies to latest and history views", "a "+w.Kind+" view selects decisions with rules:"))
		}
		if len(w.Rules) > 0 && windows {
			v.add(verr(p+".rules", "applies to firing and decisions views", "a "+w.Kind+" view selects values with aggregates:"))
		}
		for j, a := range w.Aggregates {
			if !slices.Contains(aggs, a) {
				v.add(verr(fmt.Sprintf("%s.aggregates[%d]", p, j), fmt.Sprintf("no aggregate named %q", a), hintFor(a, aggs, "the aggregates are ")))
			}
		}
		for j, r := range w.Rules {
			if !slices.Contains(sources, r) {
				v.add(verr(fmt.Sprintf("%s.rules[%d]", p, j), fmt.Sprintf("no rule, anomaly, crossover or pattern named %q", r), hintFor(r, sources, "they are ")))
			}
		}
	}
}

func hintFor(name string, names []string, lead string) string {
	if s := suggest(name, names); s != "" {
		return "did you mean " + s + "?"
	}
	if len(names) == 0 {
		return ""
	}
	return lead + oneOf(names)
}

// ViewDefs returns the function's views in package view's form.
func (f *Function) ViewDefs() []view.Def {
	out := make([]view.Def, len(f.Views))
	for i, w := range f.Views {
		out[i] = view.Def{Name: w.Name, Kind: view.Kind(w.Kind), Aggregates: w.Aggregates, Rules: w.Rules, Windows: w.Windows, TTL: w.TTL}
	}
	return out
}

// ViewCatalog describes the function's views, aggregates and decision sources for a dashboard.
func (f *Function) ViewCatalog() *view.Catalog {
	c := &view.Catalog{Function: f.Name, Views: f.ViewDefs()}
	for i := range f.Aggregates {
		c.Aggregates = append(c.Aggregates, f.Aggregates[i].name())
	}
	for _, r := range f.Rules {
		c.Rules = append(c.Rules, view.RuleInfo{Name: r.Name, Severity: r.Severity})
	}
	for _, a := range f.Anomalies {
		c.Rules = append(c.Rules, view.RuleInfo{Name: a.Name, Severity: a.Severity})
	}
	for _, x := range f.Crossovers {
		c.Rules = append(c.Rules, view.RuleInfo{Name: x.Name, Severity: x.Severity})
	}
	for _, p := range f.Patterns {
		c.Rules = append(c.Rules, view.RuleInfo{Name: p.Name, Severity: p.Severity})
	}
	return c
}
